"""The one place where a process is put together from its ``Settings``.

``quarry serve``, ``quarry serve --no-workers``, ``quarry worker``, the tests and the benchmarks
all go through :func:`bootstrap`; nothing is wired at import time. Here the engine, which knows no
domain, is given the domain's jobs (running calls, processing collection requests) and the
background services of a working process (webhook delivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from quarry.accuracy.evaluations import EVALUATION_JOB, Evaluating
from quarry.calls.jobs import CALL_JOB, REVIEW_JOB, CallExecution, ReviewJob
from quarry.calls.parts import PARTS_JOB, PartReading
from quarry.calls.retention import Retention
from quarry.collections.jobs import COLLECTION_JOB, CollectionIngest
from quarry.config import Settings
from quarry.engine.engine import Engine, Role
from quarry.storage.blobs import BlobStore, open_blob_store
from quarry.storage.blobs.urls import FileLinks, FileUrlSigner
from quarry.storage.db import Database
from quarry.storage.secrets import instance_secret
from quarry.tenancy.service import ensure_default_account
from quarry.webhooks import outbox
from quarry.webhooks.delivery import DeliveryWorker


@dataclass
class Process:
    """What one Quarry process is made of; the API reads its parts through ``quarry.api.deps``."""

    settings: Settings
    db: Database
    blobs: BlobStore
    links: FileLinks  # signed URLs of stored files
    engine: Engine

    def enqueue_calls(self, call_ids: list[str]) -> None:
        self.engine.enqueue(CALL_JOB, call_ids)

    def enqueue_collection_requests(self, request_ids: list[str]) -> None:
        self.engine.enqueue(COLLECTION_JOB, request_ids)

    def enqueue_evaluations(self, evaluation_ids: list[str]) -> None:
        self.engine.enqueue(EVALUATION_JOB, evaluation_ids)

    def resume_reviewed(self, gate_ids: list[str]) -> None:
        """Go on past review gates a person has just decided (``calls.reviews``)."""
        self.engine.enqueue(REVIEW_JOB, gate_ids)


def open_database(settings: Settings) -> Database:
    """Connect, migrate to the latest schema, refresh planner statistics and make sure the
    default account exists."""
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url, settings.db_pool_size)
    db.upgrade()
    db.refresh_statistics()
    with db.write() as session:
        ensure_default_account(session)
    return db


def bootstrap(settings: Settings, role: Role, db: Database | None = None, blobs: BlobStore | None = None) -> Process:
    """A process in ``role``: database and blob store (opened unless given), file links, the
    webhook outbox and the engine with its jobs. The engine is not started yet: ``engine.start()`` (the
    API's lifespan does)."""
    db = db or open_database(settings)
    outbox.install(db)
    blobs = blobs or open_blob_store(settings)
    with db.write() as session:
        links = FileLinks(FileUrlSigner(instance_secret(session, "file-urls")), blobs)
    engine = Engine(settings, db, blobs, role)
    engine.register(CALL_JOB, CallExecution)
    engine.register(REVIEW_JOB, lambda runtime: ReviewJob(cast(CallExecution, runtime.job(CALL_JOB))))
    engine.register(COLLECTION_JOB, CollectionIngest)
    engine.register(PARTS_JOB, PartReading)
    engine.register(EVALUATION_JOB, Evaluating)
    engine.add_service(lambda: DeliveryWorker(settings, db, links))
    if settings.retention_seconds is not None:
        engine.add_service(lambda: Retention(settings, db, blobs, engine.forget_finished_workflows))
    return Process(settings, db, blobs, links, engine)
