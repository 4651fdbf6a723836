"""The engine of one Quarry process: everything it runs, built once from ``Settings``.

The engine runs jobs it is given (``register``) and background services (``add_service``); it
imports no domain package. A process has one of three roles:

- ``api`` (``quarry serve``): serves the API and enqueues calls, runs nothing; with workers (the
  default) it supervises child ``quarry worker`` processes that run them (``supervise``);
- ``worker`` (``quarry worker``, and the children of ``quarry serve``): works the queues, serves no API;
- ``all`` (the in-process tests): serves the API and works the queues in one interpreter.

DBOS is a process singleton underneath; the engine owns its lifetime (``start``/``stop``) and binds
the jobs' durable workflows at each start, so that nothing reaches for module state.

>>> engine = bootstrap(Settings.from_env(), Role.ALL).engine   # doctest: +SKIP
>>> engine.start(); engine.enqueue(CALL_JOB, ["call_…"]); engine.stop()   # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, Queue
from dbos._core import prepare_enqueued_workflow
from dbos._dbos import _get_or_create_dbos_registry
from dbos._schemas.system_database import SystemSchema
from dbos._sys_db import SystemDatabase

from quarry import logs
from quarry.config import Settings
from quarry.engine.executors import Membership, new_executor_id
from quarry.engine.queues import POLLING_SECONDS, queue_limits
from quarry.engine.readers import DocumentReaders
from quarry.engine.runtime import BackgroundService, Job, JobFactory, ServiceFactory
from quarry.engine.supervisor import WorkerSupervisor
from quarry.storage.blobs import BlobStore
from quarry.storage.db import Database

log = logging.getLogger("quarry.engine")

_ENDED_WORKFLOWS = ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
APPLICATION_VERSION = "quarry-engine-3"
"""DBOS recovers only workflows of the same application version; bump it when the shape of
``run_call`` changes in a way a half-finished call cannot replay."""
SWEEP_EVERY_SECONDS = 30.0
STATISTICS_EVERY_SWEEPS = 120  # hourly: the tables grow, the planner's picture must follow


ENQUEUE_RETRY_SECONDS = (0.1, 0.3, 0.9)


def _a_few_times(insert: Any, statuses: list[Any]) -> None:
    """``insert(statuses)``, tried again after each of ``ENQUEUE_RETRY_SECONDS`` (a busy SQLite, a
    dropped connection), then given up to the sweeper. Not DBOS's ``db_retry``, which waits as long
    as the database is away: enqueuing runs in a request's thread, and a few requests waiting out
    an outage would hold every thread of the API."""
    for pause in (*ENQUEUE_RETRY_SECONDS, None):
        try:
            insert(statuses)
            return
        except Exception:
            if pause is None:
                raise
            time.sleep(pause)


def _insert_rows_in_one_compiled_statement(system: Any) -> None:
    """Make DBOS's batch inserts (a batch of enqueued calls above all) one statement compiled once
    and executed for every row, instead of a multi-row ``VALUES`` compiled anew for each batch:
    compiling the 100 rows × 30 columns of a batch of calls took two thirds of the API's time to
    submit it. ``_insert_rows`` is the hook DBOS keeps for its subclasses to insert otherwise;
    every caller builds ``insert(…).values(batch)`` of rows of one shape, so the statement built
    for the first row, run with all of them (SQLAlchemy's "insertmanyvalues", RETURNING
    included), inserts the same rows and skips the same conflicts."""
    if type(system)._insert_rows is not SystemDatabase._insert_rows:
        return  # a subclass that inserts its own way (DBOS's sharded one) is left to it
    insert_as_dbos_does = system._insert_rows

    def insert_rows(conn: Any, build: Any, rows: list[dict[str, Any]], *, returning: bool = False) -> list[Any]:
        if not rows:
            return []
        if any(row.keys() != rows[0].keys() for row in rows):  # never today: a row's own columns
            return insert_as_dbos_does(conn, build, rows, returning=returning)  # type: ignore[no-any-return]
        result = conn.execute(build(rows[0]), rows)
        return list(result) if returning else []

    system._insert_rows = insert_rows


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
    role: Role
    _factories: dict[str, JobFactory] = field(default_factory=dict, init=False)
    _jobs: dict[str, Job] = field(default_factory=dict, init=False)  # bound to DBOS at start
    _service_factories: list[ServiceFactory] = field(default_factory=list, init=False)
    _services: list[BackgroundService] = field(default_factory=list, init=False)  # running

    def __post_init__(self) -> None:
        self.executor_id = self.settings.executor_id or new_executor_id()
        self.readers = DocumentReaders(self.settings)
        self.membership = Membership(
            self.db, self.executor_id, self.role.value, self._recover if self.runs_work else None
        )
        self._queues: dict[str, Queue] = {}
        self._dbos: DBOS | None = None  # once started
        self._system_engine: sa.Engine | None = None  # DBOS's SQLite, when embedded
        self._sweeper_stop = threading.Event()
        self._supervisor: WorkerSupervisor | None = None
        self.ready = False

    @property
    def runs_work(self) -> bool:
        return self.role != Role.API

    # --- what it runs -------------------------------------------------------------------------

    def register(self, name: str, factory: JobFactory) -> None:
        """Run jobs that ``factory`` builds (at each start), enqueued as ``enqueue(name, ids)``."""
        self._factories[name] = factory

    def add_service(self, factory: ServiceFactory) -> None:
        """Run a service that ``factory`` builds at each start of a working process; it is
        stopped first when the process stops."""
        self._service_factories.append(factory)

    def supervise(self, supervisor: WorkerSupervisor) -> None:
        """Run the work in the child processes of ``supervisor``: started once this process has
        launched DBOS (its system tables exist then), stopped, drained, with it."""
        self._supervisor = supervisor

    def has_workers(self) -> bool:
        """Whether work enqueued now has a process to run it: this one, or a supervised worker that
        has joined. An API-only process without workers of its own cannot see the ones of the
        deployment, and says yes."""
        return self._supervisor is None or self._supervisor.joined()

    def job(self, name: str) -> Job:
        """The started instance of a registered job (during ``start``: of one registered earlier)."""
        return self._jobs[name]

    # --- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Launch DBOS, declare the queues and, in a working process, start working them."""
        self.membership.join()
        self._jobs = {}
        for name, factory in self._factories.items():  # in order: a factory may ask for an earlier job
            self._jobs[name] = factory(self)
        config: DBOSConfig = {
            "name": "quarry",
            **self._system_database(),
            "application_version": APPLICATION_VERSION,
            "executor_id": self.executor_id,
            "sys_db_pool_size": self.settings.db_pool_size,
            "log_level": "WARNING",
        }
        self._dbos = DBOS(config=config)
        if not self.runs_work:
            DBOS.listen_queues([])  # an API-only process enqueues, and never dequeues
        DBOS.launch()
        logs.take_over("dbos")  # its own text handler, set up just now
        _insert_rows_in_one_compiled_statement(self._dbos._sys_db)
        for name, limits in queue_limits(self.settings).items():
            conflict = "always_update" if self.runs_work else "never_update"
            self._queues[name] = DBOS.register_queue(
                name, polling_interval_sec=POLLING_SECONDS, on_conflict=conflict, **limits
            )
        self.membership.start()
        if self.runs_work:
            self.readers.start()
            self.membership.take_over()
            self._services = [make() for make in self._service_factories]
            for service in self._services:
                service.start()
            threading.Thread(target=self._sweep_forever, name="quarry-sweeper", daemon=True).start()
        if self._supervisor is not None:
            self._supervisor.start()
        self.ready = True
        log.info("engine started: executor %s, role %s", self.executor_id, self.role.value)

    def stop(self, drain_seconds: float = 0) -> None:
        """Stop taking work; let in-flight work finish for up to ``drain_seconds``; hand back
        what is left (the survivors take it over at once) and release DBOS."""
        self.ready = False
        if self._supervisor is not None:
            self._supervisor.stop(drain_seconds)
        self._sweeper_stop.set()
        for service in self._services:
            service.stop()
        self._services = []
        self._dbos = None  # enqueuing now fails (the sweeper's), rather than reopen a released database
        DBOS.destroy(destroy_registry=False, workflow_completion_timeout_sec=int(drain_seconds))
        if self._system_engine is not None:  # DBOS leaves an engine it was given to its owner
            self._system_engine.dispose()
        self._unbind()
        self.readers.close()
        self.membership.leave()

    # --- work in ------------------------------------------------------------------------------

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def enqueue(self, name: str, ids: list[str]) -> None:
        """Hand stored work to the queue of job ``name``, each item under its own ID as workflow ID
        (enqueuing twice runs once). Never fails the caller: what is left unqueued (also by a
        process not started yet) is found by a started process's sweeper."""
        job = self._jobs.get(name)
        if job is None or not ids:
            return
        try:
            if self._dbos is None:
                raise RuntimeError("the engine is not started")
            # one transaction for the lot (a batch of 100 calls cost the API 100 of them, 40 % of its
            # time): DBOS's own batch enqueue, as its Kafka consumer uses it; rows already there are
            # left as they are, as a second ``Queue.enqueue`` of one ID would
            statuses = [
                prepare_enqueued_workflow(
                    self._dbos, job.entry, (workflow_id,), {}, queue_name=job.queue_name, workflow_id=workflow_id
                )
                for workflow_id in ids
            ]
            _a_few_times(self._dbos._sys_db.init_workflows, statuses)
        except Exception:
            log.warning("%s not enqueued on %s; the sweeper will", ids, job.queue_name, exc_info=True)

    def queue_figures(self) -> list[tuple[str, str, int, float | None]]:
        """``(queue, "enqueued" | "running", workflows, oldest creation in epoch ms)`` for each
        of the deployment's queues (``GET /metrics``): zero where none waits or runs."""
        if self._dbos is None:
            return []
        status = SystemSchema.workflow_status
        states = {"ENQUEUED": "enqueued", "PENDING": "running"}
        statement = (
            sa.select(status.c.queue_name, status.c.status, sa.func.count(), sa.func.min(status.c.created_at))
            .where(status.c.status.in_(list(states)), status.c.queue_name.is_not(None))
            .group_by(status.c.queue_name, status.c.status)
        )
        with self._dbos._sys_db.engine.connect() as connection:
            rows = connection.execute(statement).all()
        found = {(queue, states[state]): (count, first) for queue, state, count, first in rows}
        return [
            (queue, state, *found.get((queue, state), (0, None)))
            for queue in sorted({*self._queues, *(queue for queue, _ in found)})
            for state in states.values()
        ]

    def known_workflows(self, ids: list[str]) -> set[str]:
        """Which of these workflow IDs DBOS has a record of."""
        if self._dbos is None or not ids:
            return set()
        status = SystemSchema.workflow_status
        statement = sa.select(status.c.workflow_uuid).where(status.c.workflow_uuid.in_(ids))
        with self._dbos._sys_db.engine.connect() as connection:
            return set(connection.execute(statement).scalars())

    def forget_finished_workflows(self, ended_before: datetime, limit: int) -> int:
        """Delete from DBOS's tables up to ``limit`` top-level workflows that ended before
        ``ended_before``, with the workflows they started (retention); how many went.

        Only top-level ones, and only once none of their children runs: a child that ended may
        still be waited for by a parent that has not (DBOS re-reads a child's outcome when it
        recovers the parent), and a call abandoned on a failed branch ends before its others."""
        if self._dbos is None:
            return 0
        status = SystemSchema.workflow_status
        child = status.alias("child")
        running_child = sa.exists().where(
            child.c.parent_workflow_id == status.c.workflow_uuid, child.c.status.not_in(_ENDED_WORKFLOWS)
        )
        statement = (
            sa.select(status.c.workflow_uuid)
            .where(
                status.c.status.in_(_ENDED_WORKFLOWS),
                status.c.updated_at < ended_before.timestamp() * 1000,
                status.c.parent_workflow_id.is_(None),
                ~running_child,
            )
            .limit(limit)
        )
        with self._dbos._sys_db.engine.connect() as connection:
            ids = list(connection.execute(statement).scalars())
        if ids:
            self._dbos._sys_db.delete_workflows(ids, delete_children=True)
        return len(ids)

    def sweep(self, older_than: timedelta) -> None:
        """Enqueue the stored work of every job that is older than ``older_than``."""
        for name, job in self._jobs.items():
            self.enqueue(name, job.sweep(older_than))

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
        bound = [id(job) for job in self._jobs.values()]
        for name, instance in list(instances.items()):
            if id(instance) in bound:
                del instances[name]

    def _recover(self, executor_ids: list[str]) -> int:
        return len(DBOS._recover_pending_workflows(executor_ids))

    def _sweep_forever(self) -> None:
        """Enqueue the jobs' work left unqueued — e.g. by a process that stopped between storing
        and enqueuing it. At start everything is swept, later what is older
        than a minute. Once an hour the database's planner statistics are refreshed too."""
        older_than = timedelta(0)
        for sweep in itertools.count(1):
            if self._sweeper_stop.is_set():
                return
            try:
                if sweep % STATISTICS_EVERY_SWEEPS == 0:
                    self.db.refresh_statistics()
                self.sweep(older_than)
            except Exception:  # the sweeper must outlive a database hiccup
                if self._sweeper_stop.is_set():
                    return
                log.exception("sweeping unqueued work failed")
            older_than = timedelta(minutes=1)
            self._sweeper_stop.wait(SWEEP_EVERY_SECONDS)
