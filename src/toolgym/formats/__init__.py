"""Conversion between our records and external layouts: the paper's released data (``ftrl``) and
verl's RL parquet layout (``verl``). ``toolgym import``/``export`` drive these."""

from ._convert import EXPORT_FORMATS, IMPORT_FORMATS, ConversionReport, export_file, import_file
from .ftrl import env_to_ftrl, ftrl_to_env_data
from .verl import env_to_verl, verl_row, verl_to_env_data

__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "ConversionReport",
    "env_to_ftrl",
    "env_to_verl",
    "export_file",
    "ftrl_to_env_data",
    "import_file",
    "verl_row",
    "verl_to_env_data",
]
