"""The bem v3 API: the surface the official bem SDKs (Python, TypeScript, Go, C#), CLI and MCP
server speak. Same services as v2, rendered in v3's shapes (see docs/decisions.md, "v3").
"""

from __future__ import annotations

from fastapi import APIRouter

from quarry.v3 import accuracy, calls, collections, functions, infer_schema, subscriptions, unserved, workflows

router = APIRouter()
for _surface in (accuracy, functions, workflows, calls, subscriptions, collections, infer_schema, unserved):
    router.include_router(_surface.router)
