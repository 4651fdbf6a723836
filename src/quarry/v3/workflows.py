"""Workflows: ``/v3/workflows`` (nodes, edges, versions, copy).

v3 draws a workflow as named call-site nodes and edges between node names; the core stores a
graph of functions (one node per function) with relationships between them. Node names and
the opaque ``metadata`` of nodes and edges are stored with the graph (its layout). Calling a
workflow (``POST /v3/workflows/{name}/call``) lives with the calls, in ``quarry.v3.calls``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator, Field
from sqlalchemy.orm import Session

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Db
from quarry.api.idempotency import Idempotency
from quarry.errors import bad_request, invalid
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.functions.schemas import Name, Tag
from quarry.v3.fields import v3_fields
from quarry.v3.functions import VersionQuery
from quarry.wire import MAX_VERSION_NUM, WireModel, rfc3339
from quarry.workflows import service
from quarry.workflows.graph import Layout, review_error
from quarry.workflows.render import copied_function
from quarry.workflows.routes import WorkflowListQuery
from quarry.workflows.schemas import (
    FunctionVersionIdentifier,
    ReviewSetting,
    WorkflowCopy,
    WorkflowCreate,
    WorkflowUpdate,
)

router = APIRouter(prefix="/v3", tags=["v3 workflows"])

FIELD_RENAMES = {
    "mainFunction": "mainNodeName",
    "relationships": "edges",
    "sourceFunction": "sourceNodeName",
    "destinationFunction": "destinationNodeName",
}

NodeName = Annotated[str, Field(min_length=1, max_length=128)]


class WorkflowNode(WireModel):
    function: FunctionVersionIdentifier
    name: NodeName | None = Field(None, description="The call-site name; the function's name when omitted.")
    metadata: dict[str, Any] | None = Field(None, description="Stored and returned verbatim.")
    review: ReviewSetting | None = Field(
        None, description="Quarry extension: the node's outputs wait for a person's approval or correction."
    )


class WorkflowEdge(WireModel):
    source_node_name: NodeName
    destination_node_name: NodeName
    destination_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    metadata: dict[str, Any] | None = Field(None, description="Stored and returned verbatim.")


def _no_connectors(connectors: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if connectors:
        raise ValueError("Quarry has no connectors (workflow triggers such as Paragon); give an empty list")
    return connectors


Connectors = Annotated[
    list[dict[str, Any]] | None,
    AfterValidator(_no_connectors),
    Field(description="Quarry has no connectors: only an empty list is accepted."),
]
Nodes = Annotated[list[WorkflowNode], Field(min_length=1, max_length=500)]
Edges = Annotated[list[WorkflowEdge], Field(max_length=500)]


class WorkflowCreateV3(WireModel):
    name: Name
    main_node_name: NodeName
    nodes: Nodes
    edges: Edges | None = None
    display_name: Annotated[str, Field(max_length=512)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    connectors: Connectors = None


class WorkflowUpdateV3(WireModel):
    """Only the given fields change; ``mainNodeName`` and ``nodes`` (and ``edges``) change the graph together."""

    name: Name | None = None
    main_node_name: NodeName | None = None
    nodes: Nodes | None = None
    edges: Edges | None = None
    display_name: Annotated[str, Field(max_length=512)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    connectors: Connectors = None


# --- requests: nodes and edges as the core's graph ----------------------------------------


def _core_graph(
    session: Session, environment_id: str, main_node_name: str, nodes: list[WorkflowNode], edges: list[WorkflowEdge]
) -> tuple[dict[str, Any], Layout]:
    """The core's ``mainFunction`` and ``relationships`` for v3 nodes and edges, and their layout."""
    errors: list[dict[str, str]] = []
    by_name: dict[str, tuple[Function, WorkflowNode]] = {}
    node_of_function: dict[str, str] = {}
    for i, node in enumerate(nodes):
        ref = node.function
        function = functions.find_live(session, environment_id, ref.name, id=ref.id)
        if function is None:
            errors.append({"field": f"nodes[{i}].function", "reason": f"no function {ref.id or ref.name!r}"})
            continue
        name = node.name or function.name
        if name in by_name:
            errors.append({"field": f"nodes[{i}].name", "reason": f"another node is named {name!r}"})
        elif function.id in node_of_function:
            errors.append(
                {
                    "field": f"nodes[{i}].function",
                    "reason": f"function {function.name!r} is already the function of node "
                    f"{node_of_function[function.id]!r}; a Quarry workflow has one node per function",
                }
            )
        elif node.review is not None and (why := review_error(function.name, function.type)) is not None:
            errors.append({"field": f"nodes[{i}].review", "reason": why})
        else:
            by_name[name] = (function, node)
            node_of_function[function.id] = name
    if errors:
        raise invalid(errors)

    def reference(name: str, field: str) -> dict[str, Any] | None:
        if name not in by_name:
            errors.append({"field": field, "reason": f"no node named {name!r}"})
            return None
        function, node = by_name[name]
        return {"id": function.id, "versionNum": node.function.version_num}

    main = reference(main_node_name, "mainNodeName")
    relationships = []
    for i, edge in enumerate(edges):
        source = reference(edge.source_node_name, f"edges[{i}].sourceNodeName")
        destination = reference(edge.destination_node_name, f"edges[{i}].destinationNodeName")
        relationships.append(
            {"sourceFunction": source, "destinationName": edge.destination_name, "destinationFunction": destination}
        )
    connected = {main_node_name} | {n for e in edges for n in (e.source_node_name, e.destination_node_name)}
    errors += [
        {"field": f"nodes[{i}]", "reason": f"node {name!r} is not reachable from the main node"}
        for i, name in enumerate(by_name)
        if name not in connected
    ]
    if errors:
        raise invalid(errors)
    layout = Layout(
        names={function.id: node.name for function, node in by_name.values() if node.name is not None},
        metadata={function.id: node.metadata for function, node in by_name.values() if node.metadata is not None},
        edge_metadata=[edge.metadata for edge in edges],
    )
    gates = [
        {"function": {"id": function.id}, **node.review.stored()}
        for function, node in by_name.values()
        if node.review is not None
    ]
    return {"mainFunction": main, "relationships": relationships, "reviewGates": gates}, layout


