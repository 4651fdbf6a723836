"""The one place where a process is put together from its ``Settings``.

``quarry serve``, ``quarry serve --no-workers``, ``quarry worker``, the tests and the benchmarks
all go through :func:`bootstrap`; nothing is wired at import time.
"""

from __future__ import annotations

from quarry.config import Settings
from quarry.engine.engine import Engine, Role
from quarry.storage.blobs import open_blob_store
from quarry.storage.blobs.urls import FileLinks, FileUrlSigner
from quarry.storage.db import Database
from quarry.storage.secrets import instance_secret
from quarry.tenancy.service import ensure_default_account
from quarry.webhooks import outbox


def open_database(settings: Settings) -> Database:
    """Connect, migrate to the latest schema, refresh planner statistics and make sure the
    default account exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url, settings.db_pool_size)
    db.upgrade()
    db.refresh_statistics()
    with db.write() as session:
        ensure_default_account(session)
    return db


def bootstrap(settings: Settings, role: Role, db: Database | None = None) -> Engine:
    """The engine of a process in ``role``: database (opened unless given), blob store, file links
    and the webhook outbox. It is not started yet: ``engine.start()`` (the API's lifespan does)."""
    db = db or open_database(settings)
    outbox.install(db)
    blobs = open_blob_store(settings)
    with db.write() as session:
        signer = FileUrlSigner(instance_secret(session, "file-urls"))
    return Engine(settings, db, blobs, FileLinks(signer, blobs), role)
