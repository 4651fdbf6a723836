"""Following calls as they change: one watcher per API process, shared by every follower.

Work runs in other processes (workers, other API processes), so the database is the source: the
watcher reads the calls changed lately (``calls.changes.recent``) every ``interval`` — one
statement per tick for every environment followed, whatever the number of followers, and none
while nobody follows — and hands each new change to the followers whose filters it passes,
in memory. A stream of changes or a long poll is one :class:`Follower`: an asyncio queue, no
thread and no query of its own while it waits.

Each tick reads back ``SKEW`` before the previous tick (a change may become visible after later
ones) and forgets the changes (call, status) it has handed out once they fall out of that window.
A call that changes twice within a tick is handed out once, as it is then: followers see its
latest state, and always its last one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from quarry.calls import changes
from quarry.calls.changes import SKEW, ChangeKey
from quarry.calls.service import calls_by_ids, with_function_calls
from quarry.storage.base import utcnow
from quarry.storage.db import Database

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25
FOLLOWER_BACKLOG = 10_000
"""Changes a follower may have waiting; a follower that falls further behind is ended (a stream's
client reconnects and resumes from its last event)."""
PAGE = 200


@dataclass
class Change:
    """A call as it was read after a change: its row and its function calls' rows. ``encoded``
    keeps its wire form per rendering (base URL…), so that a change goes out to many streams
    with one encoding."""

    call: Any
    function_calls: list[Any]
    encoded: dict[Any, bytes] = field(default_factory=dict)

    @property
    def key(self) -> ChangeKey:
        return self.call.id, self.call.status

    @property
    def position(self) -> datetime:
        return self.call.updated_at or self.call.created_at


@dataclass
class Ready:
    """The end of a stream's replay (or snapshot): live changes follow; ``position`` resumes here."""

    position: datetime


class Closed(Exception):
    """The watcher was closed (the server is stopping)."""


class Follower:
    """Changes of one environment passing ``matches``, in the order the watcher found them."""

    def __init__(self, environment_id: str, matches: Callable[[Any], bool]) -> None:
        self.environment_id, self.matches = environment_id, matches
        self._changes: asyncio.Queue[Change | None] = asyncio.Queue()
        self.ended = False
        """Closed by the watcher, or fell more than ``FOLLOWER_BACKLOG`` changes behind."""

    def offer(self, change: Change) -> None:
        if self.ended:
            return
        if self._changes.qsize() >= FOLLOWER_BACKLOG:
            self.end()
        elif self.matches(change.call):
            self._changes.put_nowait(change)

    def end(self) -> None:
        self.ended = True
        self._changes.put_nowait(None)

    async def next(self, timeout: float) -> Change | None:
        """The next change, or ``None`` after ``timeout`` seconds or once ended."""
        if self.ended and self._changes.empty():
            return None
        try:
            return await asyncio.wait_for(self._changes.get(), timeout)
        except TimeoutError:
            return None


