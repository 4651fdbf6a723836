"""The ASGI application: ``create_app(process)`` wires a process's parts, errors and routes together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from quarry import __version__
from quarry.api.auth import CheckedKeys
from quarry.api.errors import install_error_handlers
from quarry.api.files import router as files_router
from quarry.api.guard import RequestGuard
from quarry.api.health import router as health_router
from quarry.api.idempotency import install_idempotency
from quarry.api.metrics import router as metrics_router
from quarry.api.openapi import install_openapi
from quarry.api.rate_limit import RateLimiter
from quarry.api.timing import ServerTiming
from quarry.bootstrap import Process
from quarry.calls.render import FINISHED_CALLS_KEPT, FinishedCalls
from quarry.calls.routes import router as calls_router
from quarry.calls.watch import CallWatcher
from quarry.collections.routes import router as collections_router
from quarry.dashboard import router as dashboard_router
from quarry.engine.upgrades import DrainWatch
from quarry.events.routes import router as events_router
from quarry.functions.routes import router as functions_router
from quarry.subscriptions.routes import router as subscriptions_router
from quarry.transformations.routes import router as transformations_router
from quarry.v3 import router as v3_router
from quarry.v3.calls import FINISHED_V3_CALLS_KEPT, FinishedV3Calls
from quarry.workflows.routes import router as workflows_router


def create_app(process: Process, *, start_engine: bool = True) -> FastAPI:
    """The API of ``process``; the lifespan starts and stops its engine (a stop drains in-flight
    work for up to ``QUARRY_DRAIN_SECONDS``). ``start_engine=False`` serves requests without ever
    starting it (tests of the HTTP layer alone). Routes reach the process through ``api.deps``."""
    engine = process.engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # few threads: under a burst of requests, forty threads (anyio's default) take turns at the
        # GIL at every database call, and the switching cost more than the requests themselves
        to_thread.current_default_thread_limiter().total_tokens = process.settings.api_threads
        if not start_engine:
            yield
            app.state.call_watcher.close()
            engine.readers.close()  # readers a request started (POST /v3/infer-schema) without the engine
            return
        await run_in_threadpool(engine.start)
        try:
            yield
        finally:
            app.state.call_watcher.close()
            await run_in_threadpool(engine.stop, engine.settings.drain_seconds)

    app = FastAPIOffline(  # /docs and /redoc with their assets served here: no CDN, works offline
        title="Quarry",
        version=__version__,
        summary="Self-hostable engine that turns documents into structured data (bem v2 API).",
        lifespan=lifespan,
    )
    app.state.process = process
    app.state.rate_limiter = RateLimiter.from_settings(process.settings)
    app.state.checked_keys = CheckedKeys(process.settings.api_key_cache_seconds)
    app.state.finished_calls = FinishedCalls(FINISHED_CALLS_KEPT)
    app.state.finished_v3_calls = FinishedV3Calls(FINISHED_V3_CALLS_KEPT)
    app.state.call_watcher = CallWatcher(process.db)
    app.state.drain_watch = DrainWatch(process.db)
    install_error_handlers(app)
    install_idempotency(app)
    app.add_middleware(RequestGuard, max_body_bytes=process.settings.max_request_bytes)
    app.add_middleware(ServerTiming)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(calls_router)
    app.include_router(collections_router)
    app.include_router(subscriptions_router)
    app.include_router(files_router)
    app.include_router(events_router)
    app.include_router(functions_router)
    app.include_router(workflows_router)
    app.include_router(transformations_router)
    app.include_router(v3_router)
    app.include_router(dashboard_router)
    install_openapi(app)
    return app


def stop_streams(app: FastAPI) -> None:
    """End the open streams of call changes (and long polls) at once, from any thread: a server
    that stops waits for its open responses before its lifespan ends, and streams would not end."""
    app.state.call_watcher.close()
