"""Refuse NUL characters anywhere in a request's path, query or JSON body.

PostgreSQL cannot store U+0000 in text (SQLite can): refusing it up front gives one clear 400
on both databases instead of a database error deep inside a request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ESCAPED_NUL = re.compile(rb"\\u0000")
_MESSAGE = b'{"message":"Text may not contain NUL (U+0000) characters","code":400}'


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


class RejectNulCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            await self._refuse(send)
            return
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if not content_type.startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if _json_has_nul(body):
            await self._refuse(send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_MESSAGE)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _MESSAGE})
