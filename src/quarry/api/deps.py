"""Typed dependencies: what a route needs of its process, named in its signature.

The process (``bootstrap.Process``) is put on the application once by ``create_app``; this module
is the only reader of ``app.state``. A route asks for ``db: Db`` or ``enqueue: CallQueue`` and
can be read, and tested, without knowing where those come from (Dispatch's ``DbSession`` style).

The dependencies are ``async``: they only look a value up, and FastAPI runs a plain ``def``
dependency in its thread pool — a thread hop per dependency per request. The dependencies of
every request (authentication, rendering calls) read the process with the ``…_of(request)``
functions instead of depending on several of these: each resolved dependency costs a little.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from quarry.api.rate_limit import RateLimiter
from quarry.bootstrap import Process
from quarry.calls.render import FinishedCalls
from quarry.calls.watch import CallWatcher
from quarry.config import Settings
from quarry.engine.engine import Engine
from quarry.engine.readers import DocumentReaders
from quarry.storage.blobs import BlobStore
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.db import Database


def process_of(request: Request) -> Process:
    return request.app.state.process  # type: ignore[no-any-return]


async def _db(request: Request) -> Database:
    return process_of(request).db


async def _settings(request: Request) -> Settings:
    return process_of(request).settings


async def _blobs(request: Request) -> BlobStore:
    return process_of(request).blobs


async def _links(request: Request) -> FileLinks:
    return process_of(request).links


async def _engine(request: Request) -> Engine:
    return process_of(request).engine


async def _readers(request: Request) -> DocumentReaders:
    return process_of(request).engine.readers


async def _call_queue(request: Request) -> Callable[[list[str]], None]:
    return process_of(request).enqueue_calls


async def _request_queue(request: Request) -> Callable[[list[str]], None]:
    return process_of(request).enqueue_collection_requests


async def _review_queue(request: Request) -> Callable[[list[str]], None]:
    return process_of(request).resume_reviewed


async def _evaluation_queue(request: Request) -> Callable[[list[str]], None]:
    return process_of(request).enqueue_evaluations


def limiter_of(request: Request) -> RateLimiter | None:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


async def _rate_limiter(request: Request) -> RateLimiter | None:
    return limiter_of(request)


def finished_calls_of(request: Request) -> FinishedCalls:
    return request.app.state.finished_calls  # type: ignore[no-any-return]


def watcher_of(request: Request) -> CallWatcher:
    """The process's one follower of call changes, shared by streams and long polls."""
    return request.app.state.call_watcher  # type: ignore[no-any-return]


def base_url_of(request: Request) -> str:
    """Where this server is reached, for absolute URLs: ``QUARRY_PUBLIC_URL`` or the request's own."""
    return process_of(request).settings.public_url or str(request.base_url)


async def base_url(request: Request) -> str:
    return base_url_of(request)


Db = Annotated[Database, Depends(_db)]
AppSettings = Annotated[Settings, Depends(_settings)]
Blobs = Annotated[BlobStore, Depends(_blobs)]
Links = Annotated[FileLinks, Depends(_links)]
ProcessEngine = Annotated[Engine, Depends(_engine)]
Readers = Annotated[DocumentReaders, Depends(_readers)]
"""The process's reader processes (``engine.readers``, in every role: an API-only process starts
a reader when it first reads a document; the engine's stop closes them)."""
CallQueue = Annotated[Callable[[list[str]], None], Depends(_call_queue)]
"""Hands stored calls to the engine: ``enqueue(call_ids)``."""
RequestQueue = Annotated[Callable[[list[str]], None], Depends(_request_queue)]
"""Hands stored collection requests to the engine: ``enqueue(request_ids)``."""
ReviewQueue = Annotated[Callable[[list[str]], None], Depends(_review_queue)]
"""Hands review gates a person has just decided to the engine: ``resume(gate_ids)``."""
EvaluationQueue = Annotated[Callable[[list[str]], None], Depends(_evaluation_queue)]
"""Hands stored evaluations to the engine: ``enqueue(evaluation_ids)``."""
Limiter = Annotated[RateLimiter | None, Depends(_rate_limiter)]
BaseUrl = Annotated[str, Depends(base_url)]
