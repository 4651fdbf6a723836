"""HTTP routes of calls: ``/v2/calls`` and the direct function calls under ``/v2/functions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BeforeValidator, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from quarry.api.auth import CurrentPrincipal
from quarry.api.files import base_url
from quarry.api.idempotency import Idempotency, IdempotencyKey
from quarry.api.lookup import get_in_environment
from quarry.api.models import CsvList, split_csv, wire_response
from quarry.api.pagination import PageQuery
from quarry.calls import service
from quarry.calls.models import Call, FunctionCall
from quarry.calls.schemas import (
    CallEnvelope,
    CallList,
    CallsCreate,
    CallsCreated,
    CallStatus,
    FunctionCallArgument,
    FunctionCallOut,
    FunctionCallRequest,
    FunctionCallsCreated,
)
from quarry.calls.service import InputFile, NewCall
from quarry.documents.input_types import input_type_for
from quarry.errors import from_validation_error, invalid

router = APIRouter(tags=["calls"])


class CallListQuery(PageQuery):
    call_ids: CsvList = None
    reference_ids: CsvList = None
    reference_id_substring: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    call_types: Annotated[
        list[Annotated[str, Field(pattern="^(workflow|function)$")]] | None, BeforeValidator(split_csv)
    ] = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None
    function_ids: CsvList = None
    function_names: CsvList = None
    statuses: Annotated[list[CallStatus] | None, BeforeValidator(split_csv)] = Field(
        None, description="Quarry extension (as in bem v3): pending, running, completed, failed."
    )


def renderer(request: Request) -> service.Renderer:
    return service.Renderer(request.app.state.links, base_url(request))


def _submit(
    request: Request,
    principal: Any,
    new_calls: list[NewCall],
    idem: IdempotencyKey,
    answer: Callable[[list[tuple[Call, list[FunctionCall]]]], dict[str, Any]],
) -> dict[str, Any] | Response:
    """Store the files, record the calls (and the idempotency key) in one transaction, then hand
    them to the engine (a call recorded but not enqueued, e.g. by a crash just now, is picked up by
    the engine's sweeper). ``answer`` renders the created calls as the response: inside the
    transaction when the answer is recorded with them, else after it (no lock held meanwhile)."""
    staged = service.stage_files(principal.environment_id, new_calls, request.app.state.blobs)
    recorded = None
    with idem.write() as session:
        created = service.record_calls(session, principal, new_calls, staged)
        if idem.key is not None:
            recorded = idem.respond(session, answer(created))
    request.app.state.engine.enqueue_calls([call.id for call, _ in created])
    return answer(created) if recorded is None else recorded


@router.post("/v2/calls", response_model=CallsCreated, response_model_exclude_none=True)
def create_calls(
    request: Request, principal: CurrentPrincipal, body: CallsCreate, idem: Idempotency
) -> dict[str, Any] | Response:
    """Call workflows or functions, in a batch. Every item is validated before any is created;
    the calls are answered as created (``pending``) and run in the background."""
    with request.app.state.db.read() as session:
        limit = request.app.state.settings.max_input_bytes
        new_calls = service.prepare_calls(session, principal.environment_id, body.calls, limit)
    render = renderer(request)
    return _submit(
        request, principal, new_calls, idem, lambda created: {"calls": [render.call(c, roots) for c, roots in created]}
    )


@router.get("/v2/calls", response_model=CallList, response_model_exclude_none=True)
def list_calls(request: Request, principal: CurrentPrincipal, query: Annotated[CallListQuery, Query()]) -> Response:
    """List calls, newest last (``sortOrder=desc`` for newest first); filters combine with AND,
    values within one filter with OR."""
    with request.app.state.db.read() as session:
        calls, total = service.list_calls(session, request.app.state.db, principal.environment_id, query)
        content = {"calls": renderer(request).calls(session, calls), "totalCount": total}
    return wire_response(CallList, content)


@router.get("/v2/calls/{callID}", response_model=CallEnvelope, response_model_exclude_none=True)
def get_call(request: Request, principal: CurrentPrincipal, callID: Annotated[str, Path()]) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        call = get_in_environment(session, Call, principal.environment_id, callID, "call")
        return {"call": renderer(request).calls(session, [call])[0]}


@router.get("/v2/functions/calls/{functionCallID}", response_model=FunctionCallOut, response_model_exclude_none=True)
def get_function_call(
    request: Request, principal: CurrentPrincipal, functionCallID: Annotated[str, Path()]
) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        fc = get_in_environment(session, FunctionCall, principal.environment_id, functionCallID, "function call")
        return renderer(request).function_call(fc)


def _input_type_of(filename: str | None, content_type: str | None, field_name: str) -> str:
    input_type = input_type_for(filename, content_type)
    if input_type is not None:
        return input_type
    media = (content_type or "").split(";")[0].strip().lower()
    raise invalid(
        [
            {
                "field": field_name,
                "reason": f"cannot tell the input type of {filename!r} ({media or 'no content type'}); "
                "name the file with its extension (.pdf, .eml, .png, …)",
            }
        ]
    )


def _argument_files(argument: FunctionCallArgument, index: int, max_bytes: int) -> list[InputFile]:
    if argument.inputs is None:
        return [service.decode_file(argument, f"arguments[{index}]", max_bytes)]
    return [
        service.decode_file(file, f"arguments[{index}].inputs[{j}]", max_bytes, file.item_reference_id)
        for j, file in enumerate(argument.inputs)
    ]


async def _form_argument(request: Request, max_bytes: int) -> tuple[str, list[InputFile]]:
    """The one argument a multipart form makes: ``referenceID`` and the ``file`` or ``files``."""
    form = await request.form(max_part_size=max_bytes + 1)
    files = []
    for name in ("file", "files"):
        for index, upload in enumerate(form.getlist(name)):
            if isinstance(upload, str):
                raise invalid([{"field": name, "reason": "must be a file"}])
            data = await upload.read()
            path = name if name == "file" else f"files[{index}]"
            if len(data) > max_bytes:
                raise service.PayloadTooLarge(path, max_bytes)
            files.append(InputFile(_input_type_of(upload.filename, upload.content_type, path), data, None, path))
    if not files:
        raise invalid([{"field": "file", "reason": "send the document as 'file' (or several as 'files')"}])
    reference = form.get("referenceID")
    if not isinstance(reference, str) or not 1 <= len(reference) <= 256 or "\x00" in reference:
        raise invalid([{"field": "referenceID", "reason": "a referenceID of 1 to 256 characters (no NUL) is required"}])
    return reference, files


# The route reads its body itself (JSON or a form), so FastAPI cannot tell what it is: say it here.
CALL_FUNCTION_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": FunctionCallRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "referenceID": {"type": "string", "minLength": 1, "maxLength": 256},
                    "file": {"type": "string", "format": "binary"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
                "required": ["referenceID"],
            }
        },
    },
}


@router.post(
    "/v2/functions/{functionName}/call",
    response_model=FunctionCallsCreated,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": CALL_FUNCTION_BODY},
)
async def call_function(
    request: Request, principal: CurrentPrincipal, functionName: str, idem: Idempotency
) -> dict[str, Any] | Response:
    """Call one function directly: JSON ``{"arguments": [...]}`` or a multipart form with
    ``referenceID`` and ``file`` (or repeated ``files``). One call per argument."""
    limit = request.app.state.settings.max_input_bytes
    form_argument = None
    parsed: list[FunctionCallArgument] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form_argument = await _form_argument(request, limit)
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise invalid([{"field": "body", "reason": "malformed JSON"}]) from None
        try:
            parsed = FunctionCallRequest.model_validate(raw).arguments
        except ValidationError as exc:
            raise from_validation_error(exc, raw) from None

    def build() -> list[NewCall]:  # off the event loop: decoding large files takes a while
        if form_argument is not None:
            arguments = [form_argument]
        else:
            arguments = [(arg.reference_id, _argument_files(arg, i, limit)) for i, arg in enumerate(parsed)]
        with request.app.state.db.read() as session:
            return service.prepare_function_calls(session, principal.environment_id, functionName, arguments)

    new_calls = await run_in_threadpool(build)
    render = renderer(request)

    def answer(created: list[tuple[Call, list[FunctionCall]]]) -> dict[str, Any]:
        return {"functionCalls": [render.function_call(fc) for _, roots in created for fc in roots]}

    return await run_in_threadpool(_submit, request, principal, new_calls, idem, answer)
