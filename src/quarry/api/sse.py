"""Server-Sent Events of call changes: the wire form of ``calls.watch.stream``.

A change is ``id: <position>``, ``event: call``, ``data: {"call": …}`` — the call as
``GET /v2/calls/{callID}`` answers. A position is the RFC 3339 instant of the change; a client
that reconnects sends its last one back (``Last-Event-ID``, as ``EventSource`` does) and gets the
changes after it. The calls of a snapshot (a stream opened without a position) carry no ``id``:
a client that loses the stream during its snapshot starts over with a fresh one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import orjson

from quarry.calls.render import Renderer
from quarry.calls.watch import Change, Closed, Ready
from quarry.errors import bad_request
from quarry.wire import parse_rfc3339, rfc3339

HEARTBEAT_SECONDS = 15.0
"""A comment at least this often: proxies keep the connection open, clients notice a dead one."""
LIFETIME_SECONDS = 15 * 60.0
"""A stream ends after this long; its client reconnects from its last event (``retry`` below)."""
RETRY_MILLISECONDS = 1000
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Content-Type": "text/event-stream"}


def position(field: str, value: str) -> datetime:
    """A position a client sent back; a 400 unless it is an RFC 3339 instant with its offset."""
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise bad_request(f"{field}: not a stream position (an event's id, an RFC 3339 instant)", field=field) from None


def _call_data(change: Change, render: Renderer) -> bytes:
    """The change's ``{"call": …}``, encoded once per rendering (many streams send the same change)."""
    key = (render.base_url, render.links.signer.expiry())
    data = change.encoded.get(key)
    if data is None:
        data = change.encoded[key] = orjson.dumps({"call": render.call(change.call, change.function_calls)})
    return data


async def events(
    changes: AsyncIterator[Change | Ready | None], render: Renderer, *, replay: bool
) -> AsyncIterator[bytes]:
    """The stream's bytes: ``retry``, the first calls (with positions when they replay changes),
    ``ready``, the changes, keep-alive comments. Ends quietly when the server stops."""
    yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
    live = replay
    try:
        async for item in changes:
            if item is None:
                yield b": keepalive\n\n"
            elif isinstance(item, Ready):
                live = True
                yield f"id: {rfc3339(item.position)}\nevent: ready\ndata: {{}}\n\n".encode()
            else:
                at = f"id: {rfc3339(item.position)}\n".encode() if live else b""
                yield at + b"event: call\ndata: " + _call_data(item, render) + b"\n\n"
    except Closed:
        return
