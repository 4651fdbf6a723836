"""Processing accepted adds and updates durably: one DBOS workflow per request.

``POST``/``PUT /v2/collections/items`` store a ``CollectionRequest`` and enqueue
:func:`ingest_request` on the ``quarry-collections`` queue with the request's ID as workflow ID
(enqueuing twice runs once). The workflow's one step embeds the items, then, in one
transaction, writes them, records the ``collection_processing`` event (same ID as the request)
and deletes the request. The step is idempotent against Quarry's tables: a re-run after a crash
finds the request gone and does nothing.

A request stored by a process that died before enqueuing it is found by the sweeper (at start,
then every 30 s for requests older than a minute). The sweeper also re-embeds items whose
vectors another embedder made (after ``QUARRY_EMBEDDINGS_*`` changed), a batch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance
from sqlalchemy.orm import Session

from quarry.collections.items import insert_items, item_text, replace_data, replace_vector
from quarry.collections.models import Collection, CollectionItem, CollectionRequest
from quarry.config import Settings
from quarry.engine.queues import COLLECTION_QUEUE, SETTLE_RETRIES, STEP_RETRIES
from quarry.engine.runtime import Runtime
from quarry.events.models import Event
from quarry.providers import ProviderError
from quarry.providers.embeddings import embedder_from_settings
from quarry.storage.base import utcnow

log = logging.getLogger("quarry.collections")

COLLECTION_JOB = "collection-requests"
"""The engine's name for processing requests: ``engine.enqueue(COLLECTION_JOB, request_ids)``."""
REEMBED_BATCH = 100
REEMBED_BATCHES_PER_SWEEP = 20


@DBOS.dbos_class()
class CollectionIngest(DBOSConfiguredInstance):
    """The durable processing of collection requests, bound to the runtime of the engine that runs it.

    The class and method names are what DBOS records to recover a workflow: keep them."""

    queue_name = COLLECTION_QUEUE

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__("quarry-collections")

    @property
    def entry(self) -> Callable[[str], object]:
        return self.ingest_request

    @DBOS.workflow()
    def ingest_request(self, request_id: str) -> str:
        try:
            return self.process_request(request_id)
        except Exception as exc:  # the request must end in an event, whatever happened
            log.exception("collection request %s stopped", request_id)
            return self.fail_request(request_id, f"internal error: {type(exc).__name__}")

    @DBOS.step(**STEP_RETRIES)
    def process_request(self, request_id: str) -> str:
        """Embed the request's items and store them; return the event's status (``done`` when an
        earlier run already did it)."""
        db, settings = self.runtime.db, self.runtime.settings
        with db.read() as session:
            request = session.get(CollectionRequest, request_id)
            if request is None:
                return "done"
            entries = list(request.items)
        vectors: np.ndarray | None = None
        embedder_name, failure = "", None
        try:
            embedder = embedder_from_settings(settings)
            embedder_name = embedder.name
            vectors = embedder.embed([_text(entry) for entry in entries])
        except ProviderError as exc:
            failure = f"the items could not be embedded: {exc}"
        with db.write() as session:
            request = session.get(CollectionRequest, request_id, with_for_update=True)
            if request is None:
                return "done"
            return _settle(session, request, vectors, embedder_name, failure)

    @DBOS.step(**SETTLE_RETRIES)
    def fail_request(self, request_id: str, message: str) -> str:
        with self.runtime.db.write() as session:
            request = session.get(CollectionRequest, request_id, with_for_update=True)
            if request is None:
                return "done"
            return _settle(session, request, None, "", message)

    def sweep(self, older_than: timedelta) -> list[str]:
        """Requests older than ``older_than`` (to enqueue); then re-embed a few batches of stale items."""
        with self.runtime.db.read() as session:
            ids = list(
                session.scalars(
                    sa.select(CollectionRequest.id)
                    .where(CollectionRequest.created_at <= utcnow() - older_than)
                    .order_by(CollectionRequest.created_at)
                    .limit(1000)
                )
            )
        reembed_stale(self.runtime.settings, self.runtime.db, REEMBED_BATCHES_PER_SWEEP)
        return ids