# --- responses -----------------------------------------------------------------------------


def render(details: service.WorkflowDetails) -> dict[str, Any]:
    workflow, version, nodes = details.workflow, details.version, details.nodes
    order = [version.main_function_id]
    for edge in version.relationships:
        order += [fid for fid in (edge["source"], edge["destination"]) if fid not in order]
    item: dict[str, Any] = {
        "id": workflow.id,
        "name": version.name,
        "versionNum": version.version_num,
        "tags": version.tags,
        "emailAddress": workflow.email_address,
        "mainNodeName": details.main.name,
        "nodes": [_node(nodes[fid]) for fid in order],
        "edges": [_edge(edge, nodes) for edge in version.relationships],
        "connectors": [],
        "restricted": False,
        "createdAt": rfc3339(workflow.created_at),
        "updatedAt": rfc3339(version.created_at),
        "audit": {
            "workflowCreatedBy": workflow.created_by,
            "workflowLastUpdatedBy": details.last_updated_by,
            "versionCreatedBy": version.created_by,
        },
    }
    if version.display_name is not None:
        item["displayName"] = version.display_name
    return item


def _node(node: service.NodeDetails) -> dict[str, Any]:
    function: dict[str, Any] = {"id": node.function_id, "name": node.function_name}
    if node.version_num is not None:
        function["versionNum"] = node.version_num
    out: dict[str, Any] = {"name": node.name, "function": function}
    if node.metadata is not None:
        out["metadata"] = node.metadata
    if node.review is not None:
        out["review"] = node.review
    return out


def _edge(edge: dict[str, Any], nodes: dict[str, service.NodeDetails]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sourceNodeName": nodes[edge["source"]].name,
        "destinationNodeName": nodes[edge["destination"]].name,
    }
    if edge.get("destinationName") is not None:
        out["destinationName"] = edge["destinationName"]
    if edge.get("metadata") is not None:
        out["metadata"] = edge["metadata"]
    return out


# --- routes --------------------------------------------------------------------------------

WorkflowName = Annotated[str, Path(description="The workflow's current name.")]


