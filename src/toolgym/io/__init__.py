"""Storage: JSONL (default, streaming, append-only), parquet, Hugging Face datasets (local folders and dataset
ids on the Hub), manifests, and the
append-only :class:`Run` every resumable command writes through."""

from .hub import DatasetId, cache_root, dataset_id, fetch_dataset, hub_unreachable, offline
from .jsonl import JsonlWriter, iter_jsonl, json_line, repair_tail
from .manifest import (
    VALIDATED_KINDS,
    Trust,
    atomic_write_text,
    is_trusted,
    manifest_path,
    read_manifest,
    sha256_of,
    write_manifest,
)
from .records import (
    FORMATS,
    Progress,
    Rejects,
    check_source,
    count_records,
    detect_format,
    gc_paused,
    iter_rows,
    read_environments,
    read_trajectories,
    write_environments,
)
from .run import Line, Run, RunRefused, check_outputs, digest, identity_changes, latest
from .tables import env_to_row, iter_parquet, row_to_env_data, save_hf, to_hf_dataset, write_parquet

__all__ = [
    "FORMATS",
    "VALIDATED_KINDS",
    "DatasetId",
    "JsonlWriter",
    "Line",
    "Progress",
    "Rejects",
    "Run",
    "RunRefused",
    "Trust",
    "atomic_write_text",
    "cache_root",
    "check_outputs",
    "check_source",
    "count_records",
    "dataset_id",
    "detect_format",
    "digest",
    "env_to_row",
    "fetch_dataset",
    "gc_paused",
    "hub_unreachable",
    "identity_changes",
    "is_trusted",
    "iter_jsonl",
    "iter_parquet",
    "iter_rows",
    "json_line",
    "latest",
    "manifest_path",
    "offline",
    "read_environments",
    "read_manifest",
    "read_trajectories",
    "repair_tail",
    "row_to_env_data",
    "save_hf",
    "sha256_of",
    "to_hf_dataset",
    "write_environments",
    "write_manifest",
    "write_parquet",
]
