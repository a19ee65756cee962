"""The prompts of the LLM and hybrid builders: one template and one JSON schema per stage, as files.

The packaged files live in ``toolgym/builder/prompts/``: ``system.md`` (shared by every stage),
``feedback.md`` (the message that returns a rejected reply's error to the model), and per stage
``<stage>.md`` (the user message, a :class:`string.Template`: ``$name`` placeholders) and
``<stage>.schema.json`` (the JSON schema its reply must follow). ``--prompts DIR`` replaces any of them
by a file of the same name in DIR; ``toolgym build --export-prompts DIR`` writes the packaged ones
there to start from. Placeholders are checked when the prompts are loaded, so a typo in an edited
template stops the build before any request is sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ...errors import ConfigError


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage of the LLM builders: ``key`` names its files, ``name`` its rejections and token counts."""

    key: str
    name: str
    variables: tuple[str, ...]


_COMMON = ("schema", "domain", "seed", "scenario")
STAGES: dict[str, Stage] = {s.key: s for s in (
    Stage("decompose", "decomposition", _COMMON + ("hops", "width", "min_answer_chars", "max_subquestions")),
    Stage("document", "documentation", _COMMON + ("input",)),
    Stage("integrate", "integration", _COMMON + ("input",)),
    Stage("scale", "scaling", _COMMON + ("input", "levels")),
    Stage("deploy", "deployment", _COMMON + ("input",)),
    Stage("rewrite", "rewrite", ("schema", "input")),
)}
FEEDBACK_VARIABLES = ("error",)
FILES = ("system.md", "feedback.md", *(f"{k}.md" for k in STAGES), *(f"{k}.schema.json" for k in STAGES))


@dataclass(frozen=True)
class Prompts:
    """A loaded, checked set of prompts. ``digest`` identifies the set (it goes into the manifest)."""

    system: str
    feedback: Template
    templates: dict[str, Template]
    schemas: dict[str, dict[str, Any]]
    digest: str
    sources: dict[str, str]  # file name -> where it was read from

    def render(self, stage: str, **variables: Any) -> str:
        values = {k: v if isinstance(v, str) else json.dumps(v, indent=1, ensure_ascii=False)
                  for k, v in variables.items()}
        values["schema"] = json.dumps(self.schemas[stage], indent=1)
        return self.templates[stage].substitute(values)

    def feedback_message(self, error: str) -> str:
        return self.feedback.substitute(error=error)


def _packaged(name: str) -> str:
    return (resources.files("toolgym.builder") / "prompts" / name).read_text(encoding="utf-8")


def _read(name: str, folder: Path | None) -> tuple[str, str]:
    if folder is not None and (folder / name).is_file():
        return (folder / name).read_text(encoding="utf-8"), str(folder / name)
    return _packaged(name), f"toolgym/builder/prompts/{name}"


def _template(name: str, text: str, allowed: tuple[str, ...], where: str) -> Template:
    t = Template(text)
    if not t.is_valid():
        raise ConfigError(f"{where}: a '$' that is not a placeholder (write '$$' for a dollar sign)")
    unknown = set(t.get_identifiers()) - set(allowed)
    if unknown:
        raise ConfigError(f"{where} uses {', '.join('$' + u for u in sorted(unknown))}; the placeholders of "
                          f"{name} are {', '.join('$' + a for a in allowed)}")
    return t


def _schema(text: str, where: str) -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        schema = json.loads(text)
        Draft202012Validator.check_schema(schema)
    except (json.JSONDecodeError, SchemaError) as exc:
        raise ConfigError(f"{where} is not a valid JSON schema: {str(exc).splitlines()[0]}") from None
    return schema


def load_prompts(folder: str | Path | None = None) -> Prompts:
    """The packaged prompts, with any file of ``folder`` replacing the packaged one of the same name."""
    path = Path(folder) if folder is not None else None
    if path is not None:
        if not path.is_dir():
            raise ConfigError(f"--prompts: {path} is not a directory")
        unknown = sorted(p.name for p in path.iterdir() if p.is_file() and p.name not in FILES
                         and p.suffix in (".md", ".json"))
        if unknown:
            raise ConfigError(f"--prompts: {', '.join(unknown)} in {path} would be ignored; the prompt files are "
                              f"{', '.join(FILES)}")
    texts, sources = {}, {}
    for name in FILES:
        texts[name], sources[name] = _read(name, path)
    templates = {k: _template(f"{k}.md", texts[f"{k}.md"], s.variables, sources[f"{k}.md"]) for k, s in STAGES.items()}
    schemas = {k: _schema(texts[f"{k}.schema.json"], sources[f"{k}.schema.json"]) for k in STAGES}
    feedback = _template("feedback.md", texts["feedback.md"], FEEDBACK_VARIABLES, sources["feedback.md"])
    digest = hashlib.sha256("\0".join(texts[n] for n in FILES).encode("utf-8")).hexdigest()[:16]
    return Prompts(texts["system.md"].strip(), feedback, templates, schemas, digest, sources)


def export_prompts(folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the packaged prompt files into ``folder`` (to edit and pass back with ``--prompts``)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FILES:
        target = out / name
        if target.exists() and not overwrite:
            raise ConfigError(f"{target} exists; remove it or export into another directory")
        target.write_text(_packaged(name), encoding="utf-8")
        written.append(target)
    return written
