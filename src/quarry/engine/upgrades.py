"""Upgrades: work in flight is finished by the engine version that started it.

DBOS resumes a workflow by replaying its recorded steps in order, so only code whose steps line up
with a workflow's record may resume it. Every workflow records the engine's version
(``engine.APPLICATION_VERSION``, raised only when the workflows' steps change), and DBOS recovers
and dequeues only workflows of its own version. Most upgrades keep the version: what was in flight
is resumed by the new processes as after any restart. An upgrade that raises it must not start
while workflows of another version are in flight (they would wait for good), so:

1. ``quarry drain``, with the version still installed: API processes refuse new calls (503,
   ``Retry-After``) while the workers finish what is in flight; it returns once nothing is.
2. Stop every process, install the new version, start it. A start refuses (one line, exit 2)
   while workflows of another engine version are in flight; ``quarry serve`` clears the drain.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime

import sqlalchemy as sa

from quarry.config import Settings
from quarry.engine.engine import APPLICATION_VERSION
from quarry.engine.models import Drain
from quarry.storage.base import utcnow
from quarry.storage.db import Database, sqlalchemy_url

_IN_FLIGHT = (
    "SELECT application_version, count(*) FROM {table} WHERE status IN ('PENDING', 'ENQUEUED') "
    "GROUP BY application_version"
)


def workflows_in_flight(settings: Settings) -> dict[str, int]:
    """Workflows waiting or running, by engine version, in the deployment's engine tables (none
    before the engine's first start)."""
    if settings.is_embedded:
        path = settings.data_dir / "engine.sqlite"
        if not path.is_file():
            return {}
        url, schema = f"sqlite:///{path}", None
    else:
        url, schema = sqlalchemy_url(settings.database_url), "dbos"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table("workflow_status", schema=schema):
                return {}
            table = f"{schema}.workflow_status" if schema else "workflow_status"
            rows = connection.execute(sa.text(_IN_FLIGHT.format(table=table)))
            return {version or "": count for version, count in rows}
    finally:
        engine.dispose()


def foreign_work(settings: Settings) -> dict[str, int]:
    """Workflows in flight that this engine version cannot resume, by version."""
    return {version: n for version, n in workflows_in_flight(settings).items() if version != APPLICATION_VERSION}


def begin_drain(db: Database) -> datetime:
    """Refuse new calls from now on (every API process within ``DrainWatch.SECONDS``)."""
    with db.write() as session:
        drain = session.get(Drain, 1)
        if drain is None:
            drain = Drain(id=1, started_at=utcnow(), by=f"{socket.gethostname()}:{os.getpid()}")
            session.add(drain)
        return drain.started_at


def drain_started(db: Database) -> datetime | None:
    """When the deployment's drain began; ``None`` when it is not drained."""
    with db.read() as session:
        drain = session.get(Drain, 1)
        return drain.started_at if drain is not None else None


def end_drain(db: Database) -> None:
    with db.write() as session:
        session.execute(sa.delete(Drain))


class DrainWatch:
    """Whether the deployment is drained, as an API process sees it: looked up once a second at
    most (a submission would otherwise pay a query for it)."""

    SECONDS = 1.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._until = 0.0
        self._drained = False

    def drained(self) -> bool:
        now = time.monotonic()
        if now >= self._until:
            self._drained = drain_started(self.db) is not None
            self._until = now + self.SECONDS
        return self._drained
