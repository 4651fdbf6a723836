"""``x-api-key`` authentication: every endpoint acts inside the caller's environment.

Every route of the API depends on it, so what every request of the API goes through after
authentication is here too: the rate limit, and the refusal of undeclared query parameters.

A client that polls sends the same key every second: a key checked in the database is trusted
for ``QUARRY_API_KEY_CACHE_SECONDS`` (``CheckedKeys``), and a request with such a key is
authenticated on the event loop, without the database and without a hop to the thread pool.
The price is that a revoked key keeps working that long on the processes that checked it.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from quarry.api.deps import limiter_of, process_of
from quarry.api.errors import ApiError
from quarry.api.query import refuse_undeclared_query
from quarry.bootstrap import Process
from quarry.lru import Lru
from quarry.tenancy.service import Principal, authenticate, hash_key

_api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="An API key of one environment.")

CHECKED_KEYS_KEPT = 10_000


class CheckedKeys:
    """The principal of each API key found valid in the last ``seconds`` (none when 0). Keys that
    were refused are not kept: each costs a database look-up, as a key a client mistyped should."""

    def __init__(self, seconds: float, size: int = CHECKED_KEYS_KEPT) -> None:
        self.seconds = seconds
        self._found: Lru[str, tuple[Principal, float]] = Lru(size)  # by the key's hash: the secret is not kept

    def get(self, api_key: str) -> Principal | None:
        found = self._found.get(hash_key(api_key))
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def put(self, api_key: str, principal: Principal) -> None:
        if self.seconds > 0:
            self._found.put(hash_key(api_key), (principal, time.monotonic() + self.seconds))


def checked_keys_of(request: Request) -> CheckedKeys:
    return request.app.state.checked_keys  # type: ignore[no-any-return]


async def current_principal(api_key: Annotated[str | None, Depends(_api_key_header)], request: Request) -> Principal:
    if not api_key:
        raise ApiError(401, "Missing API key: send it in the x-api-key header")
    checked = checked_keys_of(request)
    principal = checked.get(api_key)
    if principal is None:
        principal = await run_in_threadpool(_look_up, process_of(request), api_key)
        if principal is None:
            raise ApiError(401, "Invalid or revoked API key")
        checked.put(api_key, principal)
    limiter = limiter_of(request)
    if limiter is not None:
        limiter.check(api_key)
    refuse_undeclared_query(request)
    return principal


def _look_up(process: Process, api_key: str) -> Principal | None:
    with process.db.read() as session:
        return authenticate(session, api_key, process.settings.api_key)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
