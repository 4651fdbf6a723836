"""Retention: finished calls older than ``QUARRY_RETENTION`` are removed while the server runs.

Each working process runs a ``Retention`` thread when the setting is there. A round removes, a
batch of calls per transaction, the longest finished first, the calls that ended (completed or
failed) before the cutoff, with everything that is theirs: their function calls, review gates
and document parts (the database's cascades), their events and those events' webhook deliveries,
their place in SQLite's substring index, their counts — List Calls' totals stay exact; the
remembered counts of substring searches in their environments are forgotten, to be counted
anew — and, once that is committed, their files. Then DBOS's records of the workflows that
ended before the cutoff.

Nothing in flight is touched: a call that has not ended, or whose events still have webhook
deliveries to make, is kept until it has none. Idempotency records go after a day anyway
(``storage.idempotency``). API processes may still answer a removed call from their cache of
finished calls for up to a minute (``calls.render``: its entries change key every minute).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from quarry.calls import counts, search
from quarry.calls.models import TERMINAL_STATUSES, Call
from quarry.config import Settings
from quarry.events.models import Event
from quarry.storage.base import utcnow
from quarry.storage.blobs import BlobStore
from quarry.storage.db import Database
from quarry.webhooks.models import Delivery

log = logging.getLogger("quarry.calls")

BATCH = 200  # calls per transaction: a round holds the writer for a short while at a time
WORKFLOW_BATCH = 200  # top-level workflows, each with its children

_DELIVERING = (
    sa.select(sa.literal(1))
    .select_from(Event)
    .join(Delivery, Delivery.event_id == Event.id)
    .where(Event.call_id == Call.id, Delivery.status == "pending")
    .exists()
)


def remove_calls(db: Database, blobs: BlobStore, ended_before: datetime, limit: int = BATCH) -> int:
    """Remove up to ``limit`` calls that ended before ``ended_before`` (see the module's docstring);
    how many went."""
    with db.write() as session:
        calls = list(
            session.scalars(
                sa.select(Call)
                .where(Call.status.in_(TERMINAL_STATUSES), Call.finished_at < ended_before, ~_DELIVERING)
                .order_by(Call.finished_at)
                .limit(limit)
                .with_for_update(skip_locked=True)  # workers removing side by side take different calls
            )
        )
        if not calls:
            return 0
        ids = [call.id for call in calls]
        events = sa.select(Event.id).where(Event.call_id.in_(ids))
        session.execute(sa.delete(Delivery).where(Delivery.event_id.in_(events)))
        session.execute(sa.delete(Event).where(Event.call_id.in_(ids)))
        search.forget_references(session, calls)
        counts.calls_removed(session, calls)
        session.execute(sa.delete(Call).where(Call.id.in_(ids)))
    for call in calls:  # after the commit: a call never outlives its files
        try:
            blobs.delete_under(f"{call.environment_id}/{call.id}")
        except Exception:
            log.warning("the files of removed call %s could not be deleted", call.id, exc_info=True)
    return len(calls)


class Retention:
    """The thread that removes what is older than the retention, a round at a time."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        blobs: BlobStore,
        forget_workflows: Callable[[datetime, int], int],
    ) -> None:
        assert settings.retention_seconds is not None
        self.db, self.blobs, self.forget_workflows = db, blobs, forget_workflows
        self.keep = timedelta(seconds=settings.retention_seconds)
        self.pause = min(60.0, max(1.0, settings.retention_seconds / 10))  # a tenth of it, 1 s to a minute
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="quarry-retention", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def round(self) -> int:
        """Remove everything older than the retention now; how many calls went."""
        ended_before = utcnow() - self.keep
        removed = 0
        while not self.stopped.is_set():
            batch = remove_calls(self.db, self.blobs, ended_before)
            removed += batch
            if batch < BATCH:
                break
        while not self.stopped.is_set() and self.forget_workflows(ended_before, WORKFLOW_BATCH) == WORKFLOW_BATCH:
            pass
        if removed:
            log.info("retention: %d calls that ended before %s removed", removed, ended_before.isoformat())
        return removed

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.round()
            except Exception:  # the thread must outlive a database hiccup
                if self.stopped.is_set():
                    return
                log.exception("retention round failed")
            self.stopped.wait(self.pause)
