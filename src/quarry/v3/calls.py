"""Calls, their trace, outputs and errors: ``/v3/calls``, ``/v3/outputs``, ``/v3/errors``, and
calling a workflow: ``POST /v3/workflows/{workflowName}/call``.

The calls are v2's (the same services create, run and list them), rendered in v3's shape: the
call's outputs and errors instead of its function calls, which the trace lists.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, BeforeValidator, Field, Json, ValidationError, model_validator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, BaseUrl, Db, Links
from quarry.api.forms import form_files, form_text
from quarry.api.idempotency import Idempotency
from quarry.api.responses import json_response, wire_response
from quarry.api.submission import Submit
from quarry.calls import outputs, service
from quarry.calls.models import TERMINAL_STATUSES, Call, FunctionCall
from quarry.calls.render import Renderer
from quarry.calls.schemas import CallInput, CallInputInfo, CallStatus, FunctionCallOut, ModelUsage, ReferenceID
from quarry.calls.submission import Created
from quarry.errors import from_validation_error, invalid
from quarry.events.models import Event
from quarry.functions import service as functions
from quarry.lru import Lru
from quarry.storage.db import Database
from quarry.storage.lookup import get_in_environment
from quarry.storage.pages import PageQuery
from quarry.v3 import events
from quarry.v3.functions import FunctionTypeV3
from quarry.wire import CsvList, Timestamp, WireModel, split_csv

router = APIRouter(prefix="/v3", tags=["v3 calls"])
router.include_router(events.router)

CallType = Literal["workflow", "direct_function", "adhoc_function"]
CALL_TYPES = {"workflow": "workflow", "function": "direct_function"}
"""Quarry's call type -> v3's. Quarry has no ad hoc functions: no call is ``adhoc_function``."""

WAIT_SECONDS = 30.0
POLL_SECONDS = 0.15
METADATA_MAX_BYTES = 4096
INPUT_TYPE_ALIASES = {"jfif": "jpeg", "jpg": "jpeg"}


# --- wire shapes --------------------------------------------------------------------------------


class V3Call(WireModel):
    call_id: str
    call_type: CallType
    status: CallStatus
    created_at: Timestamp
    finished_at: Timestamp | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None
    workflow_version_num: int | None = None
    function_id: str | None = None
    function_name: str | None = None
    function_type: FunctionTypeV3 | None = None
    function_version_num: int | None = None
    call_reference_id: str | None = None
    input: CallInputInfo
    outputs: list[dict[str, Any]] = Field(description="Events that ended a branch of the call (not errors).")
    errors: list[dict[str, Any]] = Field(description="The call's error events.")
    url: str = Field(description="GET /v3/calls/{callID}, as an absolute URL.")
    trace_url: str = Field(alias="traceUrl", description="GET /v3/calls/{callID}/trace, as an absolute URL.")
    usage: ModelUsage | None = Field(None, description="Quarry: its function calls' model usage, summed.")
    metadata: dict[str, Any] | None = Field(None, description="The metadata the call was submitted with.")


class CallAnswer(WireModel):
    call: V3Call
    error: str | None = Field(None, description="Why the call failed (only when waiting for it).")


class CallsPage(WireModel):
    calls: list[V3Call]


class TraceFunctionCall(FunctionCallOut):
    """A v2 function call, with ``startedAt`` and ``referenceID`` always present (see decisions)."""

    type: FunctionTypeV3  # type: ignore[assignment]  # v3 names transform extract, route classify
    reference_id: str
    started_at: Timestamp
    incoming_destination_name: str | None = None
    source_function_call_ids: list[str] | None = Field(
        None, description="Quarry: a join's sources, every branch that fed it (sourceFunctionCallID is the first)."
    )
    source_event_ids: list[str] | None = Field(
        None, description="Quarry: the events that fed a join, one per branch (sourceEventID is the first)."
    )


class Trace(WireModel):
    function_calls: list[TraceFunctionCall]
    events: list[dict[str, Any]]


class TraceAnswer(WireModel):
    trace: Trace


class CallListQuery(PageQuery):
    call_ids: CsvList = None
    call_types: Annotated[list[CallType] | None, BeforeValidator(split_csv)] = None
    function_ids: CsvList = None
    function_names: CsvList = None
    reference_ids: CsvList = None
    reference_id_substring: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    statuses: Annotated[list[CallStatus] | None, BeforeValidator(split_csv)] = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None


def _small(metadata: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(metadata).encode()) > METADATA_MAX_BYTES:
        raise ValueError("must be at most 4 KB of JSON")
    return metadata


Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_small),
    Field(
        description="A JSON object of up to 4 KB: kept with the call, and in its outputs' transformedContent "
        "under _metadata (with the call's referenceID)."
    ),
]


class CallQuery(WireModel):
    wait: bool = Field(False, description="Answer once the call has finished, waiting up to 30 seconds.")


class CallForm(CallQuery):
    """The fields of a multipart call besides its files and ``callReferenceID``."""

    metadata: Json[Metadata] | None = None


def _input_type_aliases(value: Any) -> Any:
    """``jfif`` and ``jpg`` are ``jpeg`` (as bem normalizes them)."""
    files = []
    if isinstance(value, dict) and isinstance(call_input := value.get("input"), dict):
        files = [call_input.get("singleFile")]
        if isinstance(batch := call_input.get("batchFiles"), dict) and isinstance(batch.get("inputs"), list):
            files += batch["inputs"]
    for file in files:
        if isinstance(file, dict) and file.get("inputType") in INPUT_TYPE_ALIASES:
            file["inputType"] = INPUT_TYPE_ALIASES[file["inputType"]]
    return value


class WorkflowCallBody(WireModel):
    input: CallInput
    call_reference_id: ReferenceID | None = None
    metadata: Metadata | None = None
    bucket: str | None = Field(None, description="Where parse functions put entities; Quarry has none: ignored.")

    _aliases = model_validator(mode="before")(_input_type_aliases)


# --- rendering ----------------------------------------------------------------------------------


FinishedV3Key = tuple[str, outputs.EventsStamp, str, int]
"""A finished call, the stamp of its events, the base URL and the expiry of the URLs signed now."""
FinishedV3Calls = Lru[FinishedV3Key, bytes]
"""The encoded v3 form of finished calls (with their outputs, so a few kB each)."""
FINISHED_V3_CALLS_KEPT = 10_000


@dataclass
class CallRenderer:
    """Calls in their v3 form; file fields become signed URLs, hint URLs absolute under ``base_url``."""

    v2: Renderer
    finished: FinishedV3Calls | None = None

    def call(
        self, call: Call, results: list[Event], function_types: dict[str, str], usage: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        base = self.v2.base_url.rstrip("/")
        rendered = [
            events.render(e, function_types.get(e.function_id or ""), self.v2.links, self.v2.base_url) for e in results
        ]
        return {
            "callID": call.id,
            "callType": CALL_TYPES[call.call_type],
            "status": call.status,
            "createdAt": call.created_at,
            "finishedAt": call.finished_at,
            "workflowID": call.workflow_id,
            "workflowName": call.workflow_name,
            "workflowVersionNum": call.workflow_version_num,
            "functionID": call.function_id,
            "functionName": call.function_name,
            "functionType": function_types.get(call.function_id) if call.function_id else None,
            "functionVersionNum": call.function_version_num,
            "callReferenceID": call.call_reference_id,
            "input": self.v2.call_input(call),
            "outputs": [event for event in rendered if event["eventType"] != "error"],
            "errors": [event for event in rendered if event["eventType"] == "error"],
            "url": f"{base}/v3/calls/{call.id}",
            "traceUrl": f"{base}/v3/calls/{call.id}/trace",
            "usage": usage,
            "metadata": call.call_metadata,
        }

    def calls(self, session: Session, calls: list[Any]) -> list[dict[str, Any]]:
        by_call = outputs.of_calls(session, [call.id for call in calls])
        events_of_calls = [e for results in by_call.values() for e in results]
        types = outputs.function_types(session, events_of_calls) | functions.v3_types_of(
            session, {call.function_id for call in calls if call.function_id}
        )
        usages = service.usage_of_calls(session, [call.id for call in calls])
        return [self.call(call, by_call[call.id], types, usages[call.id]) for call in calls]

    def encoded(self, session: Session, calls: list[Any]) -> list[orjson.Fragment]:
        """Each call's wire form, encoded; finished calls from ``finished`` while their events'
        stamp is unchanged (a correction, a deleted transformation, a webhook delivery changes it)."""
        out: list[orjson.Fragment | None] = [None] * len(calls)
        keys: list[FinishedV3Key | None] = [None] * len(calls)
        if self.finished is not None:
            done = [call.id for call in calls if call.status in TERMINAL_STATUSES]
            stamps = outputs.stamps_of(session, done)
            expiry = self.v2.links.signer.expiry()
            for i, call in enumerate(calls):
                if call.status in TERMINAL_STATUSES:
                    keys[i] = (call.id, stamps[call.id], self.v2.base_url, expiry)
                    found = self.finished.get(keys[i])
                    out[i] = None if found is None else orjson.Fragment(found)
        missing = [i for i, value in enumerate(out) if value is None]
        for i, rendered in zip(missing, self.calls(session, [calls[i] for i in missing]), strict=True):
            encoded = V3Call.model_validate(rendered).model_dump_json(by_alias=True, exclude_none=True).encode()
            key = keys[i]
            if key is not None and self.finished is not None:
                self.finished.put(key, encoded)
            out[i] = orjson.Fragment(encoded)
        return out  # type: ignore[return-value]

    def function_call(
        self, fc: FunctionCall, function_type: str, incoming: str | None, sources: list[tuple[str, str]] | None = None
    ) -> dict[str, Any]:
        """``function_type``: its function's v3 type; ``sources``: of a join, every ``(function call,
        event)`` that fed it."""
        rendered = self.v2.function_call(fc)
        if sources:
            rendered["sourceFunctionCallIDs"] = [function_call_id for function_call_id, _ in sources]
            rendered["sourceEventIDs"] = [event_id for _, event_id in sources]
        rendered["type"] = function_type
        rendered["referenceID"] = fc.reference_id or ""
        rendered["startedAt"] = fc.started_at or fc.created_at
        rendered["incomingDestinationName"] = incoming
        return rendered


async def renderer(request: Request, links: Links, url: BaseUrl) -> CallRenderer:
    return CallRenderer(Renderer(links, url), request.app.state.finished_v3_calls)


Render = Annotated[CallRenderer, Depends(renderer)]


def _incoming_destinations(call: Call, function_calls: list[FunctionCall]) -> dict[str, str]:
    """The labelled edge that led to each spawned function call, where one edge (and one label)
    joins its source's function to its own."""
    function_of = {fc.id: fc.function_id for fc in function_calls}
    labels = call.plan.incoming_labels()
    incoming = {}
    for fc in function_calls:
        source = function_of.get(fc.source_function_call_id or "")
        found = labels.get((source or "", fc.function_id), set())
        if len(found) == 1:
            incoming[fc.id] = next(iter(found))
    return incoming


