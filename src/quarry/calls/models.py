"""Calls and the function calls they spawn.

A call is what a client submitted (one workflow or one function, one input); function calls
are the units of work the engine runs for it. Both are append-mostly: a call is never deleted,
and only its status and timestamps change after creation.

``Call.updated_at`` marks a call's last change (its creation, then each status change): what
followers of calls (``calls.watch``) look for. NULL on calls last changed before it existed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.calls.plan import Plan
from quarry.storage.base import Base, JSONDocument, utcnow

CALL_STATUSES = ("pending", "running", "completed", "failed")
TERMINAL_STATUSES = frozenset({"completed", "failed"})


def _listing_index(table: str, column: str) -> sa.Index:
    """An index serving one List Calls filter together with the creation order."""
    return sa.Index(f"ix_{table}_env_{column}_created", "environment_id", column, "created_at", "id")


REGRESSION = "regression"
"""``Call.origin`` of a replay of an event's input (``Call.origin_id``) against another version of
its function: its outputs are marked ``isRegression`` and name the event they replay (``regressionOf``)."""
SCORE = "score"
"""``Call.origin`` of the call answering one pair of a score run (``Call.origin_id``): its outputs
name the run (``scoreRunID``)."""


class Call(Base):
    """``input`` is the submitted input with blob keys instead of content; ``plan`` is what the
    call runs, resolved and pinned at submission (a :class:`~quarry.calls.plan.Plan`, stored as JSON)."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    call_type: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16))
    call_reference_id: Mapped[str | None] = mapped_column(sa.String(256))
    workflow_id: Mapped[str | None] = mapped_column(sa.String(64))
    workflow_name: Mapped[str | None] = mapped_column(sa.String(128))
    workflow_version_num: Mapped[int | None]
    function_id: Mapped[str | None] = mapped_column(sa.String(64))
    function_name: Mapped[str | None] = mapped_column(sa.String(128))
    function_type: Mapped[str | None] = mapped_column(sa.String(32))
    function_version_num: Mapped[int | None]
    input: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    plan_json: Mapped[dict[str, Any]] = mapped_column("plan", JSONDocument, deferred=True)  # read when run
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    trace_parent: Mapped[str | None] = mapped_column(sa.String(64), default=None)  # W3C traceparent (``tracing``)
    origin: Mapped[str | None] = mapped_column(sa.String(16), default=None)  # a trial: REGRESSION or SCORE
    origin_id: Mapped[str | None] = mapped_column(sa.String(64), default=None)  # the event replayed, the score run
    call_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)  # v3's ``metadata``
    inbound_email: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)  # started by mail (SMTP)

    __table_args__ = (
        sa.Index("ix_calls_env_created", "environment_id", "created_at", "id"),
        sa.Index("ix_calls_env_updated", "environment_id", "updated_at"),
        sa.Index("ix_calls_finished", "finished_at"),  # retention: the longest finished first
        *(
            _listing_index("calls", column)
            for column in (
                "call_reference_id",
                "call_type",
                "status",
                "workflow_id",
                "workflow_name",
                "function_id",
                "function_name",
            )
        ),
    )

    @property
    def plan(self) -> Plan:
        """Which function versions the call runs and where each output goes (``calls.plan``)."""
        return Plan.from_json(self.plan_json)


class FunctionCall(Base):
    """One run of one function version on some input, inside a call.

    ``inputs`` lists the files it reads: ``[{"inputType", "blobKey", "itemReferenceID"?}]``;
    ``payload`` holds JSON input handed over from an upstream function instead of a file.
    """

    __tablename__ = "function_calls"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"))
    function_id: Mapped[str] = mapped_column(sa.String(64))
    function_name: Mapped[str] = mapped_column(sa.String(128))
    function_type: Mapped[str] = mapped_column(sa.String(32))
    function_version_num: Mapped[int]
    reference_id: Mapped[str | None] = mapped_column(sa.String(256))
    status: Mapped[str] = mapped_column(sa.String(16))
    activity: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    payload: Mapped[Any | None] = mapped_column(JSONDocument, deferred=True)  # may be large; only the engine reads it
    source_function_call_id: Mapped[str | None] = mapped_column(sa.String(64))
    source_event_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    released_by: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    """A collecting join: the DBOS workflow that released it to run (``CallExecution.release_joins``)."""
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    """What its model requests used (``providers.usage``); ``None`` when it asked no model."""

    __table_args__ = (sa.Index("ix_function_calls_call_id_created", "call_id", "created_at", "id"),)


class JoinSource(Base):
    """An event that fed a collecting join: one row per branch that reached it, the first too
    (``FunctionCall.source_event_id`` can name only one)."""

    __tablename__ = "join_sources"

    function_call_id: Mapped[str] = mapped_column(
        sa.ForeignKey("function_calls.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)
    source_function_call_id: Mapped[str] = mapped_column(sa.String(64))
    fed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallCount(Base):
    """Maintained number of calls per environment and per value of one filterable field, so
    that ``totalCount`` of an unfiltered or single-filter list is a lookup, not a scan.

    ``dimension`` is ``all`` (``value`` empty), ``callType``, ``status``, ``workflowID``,
    ``workflowName``, ``functionID`` or ``functionName``. A count is the sum of its ``shard``
    rows: on PostgreSQL each transaction adds to one shard picked at random, so that the status
    changes of calls running side by side do not queue on one row lock.
    """

    __tablename__ = "call_counts"

    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    shard: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, default=0, server_default="0")
    count: Mapped[int] = mapped_column(sa.BigInteger)


class CallCountCache(Base):
    """How many calls created up to ``counted_until`` match a filter (``filter_key``).

    Only for filters on fields that never change after a call is created: their matches only
    grow, so a count stays exact when the calls created since are added to it.
    """

    __tablename__ = "call_count_cache"

    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    filter_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)
    counted_until: Mapped[datetime]


class ReviewGate(Base):
    """A function call held for a person before its outputs go on (a workflow node's review gate).

    Opened when the function call finished its work (it stays ``running``, "Awaiting review");
    *decided* once a person approved or corrected every event it holds; *closed* when the call went
    on past it (``outcome``: ``approved``, ``corrected``, or after the deadline ``continued`` /
    ``failed``). ``held`` is what the function call hands on, replayed with the corrections at the
    close: ``[{"eventID", "review", "flagged", "output", "files", "branch"}]`` (``review``: the
    event must be decided before the call goes on; ``flagged``: marked ``needsReview`` by the gate)."""

    __tablename__ = "review_gates"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(sa.ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    function_call_id: Mapped[str] = mapped_column(sa.ForeignKey("function_calls.id", ondelete="CASCADE"))
    held: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    on_deadline: Mapped[str] = mapped_column(sa.String(16))
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(sa.String(16), default=None)

    __table_args__ = (
        sa.Index("ix_review_gates_function_call", "function_call_id", unique=True),  # one gate per function call
        sa.Index("ix_review_gates_due", "closed_at", "decided_at", "deadline_at"),
    )


class DocumentPart(Base):
    """One part of a long document a function call reads, while it reads it (``calls.parts``)."""

    __tablename__ = "document_parts"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # also the helper's workflow ID
    function_call_id: Mapped[str] = mapped_column(sa.ForeignKey("function_calls.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    part: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # ``Part.wire``
    claimed_by: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    spent: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)  # ``usage.Usage``
    error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
