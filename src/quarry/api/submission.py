"""Submitting calls from a route: the service (``calls.submission``) wrapped in the request's
``Idempotency-Key``, with the process's blob store and queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from quarry.api.deps import Blobs, CallQueue
from quarry.api.idempotency import IdempotencyKey
from quarry.calls.service import NewCall
from quarry.calls.submission import Created, submit_calls
from quarry.storage.blobs import BlobStore
from quarry.tenancy.service import Principal


@dataclass
class CallSubmitter:
    blobs: BlobStore
    enqueue: Callable[[list[str]], None]

    def __call__(
        self, principal: Principal, new_calls: list[NewCall], idem: IdempotencyKey, answer: Callable[[Created], Any]
    ) -> tuple[Created, Any]:
        """Store, record and enqueue the calls; the created calls and the response: ``answer`` of
        them, recorded with them when the request has a key (then a replay answers those bytes)."""
        created, recorded = submit_calls(
            principal, new_calls, self.blobs, idem.write, self.enqueue, idem.recorder(answer)
        )
        return created, answer(created) if recorded is None else recorded


async def _submitter(blobs: Blobs, enqueue: CallQueue) -> CallSubmitter:
    return CallSubmitter(blobs, enqueue)  # async: no thread hop to build it


Submit = Annotated[CallSubmitter, Depends(_submitter)]
