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

A function call held by a review gate (``calls.reviews``) ends its branch there; once a person
decided (or the deadline passed), ``resume_after_review`` — the review job, a workflow of its own —
closes the gate and drives the call on from it, exactly as ``run_call`` would have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance, SetWorkflowID
from sqlalchemy.orm import Session, undefer

from quarry import tracing
from quarry.calls import counts, reviews
from quarry.calls.models import TERMINAL_STATUSES, Call, FunctionCall, ReviewGate
from quarry.calls.parts import SharedParts
from quarry.calls.plan import Plan
from quarry.calls.progress import (
    activity_name,
    collecting_join,
    record_event,
    set_status,
    settle,
    settle_if_done,
    spawn,
)
from quarry.collections.search import CollectionError, search
from quarry.documents.input_types import MEDIA_TYPES
from quarry.engine.queues import BRANCH_QUEUE, CALL_QUEUE, MODEL_QUEUE, SETTLE_RETRIES, STEP_RETRIES
from quarry.engine.runners import INSTANT_TYPES, Emission, FunctionError, InputFile, RunInput, Search, runner_for
from quarry.engine.runtime import Runtime
from quarry.functions import service as functions
from quarry.functions.models import FunctionVersion
from quarry.logs import about
from quarry.metrics import FUNCTION_CALL_DURATION, FUNCTION_CALLS
from quarry.providers import ProviderError, usage
from quarry.providers.embeddings import embedder_from_settings
from quarry.providers.llm import uses_model
from quarry.storage.base import utcnow
from quarry.webhooks.sending import Sending

log = logging.getLogger("quarry.engine")

CALL_JOB = "calls"
"""The engine's name for running calls: ``engine.enqueue(CALL_JOB, call_ids)``."""
REVIEW_JOB = "reviews"
"""The engine's name for going on past decided review gates: ``engine.enqueue(REVIEW_JOB, gate_ids)``."""

WITH_PLAN = [undefer(Call.plan_json)]
"""A call read to run it: its plan in the same statement (a deferred column costs a query of its own)."""
WITH_PAYLOAD = [undefer(FunctionCall.payload)]
"""A function call read to run it: its payload in the same statement."""
Ready = tuple[str, bool]
"""A function call ready to run, and whether it asks a model (it then waits for the model queue)."""
Ran = dict[str, Any]
"""What running a function call gave: ``{"ready": [Ready], "settled": call status | None}``."""


@dataclass(frozen=True)
class _Started:
    """A function call to run, with what running it needs: marked running in the transaction that
    read it, or (``run_at_once``) read while its call is pending, to be ended in one commit."""

    fc: FunctionCall
    config: dict[str, Any]
    plan: Plan
    trace_parent: str | None  # the call's trace (``tracing``)


