"""Submitting, reading and listing calls.

Submission validates every item before anything is stored (one bad item: nothing created),
stores the input files, then records each call with its plan — the workflow or function
versions it runs, pinned now — and its root function calls, all in one transaction. Running
them is the engine's business.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry import tracing
from quarry.calls import counts, search
from quarry.calls.models import TERMINAL_STATUSES, Call, FunctionCall
from quarry.calls.plan import EVERY_ITEM, Plan
from quarry.documents.input_types import MEDIA_TYPES
from quarry.errors import TooLarge, invalid, not_found
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.functions.service import get_live
from quarry.ids import new_id
from quarry.providers import usage
from quarry.storage.base import utcnow
from quarry.storage.blobs import BlobStore
from quarry.storage.db import Database
from quarry.storage.pages import creation_page
from quarry.tenancy.service import Principal
from quarry.workflows import service as workflows
from quarry.workflows.models import Workflow, WorkflowVersion

JSON_ONLY_TYPES = frozenset({"payload_shaping", "enrich"})
"""Function types whose input is JSON, never a document."""

_DATA_URL = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


@dataclass
class InputFile:
    input_type: str
    data: bytes
    item_reference_id: str | None = None
    type_field: str = "inputType"  # where the client gave the input type, for error messages


@dataclass
class NewCall:
    """One validated call, ready to store."""

    call_type: str
    reference_id: str | None
    files: list[InputFile]
    batch: bool
    function: Function
    plan: Plan
    workflow: Workflow | None = None
    workflow_version: WorkflowVersion | None = None
    origin: str | None = None  # a call Quarry makes itself: ``Call.origin``
    origin_id: str | None = None
    metadata: dict[str, Any] | None = None  # v3's call metadata (``Call.call_metadata``)
    inbound_email: dict[str, str] | None = None  # the mail that started it (``Call.inbound_email``)


class PayloadTooLarge(TooLarge):
    def __init__(self, field_name: str, limit: int) -> None:
        reason = f"the file is larger than the limit of {limit} bytes"
        super().__init__(f"{field_name}: {reason}", {"field": field_name, "reason": reason})


def decode_content(content: str, field_name: str, max_bytes: int) -> bytes:
    """Standard base64 (padding required, no line breaks), optionally as a ``data:`` URL."""
    payload = _DATA_URL.sub("", content, count=1)
    if len(payload) // 4 * 3 > max_bytes + 2:
        raise PayloadTooLarge(field_name, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(
            [{"field": field_name, "reason": "not valid base64 (RFC 4648, padded, no line breaks)"}]
        ) from None
    if len(data) > max_bytes:
        raise PayloadTooLarge(field_name, max_bytes)
    return data


# --- targets ----------------------------------------------------------------------------------


def function_target(session: Session, function: Function) -> Plan:
    """The plan of a call of one function: its current version (and the targets it names)."""
    return with_targets(session, function.id, {function.id: function.current_version_num}, [])


def with_targets(
    session: Session,
    main: str,
    versions: dict[str, int],
    edges: list[dict[str, Any]],
    reviews: dict[str, dict[str, Any]] | None = None,
) -> Plan:
    """The plan of these function versions and edges, with the route and split targets named in
    its functions pinned, transitively (``Plan.targets``). They run where the workflow has no
    edge for a branch."""
    targets: dict[str, dict[str, str]] = {}
    pending = list(versions.items())
    while pending:
        function_id, version_num = pending.pop()
        function = functions.by_id(session, function_id)
        config = functions.config_of(session, function_id, version_num)
        for ref in functions.target_references(function.type, config):
            target = functions.find_target(session, function.environment_id, ref)
            if target is None:
                continue  # deleted since: that branch ends here
            targets.setdefault(function_id, {})[ref.holder.get("name", EVERY_ITEM)] = target.id
            if target.id not in versions:
                versions[target.id] = target.current_version_num
                pending.append((target.id, target.current_version_num))
    return Plan(main, versions, edges, targets, reviews or {})


def resolve_target(session: Session, environment_id: str, *, field_prefix: str, **target: str | None) -> Target:
    """``(callType, main function, plan, workflow, workflow version)`` for one of
    ``workflow_id``, ``workflow_name``, ``function_id``, ``function_name``; 400 if it does not exist."""
    key, value = next((k, v) for k, v in target.items() if v is not None)
    wire = {"workflow_id": "workflowID", "workflow_name": "workflowName", "function_id": "functionID",
            "function_name": "functionName"}[key]  # fmt: skip
    field_name = f"{field_prefix}{wire}"
    if key.startswith("function"):
        function = functions.find_live(
            session, environment_id, target.get("function_name"), id=target.get("function_id")
        )
        if function is None:
            raise invalid([{"field": field_name, "reason": f"no function {value!r} in this environment"}])
        return "function", function, function_target(session, function), None, None
    found = workflows.runnable(session, environment_id, id=target.get("workflow_id"), name=target.get("workflow_name"))
    if found is None:
        raise invalid([{"field": field_name, "reason": f"no workflow {value!r} in this environment"}])
    version = found.version
    return (
        "workflow",
        functions.by_id(session, version.main_function_id),
        with_targets(session, version.main_function_id, found.versions, version.relationships, found.reviews),
        found.workflow,
        version,
    )


def email_target(session: Session, address: str) -> Target | None:
    """What mail to ``address`` runs: the live function or workflow it is the inbound address of."""
    function = functions.with_email_address(session, address)
    if function is not None:
        return resolve_target(session, function.environment_id, field_prefix="", function_id=function.id)
    workflow = workflows.with_email_address(session, address)
    if workflow is not None:
        return resolve_target(session, workflow.environment_id, field_prefix="", workflow_id=workflow.id)
    return None


def started_by_mail(session: Session, environment_id: str, reference_id: str, target: Target) -> bool:
    """Whether a mail with this Message-ID (``reference_id``) has already started a call of
    ``target``: a message delivered again (its sender missed the answer) starts nothing more."""
    call_type, function, _, workflow, _ = target
    runs = Call.workflow_id == workflow.id if workflow is not None else Call.function_id == function.id
    stmt = sa.select(Call.id).where(
        Call.environment_id == environment_id,
        Call.call_reference_id == reference_id,
        Call.call_type == call_type,
        Call.inbound_email.is_not(None),
        runs,
    )
    return session.scalars(stmt.limit(1)).first() is not None


def check_input_types(function: Function, files: list[InputFile]) -> None:
    if function.type in JSON_ONLY_TYPES:
        for file in files:
            if file.input_type != "json":
                reason = f"a {function.type} function takes JSON input, not {file.input_type!r}"
                raise invalid([{"field": file.type_field, "reason": reason}])


def decode_file(source: Any, path: str, max_bytes: int, item_reference_id: str | None = None) -> InputFile:
    """A file given in JSON (``inputType`` and base64 ``inputContent``) at ``path`` of the request."""
    data = decode_content(source.input_content, f"{path}.inputContent", max_bytes)
    return InputFile(source.input_type, data, item_reference_id, f"{path}.inputType")


def decode_input(call_input: Any, path: str, max_bytes: int) -> tuple[list[InputFile], bool]:
    """The files of a call's JSON ``input`` (``singleFile`` or ``batchFiles``) at ``path``, and
    whether they came as a batch."""
    batch = call_input.batch_files
    if batch is None:
        return [decode_file(call_input.single_file, f"{path}.singleFile", max_bytes)], False
    files = [
        decode_file(file, f"{path}.batchFiles.inputs[{j}]", max_bytes, file.item_reference_id)
        for j, file in enumerate(batch.inputs)
    ]
    return files, True


Target = tuple[str, Function, Plan, Workflow | None, WorkflowVersion | None]
"""What a call runs: ``resolve_target``'s answer."""


