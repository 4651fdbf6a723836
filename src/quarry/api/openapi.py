"""The error responses of the OpenAPI document, in one place.

FastAPI documents a 422 on every operation with parameters; Quarry never answers 422 (request
validation errors are 400s, see :mod:`quarry.api.errors`). ``install_openapi`` replaces them with
the statuses Quarry does answer, all with the one error shape (component ``Error``), derived
from each operation as FastAPI generated it from its route:

- 400 when it takes parameters or a body (validation, and NUL characters: see the RequestGuard);
- 401 and 429 when it needs an API key (it has a security requirement);
- 404 when its path names an object, and where a service looks one up by another name
  (:data:`SERVICE_ERRORS`);
- 409 where a service refuses a taken name (:data:`SERVICE_ERRORS`), and
  where it takes an ``Idempotency-Key`` (a key reused for another request);
- 413 when it takes a body (the RequestGuard's limit);
- and the statuses a route declares itself (``responses=``), given the error shape unless the
  route declares a model of its own (v3's ``wait=true`` answers a failed call with a 500 and the call).

A route that reads its body itself describes it in ``openapi_extra`` with a pydantic JSON
Schema; the ``$defs`` of such a schema become components.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI

from quarry.api.idempotency import HEADER as IDEMPOTENCY_HEADER

ERROR_REF = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "The body of every answer that is not a success.",
    "type": "object",
    "properties": {
        "message": {"type": "string", "description": "What went wrong, for a person."},
        "code": {"type": "integer", "description": "The HTTP status of the answer."},
        "details": {
            "type": "object",
            "description": "Where the problem is: for an invalid request, the first problem as `field` and "
            "`reason`, and all of them in `errors`.",
            "properties": {
                "field": {"type": "string", "description": "Path of the offending value: `routes[0].name`."},
                "reason": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
                        "required": ["field", "reason"],
                    },
                },
            },
            "additionalProperties": True,
        },
    },
    "required": ["message", "code"],
    "additionalProperties": False,
}

DESCRIPTIONS = {
    400: "Invalid request: a parameter or the body is invalid (`details` names the field)",
    401: "Missing, invalid or revoked API key (`x-api-key`)",
    404: "Not found: an object the request names does not exist in this environment",
    409: "Conflict: the name is taken, or the Idempotency-Key was used for another request",
    413: "The request body (or a file in it) is larger than the server's limit",
    429: "Too many requests with this API key; retry after `Retry-After` seconds",
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# Statuses that depend on what a service does rather than on the shape of the route.
SERVICE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/v2/functions"): (409,),
    ("PUT", "/v2/functions/{functionName}"): (409,),  # a rename to a taken name
    ("POST", "/v2/functions/copy"): (404, 409),  # the source; the target name
    ("POST", "/v2/workflows"): (409,),
    ("PATCH", "/v2/workflows/{workflowName}"): (409,),
    ("POST", "/v2/workflows/copy"): (404, 409),
    ("POST", "/v3/functions"): (409,),
    ("PATCH", "/v3/functions/{functionName}"): (409,),
    ("POST", "/v3/functions/copy"): (404, 409),
    ("POST", "/v3/workflows"): (409,),
    ("PATCH", "/v3/workflows/{workflowName}"): (409,),
    ("POST", "/v3/workflows/copy"): (404, 409),
    ("POST", "/v2/collections"): (409,),
    ("DELETE", "/v2/collections"): (404,),  # collections are named in the query
    ("GET", "/v2/collections/items"): (404,),
    ("POST", "/v2/collections/items"): (404,),
    ("PUT", "/v2/collections/items"): (404,),
    ("DELETE", "/v2/collections/items"): (404,),
    ("GET", "/v1-beta/webhook-secret"): (404,),  # none generated yet
    ("DELETE", "/v1-beta/webhook-secret"): (404,),
    ("POST", "/v3/collections"): (409,),
    ("DELETE", "/v3/collections"): (404,),
    ("GET", "/v3/collections/items"): (404,),
    ("POST", "/v3/collections/items"): (404,),
    ("PUT", "/v3/collections/items"): (404,),
    ("DELETE", "/v3/collections/items"): (404,),
    ("POST", "/v3/functions/review"): (404,),  # the function is named in the body
    ("POST", "/v3/functions/compare"): (404,),
    ("POST", "/v3/functions/regression"): (404,),
    ("POST", "/v3/functions/regression/corrections"): (404,),
    ("POST", "/v3/eval/score"): (404,),
    ("GET", "/v3/webhook-secret"): (404,),
    ("DELETE", "/v3/webhook-secret"): (404,),
}


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses of one operation of the generated document."""
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = set(SERVICE_ERRORS.get((method.upper(), path), ()))
    if parameters or has_body:
        statuses.add(400)
    if operation.get("security"):
        statuses |= {401, 429}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if has_body:
        statuses.add(413)
    if any(p.get("in") == "header" and p.get("name") == IDEMPOTENCY_HEADER for p in parameters):
        statuses.add(409)
    return statuses


def _error_response(status: int, response: dict[str, Any] | None) -> dict[str, Any]:
    documented = dict(response or {})
    documented.setdefault("description", DESCRIPTIONS.get(status, "Error"))
    documented.setdefault("content", {"application/json": {"schema": ERROR_REF}})  # unless the route gave a model
    if status == 429:
        documented["headers"] = RETRY_AFTER
    return documented


def document_errors(generated: dict[str, Any]) -> dict[str, Any]:
    """The generated document with Quarry's error responses (a copy: FastAPI shares parts of it
    with the routes, such as their ``openapi_extra``)."""
    schema = copy.deepcopy(generated)
    operations = {(m.upper(), p) for p, item in schema.get("paths", {}).items() for m in item}
    unknown = set(SERVICE_ERRORS) - operations
    if unknown:
        raise RuntimeError(f"SERVICE_ERRORS names operations the API does not have: {sorted(unknown)}")
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in error_statuses(method, path, operation):
                responses.setdefault(str(status), None)
            for status, response in list(responses.items()):
                if status[0] in "45":
                    responses[status] = _error_response(int(status), response)
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    _hoist_definitions(schema, components)
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, in that order
        if name in components and not _referenced(schema, name):
            del components[name]
    return schema


def _hoist_definitions(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Move the ``$defs`` of request body schemas given by routes to the components they refer to."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                for name, definition in media.get("schema", {}).pop("$defs", {}).items():
                    components.setdefault(name, definition)


def _referenced(schema: dict[str, Any], name: str) -> bool:
    """Whether anything in the document but the component itself refers to component ``name``."""
    ref = json.dumps(f"#/components/schemas/{name}")
    others = {k: v for k, v in schema.get("components", {}).get("schemas", {}).items() if k != name}
    return ref in json.dumps(schema.get("paths", {})) or ref in json.dumps(others)


def install_openapi(app: FastAPI) -> None:
    """Serve the document with Quarry's error responses (built once, on first use, like FastAPI's)."""

    generate = app.openapi  # FastAPI's: generates the document once and keeps it in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
