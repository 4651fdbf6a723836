"""Submitting calls from a route: the service (``calls.submission``) wrapped in the request's
``Idempotency-Key``, with the process's blob store and queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from quarry.api.deps import Blobs, CallQueue
from quarry.api.errors import ApiError
from quarry.api.idempotency import IdempotencyKey
from quarry.calls.service import NewCall
from quarry.calls.submission import Created, submit_calls
from quarry.engine.upgrades import DrainWatch
from quarry.storage.blobs import BlobStore
from quarry.tenancy.service import Principal

DRAINED_RETRY_SECONDS = 60  # a drained deployment is restarting with a new version: come back in a minute


@dataclass
class CallSubmitter:
    blobs: BlobStore
    enqueue: Callable[[list[str]], None]
    drain: DrainWatch

    def __call__(
        self,
        principal: Principal,
        new_calls: list[NewCall],
        idem: IdempotencyKey,
        answer: Callable[[Created], Any],
        also: Callable[[Session, Created], None] | None = None,
    ) -> tuple[Created, Any]:
        """Store, record and enqueue the calls (``also`` records what goes with them, in the same
        transaction); the created calls and the response: ``answer`` of them, recorded with them
        when the request has a key (then a replay answers those bytes). None while the deployment
        is drained for an upgrade (``quarry drain``)."""
        if self.drain.drained():
            message = "this deployment is being drained for an upgrade: new calls are refused until it restarts"
            raise ApiError(503, message, headers={"Retry-After": str(DRAINED_RETRY_SECONDS)})
        record = idem.recorder(answer)

        def within(session: Session, created: Created) -> Any:
            if also is not None:
                also(session, created)
            return None if record is None else record(session, created)

        created, recorded = submit_calls(principal, new_calls, self.blobs, idem.write, self.enqueue, within)
        return created, answer(created) if recorded is None else recorded


async def _submitter(blobs: Blobs, enqueue: CallQueue, request: Request) -> CallSubmitter:
    return CallSubmitter(blobs, enqueue, request.app.state.drain_watch)  # async: no thread hop to build it


Submit = Annotated[CallSubmitter, Depends(_submitter)]
