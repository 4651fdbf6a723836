"""Heartbeats and takeover: the processes of a deployment watch over each other.

Every process writes a row in ``executors`` when it starts and refreshes its heartbeat every few
seconds. A process that runs work also looks, at start and every few seconds, for workers that are
gone — a heartbeat older than :data:`STALE_AFTER`, a clean stop, or a silent process of this same
machine that no longer exists (a restart after a crash need not wait long) — and hands their unfinished
calls back to the queue (DBOS recovery of that executor's workflows), where any live worker takes
them.

Handing back is safe to repeat and to race: DBOS re-enqueues only workflows still assigned to the
dead executor, and every step of a call is idempotent against Quarry's own tables.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

import sqlalchemy as sa

from quarry.engine.models import Executor
from quarry.storage.base import utcnow
from quarry.storage.db import Database

log = logging.getLogger("quarry.engine")

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
"""Long enough that a busy but living process is never taken for dead (its heartbeat thread
needs the GIL once in six beats), short enough that a dead one's calls resume within a minute."""


SILENT_AFTER = timedelta(seconds=2 * HEARTBEAT_SECONDS)
"""A process of this host whose pid is gone is taken for dead once it missed a beat; waiting
that long keeps two containers that share a host name from mistaking each other's pids."""


def new_executor_id() -> str:
    """Unique per process: host, pid and a random suffix (pids are reused across restarts)."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{secrets.token_hex(3)}"


class Membership:
    """This process's row among the deployment's executors, and the takeover of dead ones.

    ``recover(executor_ids)`` re-enqueues the unfinished workflows of those executors and says
    how many there were.
    """

    def __init__(self, db: Database, executor_id: str, role: str, recover: Callable[[list[str]], int] | None) -> None:
        self.db = db
        self.executor_id = executor_id
        self.role = role
        self.recover = recover
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="quarry-heartbeat", daemon=True)

    def join(self) -> None:
        now = utcnow()
        with self.db.write() as session:
            session.merge(
                Executor(
                    id=self.executor_id,
                    role=self.role,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    heartbeat_at=now,
                    stopped_at=None,
                )
            )

    def start(self) -> None:
        self.thread.start()

    def leave(self) -> None:
        """Stop beating and mark this process stopped: its leftover work is taken over at once."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        with self.db.write() as session:
            session.execute(sa.update(Executor).where(Executor.id == self.executor_id).values(stopped_at=utcnow()))

    def beat(self) -> None:
        with self.db.write() as session:
            session.execute(sa.update(Executor).where(Executor.id == self.executor_id).values(heartbeat_at=utcnow()))

    def take_over(self) -> list[str]:
        """Hand back the work of every executor that is gone; return their IDs."""
        assert self.recover is not None
        host = socket.gethostname()[:255]
        with self.db.read() as session:
            rows = session.execute(
                sa.select(Executor.id, Executor.host, Executor.pid, Executor.stopped_at, Executor.heartbeat_at).where(
                    Executor.id != self.executor_id
                )
            ).all()
        now = utcnow()
        gone = [
            row
            for row in rows
            if row.stopped_at is not None
            or row.heartbeat_at < now - STALE_AFTER
            or (row.heartbeat_at < now - SILENT_AFTER and row.host == host and not pid_alive(row.pid))
        ]
        for row in gone:
            resumed = self.recover([row.id])  # before forgetting it: a crash here leaves it to the next look
            with self.db.write() as session:
                session.execute(sa.delete(Executor).where(Executor.id == row.id))
            _log_takeover(row.id, clean=row.stopped_at is not None, resumed=resumed)
        return [row.id for row in gone]

    def _run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.beat()
                if self.recover is not None:
                    self.take_over()
            except Exception:  # a database hiccup must not end the heartbeat
                log.exception("heartbeat or takeover failed")


def _log_takeover(executor_id: str, *, clean: bool, resumed: int) -> None:
    """A process that stopped cleanly and left nothing (every restart) is no news; work resumed
    after a drain ran out is worth a line; a process that vanished is worth a warning."""
    if not clean:
        log.warning(
            "executor %s stopped without a clean shutdown: resumed its %d unfinished workflows", executor_id, resumed
        )
    elif resumed:
        log.info("resumed %d workflows executor %s left unfinished when it stopped", resumed, executor_id)
    else:
        log.debug("executor %s stopped cleanly, nothing to resume", executor_id)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid exists (a dead one needs no waiting for)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
