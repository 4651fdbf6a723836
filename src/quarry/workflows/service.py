"""Creating, versioning, listing, copying and deleting workflows.

A workflow version is a graph of function nodes: ``mainFunction`` receives the call's input,
``relationships`` are directed edges. Each version is immutable and validated as a whole
before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry.audit import user_action
from quarry.errors import bad_request, conflict, invalid, not_found
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.ids import new_id
from quarry.storage.base import icontains, utcnow
from quarry.storage.pages import creation_page, keyset_page, total_count
from quarry.storage.tags import has_all_tags, replace_tags
from quarry.storage.versioned import current_versions, find_live
from quarry.tenancy.service import Principal, find_environment
from quarry.workflows.copies import CopiedFunction, copy_functions
from quarry.workflows.graph import Edge, Graph, Layout, Node, graph_errors, review_error
from quarry.workflows.models import Workflow, WorkflowNode, WorkflowVersion
from quarry.workflows.schemas import (
    FunctionVersionIdentifier,
    Relationship,
    ReviewGate,
    WorkflowCopy,
    WorkflowCreate,
    WorkflowUpdate,
)
from quarry.workflows.usage import parse_version_refs, workflows_using

# --- graph resolution -----------------------------------------------------------------------


def _resolve_graph(
    session: Session,
    environment_id: str,
    main: FunctionVersionIdentifier,
    relationships: list[Relationship],
    layout: Layout | None = None,
    review_gates: list[ReviewGate] | None = None,
) -> Graph:
    errors: list[dict[str, str]] = []
    found: dict[str, Function] = {}
    pins: dict[str, int | None] = {}
    pin_fields: dict[str, str] = {}

    def resolve(ref: FunctionVersionIdentifier, field: str) -> str | None:
        function = find_live(session, Function, environment_id, name=ref.name, id=ref.id)
        if function is None:
            errors.append({"field": field, "reason": f"no function {ref.id or ref.name!r} in this environment"})
            return None
        found[function.id] = function
        if ref.version_num is not None:
            if ref.version_num > function.current_version_num:
                errors.append(
                    {
                        "field": f"{field}.versionNum",
                        "reason": f"function {function.name!r} has no version {ref.version_num} "
                        f"(current is {function.current_version_num})",
                    }
                )
            elif pins.get(function.id) not in (None, ref.version_num):
                errors.append(
                    {
                        "field": f"{field}.versionNum",
                        "reason": f"function {function.name!r} is pinned to version {pins[function.id]} "
                        f"at {pin_fields[function.id]}; a workflow uses one version of each function",
                    }
                )
            else:
                pins[function.id] = ref.version_num
                pin_fields[function.id] = field
        pins.setdefault(function.id, None)
        return function.id

    main_id = resolve(main, "mainFunction")
    edges = []
    for i, rel in enumerate(relationships):
        source = resolve(rel.source_function, f"relationships[{i}].sourceFunction")
        destination = resolve(rel.destination_function, f"relationships[{i}].destinationFunction")
        if source and destination:
            edges.append(Edge(source, rel.destination_name, destination))
    if errors:
        raise invalid(errors)
    nodes = _nodes(session, found, pins)
    errors = graph_errors(main_id, edges, nodes)
    reviews: dict[str, dict[str, Any]] = {}
    for i, gate in enumerate(review_gates or []):
        field = f"reviewGates[{i}].function"
        function = find_live(session, Function, environment_id, name=gate.function.name, id=gate.function.id)
        if gate.function.version_num is not None:
            reason = "a review gate names a function, not a version (relationships pin versions)"
            errors.append({"field": f"{field}.versionNum", "reason": reason})
        elif function is None or function.id not in nodes:
            reason = f"function {gate.function.id or gate.function.name!r} is not a node of this workflow"
            errors.append({"field": field, "reason": reason})
        elif function.id in reviews:
            errors.append({"field": field, "reason": f"function {function.name!r} has a review gate already"})
        elif (why := review_error(function.name, function.type)) is not None:
            errors.append({"field": field, "reason": why})
        else:
            reviews[function.id] = gate.stored()
    if errors:
        raise invalid(errors)
    return Graph(main_id, edges, pins, layout or Layout(), reviews)


def _nodes(session: Session, found: dict[str, Function], pins: dict[str, int | None]) -> dict[str, Node]:
    nodes = {}
    for function_id, function in found.items():
        version = functions.get_version(session, function, pins[function_id] or function.current_version_num)
        assert version is not None
        nodes[function_id] = Node(version.name, function.type, version.config)
    return nodes


def _graph_of(session: Session, version: WorkflowVersion) -> Graph:
    nodes = session.scalars(sa.select(WorkflowNode).where(WorkflowNode.workflow_version_id == version.id)).all()
    edges = [Edge(e["source"], e.get("destinationName"), e["destination"]) for e in version.relationships]
    layout = Layout(
        names={node.function_id: node.name for node in nodes if node.name is not None},
        metadata={node.function_id: node.node_metadata for node in nodes if node.node_metadata is not None},
        edge_metadata=[e.get("metadata") for e in version.relationships],
    )
    pins = {node.function_id: node.function_version_num for node in nodes}
    reviews = {node.function_id: node.review for node in nodes if node.review is not None}
    return Graph(version.main_function_id, edges, pins, layout, reviews)


# --- writing --------------------------------------------------------------------------------


def _add_version(
    session: Session,
    workflow: Workflow,
    version_num: int,
    *,
    name: str,
    display_name: str | None,
    tags: list[str],
    graph: Graph,
    action: dict[str, Any],
    at: datetime,
) -> WorkflowVersion:
    """Store a new current version, made by ``action`` at ``at``."""
    version = WorkflowVersion(
        id=new_id("wfv"),
        workflow_id=workflow.id,
        version_num=version_num,
        name=name,
        display_name=display_name,
        tags=sorted(set(tags)),
        main_function_id=graph.main,
        relationships=[_edge_document(graph, i) for i in range(len(graph.edges))],
        created_by=action,
    )
    workflow.name = name
    workflow.display_name = display_name
    workflow.current_version_num = version_num
    workflow.updated_at = version.created_at = at
    session.add(version)
    try:
        session.flush()
    except IntegrityError:
        raise _name_taken(name) from None
    session.add_all(
        WorkflowNode(
            workflow_version_id=version.id,
            function_id=fid,
            function_version_num=pin,
            name=graph.layout.names.get(fid),
            node_metadata=graph.layout.metadata.get(fid),
            review=graph.reviews.get(fid),
        )
        for fid, pin in graph.pins.items()
    )
    replace_tags(session, workflow.id, version.tags)
    session.flush()
    return version


def _edge_document(graph: Graph, index: int) -> dict[str, Any]:
    edge = graph.edges[index]
    document = {"source": edge.source, "destinationName": edge.destination_name, "destination": edge.destination}
    metadata = graph.layout.edge_metadata[index] if index < len(graph.layout.edge_metadata) else None
    if metadata is not None:
        document["metadata"] = metadata
    return document


def _name_taken(name: str) -> Exception:
    return conflict(f"a workflow named {name!r} already exists in this environment", {"field": "name"})


def _ensure_name_free(session: Session, environment_id: str, name: str) -> None:
    if _find_live(session, environment_id, name) is not None:
        raise _name_taken(name)


def _new_workflow(
    session: Session,
    principal: Principal,
    environment_id: str,
    *,
    name: str,
    display_name: str | None,
    tags: list[str],
    graph: Graph,
    email_domain: str,
) -> tuple[Workflow, WorkflowVersion]:
    _ensure_name_free(session, environment_id, name)
    action = user_action(principal)
    now = utcnow()
    workflow = Workflow(
        id=new_id("wf"),
        environment_id=environment_id,
        name=name,
        display_name=display_name,
        current_version_num=1,
        email_address=functions.email_address(name, email_domain),
        created_by=action,
        created_at=now,
        updated_at=now,
    )
    session.add(workflow)
    try:
        session.flush()
    except IntegrityError:
        raise _name_taken(name) from None
    version = _add_version(
        session, workflow, 1, name=name, display_name=display_name, tags=tags, graph=graph, action=action, at=now
    )
    return workflow, version


def create_workflow(
    session: Session, principal: Principal, body: WorkflowCreate, email_domain: str, layout: Layout | None = None
) -> WorkflowDetails:
    graph = _resolve_graph(
        session, principal.environment_id, body.main_function, body.relationships or [], layout, body.review_gates
    )
    workflow, version = _new_workflow(
        session,
        principal,
        principal.environment_id,
        name=body.name,
        display_name=body.display_name,
        tags=body.tags or [],
        graph=graph,
        email_domain=email_domain,
    )
    return describe(session, workflow, version)


def update_workflow(
    session: Session, principal: Principal, name: str, body: WorkflowUpdate, layout: Layout | None = None
) -> WorkflowDetails:
    """Only the given fields change; without ``mainFunction`` the graph (and its layout) is kept."""
    workflow = _get_live(session, principal.environment_id, name, for_update=True)
    current = _version(session, workflow, workflow.current_version_num)
    given = body.model_fields_set
    for field, value in (("relationships", body.relationships), ("reviewGates", body.review_gates)):
        if value is not None and body.main_function is None:
            raise bad_request(f"{field} can only be given together with mainFunction", field=field)
    new_name = body.name if body.name is not None else current.name
    if new_name != workflow.name:
        _ensure_name_free(session, principal.environment_id, new_name)
    if body.main_function is not None:
        graph = _resolve_graph(
            session, principal.environment_id, body.main_function, body.relationships or [], layout, body.review_gates
        )
    else:
        graph = _graph_of(session, current)
    version = _add_version(
        session,
        workflow,
        workflow.current_version_num + 1,
        name=new_name,
        display_name=body.display_name if "display_name" in given else current.display_name,
        tags=(body.tags or []) if "tags" in given else current.tags,
        graph=graph,
        action=user_action(principal),
        at=utcnow(),
    )
    return describe(session, workflow, version)


def delete_workflow(session: Session, principal: Principal, name: str) -> Workflow:
    """Soft-delete; returns the workflow as it was (v3 names the version it was on)."""
    workflow = _get_live(session, principal.environment_id, name, for_update=True)
    workflow.deleted_at = utcnow()
    replace_tags(session, workflow.id, [])
    return workflow


@dataclass(frozen=True)
class WorkflowCopyResult:
    environment_name: str
    workflow: WorkflowDetails
    copied_functions: list[CopiedFunction]


def copy_workflow(session: Session, principal: Principal, body: WorkflowCopy, email_domain: str) -> WorkflowCopyResult:
    """Copy one version of a workflow; into another environment, its functions are copied too."""
    source = _get_live(session, principal.environment_id, body.source_workflow_name)
    version_num = body.source_workflow_version_num or source.current_version_num
    if version_num > source.current_version_num:
        raise bad_request(f"workflow {source.name!r} has no version {version_num}", field="sourceWorkflowVersionNum")
    version = _version(session, source, version_num)
    graph = _graph_of(session, version)
    environment_name, environment_id = principal.environment_name, principal.environment_id
    if body.target_environment is not None:
        target = find_environment(session, principal.account_id, body.target_environment)
        if target is None:
            raise bad_request(f"no environment named {body.target_environment!r}", field="targetEnvironment")
        environment_name, environment_id = target.name, target.id
    copied: list[CopiedFunction] = []
    if environment_id != principal.environment_id:
        graph, copied = copy_functions(session, principal, graph, environment_id, email_domain)
    workflow, new_version = _new_workflow(
        session,
        principal,
        environment_id,
        name=body.target_workflow_name,
        display_name=body.target_display_name or f"{version.display_name or version.name} (Copy)",
        tags=version.tags if body.tags is None else body.tags,
        graph=graph,
        email_domain=email_domain,
    )
    return WorkflowCopyResult(environment_name, describe(session, workflow, new_version), copied)


@dataclass(frozen=True)
class Runnable:
    """What a call of a workflow runs: its current version, the function version each node runs
    (the one the node pins, else the function's current one), and the nodes' review gates."""

    workflow: Workflow
    version: WorkflowVersion
    versions: dict[str, int]
    reviews: dict[str, dict[str, Any]]


def with_email_address(session: Session, address: str) -> Workflow | None:
    """The live workflow whose inbound address this is (lower case, as ``functions.email_address`` makes it)."""
    stmt = sa.select(Workflow).where(Workflow.email_address == address, Workflow.deleted_at.is_(None))
    return session.scalars(stmt).first()


def runnable(
    session: Session, environment_id: str, *, id: str | None = None, name: str | None = None
) -> Runnable | None:
    """A live workflow as a call runs it, or None when there is no such workflow."""
    workflow = find_live(session, Workflow, environment_id, id=id, name=name)
    if workflow is None:
        return None
    version = _version(session, workflow, workflow.current_version_num)
    nodes = session.execute(
        sa.select(
            WorkflowNode.function_id,
            WorkflowNode.function_version_num,
            WorkflowNode.review,
            Function.current_version_num,
        )
        .join(Function, Function.id == WorkflowNode.function_id)
        .where(WorkflowNode.workflow_version_id == version.id)
    ).all()
    return Runnable(
        workflow,
        version,
        {node.function_id: node.function_version_num or node.current_version_num for node in nodes},
        {node.function_id: node.review for node in nodes if node.review is not None},
    )


# --- reading --------------------------------------------------------------------------------


def _find_live(session: Session, environment_id: str, name: str, *, for_update: bool = False) -> Workflow | None:
    return find_live(session, Workflow, environment_id, name=name, for_update=for_update)


def _get_live(session: Session, environment_id: str, name: str, *, for_update: bool = False) -> Workflow:
    workflow = _find_live(session, environment_id, name, for_update=for_update)
    if workflow is None:
        raise not_found("workflow", name)
    return workflow


def _version(session: Session, workflow: Workflow, version_num: int) -> WorkflowVersion:
    version = session.scalar(
        sa.select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version_num == version_num
        )
    )
    if version is None:
        raise not_found("workflow version", f"{workflow.name}.{version_num}")
    return version


@dataclass(frozen=True)
class NodeDetails:
    """A node as readers show it: its function now, the pinned version (or ``None``), its layout."""

    function_id: str
    function_name: str
    version_num: int | None
    name: str  # the call-site name: the stored one, else the function's name
    metadata: Any
    review: dict[str, Any] | None  # the node's review gate (``ReviewSetting.stored``), if any


@dataclass(frozen=True)
class WorkflowDetails:
    workflow: Workflow
    version: WorkflowVersion
    nodes: dict[str, NodeDetails]  # by function ID
    last_updated_by: dict[str, Any]  # who made the workflow's current version

    @property
    def main(self) -> NodeDetails:
        return self.nodes[self.version.main_function_id]


@dataclass(frozen=True)
class WorkflowPage:
    items: list[WorkflowDetails]
    total_count: int


def describe(session: Session, workflow: Workflow, version: WorkflowVersion) -> WorkflowDetails:
    return describe_many(session, [(workflow, version)])[0]


_NODES_OF_VERSIONS = (  # built once: composing it per request cost more than running it
    sa.select(WorkflowNode, Function.name)
    .join(Function, Function.id == WorkflowNode.function_id)
    .where(WorkflowNode.workflow_version_id.in_(sa.bindparam("version_ids", expanding=True)))
)


def describe_many(session: Session, pairs: list[tuple[Workflow, WorkflowVersion]]) -> list[WorkflowDetails]:
    if not pairs:
        return []
    version_ids = [v.id for _, v in pairs]
    rows = session.execute(_NODES_OF_VERSIONS, {"version_ids": version_ids}).all()
    nodes: dict[str, dict[str, NodeDetails]] = {vid: {} for vid in version_ids}
    for node, function_name in rows:
        nodes[node.workflow_version_id][node.function_id] = NodeDetails(
            node.function_id,
            function_name,
            node.function_version_num,
            node.name or function_name,
            node.node_metadata,
            node.review,
        )
    older = [workflow for workflow, version in pairs if version.version_num != workflow.current_version_num]
    current = current_versions(session, WorkflowVersion, WorkflowVersion.workflow_id, older)
    return [
        WorkflowDetails(workflow, version, nodes[version.id], current.get(workflow.id, version).created_by)
        for workflow, version in pairs
    ]


def get_workflow(session: Session, environment_id: str, name: str) -> WorkflowDetails:
    workflow = _get_live(session, environment_id, name)
    return describe(session, workflow, _version(session, workflow, workflow.current_version_num))


def get_workflow_version(session: Session, environment_id: str, name: str, version_num: int) -> WorkflowDetails:
    workflow = _get_live(session, environment_id, name)
    return describe(session, workflow, _version(session, workflow, version_num))


def list_workflows(session: Session, environment_id: str, query: Any) -> WorkflowPage:
    filters = []
    if query.workflow_ids is not None:
        filters.append(Workflow.id.in_(query.workflow_ids))
    if query.workflow_names is not None:
        filters.append(Workflow.name.in_(query.workflow_names))
    if query.display_name is not None:
        filters.append(icontains(Workflow.display_name, query.display_name))
    if query.tags is not None:
        filters.append(has_all_tags(Workflow.id, query.tags))
    filters += workflows_using(
        function_ids=query.function_ids,
        function_names=query.function_names,
        function_id_versions=parse_version_refs(query.function_id_version_nums, "functionIDVersionNums"),
        function_name_versions=parse_version_refs(query.function_name_version_nums, "functionNameVersionNums"),
    )
    scope = [Workflow.environment_id == environment_id, Workflow.deleted_at.is_(None)]
    workflows = creation_page(session, Workflow, scope, filters, query)
    total = total_count(session, sa.select(Workflow).where(*scope, *filters), query, workflows)
    versions = current_versions(session, WorkflowVersion, WorkflowVersion.workflow_id, workflows)
    return WorkflowPage(describe_many(session, [(w, versions[w.id]) for w in workflows]), total)


def list_versions(session: Session, environment_id: str, name: str, query: Any) -> WorkflowPage:
    workflow = _get_live(session, environment_id, name)
    stmt = sa.select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id)

    def cursor_key(num: int) -> tuple[Any, ...] | None:
        return (num,) if 1 <= num <= workflow.current_version_num else None

    versions = keyset_page(session, stmt, (WorkflowVersion.version_num,), query, cursor_key)
    total = total_count(session, stmt, query, versions)
    return WorkflowPage(describe_many(session, [(workflow, v) for v in versions]), total)
