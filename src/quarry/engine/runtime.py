"""What the engine hands to the work it runs, and what it asks of that work.

The engine knows no domain: calls and collection requests are *jobs* registered on it by
``bootstrap`` (procrastinate's ``App`` knows tasks the same way). A job gets a narrow
:class:`Runtime` — database, blobs, settings, document readers, queues — and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from dbos import Queue

from quarry.config import Settings
from quarry.engine.readers import DocumentReaders
from quarry.storage.blobs import BlobStore
from quarry.storage.db import Database


class Runtime(Protocol):
    """The engine as a job sees it."""

    settings: Settings
    db: Database
    blobs: BlobStore
    readers: DocumentReaders  # the reader processes where documents are parsed

    def queue(self, name: str) -> Queue:
        """A DBOS queue of the deployment (``engine.queues``), for work a job fans out."""
        ...

    def job(self, name: str) -> Job:
        """A job registered before this one, started (a job may enqueue another's workflows)."""
        ...

    def enqueue(self, name: str, ids: list[str]) -> None:
        """Hand stored work to job ``name``'s queue, each ID as its workflow ID (never fails)."""
        ...

    def known_workflows(self, ids: list[str]) -> set[str]:
        """Which of these workflow IDs the engine has a record of."""
        ...


class Job(Protocol):
    """Durable work of one kind: a DBOS-configured instance whose :attr:`entry` workflow takes the
    ID of a stored row (a call, a request), enqueued on :attr:`queue_name` under that ID."""

    queue_name: str

    @property
    def entry(self) -> Callable[[str], object]: ...

    def sweep(self, older_than: timedelta) -> list[str]:
        """The IDs of stored work older than ``older_than`` that may never have been enqueued."""
        ...


JobFactory = Callable[[Runtime], Job]
"""Builds a job's instance at each start of the engine (DBOS binds instances by name, once)."""


class BackgroundService(Protocol):
    """A thread of its own that a working process runs beside the queues (webhook delivery)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[], BackgroundService]
"""Builds a background service at each start of a working process."""
