"""What an output was made from, as an evaluation reads it again and a regression replays it: the
files its function call read (its own file only, for one item of a batch) and the JSON upstream
functions handed it (a join's items one by one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from quarry.calls.models import FunctionCall
from quarry.events.models import Event


@dataclass
class OutputInput:
    files: list[tuple[str, str]] = field(default_factory=list)  # (inputType, blobKey)
    json: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.files and not self.json


def input_of(session: Session, event: Event) -> OutputInput:
    """The input of the function call that made ``event`` (empty once the call is gone)."""
    fc = session.get(FunctionCall, event.function_call_id) if event.function_call_id else None
    if fc is None:
        return OutputInput()
    own = event.body.get("s3BlobKey")
    files = [(e["inputType"], e["blobKey"]) for e in fc.inputs if own is None or e["blobKey"] == own]
    payload = fc.payload
    items = payload.get("items") if event.event_type == "join" and isinstance(payload, dict) else None
    if isinstance(items, list):
        json = [item.get("content") for item in items if isinstance(item, dict) and item.get("content") is not None]
    else:
        json = [] if payload is None else [payload]
    return OutputInput(files, json)
