"""The ``inputType`` of a local file: by its extension, else by its first bytes (a scan named
``scan`` or an export named ``data.bin`` still goes in as what it is)."""

from __future__ import annotations

from pathlib import Path

from quarry.documents.input_types import MEDIA_TYPES, input_type_for, sniff

INPUT_TYPES = tuple(MEDIA_TYPES)


def input_type_of(path: Path) -> str | None:
    """The input type of the file at ``path``, or None when neither its name nor its content tells."""
    return input_type_for(path.name, None) or sniff(path.read_bytes())