# --- routes -------------------------------------------------------------------------------------


@router.get("/calls", response_model=CallsPage)
def list_calls(
    principal: CurrentPrincipal, query: Annotated[CallListQuery, Query()], db: Db, render: Render
) -> Response:
    """Calls of every type, oldest first (``sortOrder=desc``: newest first); filters combine with
    AND, values within one filter with OR."""
    call_types = None
    if query.call_types is not None:
        call_types = [quarry for quarry, v3 in CALL_TYPES.items() if v3 in query.call_types]
    with db.read() as session:
        calls = service.page_of_calls(
            session, principal.environment_id, query.model_copy(update={"call_types": call_types})
        )
        return json_response({"calls": render.encoded(session, calls)})


def _call_answer(db: Database, render: CallRenderer, environment_id: str, call_id: str) -> dict[str, Any]:
    with db.read() as session:
        call = get_in_environment(session, Call, environment_id, call_id, "call")
        return render.calls(session, [call])[0]


@router.get("/calls/{callID}", response_model=CallAnswer)
def get_call(principal: CurrentPrincipal, callID: Annotated[str, Path()], db: Db, render: Render) -> Response:
    with db.read() as session:
        call = service.find_call(session, principal.environment_id, callID)
        return json_response({"call": render.encoded(session, [call])[0]})