def prepare_call(
    reference_id: str | None, read_files: Callable[[], tuple[list[InputFile], bool]], target: Target
) -> NewCall:
    """One call of ``target``, validated; ``read_files`` gives its files and whether they are a
    batch (read once the target is known to exist)."""
    call_type, function, plan, workflow, version = target
    files, batch = read_files()
    check_input_types(function, files)
    return NewCall(call_type, reference_id, files, batch, function, plan, workflow, version)


def prepare_workflow_call(
    session: Session,
    environment_id: str,
    workflow_name: str,
    reference_id: str | None,
    read_files: Callable[[], tuple[list[InputFile], bool]],
) -> NewCall:
    """One call of the workflow named in the path (a 404 when there is none), validated."""
    found = workflows.runnable(session, environment_id, name=workflow_name)
    if found is None:
        raise not_found("workflow", workflow_name)
    return prepare_call(
        reference_id,
        read_files,
        resolve_target(session, environment_id, field_prefix="", workflow_id=found.workflow.id),
    )


def call_status(session: Session, call_id: str) -> str:
    return session.scalars(sa.select(Call.status).where(Call.id == call_id)).one()


def prepare_calls(session: Session, environment_id: str, items: list[Any], max_bytes: int) -> list[NewCall]:
    """Validate every item of ``POST /v2/calls`` (400/413 at the first problem) before anything is
    stored. Each target is resolved once per batch (a batch mostly calls one workflow)."""
    targets: dict[tuple[str | None, ...], Target] = {}
    new_calls = []
    for i, item in enumerate(items):
        prefix = f"calls[{i}]."
        names = {
            "workflow_id": item.workflow_id,
            "workflow_name": item.workflow_name,
            "function_id": item.function_id,
            "function_name": item.function_name,
        }
        key = tuple(names.values())
        if key not in targets:
            targets[key] = resolve_target(session, environment_id, field_prefix=prefix, **names)
        new_calls.append(
            prepare_call(
                item.call_reference_id,
                lambda item=item, prefix=prefix: decode_input(item.input, f"{prefix}input", max_bytes),
                targets[key],
            )
        )
    return new_calls


