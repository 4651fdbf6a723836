"""A call as one durable DBOS workflow; each function call as one durable step.

``run_call`` walks the call's graph breadth-first: run the pending function calls, then the
ones they spawned, until none is left; then release the joins that collected inputs meanwhile
(fan-in: a join runs once, after every branch that feeds it has finished) and go on; finally
settle the call's status. Every step reads and writes Quarry's own tables and is idempotent — a
step re-run after a crash finds its function call already finished and returns what it spawned —
so a killed process resumes where it stopped without running anything twice that was recorded.

A lone function call runs as a step of the call's workflow (the cheap path). Several at once —
the branches of a split or a route's fan-out — run as child workflows on the branch queue, in
parallel on any worker; a function call that asks a model always goes through the model queue,
whose global concurrency and rate limit hold the provider's limits across every worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID
from sqlalchemy.orm import Session

from quarry.calls import counts
from quarry.calls.models import TERMINAL_STATUSES, Call, FunctionCall
from quarry.documents.input_types import MEDIA_TYPES
from quarry.engine.queues import BRANCH_QUEUE, MODEL_QUEUE, SETTLE_RETRIES, STEP_RETRIES
from quarry.engine.runners import Emission, FunctionError, InputFile, RunInput, Search, runner_for
from quarry.events.models import Event
from quarry.functions.models import Function, FunctionVersion
from quarry.ids import new_id
from quarry.providers import ProviderError
from quarry.providers.llm import uses_model
from quarry.storage.base import utcnow

if TYPE_CHECKING:
    from quarry.engine.engine import Engine

log = logging.getLogger("quarry.engine")

Ready = tuple[str, bool]
"""A function call ready to run, and whether it asks a model (it then waits for the model queue)."""
Ran = dict[str, Any]
"""What running a function call gave: ``{"ready": [Ready], "settled": call status | None}``."""


@DBOS.dbos_class()
class CallExecution(DBOSConfiguredInstance):
    """The durable workflows and steps of calls, bound to the engine that runs them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        super().__init__("quarry-calls")

    @DBOS.workflow()
    def run_call(self, call_id: str) -> str:
        settled = None
        try:
            begun = self.begin_call(call_id)
            frontier, settled = begun["ready"], begun["settled"]
            while frontier:
                frontier, settled = self._run_all(frontier)
                if not frontier and not settled and begun["joins"]:
                    frontier = self.release_joins(call_id)
        except Exception as exc:  # the call must never stay "running": record why it stopped
            log.exception("call %s stopped", call_id)
            self.abandon_call(call_id, f"internal error: {type(exc).__name__}")
            settled = None
        return settled or self.finish_call(call_id)

    def _run_all(self, frontier: list[Ready]) -> tuple[list[Ready], str | None]:
        """Run these function calls (in parallel when there are several); what they spawned, and
        the call's status when the last of them settled it."""
        if len(frontier) == 1 and not frontier[0][1]:
            ran = self.run_function_call(frontier[0][0])
            return ran["ready"], ran["settled"]
        handles = []
        for function_call_id, asks_model in frontier:
            with SetWorkflowID(function_call_id):
                queue = self.engine.queue(MODEL_QUEUE if asks_model else BRANCH_QUEUE)
                handles.append(queue.enqueue(self.run_branch, function_call_id))
        results = [handle.get_result() for handle in handles]
        settled = next((r["settled"] for r in results if r["settled"]), None)
        return [ready for r in results for ready in r["ready"]], settled

    @DBOS.workflow()
    def run_branch(self, function_call_id: str) -> Ran:
        return self.run_function_call(function_call_id)

    @DBOS.step(**STEP_RETRIES)
    def begin_call(self, call_id: str) -> dict[str, Any]:
        """Mark the call running; return its function calls that still have to run (but the joins
        still collecting inputs from branches: ``release_joins`` hands those out), and whether
        the call has joins at all (else there is nothing to release).

        A lone function call ready at once (most calls) is run right here: one durable step
        fewer per call. Like every step this is idempotent: a re-run finds it finished."""
        with self.engine.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True)
            if call.status == "pending":
                _set_status(session, call, "running")
                call.started_at = utcnow()
            joins = session.scalar(
                sa.select(sa.func.count()).where(Function.id.in_(list(call.plan["versions"])), Function.type == "join")
            )
            ready = self._ready(
                session,
                sa.and_(
                    FunctionCall.call_id == call_id,
                    FunctionCall.status.not_in(TERMINAL_STATUSES),
                    sa.not_(_collecting_join()),
                ),
            )
        if len(ready) == 1 and not ready[0][1]:
            return {"joins": bool(joins)} | self._run_function_call(ready[0][0])
        return {"ready": ready, "joins": bool(joins), "settled": None}

    @DBOS.step(**STEP_RETRIES)
    def release_joins(self, call_id: str) -> list[Ready]:
        """Once nothing else is left to run, the joins that collected inputs from the call's branches."""
        with self.engine.db.read() as session:
            return self._ready(
                session, sa.and_(FunctionCall.call_id == call_id, FunctionCall.status.not_in(TERMINAL_STATUSES))
            )

    @DBOS.step(**STEP_RETRIES)
    def run_function_call(self, function_call_id: str) -> Ran:
        return self._run_function_call(function_call_id)

    def _run_function_call(self, function_call_id: str) -> Ran:
        """Run one function call to its end; return the function calls it spawned. The last
        function call of a call settles the call in the same transaction (``settled``)."""
        engine = self.engine
        with engine.db.write() as session:
            fc = session.get_one(FunctionCall, function_call_id, with_for_update=True)
            if fc.status in TERMINAL_STATUSES:
                return {"ready": self._spawned_by(session, fc.id), "settled": None}
            fc.status = "running"
            fc.started_at = fc.started_at or utcnow()
            fc.activity = [{"displayName": _activity_name(fc.function_type), "status": "running"}]
            config = session.scalars(
                sa.select(FunctionVersion.config).where(
                    FunctionVersion.function_id == fc.function_id,
                    FunctionVersion.version_num == fc.function_version_num,
                )
            ).one()
            call = session.get_one(Call, fc.call_id)
            plan, inputs, payload = call.plan, list(fc.inputs), fc.payload

        try:
            files = [
                InputFile(
                    e["inputType"],
                    e["blobKey"],
                    engine.blobs.get(e["blobKey"]),
                    e.get("itemReferenceID"),
                    e.get("itemOffset"),
                    e.get("itemCount"),
                )
                for e in inputs
            ]
            run_input = RunInput(
                fc.function_type,
                config,
                files,
                engine.readers,
                payload,
                engine.settings,
                _blob_writer(engine, fc.environment_id, fc.call_id, function_call_id),
                fc.reference_id,
                _collection_search(engine, fc.environment_id),
            )
            emissions = runner_for(fc.function_type)(run_input)
            failed = False
        except FunctionError as exc:
            emissions, failed = [Emission("error", {"message": str(exc)})], True
        except Exception as exc:  # a bug or a hostile input must fail this call, not the worker
            log.exception("function call %s failed unexpectedly", function_call_id)
            emissions, failed = [Emission("error", {"message": f"internal error: {type(exc).__name__}: {exc}"})], True

        with engine.db.write() as session:
            fc = session.get_one(FunctionCall, function_call_id, with_for_update=True)
            if fc.status in TERMINAL_STATUSES:  # finished by an earlier attempt of this step
                return {"ready": self._spawned_by(session, fc.id), "settled": None}
            # locked: branches finishing side by side feed joins and settle the call one at a time
            call = session.get_one(Call, fc.call_id, with_for_update=True)
            spawned = []
            for emission in emissions:
                event = _record_event(session, call, fc, emission)
                if emission.flows and not failed:
                    spawned += _spawn(session, call, plan, fc, event, emission)
            fc.status = "failed" if failed else "completed"
            fc.finished_at = utcnow()
            fc.activity = [{"displayName": _activity_name(fc.function_type), "status": fc.status}]
            if spawned:
                return {"ready": self._ready(session, FunctionCall.id.in_([c.id for c in spawned])), "settled": None}
            return {"ready": [], "settled": _settle_if_done(session, call)}

    @DBOS.step(**SETTLE_RETRIES)
    def abandon_call(self, call_id: str, message: str) -> None:
        """Fail every unfinished function call of a call that cannot go on, with an error event.

        The rows are locked (and, on PostgreSQL, their status re-checked after the lock) so that a
        function call another process finishes meanwhile is not failed over its result."""
        with self.engine.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True)
            for fc in session.scalars(
                sa.select(FunctionCall)
                .where(FunctionCall.call_id == call_id, FunctionCall.status.not_in(TERMINAL_STATUSES))
                .order_by(FunctionCall.id)
                .with_for_update()
            ):
                _record_event(session, call, fc, Emission("error", {"message": message}))
                fc.status, fc.finished_at = "failed", utcnow()

    @DBOS.step(**SETTLE_RETRIES)
    def finish_call(self, call_id: str) -> str:
        """Settle the call: failed if any of its function calls failed, else completed."""
        with self.engine.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True)
            if call.status not in TERMINAL_STATUSES:
                _settle(session, call)
            return call.status

    def sweep(self, older_than: timedelta) -> None:
        """Enqueue calls left ``pending`` for longer than ``older_than`` (stored by a process that
        stopped before enqueuing them)."""
        with self.engine.db.read() as session:
            ids = list(
                session.scalars(
                    sa.select(Call.id)
                    .where(Call.status == "pending", Call.created_at <= utcnow() - older_than)
                    .order_by(Call.created_at)
                    .limit(1000)
                )
            )
        self.engine.enqueue_calls(ids)

    def _ready(self, session: Session, where: sa.ColumnElement[bool]) -> list[Ready]:
        """The function calls matching ``where`` in creation order, each with whether it asks a model."""
        rows = session.execute(
            sa.select(FunctionCall.id, FunctionCall.function_type, FunctionVersion.config)
            .join(
                FunctionVersion,
                sa.and_(
                    FunctionVersion.function_id == FunctionCall.function_id,
                    FunctionVersion.version_num == FunctionCall.function_version_num,
                ),
            )
            .where(where)
            .order_by(FunctionCall.created_at, FunctionCall.id)
        ).all()
        settings = self.engine.settings
        return [(row.id, uses_model(row.function_type, row.config, settings)) for row in rows]

    def _spawned_by(self, session: Session, function_call_id: str) -> list[Ready]:
        return self._ready(session, FunctionCall.source_function_call_id == function_call_id)


