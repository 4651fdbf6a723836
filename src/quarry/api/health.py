"""``/healthz`` and ``/readyz`` for load balancers and orchestrators (no API key needed).

``/healthz`` says the process answers (restart it when it does not); ``/readyz`` says it should
get traffic: its engine is started, not draining, its database answers and, under ``quarry serve``
with workers, one of its worker processes has joined (a call submitted then is run).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from quarry.api.deps import ProcessEngine
from quarry.api.errors import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(engine: ProcessEngine) -> dict[str, Any]:  # nothing to wait for: no thread
    return {"status": "ok", "executorID": engine.executor_id, "role": engine.role.value}


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: starting, draining, no worker yet, or the database is down"}},
)
def readyz(engine: ProcessEngine) -> dict[str, Any]:
    if not engine.ready:
        raise ApiError(503, "not ready: the engine is starting or draining")
    try:
        with engine.db.read() as session:
            session.execute(sa.text("SELECT 1"))
        workers = engine.has_workers()
    except sa.exc.SQLAlchemyError as exc:
        raise ApiError(503, "not ready: the database does not answer", {"error": type(exc).__name__}) from None
    if not workers:
        raise ApiError(503, "not ready: no worker process has joined yet")
    return {"status": "ready", "executorID": engine.executor_id, "role": engine.role.value}
