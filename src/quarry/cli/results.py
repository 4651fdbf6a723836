"""What a finished call produced, read over v2: its *outputs* and *errors*, written as one
result file per input file by ``quarry calls submit --output DIR``.

v2 calls carry no results; their events do (``/v1-alpha/events?callIDs=…``). An output is a
non-error event that ended a branch of the call — not one another function call ran on (its
``eventID`` is some function call's ``sourceEventID``, or fed a join: v2 names a join's first
source only, the call's v3 trace every one) and not a split's collection, as in v3's ``outputs``;
an error is an error event. A result file (``DIR/<input file name>.json``) is::

    {
      "file": "invoices/march.pdf",          # the input file, as given
      "inputType": "pdf",
      "callID": "…", "callReferenceID": "march.pdf",
      "status": "completed",                  # or "failed"
      "outputs": [ {Event…} ],                # e.g. transformedContent of a transform event
      "errors": [ {Event…} ]                  # error events: functionName, message…
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from quarry.cli.client import Client, batches

CALLS_PER_QUERY = 50  # call IDs in one query string


def events_of(
    client: Client, call_ids: Sequence[str], event_types: list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every event of the calls (of ``event_types``, if given), oldest first, by call ID."""
    by_call: dict[str, list[dict[str, Any]]] = {}
    for ids in batches(call_ids, CALLS_PER_QUERY):
        after = None
        while True:
            params = {"callIDs": list(ids), "eventTypes": event_types, "limit": 100, "startingAfter": after}
            page = client.get("/v1-alpha/events", params)
            for event in page["events"]:
                by_call.setdefault(event["callID"], []).append(event)
            if len(page["events"]) < 100:
                break
            after = page["events"][-1]["eventID"]
    return by_call


def fed_joins(client: Client, calls: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
    """The events that fed a join, every branch, by call ID (one trace read per call with a join)."""
    fed: dict[str, set[str]] = {}
    for call in calls:
        if any(fc.get("type") == "join" for fc in call.get("functionCalls") or []):
            trace = client.get(f"/v3/calls/{quote(call['callID'], safe='')}/trace")
            fed[call["callID"]] = {e for fc in trace["trace"]["functionCalls"] for e in fc.get("sourceEventIDs") or []}
    return fed


def result(
    file: str, input_type: str, call: dict[str, Any], events: list[dict[str, Any]], fed: set[str] | None = None
) -> dict[str, Any]:
    """The result document of ``call`` made from ``file`` (see the module's docstring); ``fed``:
    the events that fed its joins (``fed_joins``)."""
    ran_on = {fc.get("sourceEventID") for fc in call.get("functionCalls") or []} | (fed or set())
    return {
        "file": file,
        "inputType": input_type,
        "callID": call["callID"],
        "callReferenceID": call.get("callReferenceID"),
        "status": call["status"],
        "outputs": [
            e for e in events if e["eventType"] not in ("error", "split_collection") and e["eventID"] not in ran_on
        ],
        "errors": [e for e in events if e["eventType"] == "error"],
    }
