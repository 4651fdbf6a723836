"""HTTP routes of ``/v1-beta/transformations`` (transformations stayed on the v1-beta surface in the v2 era)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import BaseUrl, Db, Links, ReviewQueue
from quarry.calls import reviews
from quarry.transformations import service
from quarry.transformations.schemas import (
    CorrectionRequest,
    TransformationDeleteQuery,
    TransformationErrorListQuery,
    TransformationListQuery,
)

router = APIRouter(prefix="/v1-beta/transformations", tags=["transformations"])


@router.get("")
def list_transformations(
    principal: CurrentPrincipal, query: Annotated[TransformationListQuery, Query()], db: Db, links: Links, url: BaseUrl
) -> Any:
    """Transform and join events as transformations, oldest first; filters combine with AND."""
    with db.read() as session:
        found, total = service.list_transformations(session, principal.environment_id, query)
    return {"transformations": [service.render(e, links, url) for e in found], "totalCount": total}


PARTIAL = {207: {"description": "Some corrections failed: ``results`` says which and why"}}


@router.put("", responses=PARTIAL)
def correct_transformations(
    principal: CurrentPrincipal, body: CorrectionRequest, db: Db, resume: ReviewQueue
) -> JSONResponse:
    """Store corrections (1–100), each on its own: 200 when all succeed, 207 when some fail. Calls
    waiting at a review gate for these transformations go on (Quarry extension)."""
    with db.read() as session:
        outcomes = service.check_corrections(session, principal.environment_id, body.transformations)
    if any(outcome.update is not None for outcome in outcomes):
        with db.write() as session:
            service.store_corrections(session, principal.environment_id, outcomes)
            stored = [outcome.event_id for outcome in outcomes if outcome.update is not None and outcome.event_id]
            decided = reviews.note_decisions(session, stored)
        resume(decided)
    successes = sum(1 for outcome in outcomes if outcome.error is None)
    content = {
        "results": [outcome.as_wire() for outcome in outcomes],
        "successCount": successes,
        "totalCount": len(outcomes),
    }
    return JSONResponse(content, status_code=200 if successes == len(outcomes) else 207)


@router.patch("", deprecated=True, responses=PARTIAL)
def correct_transformations_patch(
    principal: CurrentPrincipal, body: CorrectionRequest, db: Db, resume: ReviewQueue
) -> JSONResponse:
    """Deprecated alias of ``PUT``."""
    return correct_transformations(principal, body, db, resume)


@router.delete("")
def delete_transformations(
    principal: CurrentPrincipal, query: Annotated[TransformationDeleteQuery, Query()], db: Db, resume: ReviewQueue
) -> dict[str, int]:
    """Delete the transformations matching all the given filters (at least one naming them). A
    call waiting at a review gate for a deleted transformation goes on with it as it was held."""
    with db.write() as session:
        deleted = service.delete_transformations(session, principal.environment_id, query)
        decided = reviews.note_changes(session, [fc_id for fc_id in set(deleted) if fc_id is not None])
    resume(decided)
    return {"deleteCount": len(deleted)}


@router.get("/errors")
def list_transformation_errors(
    principal: CurrentPrincipal, query: Annotated[TransformationErrorListQuery, Query()], db: Db
) -> Any:
    """Error events of function calls, oldest first."""
    with db.read() as session:
        found, total = service.list_errors(session, principal.environment_id, query)
    return {"transformationErrors": [service.render_error(e) for e in found], "totalCount": total}
