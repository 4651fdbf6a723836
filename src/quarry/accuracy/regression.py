"""Regression runs: the corrected inputs of one version of a function replayed against another,
as calls of their own, and the baseline's corrections carried onto what they produced.

A regression call is an ordinary call of the function at the comparison version (pinned in its
plan), made by Quarry with ``Call.origin = regression`` and the replayed event in
``origin_event_id``: its outputs are marked ``isRegression`` and name that event in
``regressionOf`` (``calls.progress.record_event``). Its reference ID is the replayed output's.
The input replayed is the function call's own: its files (read again from the blob store) or the
JSON an upstream function handed it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.accuracy.tally import OUTPUT_TYPES
from quarry.calls.models import REGRESSION, FunctionCall
from quarry.calls.service import InputFile, NewCall, with_targets
from quarry.errors import InvalidRequest, bad_request
from quarry.events.models import Event, regression_filter
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


@dataclass
class Replay:
    event: Event
    files: list[InputFile]


def versions(session: Session, function: Function, baseline: int | None, comparison: int | None) -> tuple[int, int]:
    """(baseline, comparison): by default the previous and the current version; both must exist and differ."""
    comparison = function.current_version_num if comparison is None else comparison
    baseline = function.current_version_num - 1 if baseline is None else baseline
    for number, name in ((baseline, "baselineVersionNum"), (comparison, "comparisonVersionNum")):
        if number < 1 or functions.get_version(session, function, number) is None:
            raise bad_request(
                f"function {function.name!r} has no version {number} (its current version is "
                f"{function.current_version_num})",
                field=name,
            )
    if baseline == comparison:
        raise bad_request("baselineVersionNum and comparisonVersionNum must differ", field="comparisonVersionNum")
    return baseline, comparison


def plan_run(
    session: Session, environment_id: str, request: RunRequest, blobs: BlobStore
) -> tuple[Function, list[NewCall], list[Event]]:
    """The calls of a regression run (not stored yet) and the outputs they replay, newest first."""
    if not 1 <= request.sample_size <= MAX_SAMPLE:
        raise bad_request(f"sampleSize must be between 1 and {MAX_SAMPLE}", field="sampleSize")
    function = functions.get_live(session, environment_id, request.function_name)
    baseline, comparison = versions(session, function, request.baseline_version_num, request.comparison_version_num)
    conditions = [
        Event.environment_id == environment_id,
        Event.function_id == function.id,
        Event.function_version_num == baseline,
        Event.event_type.in_(OUTPUT_TYPES),
        regression_filter(False),
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
    calls = []
    for event in events:
        files = _input_of(session, event, blobs)
        calls.append(
            NewCall(
                "function",
                event.reference_id,
                files,
                len(files) > 1,
                function,
                plan,
                origin=REGRESSION,
                origin_event_id=event.id,
            )  # fmt: skip
        )
    return function, calls, events


def _input_of(session: Session, event: Event, blobs: BlobStore) -> list[InputFile]:
    """What the function call that made ``event`` read: its files (a transform of one item of a
    batch: that item's), or the JSON it was handed."""
    fc = session.get(FunctionCall, event.function_call_id) if event.function_call_id else None
    if fc is None:
        raise bad_request(f"the input of output {event.id!r} is no longer stored", field="functionName")
    own = event.body.get("s3BlobKey")
    files = []
    for entry in fc.inputs:
        if own is not None and entry["blobKey"] != own:
            continue
        try:
            files.append(InputFile(entry["inputType"], blobs.get(entry["blobKey"])))
        except KeyError:
            raise bad_request(f"the input of output {event.id!r} is no longer stored", field="functionName") from None
    if not files and fc.payload is not None:
        files.append(InputFile("json", json.dumps(fc.payload).encode()))
    return files


@dataclass
class Applied:
    applied: list[str] = field(default_factory=list)  # event IDs
    skipped: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def apply_corrections(
    session: Session, environment_id: str, function_name: str, baseline: int | None, comparison: int | None
) -> Applied:
    """Copy each baseline output's correction onto the regression outputs of ``comparison`` that
    replayed it, as feedback would — onto the one of the same ``itemOffset`` when a replay made
    several (a spreadsheet read in chunks of rows); outputs already corrected are skipped, those
    whose baseline output lost its correction or is gone are errors."""
    function = functions.get_live(session, environment_id, function_name)
    baseline, comparison = versions(session, function, baseline, comparison)
    regression_outputs = list(
        session.scalars(
            sa.select(Event)
            .where(
                Event.environment_id == environment_id,
                Event.function_id == function.id,
                Event.function_version_num == comparison,
                Event.event_type.in_(OUTPUT_TYPES),
                regression_filter(True),
            )
            .order_by(Event.created_at, Event.id)
            .with_for_update()
        )
    )
    sources = {
        event.id: event
        for event in session.scalars(
            sa.select(Event).where(
                Event.environment_id == environment_id,
                Event.function_version_num == baseline,
                Event.id.in_([e.body.get("regressionOf") for e in regression_outputs]),
            )
        )
    }
    replays = Counter(e.body.get("regressionOf") for e in regression_outputs)
    answer = Applied()
    for output in regression_outputs:
        if output.labelled_at is not None:
            answer.skipped += 1
            continue
        source = sources.get(output.body.get("regressionOf") or "")
        if source is None:
            answer.errors[output.id] = (
                f"the output it replays ({output.body.get('regressionOf')}) is not an output of version {baseline}"
            )
        elif source.labelled_at is None or "correctedContent" not in source.body:
            answer.errors[output.id] = f"the output it replays ({source.id}) has no correction"
        elif replays[source.id] > 1 and source.body.get("itemOffset", 0) != output.body.get("itemOffset", 0):
            answer.skipped += 1  # another chunk of the same spreadsheet: not the part this correction is of
        else:
            try:
                record_correction(
                    session, output, source.body["correctedContent"], bool(source.body.get("orderMatching"))
                )
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
