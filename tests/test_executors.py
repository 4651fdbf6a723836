"""Heartbeats and takeover (``quarry.engine.executors``) on both databases, and the health endpoints."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from quarry.bootstrap import open_database
from quarry.config import Settings
from quarry.engine.executors import STALE_AFTER, Membership, new_executor_id
from quarry.engine.models import Executor
from quarry.storage.base import utcnow
from quarry.storage.db import Database
from tests.conftest import BACKENDS, Server
from tests.harness.databases import drop_postgres_database, postgres_database


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own: the session's test server takes over dead executors it sees too."""
    name = f"quarry_executors_{os.getpid()}"
    url = postgres_database(name) if request.param == "postgresql" else f"sqlite:///{tmp_path / 'q.db'}"
    database = open_database(Settings(data_dir=tmp_path, database_url=url))
    yield database
    database.dispose()
    if request.param == "postgresql":
        drop_postgres_database(name)


def _row(executor_id: str, *, age: timedelta, host: str = "elsewhere", pid: int = 1, stopped: bool = False) -> Executor:
    now = utcnow()
    return Executor(
        id=executor_id,
        role="worker",
        host=host,
        pid=pid,
        started_at=now - age,
        heartbeat_at=now - age,
        stopped_at=now if stopped else None,
    )


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_takeover_recovers_exactly_the_executors_that_are_gone(db: Database) -> None:
    tag = new_executor_id()
    silent = f"{tag}-silent"  # no heartbeat for longer than STALE_AFTER
    stopped = f"{tag}-stopped"  # stopped cleanly, handing its work back
    crashed_here = f"{tag}-crashed-here"  # this host, its process gone, missed a beat
    alive = f"{tag}-alive"  # beating
    busy_here = f"{tag}-busy-here"  # this host, process alive, heartbeat a little late
    with db.write() as session:
        session.add_all(
            [
                _row(silent, age=STALE_AFTER + timedelta(seconds=5)),
                _row(stopped, age=timedelta(0), stopped=True),
                _row(crashed_here, age=timedelta(seconds=15), host=socket.gethostname(), pid=_dead_pid()),
                _row(alive, age=timedelta(seconds=1)),
                _row(busy_here, age=timedelta(seconds=15), host=socket.gethostname(), pid=os.getpid()),
            ]
        )
    recovered: list[list[str]] = []
    membership = Membership(db, f"{tag}-me", "worker", lambda ids: recovered.append(ids) or 0)
    membership.join()
    taken = membership.take_over()
    assert sorted(taken) == sorted([silent, stopped, crashed_here])
    assert sorted(recovered) == sorted([[i] for i in taken])
    with db.read() as session:
        left = set(session.scalars(sa.select(Executor.id)))
    assert left == {alive, busy_here, f"{tag}-me"}  # the ones taken over are forgotten


def test_leaving_marks_the_process_stopped_so_others_take_over_at_once(db: Database) -> None:
    membership = Membership(db, new_executor_id(), "worker", None)
    membership.join()
    membership.leave()
    with db.read() as session:
        row = session.get_one(Executor, membership.executor_id)
    assert row.stopped_at is not None
    survivor = Membership(db, new_executor_id(), "worker", lambda ids: 0)
    assert membership.executor_id in survivor.take_over()


@pytest.mark.parametrize(
    ("stopped", "resumed", "logged"),
    [
        (True, 0, None),  # every clean restart: no news
        (True, 3, "INFO"),  # its drain ran out: what was resumed
        (False, 0, "WARNING"),  # it vanished: worth a warning, even with nothing left
        (False, 2, "WARNING"),
    ],
)
def test_a_takeover_is_logged_by_how_the_process_left(
    db: Database, caplog: pytest.LogCaptureFixture, stopped: bool, resumed: int, logged: str | None
) -> None:
    gone = f"gone-{uuid.uuid4().hex[:8]}"
    age = timedelta(0) if stopped else STALE_AFTER + timedelta(seconds=5)
    with db.write() as session:
        session.add(_row(gone, age=age, stopped=stopped))
    survivor = Membership(db, new_executor_id(), "worker", lambda ids: resumed)
    with caplog.at_level(logging.DEBUG, logger="quarry.engine"):
        assert gone in survivor.take_over()
    lines = [r for r in caplog.records if gone in r.getMessage() and r.levelno >= logging.INFO]
    assert [r.levelname for r in lines] == ([logged] if logged else [])
    if lines:
        assert str(resumed) in lines[0].getMessage()


def test_executor_ids_are_unique_per_process() -> None:
    assert new_executor_id() != new_executor_id()


def test_health_and_readiness(server: Server) -> None:
    health = httpx.get(server.base_url + "/healthz")
    ready = httpx.get(server.base_url + "/readyz")
    assert health.status_code == ready.status_code == 200
    assert health.json()["executorID"] == ready.json()["executorID"] == server.engine.executor_id
    assert ready.json()["role"] == "all"
    with server.db.read() as session:
        assert session.get(Executor, server.engine.executor_id) is not None  # it reported itself