def prepare_function_calls(
    session: Session, environment_id: str, function_name: str, arguments: list[tuple[str, list[InputFile]]]
) -> list[NewCall]:
    """One call of ``callType: "function"`` per ``(referenceID, files)`` argument."""
    function = get_live(session, environment_id, function_name)
    plan = function_target(session, function)
    new_calls = []
    for reference_id, files in arguments:
        check_input_types(function, files)
        new_calls.append(NewCall("function", reference_id, files, len(files) > 1, function, plan))
    return new_calls


# --- storing ----------------------------------------------------------------------------------


StagedFiles = list[tuple[str, list[dict[str, Any]]]]
"""Per new call: its ID and its stored files ``{"inputType", "blobKey", "itemReferenceID"?}``."""


def stage_files(environment_id: str, new_calls: list[NewCall], blobs: BlobStore) -> StagedFiles:
    """Store the input files of each new call, before (and outside) the transaction that records
    the calls, so that no database lock is held while large files are written."""
    staged = []
    for new in new_calls:
        call_id = new_id("call")
        stored = []
        for index, file in enumerate(new.files):
            key = f"{environment_id}/{call_id}/{index}.{MEDIA_TYPES[file.input_type][1]}"
            blobs.put(key, file.data)
            entry = {"inputType": file.input_type, "blobKey": key}
            if file.item_reference_id is not None:
                entry["itemReferenceID"] = file.item_reference_id
            stored.append(entry)
        staged.append((call_id, stored))
    return staged


def record_calls(
    session: Session, principal: Principal, new_calls: list[NewCall], staged: StagedFiles
) -> list[tuple[Call, list[FunctionCall]]]:
    """Record the calls with their root function calls (status pending), files already staged.

    Rows get strictly increasing ``created_at`` values, so that the creation order (which lists
    follow) is the order of submission: calls as in the request, root function calls as the files.
    """
    created = []
    for new, (call_id, stored) in zip(new_calls, staged, strict=True):
        main_version = new.plan.versions[new.plan.main]
        call = Call(
            id=call_id,
            environment_id=principal.environment_id,
            call_type=new.call_type,
            status="pending",
            call_reference_id=new.reference_id,
            input={"batchFiles": {"inputs": stored}} if new.batch else {"singleFile": stored[0]},
            plan_json=new.plan.to_json(),
            trace_parent=tracing.submitted(call_id, new.call_type),
            origin=new.origin,
            origin_id=new.origin_id,
            call_metadata=new.metadata,
            inbound_email=new.inbound_email,
        )
        if new.workflow is not None and new.workflow_version is not None:
            call.workflow_id = new.workflow.id
            call.workflow_name = new.workflow_version.name
            call.workflow_version_num = new.workflow_version.version_num
        else:
            call.function_id = new.function.id
            call.function_name = new.function.name
            call.function_type = new.function.type
            call.function_version_num = main_version
        session.add(call)
        roots = [
            FunctionCall(
                id=new_id("fc"),
                environment_id=principal.environment_id,
                call_id=call.id,
                function_id=new.function.id,
                function_name=new.function.name,
                function_type=new.function.type,
                function_version_num=main_version,
                reference_id=reference,
                status="pending",
                activity=[],
                inputs=inputs,
            )
            for reference, inputs in _root_inputs(new, stored)
        ]
        session.add_all(roots)
        created.append((call, roots))
    start, ticks = utcnow(), itertools.count()
    for row in (row for call, roots in created for row in (call, *roots)):
        row.created_at = start + timedelta(microseconds=next(ticks))
    for call, _ in created:
        call.updated_at = call.created_at
    session.flush()
    counts.calls_created(session, [call for call, _ in created])
    search.index_references(session, [call for call, _ in created])
    return created


