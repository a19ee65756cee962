"""Every external row layout, both ways; nothing outside this package knows a column name.

* ``ftrl``: the paper's released data (one environment per row), in and out, and its per-turn training
  rows (``data_sample.py``'s, for ``toolgym train prepare --layout reference``);
* ``verl``: verl's RL parquet rows, for an environment (its first turn) or any :class:`~toolgym.schema.TurnState`;
  the reader the verl reward and toolgym's verl agent loops share;
* ``trl``: toolgym's flat per-turn rows (``turns.jsonl``) and the rows TRL trainers get, and the reader of
  the columns TRL passes to reward functions;
* ``trajectories``: trajectory files as ``toolgym score`` reads them (toolgym's, and the paper's
  evaluation output).

``toolgym import``/``export`` drive the environment layouts (:func:`import_file`, :func:`export_file`).
"""

from ._convert import EXPORT_FORMATS, IMPORT_FORMATS, ConversionReport, export_file, import_file
from .ftrl import TURN_COLUMNS as FTRL_TURN_COLUMNS
from .ftrl import env_to_ftrl, ftrl_to_env_data, reference_messages, turn_to_ftrl
from .trajectories import TrajectoryLine, read_trajectory_lines, trajectory_line
from .trl import (
    ROW_COLUMNS,
    TRL_COLUMNS,
    completion_response,
    row_to_turn,
    trl_turns,
    turn_to_row,
    turn_to_trl,
)
from .verl import (
    env_to_verl,
    turn_to_verl,
    verl_reward_turn,
    verl_reward_variant,
    verl_row_tools,
    verl_row_variant,
    verl_to_env_data,
    verl_to_turn,
)

__all__ = [
    "EXPORT_FORMATS",
    "FTRL_TURN_COLUMNS",
    "IMPORT_FORMATS",
    "ROW_COLUMNS",
    "TRL_COLUMNS",
    "ConversionReport",
    "TrajectoryLine",
    "completion_response",
    "env_to_ftrl",
    "env_to_verl",
    "export_file",
    "ftrl_to_env_data",
    "import_file",
    "read_trajectory_lines",
    "reference_messages",
    "row_to_turn",
    "trajectory_line",
    "trl_turns",
    "turn_to_ftrl",
    "turn_to_row",
    "turn_to_trl",
    "turn_to_verl",
    "verl_reward_turn",
    "verl_reward_variant",
    "verl_row_tools",
    "verl_row_variant",
    "verl_to_env_data",
    "verl_to_turn",
]