class CallWatcher:
    """The process's one reader of call changes (see the module). Runs on the server's event
    loop; its reads run in a worker thread, one at a time."""

    def __init__(self, db: Database, interval: float = INTERVAL_SECONDS) -> None:
        self.db, self.interval = db, interval
        self._followers: dict[str, set[Follower]] = {}
        self._primed: dict[str, asyncio.Event] = {}
        self._seen: dict[ChangeKey, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def follow(self, environment_id: str, matches: Callable[[Any], bool]) -> Follower:
        """A follower of the changes from now on. It returns once the watcher knows the
        environment's recent changes, so that a read of the database made after it (a replay, a
        snapshot, the call of a long poll) misses nothing that the follower will not receive."""
        if self._closed:
            raise Closed
        if self._task is None:
            self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="quarry-call-watcher")
        follower = Follower(environment_id, matches)
        self._followers.setdefault(environment_id, set()).add(follower)
        primed = self._primed.setdefault(environment_id, asyncio.Event())
        assert self._wake is not None
        self._wake.set()
        await primed.wait()
        if self._closed:
            raise Closed
        return follower

    def unfollow(self, follower: Follower) -> None:
        followers = self._followers.get(follower.environment_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._followers[follower.environment_id]
                self._primed.pop(follower.environment_id, None)

    @property
    def following(self) -> int:
        return sum(len(followers) for followers in self._followers.values())

    def close(self) -> None:
        """End every follower and stop (from any thread: a signal handler while the server stops,
        so that open streams let it)."""
        if self._loop is None:
            self._closed = True
            return
        self._loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self._closed = True
        for followers in self._followers.values():
            for follower in followers:
                follower.end()
        for primed in self._primed.values():
            primed.set()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        assert self._wake is not None
        last_tick: datetime | None = None
        while True:
            if not self._followers:
                self._seen.clear()
                last_tick = None
                self._wake.clear()
                await self._wake.wait()
                continue
            started = utcnow()
            try:
                await self._tick((last_tick or started) - SKEW)
            except Exception:  # a lost database connection: try again at the next tick
                log.exception("reading call changes failed")
            else:
                last_tick = started
            self._wake.clear()
            try:  # a new environment to prime wakes the watcher early
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except TimeoutError:
                pass

    async def _tick(self, floor: datetime) -> None:
        priming = {env for env, primed in self._primed.items() if not primed.is_set()}
        rows = await asyncio.to_thread(self._read_recent, list(self._followers), floor)
        self._seen = {key: at for key, at in self._seen.items() if at > floor}
        fresh = []
        for row in rows:
            key = (row.id, row.status)
            if key in self._seen:
                continue
            self._seen[key] = row.updated_at
            if row.environment_id not in priming:
                fresh.append(row.id)
        found = await asyncio.to_thread(self._read_calls, fresh) if fresh else []
        for change in sorted(found, key=lambda c: c.position):
            # read after its change: a call may have changed again since (it is handed out as it
            # is now, and that later change is not handed out again)
            self._seen.setdefault(change.key, change.position)
            for follower in list(self._followers.get(change.call.environment_id, ())):
                follower.offer(change)
        for env in priming:
            if env in self._primed:
                self._primed[env].set()

    def _read_recent(self, environment_ids: list[str], floor: datetime) -> list[Any]:
        with self.db.read() as session:
            return changes.recent(session, environment_ids, floor)

    def _read_calls(self, call_ids: list[str]) -> list[Change]:
        with self.db.read() as session:
            calls, by_call = with_function_calls(session, calls_by_ids(session, call_ids))
            return [Change(call, by_call[call.id]) for call in calls]


async def stream(
    watcher: CallWatcher,
    environment_id: str,
    query: Any,
    since: datetime | None,
    *,
    heartbeat: float,
    lifetime: float,
) -> AsyncIterator[Change | Ready | None]:
    """The changes of the calls passing ``query``'s filters: first the calls changed after
    ``since`` (looking back ``SKEW``), or without it the unfinished calls as they are now; then
    :class:`Ready`; then each change as it comes. ``None`` after ``heartbeat`` seconds without
    any; ends after ``lifetime`` seconds, or when the watcher ends the follower."""
    follower = await watcher.follow(environment_id, changes.matcher(query))
    try:
        start = utcnow()
        sent: set[ChangeKey] = set()
        async for change in _replay(watcher.db, environment_id, query, since):
            sent.add(change.key)
            yield change
        yield Ready(start)
        deadline = asyncio.get_running_loop().time() + lifetime
        while not follower.ended:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            change = await follower.next(min(heartbeat, remaining))
            if change is None:
                if not follower.ended:
                    yield None
            elif change.key not in sent:
                yield change
    finally:
        watcher.unfollow(follower)


async def _replay(db: Database, environment_id: str, query: Any, since: datetime | None) -> AsyncIterator[Change]:
    """Pages of the calls changed since ``since`` in the order of their changes, or of the
    unfinished calls in creation order."""
    after: tuple[datetime, str] | None = (since - SKEW, "") if since is not None else None

    def page() -> tuple[list[Any], list[Change]]:
        """A page's rows (they place the next page) and the changes to send for them."""
        with db.read() as session:
            if since is not None:
                assert after is not None
                rows = changes.changed_since(session, environment_id, query, after, PAGE)
            else:
                rows = changes.unfinished(session, environment_id, query, after, PAGE)
            calls, by_call = with_function_calls(session, rows)
            return rows, [Change(call, by_call[call.id]) for call in calls]

    while True:
        rows, found = await asyncio.to_thread(page)
        for change in found:
            yield change
        if len(rows) < PAGE:
            return
        last = rows[-1]
        after = (last.updated_at, last.id) if since is not None else (last.created_at, last.id)
