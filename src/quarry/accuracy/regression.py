"""Regression runs: the corrected inputs of one version of a function replayed against another,
as calls of their own, and the baseline's corrections carried onto what they produced.

A regression call is an ordinary call of the function at the comparison version (pinned in its
plan), made by Quarry with ``Call.origin = regression`` and the replayed event in
``Call.origin_id``: its outputs are marked ``isRegression`` and name that event in
``regressionOf`` (``calls.progress.record_event``). Its reference ID is the replayed output's.
The input replayed is the function call's own: its files (read again from the blob store) or the
JSON an upstream function handed it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.accuracy import tally, versions
from quarry.accuracy.inputs import input_of
from quarry.accuracy.tally import OUTPUT_TYPES
from quarry.calls.models import REGRESSION
from quarry.calls.service import InputFile, NewCall, with_targets
from quarry.errors import InvalidRequest, bad_request
from quarry.events.models import Event, own_outputs
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.storage.blobs import BlobStore
from quarry.transformations.service import record_correction

DEFAULT_SAMPLE = 50
MAX_SAMPLE = 1000


@dataclass
class RunRequest:
    function_name: str
    baseline_version_num: int | None = None
    comparison_version_num: int | None = None
    only_corrected_data: bool = True
    sample_size: int = DEFAULT_SAMPLE


def plan_run(
    session: Session, environment_id: str, request: RunRequest, blobs: BlobStore
) -> tuple[Function, list[NewCall], list[Event]]:
    """The calls of a regression run (not stored yet) and the outputs they replay, newest first
    (those whose input is no longer stored are left out)."""
    if not 1 <= request.sample_size <= MAX_SAMPLE:
        raise bad_request(f"sampleSize must be between 1 and {MAX_SAMPLE}", field="sampleSize")
    function = functions.get_live(session, environment_id, request.function_name)
    baseline, comparison = versions.pair(
        session, function, request.baseline_version_num, request.comparison_version_num
    )
    conditions = [
        Event.environment_id == environment_id,
        Event.function_id == function.id,
        Event.function_version_num == baseline,
        Event.event_type.in_(OUTPUT_TYPES),
        own_outputs(),
    ]
    if request.only_corrected_data:
        conditions.append(Event.labelled_at.is_not(None))
    events = list(
        session.scalars(
            sa.select(Event)
            .where(*conditions)
            .order_by(Event.created_at.desc(), Event.id.desc())
            .limit(request.sample_size)
        )
    )
    plan = with_targets(session, function.id, {function.id: comparison}, [])
    calls, replayed = [], []
    for event in events:
        files = _replayed_input(session, event, blobs)
        if not files:
            continue  # its input is gone (retention): nothing to replay
        calls.append(
            NewCall(
                "function",
                event.reference_id,
                files,
                len(files) > 1,
                function,
                plan,
                origin=REGRESSION,
                origin_id=event.id,
            )  # fmt: skip
        )
        replayed.append(event)
    return function, calls, replayed


def _replayed_input(session: Session, event: Event, blobs: BlobStore) -> list[InputFile]:
    """The output's input as files of a new call: its files read again, the JSON it was handed as
    JSON files (a join's items one by one); none when any of it is no longer stored."""
    source = input_of(session, event)
    try:
        files = [InputFile(input_type, blobs.get(key)) for input_type, key in source.files]
    except KeyError:
        return []
    return files + [InputFile("json", json.dumps(content).encode()) for content in source.json]


@dataclass
class Applied:
    applied: list[str] = field(default_factory=list)  # event IDs
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def apply_corrections(
    session: Session, environment_id: str, function_name: str, baseline: int | None, comparison: int | None
) -> Applied:
    """Copy each baseline output's correction onto the regression outputs of ``comparison`` that
    replayed it, as feedback would. When a replay made several outputs of one baseline output (a
    spreadsheet read in chunks of rows), the correction goes to the one of the same ``itemOffset``.
    Outputs already corrected are skipped, those whose baseline output lost its correction are
    errors; replays of another version's outputs are not this pair's."""
    function = functions.get_live(session, environment_id, function_name)
    baseline, comparison = versions.pair(session, function, baseline, comparison)
    replays = tally.Selection([comparison], regression=True, replaying=baseline)
    chosen = sa.select(Event).where(*tally.selected(environment_id, function.id, replays))
    outputs = list(session.scalars(chosen.order_by(Event.created_at, Event.id).with_for_update()))
    sources = {
        event.id: event
        for event in session.scalars(
            sa.select(Event).where(
                Event.environment_id == environment_id, Event.id.in_({e.body["regressionOf"] for e in outputs})
            )
        )
    }
    offsets: dict[str, set[int]] = defaultdict(set)
    for output in outputs:
        offsets[output.body["regressionOf"]].add(output.body.get("itemOffset", 0))
    answer = Applied()
    for output in outputs:
        source = sources[output.body["regressionOf"]]
        offset = source.body.get("itemOffset", 0)
        if output.labelled_at is not None:
            answer.skipped += 1
        elif source.labelled_at is None or "correctedContent" not in source.body:
            answer.errors[output.id] = f"the output it replays ({source.id}) has no correction"
        elif offset in offsets[source.id] and output.body.get("itemOffset", 0) != offset:
            answer.skipped += 1  # another chunk of the same spreadsheet: not the part this correction is of
        else:
            try:
                order_matching = bool(source.body.get("orderMatching"))
                record_correction(session, output, source.body["correctedContent"], order_matching)
            except InvalidRequest as exc:  # e.g. a route the comparison version no longer has
                answer.errors[output.id] = exc.message
                continue
            answer.applied.append(output.id)
    return answer


def run_answer(function: Function, events: list[Event], created: list[Any]) -> dict[str, Any]:
    """bem's ``RegressionRunResponse``."""
    calls = [
        {"callID": call.id, "originalReferenceID": event.reference_id or ""}
        for event, (call, _) in zip(events, created, strict=True)
    ]
    return {
        "functionName": function.name,
        "result": {"functionName": function.name, "totalSamples": len(calls), "calls": calls},
    }
