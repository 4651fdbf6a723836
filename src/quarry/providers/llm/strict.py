"""A function's output schema in the strict subset of structured outputs, and answers mapped back.

Servers that enforce a schema while decoding (OpenAI's ``"strict": true``, vLLM's and llama.cpp's
grammars) accept a subset of JSON Schema: every object lists all its properties as required and
allows no others. Optional properties therefore become required but nullable, and keywords
outside the subset move into the description, where the model still reads them (the answer is
validated against the real schema afterwards). A schema that cannot be said strictly — an object
with free-form or patterned keys — is sent as it is, without ``strict``.

Going back, a ``null`` the model gave for an optional property that does not allow ``null``
means "not stated": the property is left out.
"""

from __future__ import annotations

import json
from typing import Any

MOVED_TO_DESCRIPTION = frozenset(
    {
        "pattern", "format", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
        "maxProperties", "default", "examples", "dependentRequired", "contains", "minContains",
        "maxContains", "not", "if", "then", "else", "allOf",
    }
)  # fmt: skip
DROPPED = frozenset({"$schema", "$id", "$comment", "title", "readOnly", "writeOnly", "deprecated"})
NOT_STRICT = frozenset({"patternProperties", "propertyNames", "dependentSchemas", "unevaluatedProperties"})


class _NotStrict(Exception):
    """The schema says something the strict subset cannot."""


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema in the strict subset, or ``None`` when it cannot be said there."""
    try:
        converted = _convert(schema)
    except _NotStrict:
        return None
    return converted if converted.get("type") == "object" else None


def _convert(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    notes = []
    for key, value in node.items():
        if key in NOT_STRICT:
            raise _NotStrict(key)
        if key in ("properties", "$defs", "definitions"):
            out[key] = {name: _convert(item) for name, item in value.items()}
        elif key in ("items", "anyOf", "oneOf"):
            converted = [_convert(item) for item in value] if isinstance(value, list) else _convert(value)
            out["anyOf" if key == "oneOf" else key] = converted
        elif key in MOVED_TO_DESCRIPTION:
            notes.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        elif key not in DROPPED and key not in ("required", "additionalProperties"):
            out[key] = value
    if _is_object(node):
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) or (extra is not False and not node.get("properties")):
            raise _NotStrict("an object with free-form keys")
        properties = out.setdefault("properties", {})
        required = set(node.get("required") or [])
        for name, item in properties.items():
            if name not in required:
                properties[name] = _nullable(item)
        out["required"] = list(properties)
        out["additionalProperties"] = False
    if notes:
        out["description"] = " ".join(filter(None, [out.get("description"), f"({'; '.join(notes)})"]))
    return out


def _is_object(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in node


def _nullable(node: Any) -> Any:
    if not isinstance(node, dict) or allows_null(node):
        return node
    kind = node.get("type")
    if isinstance(kind, str) and "$ref" not in node and "anyOf" not in node:
        widened = {**node, "type": [kind, "null"]}
        if "enum" in node:
            widened["enum"] = [*node["enum"], None]
        return widened
    if isinstance(kind, list):
        return {**node, "type": [*kind, "null"]}
    if "anyOf" in node:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    return {"anyOf": [node, {"type": "null"}]}


def allows_null(node: Any) -> bool:
    if not isinstance(node, dict) or not node:
        return True  # no constraint: anything, null included
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if "enum" in node:
        return None in node["enum"]
    if "const" in node:
        return node["const"] is None
    return any(allows_null(item) for item in node.get("anyOf", []) + node.get("oneOf", []))


def without_unstated(value: Any, schema: Any) -> Any:
    """``value`` with each ``null`` of an optional property that does not allow ``null`` left out."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {
            key: without_unstated(item, properties.get(key))
            for key, item in value.items()
            if not (item is None and key in properties and key not in required and not allows_null(properties[key]))
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [without_unstated(item, schema["items"]) for item in value]
    return value
