"""The one error shape of the API: ``{"message", "code", "details"?}`` for every non-2xx answer.

Services raise the domain's errors (:mod:`quarry.errors`), mapped to a status here; the HTTP
layer's own refusals (a missing key, a body over the limit, a rate limit) are :class:`ApiError`.
FastAPI's request validation errors become 400s naming the offending field; anything unexpected
is logged and answered with a bare 500 that carries no stack trace.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from quarry.errors import Conflict, InvalidRequest, NotFound, QuarryError, TooLarge, invalid, validation_errors

log = logging.getLogger("quarry.api")

STATUS: dict[type[QuarryError], int] = {InvalidRequest: 400, NotFound: 404, Conflict: 409, TooLarge: 413}


def status_of(error: QuarryError) -> int:
    return next(status for kind, status in STATUS.items() if isinstance(error, kind))


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

    @app.exception_handler(QuarryError)
    async def _domain_error(_request: Request, exc: QuarryError) -> JSONResponse:
        return _response(status_of(exc), exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        error = invalid(validation_errors(list(exc.errors()), exc.body))
        return _response(400, error.message, error.details)

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
