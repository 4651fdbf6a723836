"""``Idempotency-Key`` on the POSTs that create (Stripe's semantics).

A route that creates takes the :data:`Idempotency` dependency, opens its transaction with
``idem.write()`` instead of ``db.write()`` and ends it with ``return idem.respond(session, result)``:

- without the header, nothing changes (``respond`` hands ``result`` back to FastAPI);
- with a key seen in the caller's environment within :data:`RETENTION`, the dependency answers
  before the route runs: the stored response, byte for byte, with ``Idempotent-Replayed: true``
  when the request is the same (method, path, SHA-256 of the body), else a 409;
- otherwise the route runs, and ``respond`` serializes ``result`` as FastAPI would (the route's
  response model and status) and stores those bytes **in the route's own transaction**: the
  record exists exactly when what it answers for does, whatever crashes after the commit.

Requests with the same key queue inside ``idem.write()`` (a transaction-scoped advisory lock on
PostgreSQL; SQLite has one writer at a time anyway) and look again once they hold the lock, so
the second of two concurrent requests replays the first's answer instead of creating anything.
Only successful creations are recorded: an error rolls the transaction back, record included, and
a retry simply runs again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Annotated, Any, NoReturn

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import Db
from quarry.errors import bad_request, conflict
from quarry.storage.base import utcnow
from quarry.storage.db import Database
from quarry.storage.idempotency import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
"""How long a key is remembered; an older record counts as absent (and is pruned)."""
PRUNE_BATCH = 100
"""Expired records deleted by each keyed creation, at most: pruning never makes a request slow."""

_VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
_BOUNDARY = re.compile(r"""boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))""", re.IGNORECASE)

DESCRIPTION = (
    "Optional, 1–255 printable ASCII characters, e.g. a UUID. Retrying a request with the same key "
    "within 24 hours creates nothing new: the first response is answered again, byte for byte, with "
    "`Idempotent-Replayed: true`. Keys are scoped to the API key's environment; reusing a key for a "
    "different request (another body or endpoint) is a 409. Only successful responses are remembered."
)


class IdempotentReplay(Exception):
    """Answered with the stored response of an earlier request with the same key."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.status_code = record.status_code
        self.body = record.response_body


def _body_digest(body: bytes, content_type: str) -> str:
    """SHA-256 of the body. A multipart body's boundary is left out: clients draw a new random one
    for each attempt, so a retry of the same upload differs only there."""
    if content_type.lower().startswith("multipart/") and (match := _BOUNDARY.search(content_type)):
        boundary = (match.group(1) or match.group(2)).encode("latin-1")
        body = body.replace(b"--" + boundary, b"--")
    return hashlib.sha256(body).hexdigest()


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _serialize(route: Any, result: Any) -> tuple[int, bytes]:
    """The status and JSON body FastAPI would answer ``result`` with on ``route``."""
    status = getattr(route, "status_code", None) or 200
    model = getattr(route, "response_model", None)
    if model is None:
        return status, JSONResponse(jsonable_encoder(result)).body
    adapter = _adapter(model)
    value = adapter.validate_python(result, from_attributes=True)
    exclude_none = route.response_model_exclude_none
    return status, adapter.dump_json(value, by_alias=route.response_model_by_alias, exclude_none=exclude_none)


