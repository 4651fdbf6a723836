"""The output schema as the extractor reads it: local ``$ref`` resolved, ``anyOf``/``oneOf`` reduced to their
first branch that is not ``null``, a property's type and whether it is a date, and JSON Pointer escaping.

Separate because it is about the schema alone: nothing here reads the document.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from quarry.pointers import unescape
from quarry.providers.llm.builtin.vocabulary import Concept

MAX_SCHEMA_DEPTH = 8  # objects in objects that are filled in: a recursive schema ($ref to itself) stops here


def _pointer_to(root: Any, ref: str) -> Any:
    """The subschema a local reference (``#/$defs/Item``) points at; None for any other reference."""
    if not ref.startswith("#"):
        return None
    node = root
    for part in [p for p in unquote(ref[1:]).split("/") if p][:32]:
        part = unescape(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def plain_schema(spec: Any, root: Any, depth: int = 0) -> dict[str, Any] | None:
    """A subschema as the extractor reads it: ``true`` is ``{}`` (anything), ``false`` is None (nothing
    can be valid: the property is left out), a local ``$ref`` is replaced by what it points at (its
    sibling keywords kept), and ``anyOf``/``oneOf`` by their first branch that is not ``null``."""
    if spec is True or depth > 16:  # a chain of references this long is not followed further
        return {}
    if not isinstance(spec, dict):
        return None
    if isinstance(spec.get("$ref"), str):
        siblings = {key: value for key, value in spec.items() if key != "$ref"}
        target = _pointer_to(root, spec["$ref"])
        base = plain_schema(target, root, depth + 1) if target is not None else {}
        if base is None:
            return None
        spec = {**base, **siblings}
    for keyword in ("anyOf", "oneOf"):
        branches = spec.get(keyword)
        if isinstance(branches, list) and "type" not in spec:
            siblings = {key: value for key, value in spec.items() if key != keyword}
            for branch in branches:
                chosen = plain_schema(branch, root, depth + 1)
                if chosen is not None and not _is_null(chosen):
                    spec = {**chosen, **siblings}
                    break
    return spec


def _is_null(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind == "null" or kind == ["null"] or ("const" in spec and spec["const"] is None)


def schema_type(spec: dict[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and isinstance(spec.get("properties"), dict):
        return "object"
    return kind


def is_date(spec: dict[str, Any], concept: Concept | None) -> bool:
    return spec.get("format") in ("date", "date-time") or (concept is not None and concept.kind == "date")
