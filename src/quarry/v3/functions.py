"""Functions: ``/v3/functions`` (``{"function": …}`` envelopes, PATCH, versions, copy).

One core, two names for some types: v3's ``extract`` is Quarry's ``transform`` and v3's
``classify`` is Quarry's ``route`` (bem's own v3 reads route functions as classify). A function
is stored once, under its core type, and reads the same through v2 and v3 (see
docs/decisions.md, "v3: functions and workflows"); a transform reads in v3 under the name it was
created with, ``transform`` or ``extract`` (``Function.type_name``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BeforeValidator, Field, ValidationError

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Db
from quarry.api.idempotency import Idempotency
from quarry.catalog import functions as catalog
from quarry.errors import bad_request, invalid, validation_errors
from quarry.functions import service
from quarry.functions.models import reading_in_v3_as, v3_type
from quarry.functions.schemas import CREATE_MODELS, FunctionCopy
from quarry.functions.service import FunctionDetails
from quarry.storage.pages import PageQuery, VersionPageQuery
from quarry.v3.fields import rename, v3_fields
from quarry.wire import MAX_VERSION_NUM, CsvList, WireModel, rfc3339, split_csv

router = APIRouter(prefix="/v3", tags=["v3 functions"])

CORE_TYPES = {
    "transform": "transform",
    "extract": "transform",
    "classify": "route",
    "split": "split",
    "join": "join",
    "payload_shaping": "payload_shaping",
    "enrich": "enrich",
    "send": "send",
    "parse": "parse",
}
"""The v3 types a client can create or update, and the core type each is stored as."""

UNSUPPORTED_TYPES = {
    "render": "Quarry has no render functions (.docx templates)",
}

FunctionTypeV3 = Literal[
    "transform", "extract", "route", "classify", "send", "split", "join", "analyze", "payload_shaping", "enrich",
    "parse", "render",
]  # fmt: skip

FIELD_RENAMES = {"routes": "classifications", "includeCosineDistance": "includeScore"}


# --- requests: v3 bodies as core configurations ---------------------------------------------


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.pop(key, False)
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean", field=key)
    return value


def _enrich_config(config: Any) -> Any:
    """v3's enrich config without what Quarry cannot do (endpoint sources); ``includeScore`` is the
    core's ``includeCosineDistance``."""
    if not isinstance(config, dict):
        return config
    config = dict(config)
    if config.pop("endpoints", None):
        raise bad_request("Quarry enriches from collections only, not from endpoints", field="config.endpoints")
    steps = config.get("steps")
    if isinstance(steps, list):
        config["steps"] = [_enrich_step(step, f"config.steps[{i}]") for i, step in enumerate(steps)]
    return config


def _enrich_step(step: Any, field: str) -> Any:
    if not isinstance(step, dict):
        return step
    step = dict(step)
    if step.pop("source", "collection") != "collection" or "endpointName" in step:
        raise bad_request("Quarry enriches from collections only: source must be 'collection'", field=f"{field}.source")
    if "includeScore" in step:
        step["includeCosineDistance"] = step.pop("includeScore")
    return step


def core_configuration(body: dict[str, Any], *, creating: bool) -> tuple[str, dict[str, Any]]:
    """``(core type, core body)`` of a v3 create or update body (``type`` not included).

    On create, required core fields v3 leaves optional get their documented defaults.
    """
    body = dict(body)
    type_ = body.pop("type", None)
    if type_ in UNSUPPORTED_TYPES:
        raise bad_request(f"type {type_!r} is not supported: {UNSUPPORTED_TYPES[type_]}", field="type")
    if type_ not in CORE_TYPES:
        raise bad_request(f"type must be one of {', '.join(CORE_TYPES)}", field="type")
    if CORE_TYPES.get(type_) == "transform":
        for flag in ("enableBoundingBoxes", "preCount"):
            if flag in body:
                body[flag] = _flag(body, flag)
    elif type_ == "classify":
        _flag(body, "nativeVisualInput")  # Quarry reads every input as text
        if "classifications" in body:
            body["routes"] = body.pop("classifications")
    elif type_ == "enrich" and "config" in body:
        body["config"] = _enrich_config(body["config"])
    if creating:
        defaults: dict[str, Any] = {
            "transform": {"outputSchemaName": body.get("functionName")},
            "extract": {"outputSchemaName": body.get("functionName")},
            "classify": {"description": ""},
            "join": {"description": "", "joinType": "standard", "outputSchemaName": body.get("functionName")},
        }.get(type_, {})
        body = {**defaults, **body}
    return CORE_TYPES[type_], body


FunctionBody = Annotated[
    dict[str, Any],
    Body(
        description="A v3 function: `type` (extract or transform, classify, split, join, payload_shaping, enrich, send,"
        " parse) "
        "and its fields."
    ),
]


# --- responses -----------------------------------------------------------------------------


def render(details: FunctionDetails, *, as_version: bool = False) -> dict[str, Any]:
    function, version = details.function, details.version
    config = dict(version.config)
    if function.type in ("transform", "analyze"):
        config.pop("independentDocumentProcessingEnabled", None)
        config |= {
            "enableBoundingBoxes": config.get("enableBoundingBoxes", False),
            "preCount": config.get("preCount", False),
        }
        if function.type == "transform":
            config.setdefault("tabularChunkingEnabled", False)
        if function.type_name == "transform":  # v3's transform has the address, its extract none
            config["emailAddress"] = function.email_address
    elif function.type == "route":
        config["classifications"] = config.pop("routes")
        config["emailAddress"] = function.email_address
    elif function.type == "enrich":
        config["config"] = {
            **config["config"],
            "steps": [_step_out(step) for step in config["config"]["steps"]],
        }
    item: dict[str, Any] = {
        "functionID": function.id,
        "functionName": version.name,
        "versionNum": version.version_num,
        "type": v3_type(function.type, function.type_name),
        "tags": version.tags,
        **config,
        "audit": {
            "functionCreatedBy": function.created_by,
            "functionLastUpdatedBy": details.last_updated_by,
            "versionCreatedBy": version.created_by,
        },
        "usedInWorkflows": details.used_in_workflows,
    }
    if version.display_name is not None:
        item["displayName"] = version.display_name
    if as_version:
        item["createdAt"] = rfc3339(version.created_at)
    return item


