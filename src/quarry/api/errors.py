"""The one error shape of the API: ``{"message", "code", "details"?}`` for every non-2xx answer.

Client mistakes are raised as :class:`ApiError`; FastAPI's request validation errors become
400s naming the offending field; anything unexpected is logged and answered with a bare 500
that carries no stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("quarry.api")


class ApiError(Exception):
    """An error answered to the client as-is."""

    def __init__(
        self, status: int, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers


def bad_request(message: str, field: str | None = None, errors: list[dict[str, str]] | None = None) -> ApiError:
    """A 400; ``field`` names where the problem is (``calls[2].input.singleFile``)."""
    if errors is None and field is not None:
        errors = [{"field": field, "reason": message}]
    return ApiError(400, message, _details(errors) if errors else None)


def not_found(kind: str, name: str) -> ApiError:
    return ApiError(404, f"{kind} {name!r} not found")


def conflict(message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(409, message, details)


def _details(errors: list[dict[str, str]]) -> dict[str, Any]:
    """The first problem as ``field``/``reason`` (the documented example), all of them in ``errors``."""
    return {"field": errors[0]["field"], "reason": errors[0]["reason"], "errors": errors}


def _field_path(loc: tuple[Any, ...] | list[Any], body: Any) -> str:
    """``('body', 'transform', 'routes', 0, 'name')`` -> ``routes[0].name``.

    Pydantic puts the tag of a discriminated union into ``loc``; such an element is a string
    that is not a key of the document at that point (and not the last element, which may name
    a missing field), so walking the submitted body tells them apart.
    """
    parts: list[str] = []
    node = body
    for index, element in enumerate(loc):
        if index == 0 and element in ("body", "query", "path", "header"):
            continue
        if isinstance(element, int):
            parts.append(f"[{element}]")
            node = node[element] if isinstance(node, list) and element < len(node) else None
            continue
        if isinstance(node, dict) and element not in node and index < len(loc) - 1:
            continue  # a union tag
        parts.append(f".{element}" if parts else str(element))
        node = node.get(element) if isinstance(node, dict) else None
    return "".join(parts)


def _reason(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot be parsed')}"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _location(error: dict[str, Any]) -> tuple[Any, ...]:
    """Where the error is; a bad or missing union tag is an error of the tag's field (``type``)."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(error.get("ctx", {}).get("discriminator", "")).strip("'\""),)
    return loc


def validation_errors(errors: list[dict[str, Any]], body: Any = None) -> list[dict[str, str]]:
    return [{"field": _field_path(_location(e), body) or "body", "reason": _reason(e)} for e in errors]


def invalid(errors: list[dict[str, str]]) -> ApiError:
    first = errors[0]
    suffix = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ApiError(400, f"Invalid request: {first['field']}: {first['reason']}{suffix}", _details(errors))


def from_validation_error(exc: ValidationError, body: Any, prefix: str = "") -> ApiError:
    """Turn a pydantic error raised while validating part of a request into a 400."""
    errors = validation_errors(exc.errors(), body)
    if prefix:
        for error in errors:
            error["field"] = prefix if error["field"] == "body" else f"{prefix}.{error['field']}"
    return invalid(errors)


def _response(
    status: int, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    content: dict[str, Any] = {"message": message, "code": status}
    if details:
        content["details"] = details
    return JSONResponse(content, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc.status, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = invalid(validation_errors(list(exc.errors()), exc.body))
        return _response(error.status, error.message, error.details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint"
        return _response(exc.status_code, message)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        # a value the database refuses (out of range, unstorable text) slipped past validation:
        # still the client's value, so a 400 — and logged, because validation should have caught it
        log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc.orig)
        return _response(400, "A value in the request cannot be stored")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(500, "Internal server error")
