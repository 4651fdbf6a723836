"""Maintained call counts, so that ``totalCount`` needs no scan for the common lists.

Each call adds one to ``all`` and to the value of each of its filterable fields; a status
change moves one from the old status to the new. A list filtered on at most one of these
fields (values ORed) is then answered by summing a few rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from quarry.calls.models import Call, CallCount

COUNTED = {
    "callType": Call.call_type,
    "status": Call.status,
    "workflowID": Call.workflow_id,
    "workflowName": Call.workflow_name,
    "functionID": Call.function_id,
    "functionName": Call.function_name,
}


def dimensions_of(call: Call) -> list[tuple[str, str]]:
    pairs = [("all", "")]
    for dimension, column in COUNTED.items():
        value = getattr(call, column.key)
        if value is not None:
            pairs.append((dimension, value))
    return pairs


def add(session: Session, environment_id: str, pairs: Iterable[tuple[str, str]], delta: int) -> None:
    rows = [{"environment_id": environment_id, "dimension": d, "value": v, "count": delta} for d, v in pairs]
    if not rows:
        return
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(CallCount)
    statement = insert.on_conflict_do_update(
        index_elements=["environment_id", "dimension", "value"],
        set_={"count": CallCount.count + insert.excluded.count},
    )
    for row in sorted(rows, key=lambda r: (r["dimension"], r["value"])):  # one lock order: no deadlocks
        session.execute(statement, row)


def lookup(session: Session, environment_id: str, dimension: str, values: list[str]) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(CallCount.count), 0)).where(
                CallCount.environment_id == environment_id,
                CallCount.dimension == dimension,
                CallCount.value.in_(set(values)),
            )
        )
        or 0
    )
