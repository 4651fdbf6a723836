"""``x-api-key`` authentication: every endpoint acts inside the caller's environment.

Every route of the API depends on it, so what every request of the API goes through after
authentication is here too: the rate limit, and the refusal of undeclared query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from quarry.api.deps import limiter_of, process_of
from quarry.api.errors import ApiError
from quarry.api.query import refuse_undeclared_query
from quarry.tenancy.service import Principal, authenticate

_api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="An API key of one environment.")


def current_principal(api_key: Annotated[str | None, Depends(_api_key_header)], request: Request) -> Principal:
    if not api_key:
        raise ApiError(401, "Missing API key: send it in the x-api-key header")
    process = process_of(request)
    with process.db.read() as session:
        principal = authenticate(session, api_key, process.settings.api_key)
    limiter = limiter_of(request)
    if principal is None:
        raise ApiError(401, "Invalid or revoked API key")
    if limiter is not None:
        limiter.check(api_key)
    refuse_undeclared_query(request)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
