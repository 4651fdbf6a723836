"""Collections and their items: ``/v3/collections``, ``/v3/collections/items``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v3", tags=["v3 collections"])
