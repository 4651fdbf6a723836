"""Evaluations on the engine: ``POST /v3/eval`` stores one pending evaluation per transformation
and enqueues it; the ``Evaluating`` job reads the event's documents again (in the engine's reader
processes), scores the extraction (``evaluation.py``) and stores the result;
``GET /v3/eval/results`` reads what is there.

An evaluation is stored per event and evaluation version: asking again for one pending or
completed is *skipped*; one that failed is tried again, as a new evaluation (a new ID). The job's
workflow ID is the evaluation's ID (enqueuing twice runs once); the sweeper enqueues pending
evaluations older than a minute (a process that stored them died before enqueuing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry.accuracy.evaluation import EVALUATION_VERSION, VERSION_ALIASES, evaluate
from quarry.accuracy.inputs import OutputInput, input_of
from quarry.accuracy.models import Evaluation
from quarry.documents.model import Document, DocumentError
from quarry.documents.readers.plain import json_document
from quarry.engine.queues import EVALUATION_QUEUE, STEP_RETRIES
from quarry.engine.runtime import Runtime
from quarry.errors import bad_request
from quarry.events.models import TRANSFORMATION_TYPES, Event
from quarry.functions import service as functions
from quarry.ids import new_id
from quarry.providers import ProviderError
from quarry.storage.base import utcnow

log = logging.getLogger("quarry.accuracy")

EVALUATION_JOB = "evaluations"
"""The engine's name for scoring evaluations: ``engine.enqueue(EVALUATION_JOB, evaluation_ids)``."""
MAX_IDS = 100


def evaluation_version(requested: str | None) -> str:
    """The evaluation version a request names (the default when it names none); 400 for another."""
    if requested is None:
        return EVALUATION_VERSION
    version = VERSION_ALIASES.get(requested, requested)
    if version != EVALUATION_VERSION:
        known = ", ".join(repr(v) for v in (EVALUATION_VERSION, *VERSION_ALIASES))
        raise bad_request(f"unknown evaluation version {requested!r}: this deployment evaluates with {known}",
                          field="evaluationVersion")  # fmt: skip
    return version


def _events_named(session: Session, environment_id: str, ids: list[str], by_event_id: bool) -> dict[str, Event]:
    """The transformation events named by these IDs (event IDs or transformation IDs), by the ID given."""
    column = Event.id if by_event_id else Event.transformation_id
    rows = session.scalars(
        sa.select(Event).where(
            Event.environment_id == environment_id, Event.event_type.in_(TRANSFORMATION_TYPES), column.in_(ids)
        )
    )
    return {(event.id if by_event_id else event.transformation_id or ""): event for event in rows}


def _evaluations_of(session: Session, events: Iterable[Event], version: str) -> dict[str, Evaluation]:
    """The evaluations of these events by this version, by event ID."""
    stmt = sa.select(Evaluation).where(
        Evaluation.event_id.in_([event.id for event in events]), Evaluation.evaluation_version == version
    )
    return {evaluation.event_id: evaluation for evaluation in session.scalars(stmt)}


@dataclass
class Triggered:
    queued: list[str] = field(default_factory=list)  # evaluation IDs to enqueue
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def trigger(session: Session, environment_id: str, transformation_ids: list[str], version: str) -> Triggered:
    """Store a pending evaluation for each named transformation not already evaluated (or being)."""
    named = _events_named(session, environment_id, transformation_ids, by_event_id=False)
    existing = _evaluations_of(session, named.values(), version)
    triggered = Triggered()
    for transformation_id in dict.fromkeys(transformation_ids):
        event = named.get(transformation_id)
        if event is None:
            triggered.errors[transformation_id] = f"transformation {transformation_id!r} not found"
            continue
        evaluation = existing.get(event.id)
        if evaluation is not None and evaluation.status != "failed":
            triggered.skipped += 1
            continue
        if evaluation is not None:  # tried again under a new ID: its job's workflow ID has run
            session.delete(evaluation)
            session.flush()
        fresh = Evaluation(
            id=new_id("evl"), environment_id=environment_id, event_id=event.id, evaluation_version=version,
            status="pending",
        )  # fmt: skip
        try:
            with session.begin_nested():  # another request may store it at the same moment
                session.add(fresh)
        except IntegrityError:
            triggered.skipped += 1
            continue
        triggered.queued.append(fresh.id)
    return triggered