@router.post("/workflows", response_model=None)
def create_workflow(
    principal: CurrentPrincipal, body: WorkflowCreateV3, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Create a workflow (version 1): named nodes, each calling a function, and edges between them."""
    with idem.write() as session, v3_fields(FIELD_RENAMES):
        graph, layout = _core_graph(
            session, principal.environment_id, body.main_node_name, body.nodes, body.edges or []
        )
        core = WorkflowCreate.model_validate(
            {"name": body.name, "displayName": body.display_name, "tags": body.tags, **graph}
        )
        created = service.create_workflow(session, principal, core, settings.email_domain, layout)
        return idem.respond(session, {"workflow": render(created)})


@router.get("/workflows")
def list_workflows(principal: CurrentPrincipal, query: Annotated[WorkflowListQuery, Query()], db: Db) -> dict[str, Any]:
    """List the environment's workflows (current versions); filters combine with AND."""
    with db.read() as session:
        page = service.list_workflows(session, principal.environment_id, query)
    return {"workflows": [render(item) for item in page.items], "totalCount": page.total_count}


@router.post("/workflows/copy", response_model=None)
def copy_workflow(
    principal: CurrentPrincipal, body: WorkflowCopy, idem: Idempotency, settings: AppSettings
) -> dict[str, Any] | Response:
    """Copy a workflow version; into another environment, the functions it uses are copied as well."""
    with idem.write() as session:
        copied = service.copy_workflow(session, principal, body, settings.email_domain)
        return idem.respond(
            session,
            {
                "environment": copied.environment_name,
                "workflow": render(copied.workflow),
                "copiedFunctions": [copied_function(c) for c in copied.copied_functions],
            },
        )


@router.get("/workflows/{workflowName}")
def get_workflow(principal: CurrentPrincipal, workflowName: WorkflowName, db: Db) -> dict[str, Any]:
    with db.read() as session:
        return {"workflow": render(service.get_workflow(session, principal.environment_id, workflowName))}


@router.patch("/workflows/{workflowName}")
def update_workflow(
    principal: CurrentPrincipal, workflowName: WorkflowName, body: WorkflowUpdateV3, db: Db
) -> dict[str, Any]:
    """Update a workflow: a new immutable version. The graph changes only when ``mainNodeName`` and
    ``nodes`` (with ``edges``) are given together."""
    given = body.model_fields_set
    topology = given & {"main_node_name", "nodes", "edges"}
    if topology and not {"main_node_name", "nodes"} <= topology:
        missing = "mainNodeName" if "main_node_name" not in topology else "nodes"
        raise bad_request("mainNodeName, nodes and edges change the graph together", field=missing)
    changes: dict[str, Any] = {
        wire: getattr(body, name)
        for name, wire in (("name", "name"), ("display_name", "displayName"), ("tags", "tags"))
        if name in given
    }
    with db.write() as session, v3_fields(FIELD_RENAMES):
        layout = None
        if topology and body.main_node_name is not None and body.nodes is not None:
            graph, layout = _core_graph(
                session, principal.environment_id, body.main_node_name, body.nodes, body.edges or []
            )
            changes |= graph
        core = WorkflowUpdate.model_validate(changes)
        updated = service.update_workflow(session, principal, workflowName, core, layout)
        return {"workflow": render(updated)}


@router.delete("/workflows/{workflowName}")
def delete_workflow(principal: CurrentPrincipal, workflowName: WorkflowName, db: Db) -> dict[str, Any]:
    """Delete a workflow; the answer names the version it was on."""
    with db.write() as session:
        workflow = service.delete_workflow(session, principal, workflowName)
        return {"workflow": {"id": workflow.id, "name": workflow.name, "versionNum": workflow.current_version_num}}


@router.get("/workflows/{workflowName}/versions")
def list_workflow_versions(
    principal: CurrentPrincipal, workflowName: WorkflowName, query: Annotated[VersionQuery, Query()], db: Db
) -> dict[str, Any]:
    """Every version of a workflow, newest first by default (cursors are version numbers)."""
    with db.read() as session:
        page = service.list_versions(session, principal.environment_id, workflowName, query)
    return {"versions": [render(item) for item in page.items], "totalCount": page.total_count}


@router.get("/workflows/{workflowName}/versions/{versionNum}")
def get_workflow_version(
    principal: CurrentPrincipal,
    workflowName: WorkflowName,
    db: Db,
    versionNum: Annotated[int, Path(ge=1, le=MAX_VERSION_NUM)],
) -> dict[str, Any]:
    with db.read() as session:
        details = service.get_workflow_version(session, principal.environment_id, workflowName, versionNum)
    return {"workflow": render(details)}