def _lock_id(environment_id: str, key: str) -> int:
    digest = hashlib.sha256(f"idempotency\0{environment_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class IdempotencyKey:
    """The ``Idempotency-Key`` of one request (``key`` is None without the header)."""

    request: Request
    db: Database
    environment_id: str
    key: str | None = None
    method: str = ""
    path: str = ""
    request_sha256: str = ""
    _recorded: bool = False

    @contextmanager
    def write(self) -> Iterator[Session]:
        """``db.write()`` for a route that creates. With a key, it first waits for any other request
        with the same key to finish and answers as :meth:`answer` does if the key is now taken."""
        try:
            with self.db.write() as session:
                if self.key is not None:
                    self._queue(session)
                    self.answer(self.recorded(session))
                yield session
        except IntegrityError:
            if not self._recorded:
                raise
            # the unique key caught a request with this key that committed first (the wait above
            # should prevent it): this transaction is rolled back, so answer as a retry would be
            with self.db.read() as session:
                record = self.recorded(session)
            if record is None:
                raise conflict(f"Another request with this {HEADER} is in progress; retry it later") from None
            self._refuse(record)

    def _queue(self, session: Session) -> None:
        """Wait until no other transaction with this key is open. On SQLite the write transaction
        itself is enough (one writer at a time); PostgreSQL takes a lock until the commit."""
        if self.db.dialect == "postgresql":
            lock = sa.func.pg_advisory_xact_lock(_lock_id(self.environment_id, str(self.key)))
            session.execute(sa.select(lock))

    def recorded(self, session: Session) -> IdempotencyRecord | None:
        """The live record of this key, if any."""
        return session.scalar(
            sa.select(IdempotencyRecord).where(
                IdempotencyRecord.environment_id == self.environment_id,
                IdempotencyRecord.key == self.key,
                IdempotencyRecord.created_at > utcnow() - RETENTION,
            )
        )

    def answer(self, record: IdempotencyRecord | None) -> None:
        """Raise the replay of ``record`` (a 409 if it was made by another request); None: go on."""
        if record is not None:
            self._refuse(record)

    def _refuse(self, record: IdempotencyRecord) -> NoReturn:
        if (record.method, record.path) != (self.method, self.path):
            raise conflict(
                f"This {HEADER} was already used for {record.method} {record.path}; "
                "use a new key for a different request"
            )
        if record.request_sha256 != self.request_sha256:
            raise conflict(
                f"This {HEADER} was already used with a different request body; use a new key for a different request"
            )
        raise IdempotentReplay(record)

    def recorder(self, answer: Callable[[Any], Any]) -> Callable[[Session, Any], Any] | None:
        """With a key, what records ``answer(created)`` inside the transaction that creates (see
        :meth:`respond`); without one, None: the answer is made after the transaction."""
        if self.key is None:
            return None
        return lambda session, created: self.respond(session, answer(created))

    def respond(self, session: Session, result: Any) -> Any:
        """What the route returns, called last inside ``idem.write()``. With a key, ``result`` is
        serialized now and recorded in this transaction; the answer is those bytes."""
        if self.key is None:
            return result
        status, body = _serialize(self.request.scope.get("route"), result)
        session.flush()  # the created rows first: their own errors stay theirs
        now = utcnow()
        cutoff = now - RETENTION
        table = IdempotencyRecord.__table__
        session.execute(
            sa.delete(table).where(
                table.c.environment_id == self.environment_id, table.c.key == self.key, table.c.created_at <= cutoff
            )
        )
        _prune(session, cutoff, skip_locked=self.db.dialect == "postgresql")
        self._recorded = True
        session.add(
            IdempotencyRecord(
                environment_id=self.environment_id,
                key=self.key,
                method=self.method,
                path=self.path,
                request_sha256=self.request_sha256,
                status_code=status,
                response_body=body,
                created_at=now,
            )
        )
        session.flush()
        return Response(body, status_code=status, media_type="application/json")


def _prune(session: Session, cutoff: datetime, skip_locked: bool) -> None:
    """Delete some expired records (of any environment), oldest first; with ``skip_locked``,
    concurrent pruners take different rows instead of queueing on the same ones."""
    table = IdempotencyRecord.__table__
    expired = (
        sa.select(table.c.environment_id, table.c.key)
        .where(table.c.created_at <= cutoff)
        .order_by(table.c.created_at)
        .limit(PRUNE_BATCH)
    )
    if skip_locked:
        expired = expired.with_for_update(skip_locked=True)
    rows = [tuple(row) for row in session.execute(expired)]
    if rows:
        session.execute(sa.delete(table).where(sa.tuple_(table.c.environment_id, table.c.key).in_(rows)))


async def idempotency_key(
    request: Request,
    principal: CurrentPrincipal,
    db: Db,
    key: Annotated[str | None, Header(alias=HEADER, description=DESCRIPTION)] = None,
) -> IdempotencyKey:
    if key is None:
        return IdempotencyKey(request, db, principal.environment_id)
    if not _VALID_KEY.fullmatch(key):
        raise bad_request(f"{HEADER} must be 1 to 255 printable ASCII characters", field=HEADER)
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    digest = _body_digest(body, request.headers.get("content-type", ""))
    idem = IdempotencyKey(request, db, principal.environment_id, key, request.method, path, digest)

    def look_up() -> IdempotencyRecord | None:
        with db.read() as session:
            return idem.recorded(session)

    idem.answer(await run_in_threadpool(look_up))
    return idem


Idempotency = Annotated[IdempotencyKey, Depends(idempotency_key)]


def install_idempotency(app: FastAPI) -> None:
    @app.exception_handler(IdempotentReplay)
    async def _replay(_request: Request, exc: IdempotentReplay) -> Response:
        return Response(
            exc.body, status_code=exc.status_code, media_type="application/json", headers={REPLAYED_HEADER: "true"}
        )
