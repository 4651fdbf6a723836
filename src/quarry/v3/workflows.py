"""Workflows: ``/v3/workflows`` (nodes, edges, versions, copy) and ``POST /v3/workflows/{name}/call``."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v3", tags=["v3 workflows"])