@router.get("/calls/{callID}/trace", response_model=TraceAnswer)
def get_trace(principal: CurrentPrincipal, callID: Annotated[str, Path()], db: Db, render: Render) -> Response:
    """Every function call of the call and every event they emitted, in creation order."""
    with db.read() as session:
        call = get_in_environment(session, Call, principal.environment_id, callID, "call")
        function_calls = service.function_calls_of(session, [call])[call.id]
        emitted = outputs.events_of_call(session, call.id)
        incoming = _incoming_destinations(call, function_calls)
        joins = outputs.join_sources(session, [fc.id for fc in function_calls if fc.function_type == "join"])
        types = functions.v3_types_of(session, {fc.function_id for fc in function_calls})
        trace = {
            "functionCalls": [
                render.function_call(fc, types[fc.function_id], incoming.get(fc.id), joins.get(fc.id))
                for fc in function_calls
            ],
            "events": events.render_all(session, emitted, render.v2.links, render.v2.base_url),
        }
    return wire_response(TraceAnswer, {"trace": trace})


# The route reads its body itself (JSON or a form), so FastAPI cannot tell what it is: say it here.
CALL_WORKFLOW_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": WorkflowCallBody.model_json_schema(ref_template="#/components/schemas/{model}")},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "callReferenceID": {"type": "string", "minLength": 1, "maxLength": 256},
                    "wait": {"type": "boolean"},
                    "metadata": {"type": "string", "description": "A JSON object, as text."},
                    "bucket": {"type": "string", "description": "As in JSON: ignored."},
                },
                "additionalProperties": False,
            }
        },
    },
}


