"""Submitting validated calls, shared by v2 and v3: files stored, calls recorded, work enqueued."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from sqlalchemy.orm import Session

from quarry.calls import service
from quarry.calls.models import Call, FunctionCall
from quarry.calls.service import NewCall
from quarry.storage.blobs import BlobStore
from quarry.tenancy.service import Principal

Created = list[tuple[Call, list[FunctionCall]]]
Recorded = TypeVar("Recorded")


def submit_calls(
    principal: Principal,
    new_calls: list[NewCall],
    blobs: BlobStore,
    transaction: Callable[[], AbstractContextManager[Session]],
    enqueue: Callable[[list[str]], None],
    within: Callable[[Session, Created], Recorded] | None = None,
) -> tuple[Created, Recorded | None]:
    """Store the files, record the calls in one ``transaction`` (``within`` runs last inside it,
    e.g. to record an idempotent answer with them), then hand them to the engine (a call recorded
    but not enqueued, e.g. by a crash just now, is picked up by the engine's sweeper). Returns the
    created calls and what ``within`` gave."""
    staged = service.stage_files(principal.environment_id, new_calls, blobs)
    recorded = None
    with transaction() as session:
        created = service.record_calls(session, principal, new_calls, staged)
        if within is not None:
            recorded = within(session, created)
    enqueue([call.id for call, _ in created])
    return created, recorded
