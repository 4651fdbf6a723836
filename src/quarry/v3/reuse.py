"""Serving a v2 handler at a v3 path, for the operations whose shapes v3 kept field for field."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from fastapi.routing import APIRoute


def serve_v2_routes(router: APIRouter, routes: Iterable[APIRoute], v2_prefix: str, v3_prefix: str) -> None:
    """Add each of ``routes`` to ``router`` (itself under ``/v3``) with ``v2_prefix`` of its path
    replaced by ``v3_prefix``: one implementation answers both surfaces."""
    for route in routes:
        router.add_api_route(
            v3_prefix + route.path.removeprefix(v2_prefix),
            route.endpoint,
            methods=list(route.methods),
            response_model=route.response_model,
            status_code=route.status_code,
            response_class=route.response_class,
            response_model_exclude_none=route.response_model_exclude_none,
            description=route.description,
            name=f"v3_{route.name}",
        )
