"""Worker processes that ``quarry serve`` runs beside its API, and their tie to it.

The API process serves HTTP and enqueues; the work runs in child ``quarry worker`` processes on the
same database, so that polling clients and running calls never share one interpreter's GIL.
:class:`WorkerSupervisor` (in the API process) starts them, restarts one that dies (with backoff),
and stops them with the API. :func:`follow_parent` (in a child) makes the child stop when its
supervisor is gone, even after a SIGKILL that left the supervisor no time to say so.

Each child is worker ``n`` of its supervisor, with executor ID ``<supervisor's ID>-w<n>``: a
replacement takes the same ID, so DBOS hands it the unfinished calls of the one that died the moment
it starts, and a later ``quarry serve`` takes over the children of one that was killed the way it
takes over any gone worker (``executors.Membership``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from quarry.engine.models import Executor
from quarry.storage.db import Database

log = logging.getLogger("quarry.engine")

FIRST_RESTART_SECONDS = 1.0
LAST_RESTART_SECONDS = 30.0  # the backoff doubles from the first up to this
STEADY_SECONDS = 60.0  # a worker that ran this long before it died is restarted after the first delay again
STOP_MARGIN_SECONDS = 15.0  # beyond the drain: a draining worker also hands back work and closes DBOS
WATCH_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def worker_executor_id(supervisor_id: str, n: int) -> str:
    """The executor ID of worker ``n`` (from 1) of the process ``supervisor_id``.

    >>> worker_executor_id("host-41-a1b2c3", 1)
    'host-41-a1b2c3-w1'
    """
    return f"{supervisor_id}-w{n}"


@dataclass
class _Slot:
    """One worker process the supervisor keeps running, and when it may start it next."""

    executor_id: str
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    start_after: float = 0.0  # time.monotonic()
    delay: float = FIRST_RESTART_SECONDS


class WorkerSupervisor:
    """Keeps ``count`` child processes running ``command`` (a ``quarry worker``), each with the
    supervisor's environment plus its own ``QUARRY_EXECUTOR_ID``.

    A child that exits while the supervisor runs is restarted after a delay that doubles from
    :data:`FIRST_RESTART_SECONDS` to :data:`LAST_RESTART_SECONDS`; a child that fails to start is
    retried the same way. ``stop`` sends SIGTERM (the children drain) and waits for them.
    """

    def __init__(
        self, db: Database, executor_id: str, command: list[str], environ: Mapping[str, str], count: int = 1
    ) -> None:
        self.db = db
        self.command = command
        self.environ = dict(environ)
        self.slots = [_Slot(worker_executor_id(executor_id, n)) for n in range(1, count + 1)]
        self._lock = threading.Lock()  # a child is never spawned once stopping began
        self._stopping = False
        self._stopped = threading.Event()
        self._joined_pid: int | None = None
        self._thread = threading.Thread(target=self._supervise, name="quarry-supervisor", daemon=True)

    @property
    def executor_ids(self) -> list[str]:
        return [slot.executor_id for slot in self.slots]

    def start(self) -> None:
        self._thread.start()

    def pids(self) -> list[int]:
        """The process IDs of the children running now."""
        return [slot.process.pid for slot in self.slots if slot.process and slot.process.poll() is None]

    def joined(self) -> bool:
        """Whether a child running now has joined the deployment (it wrote its own executor row):
        work enqueued from now on has a process that runs it."""
        pids = self.pids()
        if not pids:
            return False
        if self._joined_pid in pids:
            return True
        with self.db.read() as session:
            rows = session.execute(
                sa.select(Executor.pid).where(Executor.id.in_(self.executor_ids), Executor.stopped_at.is_(None))
            ).scalars()
            self._joined_pid = next((pid for pid in rows if pid in pids), None)
        return self._joined_pid is not None

    def stop(self, drain_seconds: float) -> None:
        """SIGTERM every child, wait for them to drain (``drain_seconds`` plus a margin), SIGKILL
        the ones still there. The children are stopped from the thread that started them: a child
        is told to stop when that thread ends (``follow_parent``), which must not come first."""
        with self._lock:
            self._stopping = True
        deadline = time.monotonic() + drain_seconds + STOP_MARGIN_SECONDS
        for slot in self.slots:
            if slot.process and slot.process.poll() is None:
                slot.process.send_signal(signal.SIGTERM)
        for slot in self.slots:
            if slot.process is None:
                continue
            try:
                code = slot.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not stop in time; killing it", slot.executor_id)
                slot.process.kill()
                code = slot.process.wait()
            if code not in (0, -signal.SIGTERM):  # the latter: stopped before it could listen
                log.warning("worker %s exited with code %s", slot.executor_id, code)
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _supervise(self) -> None:
        """Start the children, then restart each one that exits, until ``stop``. Nothing that
        goes wrong here ends the thread: a worker that cannot be started is tried again later."""
        while True:
            for slot in self.slots:
                try:
                    self._tend(slot)
                except Exception:
                    log.exception("supervising worker %s failed", slot.executor_id)
            if self._stopped.wait(WATCH_SECONDS):
                return

    def _tend(self, slot: _Slot) -> None:
        now = time.monotonic()
        with self._lock:
            if self._stopping:
                return
            if slot.process is not None:
                code = slot.process.poll()
                if code is None:
                    return
                if now - slot.started >= STEADY_SECONDS:
                    slot.delay = FIRST_RESTART_SECONDS
                log.warning(
                    "worker %s (pid %s) exited with code %s; restarting it in %g s",
                    slot.executor_id,
                    slot.process.pid,
                    code,
                    slot.delay,
                )
                slot.process = None
                self._back_off(slot, now)
                return
            if now < slot.start_after:
                return
            try:
                slot.process = subprocess.Popen(
                    self.command, env=self.environ | {"QUARRY_EXECUTOR_ID": slot.executor_id}, stdin=subprocess.DEVNULL
                )
                slot.started = now
            except OSError:
                log.exception("could not start worker %s; trying again in %g s", slot.executor_id, slot.delay)
                self._back_off(slot, now)

    @staticmethod
    def _back_off(slot: _Slot, now: float) -> None:
        slot.start_after = now + slot.delay
        slot.delay = min(slot.delay * 2, LAST_RESTART_SECONDS)


def follow_parent(parent_pid: int, stop: Callable[[], None]) -> None:
    """In a supervised child: call ``stop`` once the supervisor ``parent_pid`` is gone.

    On Linux the kernel sends SIGTERM at the parent's death (``PR_SET_PDEATHSIG``; set here, after
    ``exec``, rather than in a ``preexec_fn`` that is unsafe in a threaded parent), which the
    child's handler turns into a drain. A thread that watches the parent's pid covers the rest:
    other systems, and a parent that died before the signal was asked for."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watching thread alone
        pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_SECONDS)
        log.warning("the supervising process %s is gone; stopping", parent_pid)
        stop()

    threading.Thread(target=watch, name="quarry-parent-watch", daemon=True).start()
