"""Storage: JSONL (default, streaming, append-only), parquet, Hugging Face datasets, and manifests."""

from .jsonl import JsonlWriter, iter_jsonl, repair_tail
from .manifest import atomic_write_text, manifest_path, read_manifest, sha256_of, write_manifest
from .records import (
    FORMATS,
    Rejects,
    count_records,
    detect_format,
    iter_rows,
    read_environments,
    read_trajectories,
    write_environments,
)
from .tables import env_to_row, iter_parquet, row_to_env_data, save_hf, to_hf_dataset, write_parquet

__all__ = [
    "FORMATS",
    "JsonlWriter",
    "Rejects",
    "atomic_write_text",
    "count_records",
    "detect_format",
    "env_to_row",
    "iter_jsonl",
    "iter_parquet",
    "iter_rows",
    "manifest_path",
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
