"""Checks on every request before it reaches a route: its size, and NUL characters.

- A body larger than the limit is a 413 (announced by ``Content-Length``, or found while reading).
- NUL (U+0000) in the path, the query or a body that parses as JSON (whatever its declared
  content type: some routes read JSON regardless) is a 400: PostgreSQL cannot store it in text
  (SQLite can), and both databases must behave alike. Multipart bodies stream through; their
  text fields are checked where they are read.
Both answers use the API's error shape.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.api.errors import ApiError

_ESCAPED_NUL = re.compile(rb"\\u0000")


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


def _json_has_nul(body: bytes) -> bool:
    if not _ESCAPED_NUL.search(body):  # fast path: no escaped NUL at all
        return False
    try:
        return _contains_nul(json.loads(body))
    except ValueError:
        return False  # malformed JSON is reported by the normal validation


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self) -> ApiError:
        return ApiError(413, f"The request body is larger than {self.max_body_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await _answer(send, ApiError(400, "Text may not contain NUL (U+0000) characters"))
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await _answer(send, self._too_large())
            return
        if headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            await self.app(scope, self._counting(receive), send)  # files stream; form fields are checked by the route
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _answer(send, self._too_large())
                return
            if not message.get("more_body", False):
                break
        if _json_has_nul(body):
            await _answer(send, ApiError(400, "Text may not contain NUL (U+0000) characters"))
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _counting(self, receive: Receive) -> Receive:
        """``receive`` that fails with a 413 once more than the limit has arrived (chunked uploads)."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise self._too_large()
            return message

        return counted


async def _answer(send: Send, error: ApiError) -> None:
    body = json.dumps({"message": error.message, "code": error.status}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
