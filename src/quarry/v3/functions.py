"""Functions: ``/v3/functions`` (``{"function": …}`` envelopes, PATCH, versions, copy)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v3", tags=["v3 functions"])
