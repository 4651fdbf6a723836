"""HTTP routes of ``/v2/functions``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BeforeValidator, TypeAdapter

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Db
from quarry.api.idempotency import Idempotency
from quarry.api.responses import wire_response
from quarry.catalog import functions as catalog
from quarry.functions.render import render, render_list, render_versions
from quarry.functions.schemas import (
    Function,
    FunctionCopy,
    FunctionCreate,
    FunctionList,
    FunctionType,
    FunctionVersionList,
)
from quarry.storage.pages import PageQuery, VersionPageQuery
from quarry.wire import MAX_VERSION_NUM, CsvList, split_csv

router = APIRouter(prefix="/v2/functions", tags=["functions"])


class FunctionListQuery(PageQuery):
    function_ids: CsvList = None
    function_names: CsvList = None
    display_name: str | None = None
    types: Annotated[list[FunctionType] | None, BeforeValidator(split_csv)] = None
    tags: CsvList = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None
    workflow_id_version_nums: CsvList = None
    workflow_name_version_nums: CsvList = None


_FUNCTION = TypeAdapter(Function)  # a union over the function types: not a model of its own

FunctionName = Annotated[str, Path(description="The function's current name.")]


@router.post("", response_model=Function, response_model_exclude_none=True)
def create_function(
    principal: CurrentPrincipal, body: FunctionCreate, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Create a function (version 1)."""
    with idem.write() as session:
        created = catalog.create_function(session, principal, body, settings.email_domain)
        return idem.respond(session, render(created))


@router.get("", response_model=FunctionList, response_model_exclude_none=True)
def list_functions(principal: CurrentPrincipal, query: Annotated[FunctionListQuery, Query()], db: Db) -> Response:
    """List the environment's functions; filters combine with AND, values within one filter with OR."""
    with db.read() as session:
        return wire_response(
            FunctionList, render_list(catalog.list_functions(session, principal.environment_id, query))
        )


@router.post("/copy", response_model=Function, response_model_exclude_none=True)
def copy_function(
    principal: CurrentPrincipal, body: FunctionCopy, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Copy a function's current version into a new function, optionally in another environment."""
    with idem.write() as session:
        copied = catalog.copy_function(session, principal, body, settings.email_domain)
        return idem.respond(session, render(copied))


@router.get("/{functionName}", response_model=Function, response_model_exclude_none=True)
def get_function(principal: CurrentPrincipal, functionName: FunctionName, db: Db) -> Response:
    with db.read() as session:
        return wire_response(_FUNCTION, render(catalog.get_function(session, principal.environment_id, functionName)))


@router.put("/{functionName}", response_model=Function, response_model_exclude_none=True)
def update_function(
    principal: CurrentPrincipal,
    functionName: FunctionName,
    db: Db,
    body: Annotated[dict[str, Any], Body(description="Any field of the function's type except `type`.")],
) -> dict[str, Any]:
    """Update a function: a new immutable version with the given fields changed. ``type`` cannot change."""
    with db.write() as session:
        return render(catalog.update_function(session, principal, functionName, body))


@router.delete("/{functionName}", status_code=204, response_class=Response)
def delete_function(principal: CurrentPrincipal, functionName: FunctionName, db: Db) -> Response:
    """Delete a function; the workflows that use it keep running the version they pinned."""
    with db.write() as session:
        catalog.delete_function(session, principal, functionName)
    return Response(status_code=204)


@router.get("/{functionName}/versions", response_model=FunctionVersionList, response_model_exclude_none=True)
def list_function_versions(
    principal: CurrentPrincipal, functionName: FunctionName, query: Annotated[VersionPageQuery, Query()], db: Db
) -> Response:
    with db.read() as session:
        return wire_response(
            FunctionVersionList,
            render_versions(catalog.list_versions(session, principal.environment_id, functionName, query)),
        )


@router.get("/{functionName}/versions/{versionNum}", response_model=Function, response_model_exclude_none=True)
def get_function_version(
    principal: CurrentPrincipal,
    functionName: FunctionName,
    db: Db,
    versionNum: Annotated[int, Path(ge=1, le=MAX_VERSION_NUM)],
) -> Response:
    with db.read() as session:
        return wire_response(
            _FUNCTION,
            render(
                catalog.get_function_version(session, principal.environment_id, functionName, versionNum),
                as_version=True,
            ),
        )