def _root_inputs(new: NewCall, stored: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """A join takes every file of a batch at once; other functions run once per file, each
    function call carrying the item's reference (or the call's) and its place in the batch."""
    if not new.batch or new.function.type == "join":
        return [(new.reference_id, stored)]
    return [
        (entry.get("itemReferenceID", new.reference_id), [{**entry, "itemOffset": offset, "itemCount": len(stored)}])
        for offset, entry in enumerate(stored)
    ]


# --- reading ----------------------------------------------------------------------------------


CALL_COLUMNS = tuple(column for column in Call.__table__.c if column.key != "plan")
"""What a read of calls selects: every column but the plan (only the engine reads it); rows of
these have the model's attribute names."""
FUNCTION_CALL_COLUMNS = tuple(column for column in FunctionCall.__table__.c if column.key != "payload")


# The reads behind every poll of a call, built once (binding values is all a request does).
_CALL_BY_ID = sa.select(*CALL_COLUMNS).where(
    Call.environment_id == sa.bindparam("environment_id"), Call.id == sa.bindparam("call_id")
)
_FUNCTION_CALLS_OF = (
    sa.select(*FUNCTION_CALL_COLUMNS)
    .where(FunctionCall.call_id.in_(sa.bindparam("call_ids", expanding=True)))
    .order_by(FunctionCall.created_at, FunctionCall.id)
)


def find_call(session: Session, environment_id: str, call_id: str) -> Any:
    """The call with this ID in this environment, as a row of ``CALL_COLUMNS``; else a 404."""
    parameters = {"environment_id": environment_id, "call_id": call_id}
    row = session.connection().execute(_CALL_BY_ID, parameters).first()
    if row is None:
        raise not_found("call", call_id)
    return row


_CALLS_BY_IDS = sa.select(*CALL_COLUMNS).where(Call.id.in_(sa.bindparam("call_ids", expanding=True)))


def calls_by_ids(session: Session, call_ids: Sequence[str]) -> list[Any]:
    """The calls with these IDs, as rows of ``CALL_COLUMNS``, in no particular order."""
    if not call_ids:
        return []
    return list(session.connection().execute(_CALLS_BY_IDS, {"call_ids": list(call_ids)}))


def function_calls_of(session: Session, calls: list[Any]) -> dict[str, list[Any]]:
    """The function calls of each call (rows of ``FUNCTION_CALL_COLUMNS``), in creation order."""
    by_call: dict[str, list[Any]] = {call.id: [] for call in calls}
    if calls:
        for fc in session.connection().execute(_FUNCTION_CALLS_OF, {"call_ids": list(by_call)}):
            by_call[fc.call_id].append(fc)
    return by_call


_USAGE_OF = sa.select(FunctionCall.call_id, FunctionCall.usage).where(
    FunctionCall.call_id.in_(sa.bindparam("call_ids", expanding=True)), FunctionCall.usage.is_not(None)
)


def usage_of_calls(session: Session, call_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each call's ``usage``: its function calls' model usage, summed (``None`` when none asked a model)."""
    by_call: dict[str, list[dict[str, Any]]] = {call_id: [] for call_id in call_ids}
    if call_ids:
        for call_id, used in session.connection().execute(_USAGE_OF, {"call_ids": call_ids}):
            by_call[call_id].append(used)
    return {call_id: usage.total(used) for call_id, used in by_call.items()}


READ_AGAIN_TIMES = 5


def with_function_calls(session: Session, calls: list[Any]) -> tuple[list[Any], dict[str, list[Any]]]:
    """``calls`` as they were when their function calls were read, in the same order, and those.

    Reads are autocommit: the calls and their function calls come from two snapshots, and a call
    can change in between — read ``pending`` just before it started, with its function call read
    ``running`` just after. A call whose status its function calls contradict is read again, with
    them, until the two agree (a call changes a few times in its life, so this ends fast)."""
    current = {call.id: call for call in calls}
    by_call = function_calls_of(session, calls)
    for _ in range(READ_AGAIN_TIMES):
        stale = [call_id for call_id, call in current.items() if not _agree(call, by_call[call_id])]
        if not stale:
            break
        again = calls_by_ids(session, stale)
        current |= {call.id: call for call in again}
        by_call |= function_calls_of(session, again)
    return [current[call.id] for call in calls], by_call


def _agree(call: Any, function_calls: list[Any]) -> bool:
    """Whether a call's status can be that of these function calls at one instant: a pending call
    has started none of them, a finished call has finished them all."""
    if call.status == "pending":
        return all(fc.status == "pending" for fc in function_calls)
    if call.status in TERMINAL_STATUSES:
        return all(fc.status in TERMINAL_STATUSES for fc in function_calls)
    return True


LIST_FILTER_COLUMNS = {
    "call_ids": Call.id,
    "reference_ids": Call.call_reference_id,
    "call_types": Call.call_type,
    "statuses": Call.status,
    "workflow_ids": Call.workflow_id,
    "workflow_names": Call.workflow_name,
    "function_ids": Call.function_id,
    "function_names": Call.function_name,
}
_COUNTED_BY_FILTER = {
    "call_types": "callType",
    "statuses": "status",
    "workflow_ids": "workflowID",
    "workflow_names": "workflowName",
    "function_ids": "functionID",
    "function_names": "functionName",
}


def list_filters(query: Any) -> tuple[dict[str, list[str]], list[sa.ColumnElement[bool]]]:
    """The list filters given, by name, and as conditions (``reference_id_substring`` aside)."""
    given = {name: getattr(query, name) for name in LIST_FILTER_COLUMNS if getattr(query, name) is not None}
    return given, [LIST_FILTER_COLUMNS[name].in_(values) for name, values in given.items()]


def page_of_calls(session: Session, environment_id: str, query: Any) -> list[Any]:
    """A page (rows of ``CALL_COLUMNS``) of the calls matching the query's filters (``call_ids``, ``call_types`` …, see
    ``LIST_FILTER_COLUMNS``, and ``reference_id_substring``), in creation order."""
    _, filters = list_filters(query)
    narrow = None
    if query.reference_id_substring is not None:
        narrow = search.page_filter(session, environment_id, query.reference_id_substring, filters, query.limit)
    scope = [Call.environment_id == environment_id]
    return creation_page(session, Call, scope, filters, query, narrow, columns=CALL_COLUMNS)


def list_calls(session: Session, db: Database, environment_id: str, query: Any) -> tuple[list[Any], int]:
    """A page of calls and the number of calls matching the filters; see ``_total`` for the count.
    The count comes first: when a substring search matches nothing, its page is not looked for
    (a substring too short for the trigram indexes would scan every call for it), unless a
    cursor must be checked."""
    given, filters = list_filters(query)
    total = _total(session, db, environment_id, given, query.reference_id_substring, filters)
    no_cursor = query.starting_after is None and query.ending_before is None
    if total == 0 and no_cursor and query.reference_id_substring is not None:
        return [], 0
    return page_of_calls(session, environment_id, query), total


def _total(
    session: Session,
    db: Database,
    environment_id: str,
    given: dict[str, list[str]],
    substring: str | None,
    filters: list[sa.ColumnElement[bool]],
) -> int:
    """``totalCount``, from the cheapest exact source:

    - unfiltered, or one counted field, optionally with ``statuses``: maintained counters;
    - filters on fields that never change (no ``statuses``), beyond a few IDs: the count cache;
    - anything else: an indexed ``COUNT``.
    """
    counted = {name: values for name, values in given.items() if name in _COUNTED_BY_FILTER}
    others = set(given) - set(counted)
    statuses = counted.pop("statuses", None)
    if substring is None and not others and len(counted) <= 1:
        if not counted:
            if statuses is None:
                return counts.lookup(session, environment_id, "all", [""])
            return counts.lookup(session, environment_id, "status", statuses)
        ((name, values),) = counted.items()
        dimension = _COUNTED_BY_FILTER[name]
        if statuses is None:
            return counts.lookup(session, environment_id, dimension, values)
        return counts.lookup_with_statuses(session, environment_id, dimension, values, statuses)
    if substring is None:
        matching = counts.calls_matching(session, environment_id, filters)
    else:
        matching = search.counter(session, environment_id, substring, filters)
    if statuses is None and not others & {"call_ids", "reference_ids"}:
        key = counts.filter_key({**given, "referenceIDSubstring": (substring or "").lower()})
        return counts.cached_count(session, db, environment_id, key, matching)
    return matching(None, None)