def _settle(
    session: Session, request: CollectionRequest, vectors: np.ndarray | None, embedder: str, failure: str | None
) -> str:
    """Write the items (unless ``failure``), record the event, forget the request."""
    collection = session.get(Collection, request.collection_id, with_for_update=True)
    if failure is None and collection is None:
        failure = f"collection {request.collection_name!r} was deleted before its items were processed"
    processed: list[str] = []
    if failure is None and collection is not None and vectors is not None:
        now = utcnow()
        if request.operation == "add":
            processed = _add(session, request, vectors, embedder, now)
        else:
            processed = _update(session, request, vectors, embedder, now)
        collection.updated_at = now
    body: dict[str, Any] = {
        "collectionID": request.collection_id,
        "collectionName": request.collection_name,
        "operation": request.operation,
        "processedCount": len(processed),
        "status": "failed" if failure else "success",
        "collectionItemIDs": processed,
    }
    if failure:
        body["errorMessage"] = failure
    session.add(
        Event(id=request.id, environment_id=request.environment_id, event_type="collection_processing", body=body)
    )
    session.delete(request)
    return str(body["status"])


def _text(entry: dict[str, Any]) -> str:
    """The text taken when the request was accepted (see ``service._entry``)."""
    return str(entry["text"]) if "text" in entry else item_text(entry["data"])


def _add(session: Session, request: CollectionRequest, vectors: np.ndarray, embedder: str, now: Any) -> list[str]:
    # items of one request get strictly increasing createdAt in request order (listing order)
    entries = [
        (entry["collectionItemID"], entry["data"], _text(entry), request.created_at + timedelta(microseconds=index))
        for index, entry in enumerate(request.items)
    ]
    insert_items(session, request.collection_id, request.id, entries, vectors, embedder, now)
    return [entry[0] for entry in entries]


def _update(session: Session, request: CollectionRequest, vectors: np.ndarray, embedder: str, now: Any) -> list[str]:
    """Replace the items' data. An item deleted since the request was accepted is skipped (the
    deletion came later); an item a later request already changed keeps that data (the last
    request submitted wins) but counts as processed."""
    ids = [entry["collectionItemID"] for entry in request.items]
    items = {
        item.id: item
        for item in session.scalars(
            sa.select(CollectionItem)
            .where(CollectionItem.collection_id == request.collection_id, CollectionItem.id.in_(ids))
            .with_for_update()
        )
    }
    processed = []
    for entry, vector in zip(request.items, vectors, strict=True):
        item = items.get(entry["collectionItemID"])
        if item is None:
            continue
        if item.request_id <= request.id:
            replace_data(session, item, request.id, entry["data"], _text(entry), vector, embedder, now)
        processed.append(item.id)
    return processed


# --- re-embedding ------------------------------------------------------------------------------


def reembed_stale(settings: Settings, db: Any, max_batches: int) -> int:
    """Give items embedded by another embedder a vector of the configured one; how many got one."""
    try:
        embedder = embedder_from_settings(settings)
    except ProviderError as exc:
        log.warning("collection items are not re-embedded: %s", exc)
        return 0
    done = 0
    for _ in range(max_batches):
        with db.read() as session:
            rows = session.execute(
                sa.select(CollectionItem.id, CollectionItem.text, CollectionItem.embedder)
                .where(CollectionItem.embedder != embedder.name)
                .limit(REEMBED_BATCH)
            ).all()
        if not rows:
            break
        try:
            vectors = embedder.embed([row.text for row in rows])
        except ProviderError as exc:
            log.warning("re-embedding collection items failed: %s", exc)
            break
        with db.write() as session:
            done += sum(
                replace_vector(session, row.id, row.embedder, v, embedder.name) for row, v in zip(rows, vectors)
            )
    return done
