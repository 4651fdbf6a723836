"""The builtin extractor: schema-guided, offline and deterministic — no model.

For each property of the output schema it looks for a line of the document labelled with the
property's name, title or description words (``Invoice Number: INV-1``) and parses the value
by the property's type.
"""

from __future__ import annotations

import re
from typing import Any

_NUMBER = re.compile(r"-?\d[\d,. ]*")


def _words(name: str) -> list[str]:
    """``invoiceNumber`` / ``invoice_number`` / ``Invoice Number`` -> ``["invoice", "number"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _labels(name: str, spec: dict[str, Any]) -> list[list[str]]:
    labels = [_words(name)]
    if isinstance(spec.get("title"), str):
        labels.append(_words(spec["title"]))
    return [label for label in labels if label]


def _find(text: str, label: list[str]) -> str | None:
    pattern = r"^\s*" + r"[\s_\-]*".join(map(re.escape, label)) + r"\s*(?:[:#=\-]|\s)\s*(.+?)\s*$"
    match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    return match.group(1) if match else None


def _number(raw: str) -> float | None:
    match = _NUMBER.search(raw)
    if not match:
        return None
    digits = match.group(0).replace(" ", "")
    if "," in digits and "." in digits:
        digits = (
            digits.replace(",", "")
            if digits.rfind(".") > digits.rfind(",")
            else digits.replace(".", "").replace(",", ".")
        )
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else digits.replace(",", "")
    try:
        return float(digits)
    except ValueError:
        return None


def _coerce(raw: str, spec: dict[str, Any]) -> Any:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("number", "integer"):
        value = _number(raw)
        if value is None:
            return None
        return int(value) if kind == "integer" and value.is_integer() else value
    if kind == "boolean":
        lowered = raw.strip().lower()
        return True if lowered in ("yes", "true", "y", "1") else False if lowered in ("no", "false", "n", "0") else None
    if kind in (None, "string"):
        if "enum" in spec:
            return next((option for option in spec["enum"] if str(option).lower() == raw.strip().lower()), None)
        return raw.strip()
    return None


def extract(text: str, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Values for the schema's top-level properties found in ``text``, and a confidence per
    JSON Pointer (1.0 for a labelled match; absent properties are not reported)."""
    content: dict[str, Any] = {}
    confidences: dict[str, float] = {}
    for name, spec in (schema.get("properties") or {}).items():
        if not isinstance(spec, dict):
            continue
        for label in _labels(name, spec):
            raw = _find(text, label)
            value = _coerce(raw, spec) if raw is not None else None
            if value is not None:
                content[name] = value
                confidences[f"/{name}"] = 1.0
                break
    return content, confidences
