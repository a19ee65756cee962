"""File-level import and export with reject files and manifests (what the CLI commands call)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecordError
from ..io import (
    JsonlWriter,
    Progress,
    Rejects,
    atomic_write_text,
    detect_format,
    gc_paused,
    json_line,
    read_environments,
    save_hf,
    write_environments,
    write_manifest,
    write_parquet,
)
from ..schema import Environment, Scoping
from .ftrl import env_to_ftrl, ftrl_to_env_data
from .verl import env_to_verl, verl_to_env_data

RowReader = Callable[[dict[str, Any]], tuple[dict[str, Any], list[RecordError]]]
IMPORT_FORMATS: dict[str, RowReader | None] = {"ftrl": ftrl_to_env_data, "verl": verl_to_env_data, "toolgym": None}
EXPORT_FORMATS = ("ftrl", "verl", "jsonl", "parquet", "hf")


@dataclass
class ConversionReport:
    read: int = 0
    written: int = 0
    rejected: int = 0
    kinds: Counter = field(default_factory=Counter)
    scenarios: Counter = field(default_factory=Counter)
    out: str = ""
    rejects: str | None = None
    manifest: str | None = None


def default_rejects_path(out: str | os.PathLike) -> Path:
    p = Path(out)
    return p.with_name(p.name + ".rejects.jsonl")


def read_any(fmt: str, src: str | os.PathLike, rejects: Rejects, compile_code: bool = True,
             progress: Progress | None = None):
    """Environments from ``src`` in layout ``fmt``; bad rows go to ``rejects``."""
    if fmt not in IMPORT_FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")
    yield from read_environments(src, on_error=rejects, compile_code=compile_code, row_reader=IMPORT_FORMATS[fmt],
                                 format=detect_format(src), progress=progress)


def _write_streaming_jsonl(dst: Path, envs, report: ConversionReport) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists():
        tmp.unlink()
    with JsonlWriter(tmp) as w:
        for env in envs:
            w.write(env)
            report.written += 1
            report.scenarios[env.scenario or "unknown"] += 1
    os.replace(tmp, dst)


def _counted(envs, report: ConversionReport):
    for env in envs:
        report.read += 1
        yield env


def import_file(fmt: str, src: str | os.PathLike, dst: str | os.PathLike, *,
                rejects_path: str | os.PathLike | None = None, compile_code: bool = True,
                progress: Progress | None = None, scoping: Scoping | None = None) -> ConversionReport:
    """Convert ``src`` (layout ``fmt``) into our records at ``dst`` (.jsonl, .parquet or a folder for HF).
    ``scoping`` overrides how the imported tools are run (default: the layout's; ``reference`` for ftrl)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    rej_path = Path(rejects_path) if rejects_path else default_rejects_path(dst)
    if rej_path.exists():
        rej_path.unlink()
    report = ConversionReport(out=str(dst))
    with Rejects(rej_path) as rejects, gc_paused():
        envs = _counted(read_any(fmt, src, rejects, compile_code, progress), report)
        if scoping is not None:
            envs = (e.model_copy(update={"metadata": e.metadata.model_copy(update={"scoping": scoping})}) for e in envs)
        out_fmt = detect_format(dst) if dst.suffix or dst.exists() else "jsonl"
        if out_fmt == "jsonl":
            _write_streaming_jsonl(dst, envs, report)
        else:
            items = list(envs)
            report.written = write_environments(dst, items, format=out_fmt)
            report.scenarios.update(e.scenario or "unknown" for e in items)
    report.rejected = rejects.records
    report.kinds = rejects.kinds
    report.rejects = str(rej_path) if rejects.records else None
    report.read += rejects.records
    config = {"command": "import", "format": fmt, "source": str(src)}
    if not compile_code:  # the code was not checked: readers must not trust this file (see io.is_trusted)
        config["compile_code"] = False
    if scoping is not None:
        config["scoping"] = scoping
    report.manifest = str(write_manifest(
        dst, kind="environments", config=config,
        counts={"read": report.read, "written": report.written, "rejected": report.rejected,
                "by_scenario": dict(report.scenarios), "reject_kinds": dict(report.kinds)}))
    return report


def export_file(fmt: str, src: str | os.PathLike, dst: str | os.PathLike, *,
                rejects_path: str | os.PathLike | None = None, progress: Progress | None = None) -> ConversionReport:
    """Write the environments in ``src`` to ``dst`` in layout ``fmt`` (``ftrl`` as .jsonl or .parquet,
    ``verl`` as .parquet, or our own records as jsonl/parquet/hf)."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    report = ConversionReport(out=str(dst))
    rej_path = Path(rejects_path) if rejects_path else default_rejects_path(dst)
    if rej_path.exists():
        rej_path.unlink()
    with Rejects(rej_path) as rejects, gc_paused():
        envs: list[Environment] = list(_counted(read_environments(src, on_error=rejects, progress=progress), report))
    report.rejected = rejects.records
    report.kinds = rejects.kinds
    report.rejects = str(rej_path) if rejects.records else None
    report.scenarios.update(e.scenario or "unknown" for e in envs)
    if fmt in ("jsonl", "parquet", "hf"):
        report.written = write_environments(dst, envs, format=fmt)
    else:
        rows = [env_to_ftrl(e) for e in envs] if fmt == "ftrl" else [env_to_verl(e, i) for i, e in enumerate(envs)]
        out_fmt = detect_format(dst)
        if fmt == "verl" and out_fmt != "parquet":
            raise ValueError("verl reads parquet: give an output path ending in .parquet")
        if out_fmt == "parquet":
            write_parquet(dst, rows)
        elif out_fmt == "hf":
            save_hf(dst, rows)
        else:
            atomic_write_text(dst, b"".join(json_line(r) for r in rows).decode("utf-8"))
        report.written = len(rows)
    report.manifest = str(write_manifest(
        dst, kind=f"environments/{fmt}", config={"command": "export", "format": fmt, "source": str(src)},
        counts={"read": report.read, "written": report.written, "rejected": report.rejected,
                "by_scenario": dict(report.scenarios)}))
    return report
