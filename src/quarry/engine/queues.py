"""The DBOS queues of the engine, how each one is limited, and how durable steps retry.

DBOS keeps a queue's limits in its system database, shared by every process of the deployment:
worker processes write them when they start (the latest start wins), API-only processes only
create a queue that does not exist yet.
"""

from __future__ import annotations

from typing import Any

from quarry.config import Settings

CALL_QUEUE = "quarry-calls"
"""One workflow per call."""
BRANCH_QUEUE = "quarry-branches"
"""Function calls that run side by side (a split's items, a fan-out), as child workflows."""
MODEL_QUEUE = "quarry-model"
"""Function calls that ask a model: ``QUARRY_LLM_MAX_CONCURRENCY`` and ``QUARRY_LLM_RPM`` hold here."""
COLLECTION_QUEUE = "quarry-collections"
"""Adds and updates of collection items (embedding)."""
EVALUATION_QUEUE = "quarry-evaluations"
"""Evaluations of extractions (``POST /v3/eval``): documents read again and values grounded."""

POLLING_SECONDS = 0.2

STEP_RETRIES = {"retries_allowed": True, "max_attempts": 5, "interval_seconds": 1.0, "backoff_rate": 2.0}
"""A durable step that fails (a database hiccup) is tried again, 5 times over about 15 s."""
SETTLE_RETRIES = {"retries_allowed": True, "max_attempts": 25, "interval_seconds": 1.0, "backoff_rate": 1.5}
"""Settling a call or a request must outlast a database outage (hours of retries): one whose
settling step gave up would stay unfinished."""


def queue_limits(settings: Settings) -> dict[str, dict[str, Any]]:
    """``DBOS.register_queue`` keyword arguments per queue."""
    model: dict[str, Any] = {"worker_concurrency": settings.workers}
    if settings.llm_max_concurrency:  # DBOS wants a worker's share no larger than the whole
        model["global_concurrency"] = settings.llm_max_concurrency
        model["worker_concurrency"] = min(settings.workers, settings.llm_max_concurrency)
    if settings.llm_rpm:
        model["limiter"] = {"limit": settings.llm_rpm, "period": 60.0}
    return {
        CALL_QUEUE: {"worker_concurrency": settings.workers},
        BRANCH_QUEUE: {"worker_concurrency": settings.workers},
        MODEL_QUEUE: model,
        COLLECTION_QUEUE: {"worker_concurrency": settings.cpu_workers},
        EVALUATION_QUEUE: {"worker_concurrency": settings.cpu_workers},
    }