def _collecting_join() -> sa.ColumnElement[bool]:
    """A join fed by upstream function calls (not a call's own root join)."""
    return sa.and_(FunctionCall.function_type == "join", FunctionCall.source_function_call_id.is_not(None))


def _settle_if_done(session: Session, call: Call) -> str | None:
    """Settle a call (locked) none of whose function calls is left unfinished; its status then."""
    unfinished = session.scalar(
        sa.select(sa.func.count()).where(FunctionCall.call_id == call.id, FunctionCall.status.not_in(TERMINAL_STATUSES))
    )
    if unfinished or call.status in TERMINAL_STATUSES:
        return None
    _settle(session, call)
    return call.status


def _settle(session: Session, call: Call) -> None:
    failed = session.scalar(
        sa.select(sa.func.count()).where(FunctionCall.call_id == call.id, FunctionCall.status == "failed")
    )
    _set_status(session, call, "failed" if failed else "completed")
    call.finished_at = utcnow()


def _set_status(session: Session, call: Call, status: str) -> None:
    counts.status_changed(session, call, call.status, status)
    call.status = status


def _activity_name(function_type: str) -> str:
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
    plan: dict[str, Any],
    fc: FunctionCall,
    event: Event,
    emission: Emission,
    join: Function,
    reference_id: str | None,
) -> None:
    """Add what ``emission`` hands on to the call's one collecting function call of ``join``
    (made by the first branch that reaches it): files to its inputs, JSON to its items. The
    caller holds the call's row lock, so "find or make" is atomic among parallel branches."""
    collecting = session.scalars(
        sa.select(FunctionCall)
        .where(FunctionCall.call_id == call.id, FunctionCall.function_id == join.id, FunctionCall.status == "pending")
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
            function_version_num=plan["versions"][join.id],
            reference_id=call.call_reference_id,
            status="pending",
            activity=[],
            inputs=[],
            payload={"items": []},
            source_function_call_id=fc.id,
            source_event_id=event.id,
        )
        session.add(collecting)
    if emission.files:
        labelled = [({"itemReferenceID": reference_id} if reference_id else {}) | f for f in emission.files]
        collecting.inputs = [*collecting.inputs, *labelled]
    else:
        item = {"itemReferenceID": reference_id or fc.id, "content": emission.output}
        collecting.payload = {"items": [*collecting.payload["items"], item]}


