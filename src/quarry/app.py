"""The ASGI application: ``create_app(settings)`` wires storage, errors and routes together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from quarry import __version__
from quarry.api.errors import install_error_handlers
from quarry.api.files import router as files_router
from quarry.api.guard import RequestGuard
from quarry.api.timing import ServerTiming
from quarry.calls.routes import router as calls_router
from quarry.collections import ingest as collections_ingest
from quarry.collections.routes import router as collections_router
from quarry.config import Settings
from quarry.engine import runtime as engine
from quarry.events.routes import router as events_router
from quarry.functions.routes import router as functions_router
from quarry.storage.blobs.local import LocalBlobStore
from quarry.storage.blobs.urls import FileUrlSigner
from quarry.storage.db import Database
from quarry.storage.secrets import instance_secret
from quarry.subscriptions.routes import router as subscriptions_router
from quarry.tenancy.service import ensure_default_account
from quarry.transformations.routes import router as transformations_router
from quarry.webhooks import delivery as webhook_delivery
from quarry.webhooks import outbox  # noqa: F401  (registers the outbox on every session)
from quarry.workflows.routes import router as workflows_router


def open_database(settings: Settings) -> Database:
    """Connect, migrate to the latest schema, refresh planner statistics and make sure the
    default account exists."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.upgrade()
    db.refresh_statistics()
    with db.write() as session:
        ensure_default_account(session)
    return db


def create_app(settings: Settings | None = None, db: Database | None = None, *, run_engine: bool = True) -> FastAPI:
    """The API; its lifespan opens the database (unless given one) and, unless told otherwise,
    runs the engine in this process (the engine is one per process)."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = db is None
        app.state.db = db or open_database(settings)
        app.state.blobs = LocalBlobStore(settings.data_dir / "blobs")
        with app.state.db.write() as session:
            app.state.signer = FileUrlSigner(instance_secret(session, "file-urls"))
        if run_engine:
            await run_in_threadpool(engine.start, settings, app.state.db, app.state.blobs)
            await run_in_threadpool(collections_ingest.start, settings)
            webhook_delivery.start(settings, app.state.db, app.state.signer)
        try:
            yield
        finally:
            if run_engine:
                webhook_delivery.stop()
                collections_ingest.stop()
                await run_in_threadpool(engine.stop)
            if owned:
                app.state.db.dispose()

    app = FastAPI(
        title="Quarry",
        version=__version__,
        summary="Self-hostable engine that turns documents into structured data (bem v2 API).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(ServerTiming)
    app.include_router(calls_router)
    app.include_router(collections_router)
    app.include_router(subscriptions_router)
    app.include_router(files_router)
    app.include_router(events_router)
    app.include_router(functions_router)
    app.include_router(workflows_router)
    app.include_router(transformations_router)
    return app
