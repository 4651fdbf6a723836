"""The engine's process-wide runtime: DBOS, the call queue, and what durable steps need.

DBOS is a process singleton, so this is too: ``start`` once per process (the server's
lifespan does it), ``stop`` at shutdown. Every process that starts it also works the queue.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID

from quarry.calls.models import Call
from quarry.config import Settings
from quarry.storage.base import utcnow
from quarry.storage.blobs import BlobStore
from quarry.storage.db import Database

log = logging.getLogger("quarry.engine")

QUEUE = "quarry-calls"
APPLICATION_VERSION = "quarry-engine-2"
"""DBOS recovers only workflows of the same application version; bump it when the shape of
``run_call`` changes in a way a half-finished call cannot replay."""
SWEEP_EVERY_SECONDS = 30.0
STATISTICS_EVERY_SWEEPS = 120  # hourly: the tables grow, the planner's picture must follow


@dataclass
class Runtime:
    settings: Settings
    db: Database
    blobs: BlobStore


_runtime: Runtime | None = None
_sweeper_stop: threading.Event | None = None  # one per start: a stopped sweeper never wakes again


def current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the engine is not started in this process")
    return _runtime


def _system_database_url(settings: Settings) -> str:
    if settings.is_embedded:
        return f"sqlite:///{settings.data_dir / 'engine.sqlite'}"
    return settings.database_url


def start(settings: Settings, db: Database, blobs: BlobStore) -> None:
    """Launch DBOS (recovering this executor's unfinished calls) and start working the queue."""
    global _runtime, _sweeper_stop
    from quarry.engine import execution  # noqa: F401  (registers the durable workflow and steps)

    _runtime = Runtime(settings, db, blobs)
    config: DBOSConfig = {
        "name": "quarry",
        "system_database_url": _system_database_url(settings),
        "application_version": APPLICATION_VERSION,
        "executor_id": settings.executor_id,
        "log_level": "WARNING",
    }
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(QUEUE, worker_concurrency=settings.workers, polling_interval_sec=0.1)
    _sweeper_stop = threading.Event()
    threading.Thread(target=_sweep_forever, args=(_sweeper_stop,), name="quarry-sweeper", daemon=True).start()


def stop() -> None:
    global _runtime
    if _sweeper_stop is not None:
        _sweeper_stop.set()
    DBOS.destroy(destroy_registry=False)
    _runtime = None


def enqueue(call_ids: list[str]) -> None:
    """Hand calls to the queue; enqueuing a call twice runs it once (the workflow ID is the call ID)."""
    from quarry.engine.execution import run_call

    queue = DBOS.retrieve_queue(QUEUE)
    assert queue is not None
    for call_id in call_ids:
        with SetWorkflowID(call_id):
            queue.enqueue(run_call, call_id)


def _sweep_forever(stopped: threading.Event) -> None:
    """Enqueue calls left ``pending`` — e.g. by a process that stopped between storing a call
    and enqueuing it. At start every pending call is swept, later those older than a minute.
    Once an hour it also refreshes the database's planner statistics."""
    older_than = timedelta(0)
    for sweep in itertools.count(1):
        if stopped.is_set():
            return
        try:
            runtime = current()
            if sweep % STATISTICS_EVERY_SWEEPS == 0:
                runtime.db.refresh_statistics()
            with runtime.db.read() as session:
                ids = list(
                    session.scalars(
                        sa.select(Call.id)
                        .where(Call.status == "pending", Call.created_at <= utcnow() - older_than)
                        .order_by(Call.created_at)
                        .limit(1000)
                    )
                )
            enqueue(ids)
        except Exception:  # the sweeper must outlive a database hiccup
            if stopped.is_set():
                return
            log.exception("sweeping pending calls failed")
        older_than = timedelta(minutes=1)
        stopped.wait(SWEEP_EVERY_SECONDS)
