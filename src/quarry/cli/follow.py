"""Following calls to their end: on the server's stream of call changes (``GET /v2/calls/stream``),
one connection for any number of calls, resumed from its last event when it drops; by polling
List Calls where the server has no stream (an older Quarry)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from quarry.cli.client import Client, batches
from quarry.cli.failure import Failure

TERMINAL = {"completed", "failed"}
IDS_PER_FILTER = 100
"""Up to this many calls, the stream is filtered by their IDs; beyond, by their workflow or
function (the URL stays short), and the calls of others are skipped here."""
RECONNECTS = 5
"""Streams that may drop in a row (without any event) before following gives up."""


class NoStream(Exception):
    """The server has no stream of call changes."""


def follow(client: Client, calls: list[dict[str, Any]], changed: Callable[[int], None]) -> list[dict[str, Any]]:
    """The calls (as created) once every one has finished, in the same order; ``changed`` is told
    how many have finished, each time that changes."""
    latest = {call["callID"]: call for call in calls}
    try:
        _on_stream(client, latest, changed)
    except NoStream:
        _by_polling(client, latest, changed)
    return list(latest.values())


def _unfinished(latest: dict[str, dict[str, Any]]) -> int:
    return sum(call["status"] not in TERMINAL for call in latest.values())


def _filters(calls: list[dict[str, Any]]) -> dict[str, str]:
    if len(calls) <= IDS_PER_FILTER:
        return {"callIDs": ",".join(call["callID"] for call in calls)}
    workflows = sorted({call["workflowName"] for call in calls if call.get("workflowName")})
    functions = sorted({call["functionName"] for call in calls if call.get("functionName")})
    return {"workflowNames": ",".join(workflows)} if workflows else {"functionNames": ",".join(functions)}


def _on_stream(client: Client, latest: dict[str, dict[str, Any]], changed: Callable[[int], None]) -> None:
    """Replays the changes since the first call was created (a call finished before the stream
    opened is not missed), then follows them live."""
    position = min(call["createdAt"] for call in latest.values())
    params = _filters(list(latest.values()))
    drops = 0
    while _unfinished(latest):
        try:
            for event_id, data in _events(client, params, position):
                position, drops = event_id, 0
                call = data["call"]
                if call["callID"] in latest and latest[call["callID"]]["status"] not in TERMINAL:
                    latest[call["callID"]] = call
                    changed(len(latest) - _unfinished(latest))
                if not _unfinished(latest):
                    return
        except (httpx.TransportError, httpx.DecodingError):
            pass
        drops += 1
        if drops > RECONNECTS:
            raise Failure(f"lost the stream of call changes from {client.url} {RECONNECTS} times in a row")
        time.sleep(min(0.5 * drops, 2.0))


def _events(client: Client, params: dict[str, str], position: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The ``call`` events of one connection (with a position: every event has one), as they come."""
    with client.stream("/v2/calls/stream", params, {"Last-Event-ID": position}) as response:
        if response.status_code in (404, 405):
            raise NoStream
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                if not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                continue
            if fields.get("event") == "call" and "data" in fields and "id" in fields:
                yield fields["id"], json.loads(fields["data"])
            fields = {}


def _by_polling(client: Client, latest: dict[str, dict[str, Any]], changed: Callable[[int], None]) -> None:
    pause = 0.2
    while running := [id_ for id_, call in latest.items() if call["status"] not in TERMINAL]:
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)
        for ids in batches(running, IDS_PER_FILTER):
            for call in client.get("/v2/calls", {"callIDs": list(ids), "limit": IDS_PER_FILTER})["calls"]:
                latest[call["callID"]] = call
        changed(len(latest) - _unfinished(latest))
