"""Scoring one extraction field by field, offline: is each value written in the document
(hallucination), does it satisfy its part of the schema (validity), does the schema ask for it at
all (relevance) — and the confidence that is left once those are known.

An evaluation reads the same document the extraction read and grounds every value in it with the
citations' matcher (``providers.llm.grounding``): a value found nowhere is *hallucinated* (a
model's invention, or a misreading past recognition). Booleans, empty strings and values of an
``enum`` are not looked for (documents rarely spell them out): their ``grounded`` is ``null``.

A field's evaluated ``confidence`` is the extraction's own (``fieldConfidences``), capped by what
the evaluation found: ``HALLUCINATED_CONFIDENCE`` for a value found nowhere, ``INVALID_CONFIDENCE``
for a value its schema refuses, ``IRRELEVANT_CONFIDENCE`` for a field the schema does not define.
Those are the confidences the review estimate (``review.py``) sets thresholds on.
"""

from __future__ import annotations

from typing import Any

from quarry.documents.model import Document
from quarry.events.models import without_metadata
from quarry.expressions import SchemaValidator
from quarry.pointers import escape, leaves, unescape
from quarry.providers.llm.grounding import ground

EVALUATION_VERSION = "quarry-1"
"""The evaluation this module makes: named in every result, so that a later one can be told apart."""
VERSION_ALIASES = {"0.1.0-gemini": EVALUATION_VERSION}
"""bem's own evaluation version, which its SDK sends by default: read as the deployment's default."""
SCORER = "builtin"

HALLUCINATED_CONFIDENCE = 0.3  # as the citations mark a value found nowhere (``runners.transform``)
INVALID_CONFIDENCE = 0.4  # as the openai provider caps a value its schema refuses
IRRELEVANT_CONFIDENCE = 0.5
UNSTATED_CONFIDENCE = 1.0  # a field the extraction gave no confidence for is taken as it stands


def evaluate(
    content: Any, schema: dict[str, Any], confidences: dict[str, float], documents: list[Document]
) -> dict[str, Any]:
    """The evaluation of ``content`` (an extraction against ``schema``) read from ``documents``
    (a join reads several: a value is grounded when any of them holds it)."""
    content = without_metadata(content)
    if not isinstance(content, dict):
        content = {}
    stated = leaves(content)
    looked_for, found = _grounding(content, schema, documents)
    invalid, missing = _schema_check(content, schema)
    fields: dict[str, Any] = {}
    for pointer, value in stated:
        grounded = (pointer in found) if pointer in looked_for else None
        valid = not any(pointer == bad or pointer.startswith(bad + "/") for bad in invalid)
        relevant = defines(schema, pointer)
        extraction_confidence = confidences.get(pointer)
        confidence = UNSTATED_CONFIDENCE if extraction_confidence is None else extraction_confidence
        if grounded is False:
            confidence = min(confidence, HALLUCINATED_CONFIDENCE)
        if not valid:
            confidence = min(confidence, INVALID_CONFIDENCE)
        if not relevant:
            confidence = min(confidence, IRRELEVANT_CONFIDENCE)
        fields[pointer] = {
            "value": value,
            "confidence": round(confidence, 3),
            "extractionConfidence": extraction_confidence,
            "grounded": grounded,
            "hallucinated": grounded is False,
            "valid": valid,
            "relevant": relevant,
            "scorer": SCORER,
        }
    hallucinated = [pointer for pointer, field in fields.items() if field["hallucinated"]]
    checked = sum(1 for field in fields.values() if field["grounded"] is not None)
    return {
        "evaluationVersion": EVALUATION_VERSION,
        "scorers": {SCORER: EVALUATION_VERSION},
        "confidence": _mean([field["confidence"] for field in fields.values()]),
        "hallucination": {
            "detected": bool(hallucinated),
            "fields": hallucinated,
            "rate": round(len(hallucinated) / checked, 4) if checked else 0.0,
        },
        "relevance": _share(fields, "relevant"),
        "validity": _share(fields, "valid"),
        "missingRequired": missing,
        "fields": fields,
    }


def _grounding(content: dict[str, Any], schema: dict[str, Any], documents: list[Document]) -> tuple[set[str], set[str]]:
    """(pointers looked for, pointers found in at least one document)."""
    looked_for: set[str] = set()
    found: set[str] = set()
    for document in documents:
        citations = ground(document, content, schema)
        cited = set(citations.boxes) | set(citations.spans)
        looked_for |= cited | set(citations.ungrounded)
        found |= cited
    return looked_for, found


def _schema_check(content: dict[str, Any], schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(pointers of the values the schema refuses, pointers of the required values missing).

    An error about an object's keys is about those keys, not its other values: a missing required
    key is listed as missing, a key ``additionalProperties`` refuses is the value refused; any
    other error refuses the value where it is (an object or array: every leaf under it)."""
    refused: set[str] = set()
    missing: set[str] = set()
    for error in SchemaValidator(schema).iter_errors(content):
        at = "".join(f"/{escape(str(token))}" for token in error.absolute_path)
        instance = error.instance if isinstance(error.instance, dict) else {}
        if error.validator in ("required", "dependentRequired"):
            names = error.validator_value
            if error.validator == "dependentRequired":
                names = [n for key, wanted in names.items() if key in instance for n in wanted]
            missing.update(f"{at}/{escape(name)}" for name in names if name not in instance)
        elif error.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = set((error.schema or {}).get("properties") or {})
            refused.update(f"{at}/{escape(str(key))}" for key in instance if key not in allowed)
        elif at:
            refused.add(at)
    return sorted(refused), sorted(missing)


def defines(schema: Any, pointer: str) -> bool:
    """Whether ``schema`` describes the value at ``pointer``: each step is a property it names, an
    item of an array it types, or lands where it cannot tell (a ``$ref``, a schema that allows
    anything); a key only ``additionalProperties`` lets in is not one the schema asks for."""
    return _defines(schema, [unescape(token) for token in pointer.split("/")[1:]])


def _defines(node: Any, tokens: list[str]) -> bool:
    if not tokens or not isinstance(node, dict) or not node or "$ref" in node:
        return True
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in node.get(key, []) if isinstance(b, dict)]
    if branches:
        return any(_defines(branch, tokens) for branch in branches)
    token, rest = tokens[0], tokens[1:]
    properties = node.get("properties")
    if isinstance(properties, dict) and token in properties:
        return _defines(properties[token], rest)
    if token.isdigit() and "items" in node:
        return _defines(node["items"], rest)
    return False


def _share(fields: dict[str, Any], flag: str) -> float:
    return round(sum(1 for field in fields.values() if field[flag]) / len(fields), 4) if fields else 1.0


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0
