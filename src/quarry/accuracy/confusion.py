"""Confusion counts of labelled outputs: how an output compares with its correction, counted so
that many outputs add up (per function, version and field), and the samples a review threshold is
chosen from.

**Extractions** are compared leaf by leaf exactly as a correction's ``metrics`` are
(``transformations.metrics``: arrays aligned, strings normalised): a leaf right is a true positive,
a leaf extracted but absent from the correction or different there a false positive, a leaf of
the correction absent from the extraction or different there a false negative (a wrong value is
both). A *true negative* is a field the schema defines — a scalar property, through nested objects
but not into arrays — that neither the extraction nor the correction has: the extractor rightly
said nothing. ``accuracy = (TP + TN) / (TP + TN + FP + FN)``.

**Classifications** (route functions): a chosen route equal to the corrected one is a true
positive, else one false positive (the route chosen) and one false negative (the route missed);
counted one-vs-rest over the function's routes, each other route is a true negative, so
``TN = n·k − TP − 2·wrong`` for ``n`` outputs and ``k`` routes. The confusion matrix
(``corrected -> chosen -> count``) is kept beside.

**Fields** are named by their JSON Pointer with array indexes as ``*`` (``/lineItems/*/sku``), so
that the same field of every output adds up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quarry.events.models import without_metadata
from quarry.pointers import escape, leaves
from quarry.transformations import metrics as comparison


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn

    @property
    def empty(self) -> bool:
        return not (self.tp or self.fp or self.fn or self.tn)

    def rates(self) -> dict[str, float | None]:
        """accuracy, precision, recall and F1; ``None`` where nothing was counted to divide by."""
        precision = _ratio(self.tp, self.tp + self.fp)
        recall = _ratio(self.tp, self.tp + self.fn)
        f1 = None
        if precision is not None and recall is not None:
            f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
        accuracy = _ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn)
        return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1Score": f1}

    def as_wire(self) -> dict[str, Any]:
        return {**self.rates(), "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


@dataclass
class Sample:
    """One extracted field of a labelled output: its confidence, and whether it was right."""

    confidence: float
    correct: bool


@dataclass
class Outcome:
    """What one labelled output adds up to."""

    counts: Counts = field(default_factory=Counts)
    fields: dict[str, Counts] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # classifications only

    @property
    def correct(self) -> bool:
        return self.counts.fp == 0 and self.counts.fn == 0


def field_path(pointer: str) -> str:
    """A leaf's field: its pointer with every array index as ``*``."""
    return "/".join("*" if token.isdigit() else token for token in pointer.split("/"))


def extraction(
    extracted: Any, corrected: Any, order_matching: bool, schema: dict[str, Any], confidences: dict[str, float]
) -> Outcome:
    """How an extraction compares with its correction; ``confidences`` (by the extraction's own
    pointers) make the review samples of the fields it stated."""
    extracted, corrected = without_metadata(extracted), without_metadata(corrected)
    result = comparison.compare(extracted, corrected, order_matching)
    wrong_extracted = {d["jsonPointer"] for d in result.differences if d["category"] in ("extra", "mismatch")}
    missed = {d["jsonPointer"] for d in result.differences if d["category"] in ("missing", "mismatch")}
    outcome = Outcome()

    def count(pointer: str, **delta: int) -> None:
        for counts in (outcome.counts, outcome.fields.setdefault(field_path(pointer), Counts())):
            for name, value in delta.items():
                setattr(counts, name, getattr(counts, name) + value)

    corrected_leaves = dict(leaves(corrected))
    for pointer in corrected_leaves:
        if pointer not in missed:
            count(pointer, tp=1)
    for pointer in wrong_extracted:
        count(pointer, fp=1)
    for pointer in missed:
        count(pointer, fn=1)
    where = origins(extracted, corrected, order_matching)
    for aligned, original in where.items():
        if original in confidences:
            outcome.samples.append(Sample(confidences[original], aligned not in wrong_extracted))
    stated = set(where) | set(corrected_leaves)
    for pointer in scalar_fields(schema):
        if pointer not in stated:
            count(pointer, tn=1)
    return outcome


def origins(extracted: Any, corrected: Any, order_matching: bool) -> dict[str, str]:
    """Aligned pointer -> the extraction's own pointer, for every leaf the extraction states."""
    if order_matching:
        return {pointer: pointer for pointer, _ in leaves(extracted)}
    return comparison.origins(extracted, corrected)


SCALAR_TYPES = frozenset({"string", "number", "integer", "boolean"})


def scalar_fields(schema: Any, pointer: str = "") -> list[str]:
    """The pointers of the scalar properties ``schema`` defines, through objects, not into arrays:
    a property typed as a scalar (possibly nullable); one whose shape it cannot tell (``$ref``,
    ``anyOf``, untyped) is no field of its own."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    found = []
    for name, subschema in properties.items():
        if not isinstance(subschema, dict):
            continue
        at = f"{pointer}/{escape(name)}"
        kinds = subschema.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if "properties" in subschema or "object" in kinds:
            found += scalar_fields(subschema, at)
        elif kinds - {"null"} and kinds - {"null"} <= SCALAR_TYPES:
            found.append(at)
    return found


def classification(chosen: str | None, corrected: str, routes: list[str]) -> Outcome:
    """How a route's choice compares with the route a person says was right."""
    outcome = Outcome()
    right = chosen == corrected
    outcome.counts = Counts(
        tp=1 if right else 0,
        fp=0 if right else 1,
        fn=0 if right else 1,
        tn=len(set(routes) | {corrected, chosen or ""}) - (1 if right else 2),
    )
    outcome.confusion = {corrected: {chosen or "": 1}}
    return outcome


def add_confusion(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> None:
    for corrected, row in more.items():
        for chosen, count in row.items():
            total.setdefault(corrected, {})[chosen] = total.get(corrected, {}).get(chosen, 0) + count


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None
