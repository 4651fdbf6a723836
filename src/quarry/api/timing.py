"""``Server-Timing: app;dur=<ms>`` on every response: how long the server worked on the request.

Operators read it in browser tools and logs; ``bench/`` reads it to measure latency in the server,
without the client's or the network's share.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
                duration = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={duration:.2f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, timed_send)
