"""Reading a stream of call changes (``GET /v2/calls/stream``) the way a client does: Server-Sent
Events over a plain HTTP response, parsed line by line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.calls_client import POLL_SECONDS, TERMINAL


@dataclass
class Event:
    event: str
    data: Any
    id: str | None


class Stream:
    """An open stream; ``next()`` is its next event (comments are counted, not returned)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response, self.comments = response, 0
        self._lines = response.iter_lines()

    def next(self) -> Event:
        fields: dict[str, str] = {}
        for line in self._lines:
            if not line:
                if "data" in fields:
                    return Event(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id"))
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        pytest.fail("the stream ended")

    def until_ready(self) -> tuple[list[Event], str]:
        """The calls sent before ``ready``, and ``ready``'s position."""
        calls = []
        while (event := self.next()).event != "ready":
            assert event.event == "call", event
            calls.append(event)
        assert event.id, event
        return calls, event.id

    def until_finished(self, call_id: str) -> list[Event]:
        """The events up to the one where ``call_id`` is finished (the others included)."""
        events = []
        while True:
            event = self.next()
            assert event.event == "call", event
            events.append(event)
            if event.data["call"]["callID"] == call_id and event.data["call"]["status"] in TERMINAL:
                return events


@contextmanager
def open_stream(
    api: httpx.Client, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Iterator[Stream]:
    """The stream, open (200, ``text/event-stream``); closed when the block ends. A watchdog closes it
    if it has not ended within ``POLL_SECONDS``, so that a missing event fails the test, not hangs it."""
    with api.stream("GET", "/v2/calls/stream", params=params, headers=headers, timeout=POLL_SECONDS) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        watchdog = threading.Timer(POLL_SECONDS, response.close)
        watchdog.start()
        try:
            yield Stream(response)
        finally:
            watchdog.cancel()