@DBOS.dbos_class()
class CallExecution(DBOSConfiguredInstance):
    """The durable workflows and steps of calls, bound to the runtime of the engine that runs them.

    The class and method names are what DBOS records to recover a workflow: keep them."""

    queue_name = CALL_QUEUE

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__("quarry-calls")

    @property
    def entry(self) -> Callable[[str], object]:
        return self.run_call

    @DBOS.workflow()
    def run_call(self, call_id: str) -> str:
        with about(callID=call_id):
            return self.run_at_once(call_id) or self._go_on(call_id, lambda: self.begin_call(call_id))

    def run_at_once(self, call_id: str) -> str | None:
        """Run a call of one instant function call that hands nothing on (a lone payload_shaping,
        ``INSTANT_TYPES``) with one read and one write transaction, outside any DBOS step: a step's
        two records in DBOS's own tables cost more than Quarry's own work for such a call. The call
        goes from ``pending`` to its end in one commit. Its status if it ran; ``None`` — nothing
        written — for any other call, and for one that another attempt started meanwhile or whose
        attempt failed: the durable steps then take it from where it is.

        Safe outside a step: it records nothing in DBOS, so a re-run after a crash may take either
        path — a call is ``pending`` only while no step of its workflow has run."""
        try:
            at_once = self._start_at_once(call_id)
            if at_once is None:
                return None
            call, started = at_once
            fc = started.fc
            started_at = utcnow()
            emissions, failed, spent = self._run(started)
            status = "failed" if failed else "completed"
            ended = {
                "call_id": call_id,
                "fc_id": fc.id,
                "to_status": status,
                "at_start": started_at,
                "at_end": utcnow(),
                "to_activity": [{"displayName": activity_name(fc.function_type), "status": status}],
                "to_usage": spent,
            }
            with self.runtime.db.write() as session:
                connection = session.connection()
                if not connection.execute(_END_PENDING_CALL, ended).rowcount:
                    return None  # started meanwhile by another attempt: its steps go on
                connection.execute(_END_FUNCTION_CALL, ended)
                for emission in emissions:
                    record_event(session, call, fc, emission)
                counts.status_changed(session, call, call.status, status)
            return status
        except Exception:
            log.warning("call %s: running it at once failed; its steps take it on", call_id, exc_info=True)
            return None

    def _start_at_once(self, call_id: str) -> tuple[Call, _Started] | None:
        """The call, and its lone function call with what running it needs, when it can run at once."""
        with self.runtime.db.read() as session:
            rows = session.execute(_CALL_AND_FUNCTION_CALLS, {"call_id": call_id}).all()
            if len(rows) != 1:
                return None
            call, fc = rows[0]
            if call.status != "pending" or fc.status != "pending":
                return None
            if not call.plan.single:
                return None
            config = functions.config_of(session, fc.function_id, fc.function_version_num)
            return call, _Started(fc, config, call.plan, call.trace_parent)

    @DBOS.workflow()
    def resume_after_review(self, gate_id: str) -> str:
        """Close a decided (or expired) review gate and drive its call on from there. The call's own
        workflow, or another gate's, may drive other parts of the call meanwhile: they share
        nothing but the joins, which ``release_joins`` hands to one of them only."""
        call_id = self.call_of_gate(gate_id)
        with about(callID=call_id):
            return self._go_on(call_id, lambda: self._through_gate(gate_id), release_first=True)

    def _through_gate(self, gate_id: str) -> Ran:
        """Close the gate; a gate whose deadline this process's clock has not reached yet (the
        sweeper's may run ahead) is waited for, durably, rather than left open for good."""
        while "wait" in (ran := self.pass_review(gate_id)):
            DBOS.sleep(ran["wait"])
        return ran

    def _go_on(self, call_id: str, first: Callable[[], Ran], *, release_first: bool = False) -> str:
        """Run what the step ``first`` hands out and what that spawns, until nothing is left; then
        release the joins (``first`` says ``joins: False`` when the call has none) and go on;
        finally settle the call (unless part of it is still unfinished, e.g. held by a review
        gate). With ``release_first``, joins are released even when ``first`` handed out nothing."""
        settled = None
        try:
            ran = first()
            frontier, settled = ran["ready"], ran["settled"]
            if release_first and not frontier and not settled and ran["joins"]:
                frontier = self.release_joins(call_id)
            while frontier:
                frontier, settled = self._run_all(frontier)
                if not frontier and not settled and ran["joins"]:
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
                queue = self.runtime.queue(MODEL_QUEUE if asks_model else BRANCH_QUEUE)
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

        A lone function call ready at once (most calls) is started in the same transaction and
        run right here: one durable step and one transaction fewer per call. Like every step
        this is idempotent: a re-run finds it finished."""
        with self.runtime.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True, options=WITH_PLAN)
            if call.status == "pending":
                set_status(session, call, "running")
                call.started_at = utcnow()
            joins = _has_joins(session, call)
            ready = self._ready(session, _STARTING, call_id=call_id)
            if len(ready) != 1 or ready[0][1]:
                return {"ready": ready, "joins": joins, "settled": None}
            started = self._start(session, ready[0][0])
        return {"joins": joins} | self._finish(started)

    @DBOS.step(**STEP_RETRIES)
    def release_joins(self, call_id: str) -> list[Ready]:
        """Once nothing else of the call is unfinished, the joins that collected inputs from its
        branches, claimed by this workflow (``released_by``; a retry of this step finds its own
        claim). Nothing while anything else is unfinished — a branch another workflow still runs, a
        function call held by a review gate, a join another workflow released: the last workflow
        to finish releases them, once, with every input in."""
        me = DBOS.workflow_id
        with self.runtime.db.write() as session:
            session.get_one(Call, call_id, with_for_update=True)  # releasers take turns
            if session.execute(_BLOCKING_RELEASE, {"call_id": call_id, "me": me}).scalar():
                return []
            ready = self._ready(session, _RELEASABLE, call_id=call_id, me=me)
            session.execute(
                sa.update(FunctionCall).where(FunctionCall.id.in_([fc_id for fc_id, _ in ready])).values(released_by=me)
            )
            return ready

    @DBOS.step(**SETTLE_RETRIES)
    def call_of_gate(self, gate_id: str) -> str:
        with self.runtime.db.read() as session:
            return session.get_one(ReviewGate, gate_id).call_id

    @DBOS.step(**STEP_RETRIES)
    def pass_review(self, gate_id: str) -> Ran:
        """Close a review gate that is due: hand on what it held, with the person's corrections,
        or fail its function call at the deadline; the call settles when that was its last. When
        an earlier attempt closed it: what that handed on. When its deadline is not reached yet:
        ``{"wait": seconds}``."""
        with self.runtime.db.write() as session:
            gate = session.get_one(ReviewGate, gate_id, with_for_update=True)
            fc = session.get_one(FunctionCall, gate.function_call_id, with_for_update=True)
            if fc.status in TERMINAL_STATUSES:  # closed by an earlier attempt, or the call was abandoned
                if gate.closed_at is None:
                    reviews.close(session, gate, fc.status)
                return {"ready": self._spawned_by(session, fc.id), "settled": None, "joins": True}
            call = session.get_one(Call, fc.call_id, with_for_update=True, options=WITH_PLAN)
            joins = _has_joins(session, call)
            passing = reviews.passing(session, gate)
            if passing is None:  # not due by this process's clock
                wait = reviews.seconds_to_deadline(gate)
                return {"wait": wait} if wait is not None else {"ready": [], "settled": None, "joins": joins}
            if passing.failed:
                message = "no one reviewed the outputs of this function call before the review gate's deadline"
                record_event(session, call, fc, Emission("error", {"message": message}))
            reviews.close(session, gate, passing.outcome)
            return self._hand_on(session, call, call.plan, fc, passing.onward, failed=passing.failed) | {"joins": joins}

    @DBOS.step(**STEP_RETRIES)
    def run_function_call(self, function_call_id: str) -> Ran:
        return self._run_function_call(function_call_id)

    def _run_function_call(self, function_call_id: str) -> Ran:
        """Run one function call to its end; return the function calls it spawned. The last
        function call of a call settles the call in the same transaction (``settled``)."""
        with self.runtime.db.write() as session:
            started = self._start(session, function_call_id)
        return self._finish(started)

    def _start(self, session: Session, function_call_id: str) -> _Started | Ran:
        """Mark a function call running and read what running it needs; what it spawned instead
        when an earlier attempt of the step finished it."""
        fc = session.get_one(FunctionCall, function_call_id, with_for_update=True, options=WITH_PAYLOAD)
        if fc.status in TERMINAL_STATUSES:
            return {"ready": self._spawned_by(session, fc.id), "settled": None}
        if fc.status == "running" and reviews.gate_of(session, fc.id):  # done, waiting for a person
            return {"ready": [], "settled": None}
        fc.status = "running"
        fc.started_at = fc.started_at or utcnow()
        fc.activity = [{"displayName": activity_name(fc.function_type), "status": "running"}]
        config = functions.config_of(session, fc.function_id, fc.function_version_num)
        call = session.get_one(Call, fc.call_id, options=WITH_PLAN)
        return _Started(fc, config, call.plan, call.trace_parent)

    def _finish(self, started: _Started | Ran) -> Ran:
        """Run a started function call and record its end (outside any transaction: it may take long)."""
        if not isinstance(started, _Started):
            return started
        emissions, failed, spent = self._run(started)
        with self.runtime.db.write() as session:
            fc = session.get_one(FunctionCall, started.fc.id, with_for_update=True)
            if fc.status in TERMINAL_STATUSES:  # finished by an earlier attempt of this step
                return {"ready": self._spawned_by(session, fc.id), "settled": None}
            # locked: branches finishing side by side feed joins and settle the call one at a time
            call = session.get_one(Call, fc.call_id, with_for_update=True)
            fc.usage = spent
            return self._record(session, call, fc, started.plan, emissions, failed)

    def _run(self, started: _Started) -> tuple[list[Emission], bool, dict[str, Any] | None]:
        """Run a started function call: what it emitted, whether it failed, and what its model
        requests used (``providers.usage``; ``None`` when it asked no model)."""
        settings, began, fc = self.runtime.settings, time.perf_counter(), started.fc
        traced = {
            "quarry.call_id": fc.call_id,
            "quarry.function_call_id": fc.id,
            "quarry.function_type": fc.function_type,
        }
        with (
            about(callID=fc.call_id, functionCallID=fc.id, environmentID=fc.environment_id),
            tracing.continuing(started.trace_parent, "quarry.function_call", traced),
        ):
            with usage.metering() as meter:
                emissions, failed = self._emissions(started)
            seconds, outcome = time.perf_counter() - began, "failed" if failed else "completed"
            log.debug("function call %s (%s) %s in %.0f ms", fc.id, fc.function_type, outcome, seconds * 1000)
        FUNCTION_CALLS.labels(fc.function_type, outcome).inc()
        FUNCTION_CALL_DURATION.labels(fc.function_type).observe(seconds)
        return emissions, failed, meter.wire(settings.llm_price_input, settings.llm_price_output)

    def _emissions(self, started: _Started) -> tuple[list[Emission], bool]:
        runtime, fc, function_call_id = self.runtime, started.fc, started.fc.id
        try:
            files = [
                InputFile(
                    e["inputType"],
                    e["blobKey"],
                    runtime.blobs.get(e["blobKey"]),
                    e.get("itemReferenceID"),
                    e.get("itemOffset"),
                    e.get("itemCount"),
                )
                for e in fc.inputs
            ]
            run_input = RunInput(
                fc.function_type,
                started.config,
                files,
                runtime.readers,
                fc.payload,
                runtime.settings,
                _blob_writer(runtime, fc.environment_id, fc.call_id, function_call_id),
                fc.reference_id,
                _collection_search(runtime, fc.environment_id),
                SharedParts(runtime, function_call_id, started.config.get("provider")),
                Sending(runtime, fc.environment_id, fc.call_id, function_call_id, fc.source_event_id),
            )
            return runner_for(fc.function_type)(run_input), False
        except FunctionError as exc:
            return [Emission("error", {"message": str(exc)})], True
        except Exception as exc:  # a bug or a hostile input must fail this call, not the worker
            log.exception("function call %s failed unexpectedly", function_call_id)
            return [Emission("error", {"message": f"internal error: {type(exc).__name__}: {exc}"})], True

    def _record(
        self, session: Session, call: Call, fc: FunctionCall, plan: Plan, emissions: list[Emission], failed: bool
    ) -> Ran:
        """Record a function call's end (its row and its call's locked): its events; then it waits
        for a person at a review gate, or hands on its outputs."""
        recorded = [(record_event(session, call, fc, emission), emission) for emission in emissions]
        review = plan.reviews.get(fc.function_id)
        if not failed and reviews.holds(review, emissions):
            assert review is not None
            reviews.hold(session, call, fc, review, recorded)
            return {"ready": [], "settled": None}
        onward = [(event.id, emission) for event, emission in recorded]
        return self._hand_on(session, call, plan, fc, onward, failed=failed)

    @DBOS.step(**SETTLE_RETRIES)
    def abandon_call(self, call_id: str, message: str) -> None:
        """Fail every unfinished function call of a call that cannot go on, with an error event.

        The rows are locked (and, on PostgreSQL, their status re-checked after the lock) so that a
        function call another process finishes meanwhile is not failed over its result."""
        with self.runtime.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True)
            for fc in session.scalars(
                sa.select(FunctionCall)
                .where(FunctionCall.call_id == call_id, FunctionCall.status.not_in(TERMINAL_STATUSES))
                .order_by(FunctionCall.id)
                .with_for_update()
            ):
                record_event(session, call, fc, Emission("error", {"message": message}))
                fc.status, fc.finished_at = "failed", utcnow()
            reviews.close_all(session, call_id, "failed")

    def _hand_on(
        self,
        session: Session,
        call: Call,
        plan: Plan,
        fc: FunctionCall,
        onward: list[tuple[str, Emission]],
        *,
        failed: bool,
    ) -> Ran:
        """End a function call (the call's row locked): what its outputs (``(eventID, emission)``)
        spawn along the plan, unless it failed; the call settled when it was the last."""
        spawned = [
            child
            for event_id, emission in onward
            if emission.flows and not failed
            for child in spawn(session, call, plan, fc, event_id, emission)
        ]
        fc.status = "failed" if failed else "completed"
        fc.finished_at = utcnow()
        fc.activity = [{"displayName": activity_name(fc.function_type), "status": fc.status}]
        if spawned:
            return {"ready": self._ready(session, _AMONG, ids=[c.id for c in spawned]), "settled": None}
        return {"ready": [], "settled": settle_if_done(session, call)}

    @DBOS.step(**SETTLE_RETRIES)
    def finish_call(self, call_id: str) -> str:
        """Settle the call: failed if any of its function calls failed, else completed. A call with
        review gates settles only once none of its function calls is left: one part of it may go
        on past a gate while another part's workflow ends (a held function call is unfinished)."""
        with self.runtime.db.write() as session:
            call = session.get_one(Call, call_id, with_for_update=True)
            if call.status not in TERMINAL_STATUSES:
                if reviews.has_gates(session, call_id):
                    settle_if_done(session, call)
                else:
                    settle(session, call)
            return call.status

    def sweep(self, older_than: timedelta) -> list[str]:
        """Calls left ``pending`` for longer than ``older_than`` (stored by a process that may have
        stopped before enqueuing them), and calls ``running`` of which the engine has no record
        (restored from a backup whose engine copy was taken before they started): a new run picks
        each up where Quarry's tables say it is."""
        with self.runtime.db.read() as session:
            pending = list(
                session.scalars(
                    sa.select(Call.id)
                    .where(Call.status == "pending", Call.created_at <= utcnow() - older_than)
                    .order_by(Call.created_at)
                    .limit(1000)
                )
            )
            running = list(
                session.scalars(
                    sa.select(Call.id)  # finished_at's index holds the calls not ended
                    .where(Call.finished_at.is_(None), Call.status == "running")
                    .order_by(Call.created_at)
                    .limit(1000)
                )
            )
        known = self.runtime.known_workflows(running)
        return pending + [call_id for call_id in running if call_id not in known]

    def _ready(self, session: Session, which: sa.Select[Any], **parameters: Any) -> list[Ready]:
        """The function calls ``which`` selects, each with whether it asks a model."""
        settings = self.runtime.settings
        rows = session.connection().execute(which, parameters)
        return [(row.id, uses_model(row.function_type, row.config, settings)) for row in rows]

    def _spawned_by(self, session: Session, function_call_id: str) -> list[Ready]:
        return self._ready(session, _SPAWNED_BY, function_call_id=function_call_id)


@dataclass(frozen=True)
class ReviewJob:
    """The review job: the calls' ``resume_after_review`` for each review gate that is due."""

    calls: CallExecution
    queue_name: str = CALL_QUEUE

    @property
    def entry(self) -> Callable[[str], object]:
        return self.calls.resume_after_review

    def sweep(self, older_than: timedelta) -> list[str]:
        with self.calls.runtime.db.read() as session:
            return reviews.due(session, older_than)


def _has_joins(session: Session, call: Call) -> bool:
    """Whether the call's plan has joins (else no step need look for joins to release)."""
    return bool(functions.count_of_type(session, list(call.plan.versions), "join"))


def _ready_where(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Function calls matching ``where`` in creation order, with their version's configuration
    (owned by ``functions``, joined here: one statement on the hot path), built once."""
    return (
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
    )


_UNFINISHED = sa.and_(FunctionCall.call_id == sa.bindparam("call_id"), FunctionCall.status.not_in(TERMINAL_STATUSES))
_STARTING = _ready_where(sa.and_(_UNFINISHED, sa.not_(collecting_join())))
"""What a call starts with: its unfinished function calls, but joins still collecting inputs."""
_RELEASE_MINE = sa.and_(
    collecting_join(),
    FunctionCall.status == "pending",
    sa.func.coalesce(FunctionCall.released_by, sa.bindparam("me")) == sa.bindparam("me"),
)
_RELEASABLE = _ready_where(sa.and_(_UNFINISHED, _RELEASE_MINE))
"""The joins a workflow releases: collecting, not started, released by no other workflow."""
_BLOCKING_RELEASE = sa.select(sa.literal(True)).where(_UNFINISHED, sa.not_(_RELEASE_MINE)).limit(1)
"""Anything else of the call unfinished: then no join may run yet."""
_SPAWNED_BY = _ready_where(FunctionCall.source_function_call_id == sa.bindparam("function_call_id"))
_AMONG = _ready_where(FunctionCall.id.in_(sa.bindparam("ids", expanding=True)))


_CALL_AND_FUNCTION_CALLS = (
    sa.select(Call, FunctionCall)
    .join(FunctionCall, FunctionCall.call_id == Call.id)
    .where(Call.id == sa.bindparam("call_id"), FunctionCall.function_type.in_(INSTANT_TYPES))
    .options(*WITH_PLAN, *WITH_PAYLOAD)
)
_STATUS = sa.bindparam("to_status")
_START = sa.bindparam("at_start", type_=Call.started_at.type)
_END = sa.bindparam("at_end", type_=Call.finished_at.type)
_END_PENDING_CALL = (
    sa.update(Call)
    .where(Call.id == sa.bindparam("call_id"), Call.status == "pending")
    .values(status=_STATUS, started_at=_START, finished_at=_END, updated_at=_END)
)
_END_FUNCTION_CALL = (
    sa.update(FunctionCall)
    .where(FunctionCall.id == sa.bindparam("fc_id"))
    .values(
        status=_STATUS,
        started_at=_START,
        finished_at=_END,
        activity=sa.bindparam("to_activity", type_=FunctionCall.activity.type),
        usage=sa.bindparam("to_usage", type_=FunctionCall.usage.type),
    )
)
"""A call run at once (``run_at_once``): read with its function calls in one statement — none for
a call of another type (its roots are all of its main function's type), so that nothing is read
in vain for it, plan and payload included — and ended with two (the call's only if still
pending), built once."""


def _collection_search(runtime: Runtime, environment_id: str) -> Search:
    """Look-ups in the environment's collections, each in a read transaction of its own."""
    embedder = embedder_from_settings(runtime.settings)

    def search_collection(collection_name: str, query: str, **options: Any) -> list[tuple[Any, float | None]]:
        try:
            with runtime.db.read() as session:
                return search(session, environment_id, collection_name, query, embedder=embedder, **options)
        except (CollectionError, ProviderError) as exc:
            raise FunctionError(str(exc)) from None

    return search_collection


def _blob_writer(
    runtime: Runtime, environment_id: str, call_id: str, function_call_id: str
) -> Callable[[bytes, str], str]:
    """Files a function call makes (split items) under keys of its own: a rerun overwrites them."""
    made = 0

    def store(data: bytes, input_type: str) -> str:
        nonlocal made
        key = f"{environment_id}/{call_id}/{function_call_id}/{made}.{MEDIA_TYPES[input_type][1]}"
        made += 1
        runtime.blobs.put(key, data)
        return key

    return store
