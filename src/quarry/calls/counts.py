"""Maintained call counts, so that ``totalCount`` needs no scan for the common lists.

Each call adds one to ``all`` and to the value of each of its filterable fields; a status
change moves one from the old status to the new. A list filtered on at most one of these
fields (values ORed) is then answered by summing a few rows. Counts of reference searches,
which may match most calls, are cached and brought up to date by counting only newer calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quarry.calls.models import Call, CallCount, CallCountCache
from quarry.storage.base import utcnow
from quarry.storage.db import Database

log = logging.getLogger("quarry.calls")

SETTLED_AFTER = timedelta(minutes=5)
"""Calls created longer ago than this are committed: no transaction that creates calls lasts
that long, so counts up to then cannot miss a call committed later."""
REFRESH_AFTER_ROWS = 10_000
SHARDS = 32

COUNTED = {
    "callType": Call.call_type,
    "status": Call.status,
    "workflowID": Call.workflow_id,
    "workflowName": Call.workflow_name,
    "functionID": Call.function_id,
    "functionName": Call.function_name,
}


def _by_status(dimension: str) -> str:
    return f"status+{dimension}"


def dimensions_of(call: Call, status: str | None = None) -> list[tuple[str, str]]:
    """The counters a call adds to: ``all``, each counted field, and each field paired with the
    status (``status`` overrides the call's own, for moving a call between statuses)."""
    status = status or call.status
    pairs = [("all", ""), ("status", status)]
    for dimension, column in COUNTED.items():
        value = getattr(call, column.key)
        if value is not None and dimension != "status":
            pairs += [(dimension, value), (_by_status(dimension), f"{status}:{value}")]
    return pairs


def calls_removed(session: Session, calls: Sequence[Call]) -> None:
    """Uncount removed calls (retention), and forget the remembered counts of substring searches
    in their environments: they may have counted them (the next search counts anew)."""
    by_environment: dict[str, list[tuple[str, str, int]]] = {}
    for call in calls:
        by_environment.setdefault(call.environment_id, []).extend((d, v, -1) for d, v in dimensions_of(call))
    for environment_id in sorted(by_environment):  # one lock order for every remover: no deadlock
        add(session, environment_id, by_environment[environment_id])
    if by_environment:
        session.execute(sa.delete(CallCountCache).where(CallCountCache.environment_id.in_(list(by_environment))))


def status_changed(session: Session, call: Call, old: str, new: str) -> None:
    moved = [(d, v, -1) for d, v in dimensions_of(call, old) if d.startswith("status")]
    moved += [(d, v, +1) for d, v in dimensions_of(call, new) if d.startswith("status")]
    add(session, call.environment_id, moved)


def lookup_with_statuses(
    session: Session, environment_id: str, dimension: str, values: list[str], statuses: list[str]
) -> int:
    """Calls with one of ``values`` in ``dimension`` and one of ``statuses``."""
    pairs = [f"{status}:{value}" for status in set(statuses) for value in set(values)]
    return lookup(session, environment_id, _by_status(dimension), pairs)


def _upserts(model: Any, keys: list[str], update: Callable[[Any], dict[str, Any]]) -> dict[str, sa.Insert]:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET update(excluded)`` per dialect, built once:
    counters change with every call's status."""
    statements = {}
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert)):
        statement = insert(model)
        statements[dialect] = statement.on_conflict_do_update(index_elements=keys, set_=update(statement.excluded))
    return statements


_ADD = _upserts(
    CallCount,
    ["environment_id", "dimension", "value", "shard"],
    lambda excluded: {"count": CallCount.count + excluded.count},
)
_REMEMBER = _upserts(
    CallCountCache,
    ["environment_id", "filter_key"],
    lambda excluded: {"count": excluded.count, "counted_until": excluded.counted_until},
)


def _upsert(session: Session, statements: dict[str, sa.Insert], rows: dict[str, Any] | list[dict[str, Any]]) -> None:
    connection = session.connection()
    connection.execute(statements[connection.dialect.name], rows)


def calls_created(session: Session, calls: list[Call]) -> None:
    """Count new calls (all of one environment)."""
    if calls:
        deltas = [(d, v, +1) for call in calls for d, v in dimensions_of(call)]
        add(session, calls[0].environment_id, deltas)


