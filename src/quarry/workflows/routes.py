"""HTTP routes of ``/v2/workflows``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Db
from quarry.api.idempotency import Idempotency
from quarry.api.responses import wire_response
from quarry.storage.pages import PageQuery, VersionPageQuery
from quarry.wire import MAX_VERSION_NUM, CsvList
from quarry.workflows import service
from quarry.workflows.render import render, render_copy, render_list
from quarry.workflows.schemas import (
    WorkflowCopy,
    WorkflowCopyResult,
    WorkflowCreate,
    WorkflowEnvelope,
    WorkflowList,
    WorkflowUpdate,
    WorkflowVersionList,
)

router = APIRouter(prefix="/v2/workflows", tags=["workflows"])


class WorkflowListQuery(PageQuery):
    workflow_ids: CsvList = None
    workflow_names: CsvList = None
    display_name: str | None = None
    tags: CsvList = None
    function_ids: CsvList = None
    function_names: CsvList = None
    function_id_version_nums: CsvList = None
    function_name_version_nums: CsvList = None


WorkflowName = Annotated[str, Path(description="The workflow's current name.")]


@router.post("", response_model=WorkflowEnvelope, response_model_exclude_none=True)
def create_workflow(
    principal: CurrentPrincipal, body: WorkflowCreate, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Create a workflow (version 1) from a main function and the edges leaving it."""
    with idem.write() as session:
        workflow = service.create_workflow(session, principal, body, settings.email_domain)
        return idem.respond(session, {"workflow": render(workflow)})


@router.get("", response_model=WorkflowList, response_model_exclude_none=True)
def list_workflows(principal: CurrentPrincipal, query: Annotated[WorkflowListQuery, Query()], db: Db) -> Response:
    """List the environment's workflows; filters combine with AND, values within one filter with OR."""
    with db.read() as session:
        return wire_response(
            WorkflowList, render_list(service.list_workflows(session, principal.environment_id, query))
        )


@router.post("/copy", response_model=WorkflowCopyResult, response_model_exclude_none=True)
def copy_workflow(
    principal: CurrentPrincipal, body: WorkflowCopy, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Copy a workflow version; into another environment, the functions it uses are copied as well."""
    with idem.write() as session:
        copied = service.copy_workflow(session, principal, body, settings.email_domain)
        return idem.respond(session, render_copy(copied))


@router.get("/{workflowName}", response_model=WorkflowEnvelope, response_model_exclude_none=True)
def get_workflow(principal: CurrentPrincipal, workflowName: WorkflowName, db: Db) -> Response:
    with db.read() as session:
        return wire_response(
            WorkflowEnvelope,
            {"workflow": render(service.get_workflow(session, principal.environment_id, workflowName))},
        )


@router.patch("/{workflowName}", response_model=WorkflowEnvelope, response_model_exclude_none=True)
def update_workflow(
    principal: CurrentPrincipal, workflowName: WorkflowName, body: WorkflowUpdate, db: Db
) -> dict[str, Any]:
    """Update a workflow: a new immutable version with the given fields changed."""
    with db.write() as session:
        return {"workflow": render(service.update_workflow(session, principal, workflowName, body))}


@router.delete("/{workflowName}", status_code=204, response_class=Response)
def delete_workflow(principal: CurrentPrincipal, workflowName: WorkflowName, db: Db) -> Response:
    with db.write() as session:
        service.delete_workflow(session, principal, workflowName)
    return Response(status_code=204)


@router.get("/{workflowName}/versions", response_model=WorkflowVersionList, response_model_exclude_none=True)
def list_workflow_versions(
    principal: CurrentPrincipal, workflowName: WorkflowName, query: Annotated[VersionPageQuery, Query()], db: Db
) -> Response:
    with db.read() as session:
        return wire_response(
            WorkflowVersionList,
            render_list(service.list_versions(session, principal.environment_id, workflowName, query), "versions"),
        )


@router.get("/{workflowName}/versions/{versionNum}", response_model=WorkflowEnvelope, response_model_exclude_none=True)
def get_workflow_version(
    principal: CurrentPrincipal,
    workflowName: WorkflowName,
    db: Db,
    versionNum: Annotated[int, Path(ge=1, le=MAX_VERSION_NUM)],
) -> Response:
    with db.read() as session:
        details = service.get_workflow_version(session, principal.environment_id, workflowName, versionNum)
        return wire_response(WorkflowEnvelope, {"workflow": render(details)})
