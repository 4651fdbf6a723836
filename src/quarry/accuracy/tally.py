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
from sqlalchemy.orm import Session, aliased

from quarry.accuracy import confusion, review
from quarry.accuracy.confusion import Counts, Outcome, Sample
from quarry.accuracy.evaluations import evaluated_confidences
from quarry.events.models import Event, own_outputs, regression_filter
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
        self._absorb(outcome.counts, outcome.fields, outcome.samples, outcome.confusion)

    def include(self, other: Tally) -> None:
        """Another tally's outputs, as if they were this one's."""
        self.results += other.results
        self.labelled += other.labelled
        self.confidences += other.confidences
        self.evaluated += other.evaluated
        self._absorb(other.counts, other.fields, other.samples, other.confusion)

    def _absorb(
        self,
        counts: Counts,
        fields: dict[str, Counts],
        samples: list[Sample],
        matrix: dict[str, dict[str, int]],
    ) -> None:
        self.counts.add(counts)
        for path, more in fields.items():
            self.fields.setdefault(path, Counts()).add(more)
        self.samples += samples
        confusion.add_confusion(self.confusion, matrix)

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
    """Which outputs of a function to add up: its own (every trial left out), or its regression
    outputs; either side narrowed to what a regression between two versions paired."""

    versions: Collection[int] | None = None  # every version when None
    regression: bool = False  # the regression outputs instead of the function's own
    replaying: int | None = None  # regression outputs: only those replaying outputs of this version
    replayed_by: int | None = None  # own outputs: only those that regression outputs of this version replay
    evaluation_version: str | None = None  # confidences of this evaluation, where there is one


def selected(environment_id: str, function_id: str, selection: Selection) -> list[sa.ColumnElement[bool]]:
    """The conditions on events that ``selection`` makes for one function."""
    conditions = [
        Event.environment_id == environment_id,
        Event.function_id == function_id,
        Event.event_type.in_(OUTPUT_TYPES),
        regression_filter(True) if selection.regression else own_outputs(),
    ]
    if selection.versions is not None:
        conditions.append(Event.function_version_num.in_(list(selection.versions)))
    other = aliased(Event)
    of_function = [other.environment_id == environment_id, other.function_id == function_id]
    if selection.replaying is not None:
        replayed = sa.select(other.id).where(*of_function, other.function_version_num == selection.replaying)
        conditions.append(Event.body["regressionOf"].as_string().in_(replayed))
    if selection.replayed_by is not None:
        replays = sa.select(other.body["regressionOf"].as_string()).where(
            *of_function, other.function_version_num == selection.replayed_by, regression_filter(True, other)
        )
        conditions.append(Event.id.in_(replays))
    return conditions


def tally(session: Session, environment_id: str, function_id: str, selection: Selection) -> dict[int, Tally]:
    """The selected outputs of a function, added up per version."""
    conditions = selected(environment_id, function_id, selection)
    tallies: dict[int, Tally] = {}
    rows = session.execute(
        sa.select(Event.function_version_num, sa.func.count()).where(*conditions).group_by(Event.function_version_num)
    )
    for version, count in rows:
        tallies.setdefault(version or 0, Tally()).results = count
    if selection.evaluation_version is None:  # no review estimate: only the labelled outputs matter
        conditions.append(Event.labelled_at.is_not(None))
        evaluated = {}
    else:
        evaluated = evaluated_confidences(session, sa.select(Event.id).where(*conditions), selection.evaluation_version)
    for event in session.scalars(sa.select(Event).where(*conditions).order_by(Event.created_at, Event.id)):
        version = event.function_version_num or 0
        into = tallies.setdefault(version, Tally())
        config = functions.config_of(session, function_id, version)
        stated = event.body.get("fieldConfidences") or {}
        if event.id in evaluated:  # the evaluation's confidence of each field the extraction stated
            into.evaluated += 1
            stated = {pointer: evaluated[event.id].get(pointer, value) for pointer, value in stated.items()}
        into.confidences += list(stated.values())
        if event.labelled_at is not None and "correctedContent" in event.body:
            into.add(_outcome(event, config, stated))
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