async def _read_request(
    request: Request, wait: bool, limit: int
) -> tuple[str | None, Any, bool, dict[str, Any] | None]:
    """``(callReferenceID, read_files, wait, metadata)`` of a JSON body or a multipart form."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form, files = await form_files(request, limit, ("callReferenceID", "wait", "metadata", "bucket"))
        reference = form_text(form, "callReferenceID")
        fields = {name: form[name] for name in ("wait", "metadata") if name in form}
        try:
            form_fields = CallForm.model_validate({"wait": wait} | fields)
        except ValidationError as exc:
            raise from_validation_error(exc, fields) from None
        return reference, lambda: (files, len(files) > 1), form_fields.wait, form_fields.metadata
    try:
        raw = await request.json()
    except ValueError:
        raise invalid([{"field": "body", "reason": "malformed JSON"}]) from None
    try:
        body = WorkflowCallBody.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, raw) from None
    return body.call_reference_id, lambda: service.decode_input(body.input, "input", limit), wait, body.metadata


@router.post(
    "/workflows/{workflowName}/call",
    response_model=CallAnswer,
    response_model_exclude_none=True,
    status_code=202,
    responses={
        200: {"model": CallAnswer, "description": "With `wait=true`: the call completed; its outputs are filled."},
        500: {"model": CallAnswer, "description": "With `wait=true`: the call failed; `error` says why."},
    },
    openapi_extra={"requestBody": CALL_WORKFLOW_BODY},
)
async def call_workflow(
    request: Request,
    principal: CurrentPrincipal,
    workflowName: Annotated[str, Path()],
    query: Annotated[CallQuery, Query()],
    idem: Idempotency,
    db: Db,
    settings: AppSettings,
    submit: Submit,
    render: Render,
) -> Any:
    """Call a workflow on a JSON body (base64 input) or a multipart form (``file`` or ``files``).
    202 with the pending call; with ``wait=true``, once it has finished (up to 30 seconds): 200
    when it completed, 500 with the call and ``error`` when it failed, 202 if it still runs."""
    limit = settings.max_input_bytes
    reference, read_files, wait, metadata = await _read_request(request, query.wait, limit)
    environment_id = principal.environment_id

    def build() -> service.NewCall:  # off the event loop: decoding large files takes a while
        with db.read() as session:
            new_call = service.prepare_workflow_call(session, environment_id, workflowName, reference, read_files)
        new_call.metadata = metadata
        return new_call

    new_call = await run_in_threadpool(build)

    def answer(created: Created) -> dict[str, Any]:
        return {"call": render.call(created[0][0], [], {})}

    created, response = await run_in_threadpool(submit, principal, [new_call], idem, answer)
    if not wait:
        return response
    call_id = created[0][0].id
    status = await _wait(db, call_id)
    call = await run_in_threadpool(_call_answer, db, render, environment_id, call_id)
    if status == "completed":
        return wire_response(CallAnswer, {"call": call})
    if status == "failed":
        reasons = [error["message"] for error in call["errors"]] or ["it stopped"]
        return wire_response(CallAnswer, {"call": call, "error": f"The call failed: {reasons[0]}"}, 500)
    return wire_response(CallAnswer, {"call": call}, 202)


async def _wait(db: Database, call_id: str) -> str:
    """Poll the call's status (a short read each time: no connection held meanwhile) until it is
    final or ``WAIT_SECONDS`` have passed; the last status seen."""

    def status() -> str:
        with db.read() as session:
            return service.call_status(session, call_id)

    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        seen = await run_in_threadpool(status)
        if seen in TERMINAL_STATUSES or time.monotonic() >= deadline:
            return seen
        await asyncio.sleep(POLL_SECONDS)
