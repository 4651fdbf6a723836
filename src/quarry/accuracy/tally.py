"""Adding up a function's labelled outputs (``confusion.py``) per version, from the events table.

The outputs of a function are its transform, join and route events; *labelled* ones carry a
person's correction (``labelled_at``: feedback, a transformation correction, or a regression's
carried-over correction). Regression outputs (``isRegression``) are test data: they are counted
only when asked for, never mixed with the function's own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.accuracy import confusion, review
from quarry.accuracy.confusion import Counts, Outcome, Sample
from quarry.accuracy.evaluations import evaluated_confidences
from quarry.events.models import Event, regression_filter
from quarry.functions import service as functions

OUTPUT_TYPES = ("transform", "join", "route")
"""The events a person can correct: the outputs that have an accuracy."""


@dataclass
class Tally:
    """What a set of outputs adds up to."""

    results: int = 0
    labelled: int = 0
    counts: Counts = field(default_factory=Counts)
    fields: dict[str, Counts] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    confidences: list[float] = field(default_factory=list)  # every stated field's, labelled or not
    evaluated: int = 0  # outputs with a completed evaluation

    def add(self, outcome: Outcome) -> None:
        """One more labelled output."""
        self.labelled += 1
        self.counts.add(outcome.counts)
        for path, counts in outcome.fields.items():
            self.fields.setdefault(path, Counts()).add(counts)
        self.samples += outcome.samples
        confusion.add_confusion(self.confusion, outcome.confusion)

    def include(self, other: Tally) -> None:
        self.add(Outcome(other.counts, other.fields, other.samples, other.confusion))
        self.labelled += other.labelled - 1
        self.results += other.results
        self.confidences += other.confidences
        self.evaluated += other.evaluated

    def field_metrics(self) -> list[dict[str, Any]]:
        return [{"fieldPath": path, "metrics": counts.as_wire()} for path, counts in sorted(self.fields.items())]

    def details(self) -> dict[str, Any]:
        """bem's ``MetricsDetails``."""
        return {
            "aggregateMetrics": self.counts.as_wire(),
            "fieldMetrics": self.field_metrics(),
            "precisionRecallAuc": review.precision_recall_auc(self.samples),
        }


@dataclass
class Selection:
    """Which outputs of a function to add up."""

    versions: Collection[int] | None = None  # every version when None
    regression: bool = False  # the regression outputs instead of the function's own
    event_ids: Collection[str] | None = None  # only these
    evaluation_version: str | None = None  # confidences of this evaluation, where there is one


def tally(session: Session, environment_id: str, function_id: str, selection: Selection) -> dict[int, Tally]:
    """The selected outputs of a function, added up per version."""
    conditions = [
        Event.environment_id == environment_id,
        Event.function_id == function_id,
        Event.event_type.in_(OUTPUT_TYPES),
        regression_filter(selection.regression),
    ]
    if selection.versions is not None:
        conditions.append(Event.function_version_num.in_(list(selection.versions)))
    if selection.event_ids is not None:
        conditions.append(Event.id.in_(list(selection.event_ids)))
    tallies: dict[int, Tally] = {}
    rows = session.execute(
        sa.select(Event.function_version_num, sa.func.count()).where(*conditions).group_by(Event.function_version_num)
    )
    for version, count in rows:
        tallies.setdefault(version or 0, Tally()).results = count
    wants_confidences = selection.evaluation_version is not None
    shown = conditions if wants_confidences else [*conditions, Event.labelled_at.is_not(None)]
    events = list(session.scalars(sa.select(Event).where(*shown).order_by(Event.created_at, Event.id)))
    evaluated = (
        evaluated_confidences(session, [e.id for e in events], selection.evaluation_version)
        if selection.evaluation_version is not None
        else {}
    )
    for event in events:
        version = event.function_version_num or 0
        into = tallies.setdefault(version, Tally())
        config = functions.config_of(session, function_id, version)
        confidences = evaluated.get(event.id, event.body.get("fieldConfidences") or {})
        into.evaluated += event.id in evaluated
        into.confidences += list(confidences.values())
        if event.labelled_at is not None and "correctedContent" in event.body:
            into.add(_outcome(event, config, confidences))
    return tallies


def _outcome(event: Event, config: dict[str, Any], confidences: dict[str, float]) -> Outcome:
    body = event.body
    if event.event_type == "route":
        routes = [route["name"] for route in config.get("routes", [])]
        return confusion.classification(body.get("choice"), body["correctedContent"], routes)
    return confusion.extraction(
        body.get("transformedContent"),
        body["correctedContent"],
        bool(body.get("orderMatching", False)),
        config.get("outputSchema") or {},
        confidences,
    )


def merged(tallies: dict[int, Tally]) -> Tally:
    """Every version's outputs as one."""
    total = Tally()
    for one in tallies.values():
        total.include(one)
    return total
