"""What a function call's end changes in a call: its events recorded, the function calls it
spawns along the call's plan (joins fed instead of spawned), and the call settled when nothing is
left. Plain database work on the calls' tables, run inside the steps of ``calls.jobs``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls import counts
from quarry.calls.models import REGRESSION, TERMINAL_STATUSES, Call, FunctionCall, JoinSource
from quarry.calls.plan import Plan
from quarry.engine.runners import Emission
from quarry.events.models import METADATA_KEY, Event
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.ids import new_id
from quarry.storage.base import utcnow


def collecting_join() -> sa.ColumnElement[bool]:
    """A join fed by upstream function calls (not a call's own root join)."""
    return sa.and_(FunctionCall.function_type == "join", FunctionCall.source_function_call_id.is_not(None))


_OUTCOMES = sa.select(
    sa.func.count().filter(FunctionCall.status.not_in(TERMINAL_STATUSES)),
    sa.func.count().filter(FunctionCall.status == "failed"),
).where(FunctionCall.call_id == sa.bindparam("call_id"))
"""How many of a call's function calls are unfinished, and how many failed: one statement, built
once (every call settles)."""


def settle_if_done(session: Session, call: Call) -> str | None:
    """Settle a call (locked) none of whose function calls is left unfinished; its status then."""
    if call.status in TERMINAL_STATUSES:
        return None
    unfinished, failed = session.execute(_OUTCOMES, {"call_id": call.id}).one()
    if unfinished:
        return None
    _settle(session, call, failed)
    return call.status


def settle(session: Session, call: Call) -> None:
    _, failed = session.execute(_OUTCOMES, {"call_id": call.id}).one()
    _settle(session, call, failed)


def _settle(session: Session, call: Call, failed: int) -> None:
    set_status(session, call, "failed" if failed else "completed")
    call.finished_at = utcnow()


def set_status(session: Session, call: Call, status: str) -> None:
    """Every status change goes through here: it is counted, and marked for followers (``updated_at``)."""
    counts.status_changed(session, call, call.status, status)
    call.status = status
    call.updated_at = utcnow()


def activity_name(function_type: str) -> str:
    return {"transform": "Extract", "analyze": "Analyze", "route": "Route", "payload_shaping": "Shape payload"}.get(
        function_type, function_type.replace("_", " ").capitalize()
    )


def _item_reference(emission: Emission) -> str | None:
    """A split item goes on under its own reference (``itemReferenceID``)."""
    if len(emission.files) == 1:
        return emission.files[0].get("itemReferenceID")
    return None


def _feed_join(
    session: Session,
    call: Call,
    plan: Plan,
    fc: FunctionCall,
    event_id: str,
    emission: Emission,
    join: Function,
    reference_id: str | None,
) -> None:
    """Add what ``emission`` hands on to the call's one collecting function call of ``join``
    (made by the first branch that reaches it): files to its inputs, JSON to its items, and the
    event to its sources (``JoinSource``: every branch, where ``source_event_id`` names the first).
    The caller holds the call's row lock, so "find or make" is atomic among parallel branches."""
    collecting = session.scalars(
        sa.select(FunctionCall)
        .where(
            FunctionCall.call_id == call.id,
            FunctionCall.function_id == join.id,
            FunctionCall.status == "pending",
            FunctionCall.released_by.is_(None),
        )
        .with_for_update()
    ).first()
    if collecting is None:
        collecting = FunctionCall(
            id=new_id("fc"),
            environment_id=call.environment_id,
            call_id=call.id,
            function_id=join.id,
            function_name=join.name,
            function_type=join.type,
            function_version_num=plan.versions[join.id],
            reference_id=call.call_reference_id,
            status="pending",
            activity=[],
            inputs=[],
            payload={"items": []},
            source_function_call_id=fc.id,
            source_event_id=event_id,
        )
        session.add(collecting)
        session.flush()  # the source below refers to it
    if session.get(JoinSource, (collecting.id, event_id)) is None:  # two edges to one join: one source
        session.add(JoinSource(function_call_id=collecting.id, event_id=event_id, source_function_call_id=fc.id))
    if emission.files:
        labelled = [({"itemReferenceID": reference_id} if reference_id else {}) | f for f in emission.files]
        collecting.inputs = [*collecting.inputs, *labelled]
    else:
        item = {"itemReferenceID": reference_id or fc.id, "content": emission.output}
        collecting.payload = {"items": [*collecting.payload["items"], item]}


def record_event(session: Session, call: Call, fc: FunctionCall, emission: Emission) -> Event:
    body = emission.body
    content = body.get("transformedContent")
    if call.call_metadata is not None and isinstance(content, dict):  # the call's metadata, as bem injects it
        stated = {"referenceID": call.call_reference_id} if call.call_reference_id else {}
        body = body | {"transformedContent": content | {METADATA_KEY: call.call_metadata | stated}}
    if call.inbound_email is not None:  # bem's events name the mail that started them
        body = body | {"inboundEmail": call.inbound_email}
    if call.origin is not None and emission.event_type != "error":  # a trial's output (``calls.models``)
        marks = {"isRegression": True, "regressionOf": call.origin_id} if call.origin == REGRESSION else {}
        body = body | (marks or {"scoreRunID": call.origin_id})
    event = Event(
        id=new_id("evt"),
        environment_id=call.environment_id,
        event_type=emission.event_type,
        call_id=call.id,
        function_call_id=fc.id,
        function_call_try_number=1,
        reference_id=fc.reference_id,
        function_id=fc.function_id,
        function_name=fc.function_name,
        function_version_num=fc.function_version_num,
        workflow_id=call.workflow_id,
        workflow_name=call.workflow_name,
        workflow_version_num=call.workflow_version_num,
        transformation_id=emission.body.get("transformationID"),
        trace_parent=call.trace_parent,
        body=body,
    )
    session.add(event)
    return event


def spawn(
    session: Session, call: Call, plan: Plan, fc: FunctionCall, event_id: str, emission: Emission
) -> list[FunctionCall]:
    """Function calls for where ``emission`` (recorded as event ``event_id``) goes next
    (``Plan.destinations``); a join is fed instead."""
    children = []
    reference_id = _item_reference(emission) or fc.reference_id
    for function_id in plan.destinations(fc.function_id, emission.branch):
        function = functions.by_id(session, function_id)
        if function.type == "join":
            _feed_join(session, call, plan, fc, event_id, emission, function, reference_id)
            continue  # it runs once every branch is done (release_joins)
        child = FunctionCall(
            id=new_id("fc"),
            environment_id=call.environment_id,
            call_id=call.id,
            function_id=function_id,
            function_name=function.name,
            function_type=function.type,
            function_version_num=plan.versions[function_id],
            reference_id=reference_id,
            status="pending",
            activity=[],
            inputs=emission.files,
            payload=None if emission.files else emission.output,
            source_function_call_id=fc.id,
            source_event_id=event_id,
        )
        session.add(child)
        children.append(child)
    session.flush()
    return children