def _collection_search(engine: Engine, environment_id: str) -> Search:
    """Look-ups in the environment's collections, each in a read transaction of its own."""

    from quarry.providers.embeddings import embedder_from_settings

    embedder = embedder_from_settings(engine.settings)

    def search(collection_name: str, query: str, **options: Any) -> list[tuple[Any, float | None]]:
        from quarry.collections.search import CollectionError, search

        try:
            with engine.db.read() as session:
                return search(session, environment_id, collection_name, query, embedder=embedder, **options)
        except (CollectionError, ProviderError) as exc:
            raise FunctionError(str(exc)) from None

    return search


def _blob_writer(
    engine: Engine, environment_id: str, call_id: str, function_call_id: str
) -> Callable[[bytes, str], str]:
    """Files a function call makes (split items) under keys of its own: a rerun overwrites them."""
    made = 0

    def store(data: bytes, input_type: str) -> str:
        nonlocal made
        key = f"{environment_id}/{call_id}/{function_call_id}/{made}.{MEDIA_TYPES[input_type][1]}"
        made += 1
        engine.blobs.put(key, data)
        return key

    return store


def _record_event(session: Session, call: Call, fc: FunctionCall, emission: Emission) -> Event:
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
        body=emission.body,
    )
    session.add(event)
    return event


