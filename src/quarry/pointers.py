"""JSON Pointers (RFC 6901) of the values of a JSON document: how confidences, citations and
correction metrics name a field (``/items/0/price``)."""

from __future__ import annotations

from typing import Any


def escape(key: str) -> str:
    """A key as a reference token: ``~`` -> ``~0``, ``/`` -> ``~1``."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """A reference token as the key it names: ``~1`` -> ``/``, ``~0`` -> ``~``."""
    return token.replace("~1", "/").replace("~0", "~")


def leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """``(pointer, value)`` of every leaf, in document order; nulls, ``{}`` and ``[]`` have none."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, f"{pointer}/{escape(str(key))}")]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in leaves(item, f"{pointer}/{index}")]
    return [] if value is None else [(pointer, value)]
