"""The v3 resources the official SDK can call and Quarry does not serve: each of their operations
answers 501 in the error shape, naming what is missing and what to use instead — never a 404 or a
405 that looks like a bug (docs/decisions.md, "v3: what is not served").

Each path is authenticated like every other (a request without a key is a 401 first).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path

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


def _refusal(resource: str, message: str, path: str) -> Callable[..., Any]:
    """The operation's handler: it takes the path's parameters (so that the API document describes
    them) and refuses."""

    def not_served(principal: CurrentPrincipal, **_: str) -> None:
        raise ApiError(501, message, {"resource": resource})

    parameters = [inspect.signature(not_served).parameters["principal"]]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, Path()])
        for name in re.findall(r"{(\w+)}", path)
    ]
    not_served.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return not_served


for _resource, (_message, _operations) in UNSERVED.items():
    for _method, _path in _operations:
        router.add_api_route(
            _path,
            _refusal(_resource, _message, _path),
            methods=[_method],
            status_code=501,
            response_model=None,
            summary=f"Not served by Quarry ({_resource})",
            description=_message,
            responses={501: {"description": f"Not served by Quarry: {_message}"}},
            name=f"unserved_{_resource}_{_method.lower()}_{_path.strip('/').replace('/', '_')}",
        )
