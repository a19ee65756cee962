"""The one JSON helper of the row layouts: columns that hold JSON as a string or as the decoded value.

Row layouts store nested parts (tools, codes, the unsolved set) as JSON strings so that every row has
the same schema, but a user (or verl, after its own decoding) may hand the same column over as a dict or
a list. Every codec decodes through :func:`json_column`, so a bad column fails the same way everywhere:
an :class:`~toolgym.errors.InvalidRecord` (a ``ValueError``) that names the column. Row text is read with
:mod:`toolgym.safe_json`, so hostile text (an integer of thousands of digits, deep nesting, bytes that are
not UTF-8) is such an error too, never a bare ``ValueError`` or ``RecursionError`` from the decoder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .. import safe_json
from ..errors import ErrorKind, InvalidRecord, RecordError


def dumps(value: Any) -> str:
    """The JSON text of a column (unicode kept, as the paper's data writes it)."""
    return json.dumps(value, ensure_ascii=False)


def bad_column(column: str, message: str, kind: ErrorKind = ErrorKind.FORMAT) -> InvalidRecord:
    return InvalidRecord([RecordError(kind, f"{column}: {message}", field=column)])


def wrong_type(what: str, exc: Exception) -> InvalidRecord:
    """A row whose columns decoded but hold values of the wrong type for the record."""
    return InvalidRecord([RecordError(ErrorKind.SCHEMA, f"not {what}: {exc}")])


@lru_cache(maxsize=1024)
def _decoded(text: str | bytes) -> tuple[Any, str | None]:
    # A reward batch scores many replies to one prompt (GRPO: 16), and the rows of those replies repeat the
    # same JSON texts (codes, tools, ground truth); each text is decoded once. The decoded value is shared
    # between equal texts, so the codecs copy the containers they hand out and never change them.
    return safe_json.loads(text, deep=True)


def json_column(value: Any, column: str) -> Any:
    """A column's value: JSON text (str or bytes) decoded, anything else as given; empty text is None.
    Text that cannot be read is an :class:`InvalidRecord` naming ``column``."""
    if isinstance(value, (str, bytes)):
        if not value.strip():
            return None
        decoded, error = _decoded(value)
        if error is not None:
            raise bad_column(column, f"not valid JSON: {error}", ErrorKind.JSON)
        return decoded
    return value


def object_column(value: Any, column: str) -> dict[str, Any]:
    """A column that holds a JSON object (a dict or its JSON text); missing is ``{}``."""
    value = json_column(value, column)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    raise bad_column(column, f"must be an object (a dict or its JSON text), got {type(value).__name__}")


def list_column(value: Any, column: str) -> list[Any] | None:
    """A column that holds a JSON array (a list, an array or its JSON text); missing is ``None``."""
    value = json_column(value, column)
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__"):
        raise bad_column(column, f"must be a list (or its JSON text), got {type(value).__name__}")
    return list(value)