def _step_out(step: dict[str, Any]) -> dict[str, Any]:
    step = dict(step)
    step["includeScore"] = step.pop("includeCosineDistance", False)
    return {"source": "collection", **step}


# --- routes --------------------------------------------------------------------------------


class FunctionListQuery(PageQuery):
    function_ids: CsvList = None
    function_names: CsvList = None
    display_name: str | None = None
    types: Annotated[list[FunctionTypeV3] | None, BeforeValidator(split_csv)] = None
    tags: CsvList = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None
    workflow_id_version_nums: CsvList = None
    workflow_name_version_nums: CsvList = None
    include_extra_settings: bool | None = Field(
        None, description="Accepted; a parse function's extraConfig is shown whenever set."
    )


class VersionQuery(VersionPageQuery):
    sort_order: Literal["asc", "desc"] = Field("desc", description="Order of version numbers; newest first by default.")


class ExtraSettingsQuery(WireModel):
    include_extra_settings: bool | None = Field(
        None, description="Accepted; a parse function's extraConfig is shown whenever set."
    )


FunctionName = Annotated[str, Path(description="The function's current name.")]


def _validated(core_type: str, body: dict[str, Any]) -> Any:
    try:
        return CREATE_MODELS[core_type].model_validate({**body, "type": core_type})
    except ValidationError as exc:
        errors = validation_errors(exc.errors(), body)
        raise invalid([{**e, "field": rename(e["field"], FIELD_RENAMES)} for e in errors]) from None


@router.post("/functions", response_model=None)
def create_function(
    principal: CurrentPrincipal, body: FunctionBody, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Create a function (version 1)."""
    core_type, core_body = core_configuration(body, creating=True)
    model = _validated(core_type, core_body)
    with idem.write() as session, v3_fields(FIELD_RENAMES):
        created = catalog.create_function(session, principal, model, settings.email_domain, body.get("type"))
        return idem.respond(session, {"function": render(created)})


@router.get("/functions")
def list_functions(principal: CurrentPrincipal, query: Annotated[FunctionListQuery, Query()], db: Db) -> dict[str, Any]:
    """List the environment's functions (current versions); filters combine with AND."""
    where = [reading_in_v3_as(query.types)] if query.types is not None else []
    with db.read() as session:
        unfiltered = query.model_copy(update={"types": None})
        page = catalog.list_functions(session, principal.environment_id, unfiltered, where)
    return {"functions": [render(item) for item in page.items], "totalCount": page.total_count}


@router.post("/functions/copy", response_model=None)
def copy_function(
    principal: CurrentPrincipal, body: FunctionCopy, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Copy a function's current version into a new function, optionally in another environment."""
    with idem.write() as session:
        copied = catalog.copy_function(session, principal, body, settings.email_domain)
        return idem.respond(session, {"function": render(copied)})


@router.get("/functions/{functionName}")
def get_function(
    principal: CurrentPrincipal, functionName: FunctionName, query: Annotated[ExtraSettingsQuery, Query()], db: Db
) -> dict[str, Any]:
    with db.read() as session:
        return {"function": render(catalog.get_function(session, principal.environment_id, functionName))}


@router.patch("/functions/{functionName}")
def update_function(
    principal: CurrentPrincipal, functionName: FunctionName, body: FunctionBody, db: Db
) -> dict[str, Any]:
    """Update a function: a new immutable version with the given fields changed; ``type`` must be the function's."""
    core_type, changes = core_configuration(body, creating=False)
    with db.write() as session, v3_fields(FIELD_RENAMES):
        current = service.get_live(session, principal.environment_id, functionName)
        if current.type != core_type:
            named = v3_type(current.type, current.type_name)
            reason = f"type cannot be changed (this function is a {named!r} function)"
            raise bad_request(reason, field="type")
        return {"function": render(catalog.update_function(session, principal, functionName, changes))}


@router.delete("/functions/{functionName}", status_code=204, response_class=Response)
def delete_function(principal: CurrentPrincipal, functionName: FunctionName, db: Db) -> Response:
    """Delete a function; the workflows that use it keep running the version they pinned."""
    with db.write() as session:
        catalog.delete_function(session, principal, functionName)
    return Response(status_code=204)


@router.get("/functions/{functionName}/versions")
def list_function_versions(
    principal: CurrentPrincipal, functionName: FunctionName, query: Annotated[VersionQuery, Query()], db: Db
) -> dict[str, Any]:
    """Every version of a function, newest first by default."""
    with db.read() as session:
        page = catalog.list_versions(session, principal.environment_id, functionName, query)
    return {"versions": [render(item, as_version=True) for item in page.items], "totalCount": page.total_count}


@router.get("/functions/{functionName}/versions/{versionNum}")
def get_function_version(
    principal: CurrentPrincipal,
    functionName: FunctionName,
    db: Db,
    versionNum: Annotated[int, Path(ge=1, le=MAX_VERSION_NUM)],
    query: Annotated[ExtraSettingsQuery, Query()],
) -> dict[str, Any]:
    with db.read() as session:
        details = catalog.get_function_version(session, principal.environment_id, functionName, versionNum)
    return {"function": render(details, as_version=True)}