@dataclass
class Results:
    results: dict[str, Any] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def results(session: Session, environment_id: str, ids: list[str], by_event_id: bool, version: str) -> Results:
    """Each named event's evaluation: completed, pending, or failed (also: no such event, never evaluated)."""
    named = _events_named(session, environment_id, ids, by_event_id)
    evaluations = _evaluations_of(session, named.values(), version)
    answer, now = Results(), utcnow()
    for given in dict.fromkeys(ids):
        event = named.get(given)
        evaluation = evaluations.get(event.id) if event is not None else None
        if event is None:
            answer.failed.append(_failed(given, f"event {given!r} not found", now))
        elif evaluation is None:
            answer.failed.append(_failed(event.id, "not evaluated: trigger it with POST /v3/eval", now))
        elif evaluation.status == "completed":
            answer.results[event.id] = evaluation.result
        elif evaluation.status == "pending":
            answer.pending.append({"eventID": event.id, "createdAt": evaluation.created_at})
        else:
            answer.failed.append(_failed(event.id, evaluation.error_message or "failed", evaluation.finished_at or now))
    return answer


def _failed(event_id: str, message: str, at: datetime) -> dict[str, Any]:
    return {"eventID": event_id, "errorMessage": message, "createdAt": at}


def evaluated_confidences(session: Session, event_ids: sa.Select[Any], version: str) -> dict[str, dict[str, float]]:
    """The evaluated field confidences of the events ``event_ids`` selects, where a completed
    evaluation has them."""
    rows = session.execute(
        sa.select(Evaluation.event_id, Evaluation.result).where(
            Evaluation.event_id.in_(event_ids),
            Evaluation.evaluation_version == version,
            Evaluation.status == "completed",
        )
    )
    return {
        event_id: {pointer: field["confidence"] for pointer, field in (result or {}).get("fields", {}).items()}
        for event_id, result in rows
    }


# --- the job ----------------------------------------------------------------------------------


class Unevaluable(Exception):
    """The evaluation cannot be made (its document is gone, or unreadable): a failed evaluation."""


@DBOS.dbos_class()
class Evaluating(DBOSConfiguredInstance):
    """The durable scoring of stored evaluations, bound to the runtime of the engine that runs it.

    The class and method names are what DBOS records to recover a workflow: keep them."""

    queue_name = EVALUATION_QUEUE

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__("quarry-evaluations")

    @property
    def entry(self) -> Callable[[str], object]:
        return self.evaluate_event

    @DBOS.workflow()
    def evaluate_event(self, evaluation_id: str) -> str:
        try:
            return self.score(evaluation_id)
        except Exception as exc:  # an evaluation must end, whatever happened
            log.exception("evaluation %s stopped", evaluation_id)
            return self.settle(evaluation_id, "failed", None, f"internal error: {type(exc).__name__}")

    @DBOS.step(**STEP_RETRIES)
    def score(self, evaluation_id: str) -> str:
        """Score the evaluation unless it is no longer pending; whatever goes wrong with the
        document ends as the evaluation's error."""
        with self.runtime.db.read() as session:
            evaluation = session.get(Evaluation, evaluation_id)
            if evaluation is None or evaluation.status != "pending":
                return "done"
            event = session.get_one(Event, evaluation.event_id)
            schema = functions.config_of(session, event.function_id or "", event.function_version_num or 0)
            source = input_of(session, event)
        status, result, error = "completed", None, None
        try:
            result = evaluate(
                event.body.get("transformedContent"),
                schema.get("outputSchema") or {},
                event.body.get("fieldConfidences") or {},
                self._documents(source),
            )
        except Unevaluable as exc:
            status, error = "failed", str(exc)
        return self._store(evaluation_id, status, result, error)

    @DBOS.step(**STEP_RETRIES)
    def settle(self, evaluation_id: str, status: str, result: dict[str, Any] | None, error: str | None) -> str:
        return self._store(evaluation_id, status, result, error)

    def _store(self, evaluation_id: str, status: str, result: dict[str, Any] | None, error: str | None) -> str:
        with self.runtime.db.write() as session:
            session.execute(
                sa.update(Evaluation)
                .where(Evaluation.id == evaluation_id, Evaluation.status == "pending")
                .values(status=status, result=result, error_message=error, finished_at=utcnow())
            )
        return status

    def _documents(self, source: OutputInput) -> list[Document]:
        """What the extraction read, read again."""
        if source.empty:
            raise Unevaluable("this output has no input left to evaluate it against")
        documents = []
        for input_type, key in source.files:
            try:
                data = self.runtime.blobs.get(key)
            except KeyError:
                raise Unevaluable("the document this output was read from is no longer stored") from None
            try:
                documents.append(self.runtime.readers.read(input_type, data))
            except (DocumentError, ProviderError) as exc:  # audio is transcribed by a provider
                raise Unevaluable(f"the document could not be read again: {exc}") from None
        for content in source.json:
            try:
                documents.append(json_document(content))
            except DocumentError as exc:
                raise Unevaluable(f"the input could not be read again: {exc}") from None
        return documents

    def sweep(self, older_than: timedelta) -> list[str]:
        with self.runtime.db.read() as session:
            return list(
                session.scalars(
                    sa.select(Evaluation.id)
                    .where(Evaluation.status == "pending", Evaluation.created_at <= utcnow() - older_than)
                    .order_by(Evaluation.created_at)
                    .limit(1000)
                )
            )
