"""Which workflow versions use which function versions.

A workflow node either pins a function version or follows the function's current version
(``function_version_num`` NULL). "The current version of function F is used by workflow
version W" therefore means: W has a node for F that pins F's current version or pins nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.errors import bad_request
from quarry.functions.models import Function
from quarry.wire import MAX_VERSION_NUM
from quarry.workflows.models import Workflow, WorkflowNode, WorkflowVersion


def parse_version_refs(values: list[str] | None, field: str) -> list[tuple[str, int]]:
    """``["w_abc.2", "invoice-processing.3"]`` -> ``[("w_abc", 2), ("invoice-processing", 3)]``."""
    refs = []
    for value in values or []:
        head, _, tail = value.rpartition(".")
        if not head or not tail.isdigit() or not 1 <= int(tail) <= MAX_VERSION_NUM:
            raise bad_request(f"{field}: {value!r} is not of the form '<id or name>.<versionNum>'", field=field)
        refs.append((head, int(tail)))
    return refs


def _node_matches_version(
    version_num: sa.ColumnElement[int] | int, current: sa.ColumnElement[int]
) -> sa.ColumnElement[bool]:
    pinned = WorkflowNode.function_version_num
    return sa.or_(pinned == version_num, sa.and_(pinned.is_(None), current == version_num))


def _used_by_live_versions() -> sa.Select[Any]:
    return (
        sa.select(sa.literal(1))
        .select_from(WorkflowNode)
        .join(WorkflowVersion, WorkflowVersion.id == WorkflowNode.workflow_version_id)
        .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
        .where(Workflow.deleted_at.is_(None))
    )


def functions_used_by(
    *,
    workflow_ids: list[str] | None = None,
    workflow_names: list[str] | None = None,
    workflow_id_versions: list[tuple[str, int]] = (),  # type: ignore[assignment]
    workflow_name_versions: list[tuple[str, int]] = (),  # type: ignore[assignment]
) -> list[sa.ColumnElement[bool]]:
    """Conditions on ``Function``: its current version is used by the given workflows (each filter ANDed)."""
    if workflow_ids is None and workflow_names is None and not workflow_id_versions and not workflow_name_versions:
        return []  # the common unfiltered list: no subquery to build
    base = _used_by_live_versions().where(
        WorkflowNode.function_id == Function.id,
        _node_matches_version(Function.current_version_num, Function.current_version_num),
    )
    is_current = WorkflowVersion.version_num == Workflow.current_version_num
    conditions = []
    if workflow_ids is not None:
        conditions.append(base.where(is_current, Workflow.id.in_(workflow_ids)).exists())
    if workflow_names is not None:
        conditions.append(base.where(is_current, Workflow.name.in_(workflow_names)).exists())
    for column, refs in ((Workflow.id, workflow_id_versions), (Workflow.name, workflow_name_versions)):
        if refs:
            pairs = [sa.and_(column == key, WorkflowVersion.version_num == num) for key, num in refs]
            conditions.append(base.where(sa.or_(*pairs)).exists())
    return conditions


def workflows_using(
    *,
    function_ids: list[str] | None = None,
    function_names: list[str] | None = None,
    function_id_versions: list[tuple[str, int]] = (),  # type: ignore[assignment]
    function_name_versions: list[tuple[str, int]] = (),  # type: ignore[assignment]
) -> list[sa.ColumnElement[bool]]:
    """Conditions on ``Workflow``: its current version uses the given function versions
    (the current one where no version is named; each filter ANDed)."""
    if function_ids is None and function_names is None and not function_id_versions and not function_name_versions:
        return []  # the common unfiltered list: no subquery to build
    base = (
        sa.select(sa.literal(1))
        .select_from(WorkflowNode)
        .join(WorkflowVersion, WorkflowVersion.id == WorkflowNode.workflow_version_id)
        .join(Function, Function.id == WorkflowNode.function_id)
        .where(
            WorkflowVersion.workflow_id == Workflow.id,
            WorkflowVersion.version_num == Workflow.current_version_num,
            Function.deleted_at.is_(None),
        )
    )
    at_current = _node_matches_version(Function.current_version_num, Function.current_version_num)
    conditions = []
    if function_ids is not None:
        conditions.append(base.where(at_current, Function.id.in_(function_ids)).exists())
    if function_names is not None:
        conditions.append(base.where(at_current, Function.name.in_(function_names)).exists())
    for column, refs in ((Function.id, function_id_versions), (Function.name, function_name_versions)):
        if refs:
            pairs = [
                sa.and_(column == key, _node_matches_version(num, Function.current_version_num)) for key, num in refs
            ]
            conditions.append(base.where(sa.or_(*pairs)).exists())
    return conditions


_USAGE_OF_FUNCTIONS = (  # built once: composing it cost more than running it, on every list of functions
    sa.select(
        WorkflowNode.function_id,
        WorkflowNode.function_version_num,
        Workflow.id,
        Workflow.name,
        Workflow.current_version_num,
        WorkflowVersion.version_num,
    )
    .join(WorkflowVersion, WorkflowVersion.id == WorkflowNode.workflow_version_id)
    .join(Workflow, Workflow.id == WorkflowVersion.workflow_id)
    .where(Workflow.deleted_at.is_(None), WorkflowNode.function_id.in_(sa.bindparam("function_ids", expanding=True)))
    .order_by(Workflow.created_at, Workflow.id, WorkflowVersion.version_num)
)


def usage_of(session: Session, versions: Iterable[tuple[Function, int]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """``usedInWorkflows`` for each ``(function, versionNum)``: the live workflows whose versions use it."""
    wanted = list(versions)
    current = {function.id: function.current_version_num for function, _ in wanted}
    result: dict[tuple[str, int], list[dict[str, Any]]] = {(f.id, num): [] for f, num in wanted}
    if not wanted:
        return result
    rows = session.execute(_USAGE_OF_FUNCTIONS, {"function_ids": list(current)})
    grouped: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for function_id, pinned, workflow_id, workflow_name, workflow_current, workflow_version in rows:
        used_version = pinned if pinned is not None else current[function_id]
        if (function_id, used_version) not in result:
            continue
        info = grouped[(function_id, used_version)].setdefault(
            workflow_id,
            {
                "workflowID": workflow_id,
                "workflowName": workflow_name,
                "currentVersionNum": workflow_current,
                "usedInWorkflowVersionNums": [],
            },
        )
        info["usedInWorkflowVersionNums"].append(workflow_version)
    for key, workflows in grouped.items():
        result[key] = list(workflows.values())
    return result