def _spawn(
    session: Session, call: Call, plan: dict[str, Any], fc: FunctionCall, event: Event, emission: Emission
) -> list[FunctionCall]:
    """Function calls for the edges leaving ``fc``'s node along ``emission``'s branch; where the
    workflow has none, for the target the function's own configuration names for that branch."""
    destinations = [
        edge["destination"]
        for edge in plan["edges"]
        if edge["source"] == fc.function_id and edge.get("destinationName") in (None, emission.branch)
    ]
    if not destinations:
        target = plan.get("targets", {}).get(fc.function_id, {}).get(emission.branch or "*")
        destinations = [target] if target else []
    children = []
    reference_id = _item_reference(emission) or fc.reference_id
    for function_id in destinations:
        function = session.get_one(Function, function_id)
        if function.type == "join":
            _feed_join(session, call, plan, fc, event, emission, function, reference_id)
            continue  # it runs once every branch is done (release_joins)
        child = FunctionCall(
            id=new_id("fc"),
            environment_id=call.environment_id,
            call_id=call.id,
            function_id=function_id,
            function_name=function.name,
            function_type=function.type,
            function_version_num=plan["versions"][function_id],
            reference_id=reference_id,
            status="pending",
            activity=[],
            inputs=emission.files,
            payload=None if emission.files else emission.output,
            source_function_call_id=fc.id,
            source_event_id=event.id,
        )
        session.add(child)
        children.append(child)
    session.flush()
    return children