def add(session: Session, environment_id: str, deltas: list[tuple[str, str, int]]) -> None:
    """One statement for a change of counters: rows in one lock order (no deadlocks), and in one
    shard per transaction. SQLite has one writer at a time anyway: one shard there."""
    summed: dict[tuple[str, str], int] = {}
    for dimension, value, delta in deltas:
        summed[(dimension, value)] = summed.get((dimension, value), 0) + delta
    if session.connection().dialect.name == "postgresql":
        shard = session.info.setdefault("call_count_shard", random.randrange(SHARDS))
    else:
        shard = 0
    rows = [
        {"environment_id": environment_id, "dimension": d, "value": v, "shard": shard, "count": delta}
        for (d, v), delta in sorted(summed.items())
    ]
    _upsert(session, _ADD, rows)


_LOOKUP = sa.select(sa.func.coalesce(sa.func.sum(CallCount.count), 0)).where(
    CallCount.environment_id == sa.bindparam("environment_id"),
    CallCount.dimension == sa.bindparam("dimension"),
    CallCount.value.in_(sa.bindparam("values", expanding=True)),
)  # built once: nearly every List Calls request looks a count up


def lookup(session: Session, environment_id: str, dimension: str, values: list[str]) -> int:
    parameters = {"environment_id": environment_id, "dimension": dimension, "values": sorted(set(values))}
    return int(session.connection().execute(_LOOKUP, parameters).scalar() or 0)


def calls_by_status_and_type(session: Session) -> list[tuple[str, str, int]]:
    """``(status, callType, calls)`` over every environment (``GET /metrics``): the counters summed."""
    rows = session.execute(
        sa.select(CallCount.value, sa.func.sum(CallCount.count))
        .where(CallCount.dimension == _by_status("callType"))
        .group_by(CallCount.value)
    )
    found = []
    for value, total in rows:
        status, _, call_type = value.partition(":")
        found.append((status, call_type, int(total or 0)))
    return found


def filter_key(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()


Counter = Callable[[datetime | None, datetime | None], int]
"""The number of calls matching some filters created after the first instant and up to the
second (``None``: unbounded)."""


def calls_matching(session: Session, environment_id: str, conditions: list[sa.ColumnElement[bool]]) -> Counter:
    """A ``Counter`` of the calls matching ``conditions``, with an indexed ``COUNT``."""

    def count(after: datetime | None, until: datetime | None) -> int:
        where = [Call.environment_id == environment_id, *conditions]
        if after is not None:
            where.append(Call.created_at > after)
        if until is not None:
            where.append(Call.created_at <= until)
        return session.scalar(sa.select(sa.func.count()).select_from(Call).where(*where)) or 0

    return count


_CACHED = sa.select(CallCountCache.count, CallCountCache.counted_until).where(
    CallCountCache.environment_id == sa.bindparam("environment_id"),
    CallCountCache.filter_key == sa.bindparam("filter_key"),
)


def cached_count(session: Session, db: Database, environment_id: str, key: str, matching: Counter) -> int:
    """The number of calls ``matching`` counts — which must only test fields that never change —
    counting in full only once: later, only the calls created since are counted and added. The
    first count (and any refresh) is stored in the background."""
    entry = session.connection().execute(_CACHED, {"environment_id": environment_id, "filter_key": key}).first()
    if entry is not None:
        tail = matching(entry.counted_until, None)
        if tail > REFRESH_AFTER_ROWS:
            cutoff = utcnow() - SETTLED_AFTER
            settled = matching(entry.counted_until, cutoff)
            _remember(db, environment_id, key, entry.count + settled, cutoff)
        return entry.count + tail
    cutoff = utcnow() - SETTLED_AFTER
    settled, recent = matching(None, cutoff), matching(cutoff, None)
    _remember(db, environment_id, key, settled, cutoff)
    return settled + recent


def _remember(db: Database, environment_id: str, key: str, count: int, until: datetime) -> None:
    def store() -> None:
        try:
            with db.write() as session:
                row = {"environment_id": environment_id, "filter_key": key, "count": count, "counted_until": until}
                _upsert(session, _REMEMBER, row)
        except Exception:  # a cache: failing to store it only costs a recount
            log.exception("storing a call count failed")

    threading.Thread(target=store, name="quarry-count-cache", daemon=True).start()
