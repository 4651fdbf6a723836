"""HTTP endpoints on 127.0.0.1 that Quarry talks to over the wire as to real ones: a model provider,
an embeddings API, a webhook receiver.

Each is a ``LocalEndpoint``: a threading HTTP server in this process whose subclass decides how to
answer a POST (``answer``, or ``handle`` to act after the reply is sent). The server, its thread
and the wire format are written once here; what a fake records and replies is its own.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or hanging endpoint)
    content_type: str | None = "application/json"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # the JSON sent, or the bytes when they are no JSON
    raw: bytes = field(default=b"", repr=False)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A chat completion request's messages."""
        return self.body["messages"]

    @property
    def user_content(self) -> Any:
        """The content of a chat completion request's user message (among its first two)."""
        [user] = [m for m in self.messages[:2] if m["role"] == "user"]
        return user["content"]


class LocalEndpoint:
    """A local HTTP server answering POSTs, one thread per request, on a free port; ``url`` is its
    base URL (plus ``path``). ``backlog``: connections waiting to be accepted (hundreds that
    connect at once need more than the default 5, or SYNs are dropped)."""

    def __init__(self, path: str = "", backlog: int = 5) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                headers = {k.lower(): v for k, v in self.headers.items()}
                endpoint.handle(Received("POST", self.path, headers, body, raw), self.send)

            def send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = backlog

            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # else a client that gave up
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def handle(self, request: Received, send: Callable[[Reply], None]) -> None:
        """Answer ``request`` by calling ``send`` once (on the request's own thread)."""
        send(self.answer(request))

    def answer(self, request: Received) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
