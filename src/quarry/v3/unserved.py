"""The v3 resources the official SDK can call and Quarry does not serve: each of their operations
answers 501 in the error shape, naming what is missing and what to use instead — never a 404 or a
405 that looks like a bug. They are left out of Quarry's API document (it describes what Quarry
serves); docs/decisions.md lists them. Each is authenticated like every other path (a request
without a key is a 401 first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from quarry.api.auth import CurrentPrincipal
from quarry.api.errors import ApiError

router = APIRouter(prefix="/v3", tags=["v3 not served"])

UNSERVED: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "views": (
        "saved views (tables and aggregations over outputs) are not served by Quarry: list and filter "
        "outputs with GET /v3/outputs and calls with GET /v3/calls",
        [
            ("GET", "/views"),
            ("POST", "/views"),
            ("POST", "/views/aggregation-data"),
            ("POST", "/views/table-data"),
            ("GET", "/views/{view_id}"),
            ("PUT", "/views/{view_id}"),
            ("DELETE", "/views/{view_id}"),
        ],
    ),
    "buckets": (
        "buckets (S3 sources and destinations managed through the API) are not served: Quarry stores "
        "files in its own blob store (QUARRY_S3_* settings) and delivers outputs with subscriptions",
        [
            ("GET", "/buckets"),
            ("POST", "/buckets"),
            ("GET", "/buckets/{bucket_id}"),
            ("PATCH", "/buckets/{bucket_id}"),
            ("DELETE", "/buckets/{bucket_id}"),
        ],
    ),
    "connectors": (
        "connectors (mailboxes, drives and other services polled for documents) are not served: "
        "submit calls with POST /v3/workflows/{workflowName}/call or POST /v2/calls",
        [("GET", "/connectors"), ("POST", "/connectors"), ("DELETE", "/connectors/{connector_id}")],
    ),
    "entities": (
        "the entity graph (entities, their synonyms and relations, built by parse functions) is not "
        "served: Quarry has no parse functions yet; look values up in collections (enrich functions)",
        [
            ("POST", "/entities/bulk"),
            ("POST", "/entities/bulk-validate"),
            ("GET", "/entities/seed/{id}"),
            ("PATCH", "/entities/{id}"),
            ("GET", "/entities/{id}/relations"),
            ("POST", "/entities/{id}/synonyms"),
            ("DELETE", "/entities/{id}/synonyms/{synonym_id}"),
            ("POST", "/entity-types"),
            ("GET", "/entity-types/{type_id}"),
            ("PATCH", "/entity-types/{type_id}"),
            ("DELETE", "/entity-types/{type_id}"),
            ("GET", "/knowledge-graph"),
        ],
    ),
    "fs": (
        "the File System API (browsing parsed documents as files) is not served: read a call's "
        "inputs and outputs with GET /v3/calls/{callID} and its events",
        [("POST", "/fs")],
    ),
}


def _refusal(resource: str, message: str) -> Callable[..., Any]:
    def not_served(principal: CurrentPrincipal) -> None:
        raise ApiError(501, message, {"resource": resource})

    return not_served


for _resource, (_message, _operations) in UNSERVED.items():
    for _method, _path in _operations:
        router.add_api_route(
            _path,
            _refusal(_resource, _message),
            methods=[_method],
            response_model=None,
            include_in_schema=False,  # not operations of Quarry's API: docs/decisions.md lists them
            name=f"unserved_{_resource}_{_method.lower()}_{_path.strip('/').replace('/', '_')}",
        )
