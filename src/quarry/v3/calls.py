"""Calls, their trace, outputs and errors: ``/v3/calls``, ``/v3/outputs``, ``/v3/errors``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v3", tags=["v3 calls"])
