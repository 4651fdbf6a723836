"""The v2 wire form of calls and function calls.

Rendered straight into what is sent: camelCase keys, RFC 3339 strings, no ``None`` fields — so
that a listed page goes out with one JSON encoding and no model pass (``calls.schemas`` holds the
same shapes for the API reference and for validating what comes in). A call or function call is
anything with the model's attributes: an ORM object, or a row of ``CALL_COLUMNS`` /
``FUNCTION_CALL_COLUMNS`` (reads skip the ORM's cost per object).

A finished call never changes again, and the calls people watch are mostly finished ones: their
encoded form is kept (``FinishedCalls``) for as long as the signed URLs in it stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session

from quarry.calls.models import TERMINAL_STATUSES
from quarry.calls.service import with_function_calls
from quarry.lru import Lru
from quarry.providers import usage
from quarry.storage.blobs.urls import FileLinks
from quarry.wire import rfc3339, rfc3339_or_none, without_none

WireValue = dict[str, Any] | orjson.Fragment
"""A rendered call: its fields, or its JSON already encoded (``orjson.dumps`` writes both)."""


FinishedCalls = Lru[tuple[str, str, str, int], bytes]
"""The encoded wire form of finished calls (about 1.5 kB each), keyed by environment, call, base
URL and the expiry of the URLs signed now: a poll of a finished call is answered from here
without reading the database (the environment in the key keeps it from other environments)."""
FINISHED_CALLS_KEPT = 20_000


@dataclass
class Renderer:
    """Turns stored calls into their wire form; file fields become signed URLs under ``base_url``."""

    links: FileLinks
    base_url: str
    finished: FinishedCalls | None = None

    def file(self, entry: dict[str, Any]) -> dict[str, Any]:
        out = {"inputType": entry["inputType"], "s3URL": self.links.url(self.base_url, entry["blobKey"])}
        if entry.get("itemReferenceID") is not None:
            out["itemReferenceID"] = entry["itemReferenceID"]
        return out

    def function_call(self, fc: Any) -> dict[str, Any]:
        files = [self.file(entry) for entry in fc.inputs]
        single = files[0] if len(files) == 1 else {}
        return without_none(
            {
                "functionCallID": fc.id,
                "functionID": fc.function_id,
                "functionName": fc.function_name,
                "type": fc.function_type,
                "referenceID": fc.reference_id,
                "status": fc.status,
                "functionVersionNum": fc.function_version_num,
                "activity": fc.activity,
                "startedAt": rfc3339_or_none(fc.started_at),
                "finishedAt": rfc3339_or_none(fc.finished_at),
                "sourceFunctionCallID": fc.source_function_call_id,
                "sourceEventID": fc.source_event_id,
                "workflowCallID": fc.call_id,
                "inputType": single.get("inputType"),
                "s3URL": single.get("s3URL"),
                "inputs": files,
                "usage": fc.usage,
            }
        )

    def call_input(self, call: Any) -> dict[str, Any]:
        if "singleFile" in call.input:
            single = self.file(call.input["singleFile"])
            return {"singleFile": {"inputType": single["inputType"], "s3URL": single["s3URL"]}}
        return {"batchFiles": {"inputs": [self.file(e) for e in call.input["batchFiles"]["inputs"]]}}

    def call(self, call: Any, function_calls: list[Any]) -> dict[str, Any]:
        return without_none(
            {
                "callID": call.id,
                "callType": call.call_type,
                "status": call.status,
                "createdAt": rfc3339(call.created_at),
                "finishedAt": rfc3339_or_none(call.finished_at),
                "workflowID": call.workflow_id,
                "workflowName": call.workflow_name,
                "workflowVersionNum": call.workflow_version_num,
                "functionID": call.function_id,
                "functionName": call.function_name,
                "functionType": call.function_type,
                "functionVersionNum": call.function_version_num,
                "callReferenceID": call.call_reference_id,
                "functionCalls": [self.function_call(fc) for fc in function_calls],
                "input": self.call_input(call),
                "usage": usage.total(fc.usage for fc in function_calls),
            }
        )

    def kept(self, environment_id: str, call_id: str) -> orjson.Fragment | None:
        """The wire form of a finished call of this environment, if one was rendered a moment ago."""
        if self.finished is None:
            return None
        encoded = self.finished.get((environment_id, call_id, self.base_url, self.links.signer.expiry()))
        return None if encoded is None else orjson.Fragment(encoded)

    def calls(self, session: Session, calls: list[Any]) -> list[WireValue]:
        """The wire form of each call; finished ones from ``finished`` where they were rendered
        before (their function calls are not read again)."""
        out: list[WireValue | None] = [None] * len(calls)
        for i, call in enumerate(calls):
            if call.status in TERMINAL_STATUSES:
                out[i] = self.kept(call.environment_id, call.id)
        missing = [i for i, value in enumerate(out) if value is None]
        current, by_call = with_function_calls(session, [calls[i] for i in missing])
        expiry = self.links.signer.expiry()
        for i, call in zip(missing, current, strict=True):
            rendered = self.call(call, by_call[call.id])
            out[i] = rendered
            if self.finished is not None and call.status in TERMINAL_STATUSES:
                encoded = orjson.dumps(rendered)
                self.finished.put((call.environment_id, call.id, self.base_url, expiry), encoded)
                out[i] = orjson.Fragment(encoded)
        return out  # type: ignore[return-value]
