"""``Server-Timing: app;dur=<ms>`` on every response: how long the server worked on the request.

Operators read it in browser tools and logs; ``bench/`` reads it to measure latency in the server,
without the client's or the network's share. The same figure goes to the request metrics
(``quarry.metrics``), by route template: a path that matched no route counts as ``unmatched``, so
that clients cannot make up series.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quarry.metrics import HTTP_DURATION, HTTP_REQUESTS


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seconds = time.perf_counter() - started
                message["headers"] = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={seconds * 1000:.2f}".encode()),
                ]
                route = getattr(scope.get("route"), "path", "unmatched")
                HTTP_REQUESTS.labels(scope["method"], route, str(message["status"])).inc()
                HTTP_DURATION.labels(scope["method"], route).observe(seconds)
            await send(message)

        await self.app(scope, receive, timed_send)
