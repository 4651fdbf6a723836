"""The engine of one Quarry process: everything it runs, built once from ``Settings``.

A process has one of three roles:

- ``all`` (``quarry serve``, the embedded default): serves the API and works the queues;
- ``api`` (``quarry serve --no-workers``): serves the API and enqueues calls, runs nothing;
- ``worker`` (``quarry worker``): works the queues, serves no API.

DBOS is a process singleton underneath; the engine owns its lifetime (``start``/``stop``) and binds
the durable workflows to itself, so that nothing reaches for module state.

>>> engine = bootstrap(Settings.from_env(), Role.ALL)   # doctest: +SKIP
>>> engine.start(); engine.enqueue_calls(["call_…"]); engine.stop()   # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos._dbos import _get_or_create_dbos_registry

from quarry.collections.ingest import CollectionIngest
from quarry.config import Settings
from quarry.documents.isolation import DocumentReaders
from quarry.engine.execution import CallExecution
from quarry.engine.executors import Membership, new_executor_id
from quarry.engine.queues import CALL_QUEUE, COLLECTION_QUEUE, POLLING_SECONDS, queue_limits
from quarry.storage.blobs import BlobStore
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.db import Database
from quarry.webhooks.delivery import DeliveryWorker

log = logging.getLogger("quarry.engine")

APPLICATION_VERSION = "quarry-engine-3"
"""DBOS recovers only workflows of the same application version; bump it when the shape of
``run_call`` changes in a way a half-finished call cannot replay."""
SWEEP_EVERY_SECONDS = 30.0
STATISTICS_EVERY_SWEEPS = 120  # hourly: the tables grow, the planner's picture must follow


def _sqlite_system_database(path: Path) -> sa.Engine:
    """DBOS's SQLite set-up (implicit ``BEGIN IMMEDIATE`` before writes, a long busy timeout),
    plus WAL so that its readers never wait for its writer, on one pooled connection."""
    engine = sa.create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False}, pool_size=1, max_overflow=0, pool_timeout=120
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = "IMMEDIATE"
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")

    return engine


class Role(StrEnum):
    ALL = "all"
    API = "api"
    WORKER = "worker"


@dataclass
class Engine:
    settings: Settings
    db: Database
    blobs: BlobStore
    links: FileLinks
    role: Role

    def __post_init__(self) -> None:
        self.executor_id = self.settings.executor_id or new_executor_id()
        self.readers = DocumentReaders(self.settings)
        self.calls: CallExecution | None = None  # bound to DBOS at start
        self.collections: CollectionIngest | None = None
        self.membership = Membership(
            self.db, self.executor_id, self.role.value, self._recover if self.runs_work else None
        )
        self.deliveries: DeliveryWorker | None = None
        self._queues: dict[str, Queue] = {}
        self._system_engine: sa.Engine | None = None  # DBOS's SQLite, when embedded
        self._sweeper_stop = threading.Event()
        self.ready = False

    @property
    def runs_work(self) -> bool:
        return self.role != Role.API

    # --- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Launch DBOS, declare the queues and, in a working process, start working them."""
        self.membership.join()
        self.calls, self.collections = CallExecution(self), CollectionIngest(self)
        config: DBOSConfig = {
            "name": "quarry",
            **self._system_database(),
            "application_version": APPLICATION_VERSION,
            "executor_id": self.executor_id,
            "sys_db_pool_size": self.settings.db_pool_size,
            "log_level": "WARNING",
        }
        DBOS(config=config)
        if not self.runs_work:
            DBOS.listen_queues([])  # an API-only process enqueues, and never dequeues
        DBOS.launch()
        for name, limits in queue_limits(self.settings).items():
            conflict = "always_update" if self.runs_work else "never_update"
            self._queues[name] = DBOS.register_queue(
                name, polling_interval_sec=POLLING_SECONDS, on_conflict=conflict, **limits
            )
        self.membership.start()
        if self.runs_work:
            self.readers.start()
            self.membership.take_over()
            self.deliveries = DeliveryWorker(self.settings, self.db, self.links)
            self.deliveries.start()
            threading.Thread(target=self._sweep_forever, name="quarry-sweeper", daemon=True).start()
        self.ready = True
        log.info("engine started: executor %s, role %s", self.executor_id, self.role.value)

    def stop(self, drain_seconds: float = 0) -> None:
        """Stop taking work; let in-flight work finish for up to ``drain_seconds``; hand back
        what is left (the survivors take it over at once) and release DBOS."""
        self.ready = False
        self._sweeper_stop.set()
        if self.deliveries is not None:
            self.deliveries.stop()
        DBOS.destroy(destroy_registry=False, workflow_completion_timeout_sec=int(drain_seconds))
        if self._system_engine is not None:  # DBOS leaves an engine it was given to its owner
            self._system_engine.dispose()
        self._unbind()
        self.readers.close()
        self.membership.leave()

    # --- work in ------------------------------------------------------------------------------

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def enqueue_calls(self, call_ids: list[str]) -> None:
        if self.calls is not None:  # else a started process's sweeper finds them
            self._enqueue(CALL_QUEUE, self.calls.run_call, call_ids)

    def enqueue_collection_requests(self, request_ids: list[str]) -> None:
        if self.collections is not None:
            self._enqueue(COLLECTION_QUEUE, self.collections.ingest_request, request_ids)

    def _enqueue(self, queue_name: str, workflow: Callable[[str], object], ids: list[str]) -> None:
        """Hand stored work to a queue, each item under its own ID as workflow ID (enqueuing twice
        runs once). Never fails the caller: what is left unqueued is found by the sweeper."""
        try:
            queue = self.queue(queue_name)
            for workflow_id in ids:
                with SetWorkflowID(workflow_id):
                    queue.enqueue(workflow, workflow_id)
        except Exception:
            log.warning("%s not enqueued on %s; the sweeper will", ids, queue_name, exc_info=True)

    # --- internals ----------------------------------------------------------------------------

    def _system_database(self) -> dict[str, Any]:
        """DBOS's own tables: in Quarry's PostgreSQL database, or a SQLite file of their own
        (WAL, one connection: DBOS's writers then take turns instead of sleeping on SQLite's lock)."""
        if not self.settings.is_embedded:
            return {"system_database_url": self.settings.database_url}
        self._system_engine = _sqlite_system_database(self.settings.data_dir / "engine.sqlite")
        return {"system_database_engine": self._system_engine}

    def _unbind(self) -> None:
        """Forget this engine's workflow instances in DBOS's registry, so that another engine of
        this process (tests start several in turn) can bind its own under the same names."""
        instances = _get_or_create_dbos_registry().instance_info_map
        for name, instance in list(instances.items()):
            if instance is self.calls or instance is self.collections:
                del instances[name]

    def _recover(self, executor_ids: list[str]) -> None:
        DBOS._recover_pending_workflows(executor_ids)

    def _sweep_forever(self) -> None:
        """Enqueue calls and collection requests left unqueued — e.g. by a process that stopped
        between storing and enqueuing them. At start everything is swept, later what is older
        than a minute. Once an hour the database's planner statistics are refreshed too."""
        older_than = timedelta(0)
        for sweep in itertools.count(1):
            if self._sweeper_stop.is_set():
                return
            try:
                if sweep % STATISTICS_EVERY_SWEEPS == 0:
                    self.db.refresh_statistics()
                assert self.calls is not None and self.collections is not None
                self.calls.sweep(older_than)
                self.collections.sweep(older_than)
            except Exception:  # the sweeper must outlive a database hiccup
                if self._sweeper_stop.is_set():
                    return
                log.exception("sweeping unqueued work failed")
            older_than = timedelta(minutes=1)
            self._sweeper_stop.wait(SWEEP_EVERY_SECONDS)
