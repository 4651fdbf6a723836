"""Review gates: workflow nodes whose outputs wait for a person (``Plan.reviews``).

When such a node's function call has done its work, ``hold`` records its events as usual but hands
nothing on: a gate row keeps what it would hand on, the function call stays ``running`` with the
activity "Awaiting review", and the call's workflow ends there without settling — a waiting call
holds no worker and no queue slot, however long it waits. A person approves or corrects each held
event (v3 feedback, transformation corrections) or deletes it; the last decision marks the gate
decided (``note_changes``, in the transaction that stores it) and the API enqueues the review job, whose
workflow closes the gate (``passing``) and drives the call on from there with the corrected
outputs. A deadline that passes first closes it as the node says (continue or fail); the engine's
sweeper finds those (``due``), and decided gates whose enqueue was lost. The gate row is the
durable state: every step that reads it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls.models import Call, FunctionCall, ReviewGate
from quarry.engine.runners import Emission
from quarry.events.models import Event
from quarry.ids import new_id
from quarry.storage.base import utcnow

AWAITING_REVIEW = "Awaiting review"
"""The activity of a function call held by a gate (and so of its call)."""


def holds(setting: dict[str, Any] | None, emissions: list[Emission]) -> bool:
    """Whether a node with this review setting holds these outputs of a successful function call."""
    if setting is None or not emissions:  # no event: nothing a person could decide on
        return False
    return setting["when"] == "always" or any(emission.body.get("needsReview") for emission in emissions)


def hold(
    session: Session, call: Call, fc: FunctionCall, setting: dict[str, Any], recorded: list[tuple[Event, Emission]]
) -> None:
    """Open a gate on ``fc`` (its events recorded, nothing handed on): it waits for a person.

    The events it waits on are marked ``needsReview`` (a gate that always holds marks them all), so
    the review queue lists them like any event that needs review."""
    now = utcnow()
    held = []
    for event, emission in recorded:
        review = setting["when"] == "always" or bool(event.body.get("needsReview"))
        flagged = review and not event.body.get("needsReview")
        if flagged:
            event.body = event.body | {"needsReview": True}
        held.append(
            {
                "eventID": event.id,
                "review": review,
                "flagged": flagged,
                "output": emission.output,
                "files": emission.files,
                "branch": emission.branch,
            }
        )
    deadline = setting.get("deadlineSeconds")
    session.add(
        ReviewGate(
            id=new_id("rvw"),
            environment_id=call.environment_id,
            call_id=call.id,
            function_call_id=fc.id,
            held=held,
            on_deadline=setting["onDeadline"],
            deadline_at=None if deadline is None else now + timedelta(seconds=deadline),
            opened_at=now,
        )
    )
    fc.activity = [{"displayName": AWAITING_REVIEW, "status": "running"}]


def gate_of(session: Session, function_call_id: str) -> str | None:
    """The gate that holds (or held) this function call, if any."""
    return session.scalar(sa.select(ReviewGate.id).where(ReviewGate.function_call_id == function_call_id))


def seconds_to_deadline(gate: ReviewGate) -> float | None:
    """How long until the gate's deadline (at least a second), by this process's clock."""
    if gate.deadline_at is None:
        return None
    return max(1.0, (gate.deadline_at - utcnow()).total_seconds())


def close(session: Session, gate: ReviewGate, outcome: str) -> None:
    """Close the gate. Closed undecided (deadline, abandoned call), the events it marked
    ``needsReview`` only for the gate's sake leave the review queue: nothing waits on them now."""
    gate.closed_at, gate.outcome = utcnow(), outcome
    if gate.decided_at is not None:
        return
    flagged = [item["eventID"] for item in gate.held if item.get("flagged")]
    for event in session.scalars(sa.select(Event).where(Event.id.in_(flagged), Event.labelled_at.is_(None))):
        event.body = {key: value for key, value in event.body.items() if key != "needsReview"}


def close_all(session: Session, call_id: str, outcome: str) -> None:
    """Close every open gate of a call that cannot go on."""
    open_gates = sa.select(ReviewGate).where(ReviewGate.call_id == call_id, ReviewGate.closed_at.is_(None))
    for gate in session.scalars(open_gates.order_by(ReviewGate.id).with_for_update()):
        close(session, gate, outcome)


def has_gates(session: Session, call_id: str) -> bool:
    return session.scalar(sa.select(sa.literal(True)).where(ReviewGate.call_id == call_id).limit(1)) is not None


def note_decisions(session: Session, event_ids: list[str]) -> list[str]:
    """Mark decided the open gates whose last undecided event is among these (just approved or
    corrected, in this transaction); their IDs, for the review job."""
    return note_changes(session, sa.select(Event.function_call_id).where(Event.id.in_(event_ids)))


def note_changes(session: Session, function_call_ids: sa.Select[Any] | list[str]) -> list[str]:
    """Mark decided the open gates of these function calls that wait on no event any more (each
    approved, corrected or deleted); their IDs, for the review job."""
    gates = session.scalars(
        sa.select(ReviewGate)
        .where(
            ReviewGate.function_call_id.in_(function_call_ids),
            ReviewGate.closed_at.is_(None),
            ReviewGate.decided_at.is_(None),
        )
        .order_by(ReviewGate.id)
        .with_for_update()
    ).all()
    decided = []
    for gate in gates:
        waiting_on = [item["eventID"] for item in gate.held if item["review"]]
        undecided = session.scalar(
            sa.select(sa.func.count()).where(Event.id.in_(waiting_on), Event.labelled_at.is_(None))
        )
        if not undecided:
            gate.decided_at = utcnow()
            decided.append(gate.id)
    return decided


def due(session: Session, older_than: timedelta) -> list[str]:
    """Open gates to close now: decided longer than ``older_than`` ago (their enqueue may have been
    lost), or past their deadline."""
    now = utcnow()
    return list(
        session.scalars(
            sa.select(ReviewGate.id)
            .where(
                ReviewGate.closed_at.is_(None),
                sa.or_(ReviewGate.decided_at <= now - older_than, ReviewGate.deadline_at <= now),
            )
            .order_by(ReviewGate.opened_at)
            .limit(1000)
        )
    )


@dataclass(frozen=True)
class Passing:
    """How a gate closes: its ``outcome``, and what goes on — ``(eventID, emission)`` with the
    person's corrections in place — or nothing when the function call fails at the deadline."""

    outcome: str
    onward: list[tuple[str, Emission]]

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def passing(session: Session, gate: ReviewGate) -> Passing | None:
    """How this open gate closes now; None while it still waits (neither decided nor past its
    deadline). A held event deleted meanwhile goes on as it was held."""
    if gate.decided_at is None:
        if gate.deadline_at is None or gate.deadline_at > utcnow():
            return None
        if gate.on_deadline == "fail":
            return Passing("failed", [])
    ids = [item["eventID"] for item in gate.held]
    events = {event.id: event for event in session.scalars(sa.select(Event).where(Event.id.in_(ids)))}
    onward, corrected = [], False
    for item in gate.held:
        event = events.get(item["eventID"])
        emission = Emission(event.event_type if event else "", {}, item["output"], item["files"], item["branch"])
        if event is not None and event.labelled_at is not None and "correctedContent" in event.body:
            correction = event.body["correctedContent"]
            if event.event_type == "route":  # a classification's correction is the route to take
                corrected |= correction != emission.branch
                emission.branch = correction
            else:
                corrected |= correction != emission.output
                emission.output = correction
        onward.append((item["eventID"], emission))
    if gate.decided_at is None:
        return Passing("continued", onward)
    return Passing("corrected" if corrected else "approved", onward)
