"""The v2 wire form of workflows (``/v2/workflows``): a main function and relationships between functions."""

from __future__ import annotations

from typing import Any

from quarry.workflows.service import CopiedFunction, NodeDetails, WorkflowCopyResult, WorkflowDetails, WorkflowPage


def _reference(node: NodeDetails) -> dict[str, Any]:
    return {"id": node.function_id, "name": node.function_name, "versionNum": node.version_num}


def render(details: WorkflowDetails) -> dict[str, Any]:
    workflow, version, nodes = details.workflow, details.version, details.nodes
    gates = [{"function": _reference(node), **node.review} for node in nodes.values() if node.review is not None]
    return {
        "id": workflow.id,
        "name": version.name,
        "versionNum": version.version_num,
        "displayName": version.display_name,
        "emailAddress": workflow.email_address,
        "tags": version.tags,
        "mainFunction": _reference(details.main),
        "relationships": [
            {
                "sourceFunction": _reference(nodes[e["source"]]),
                "destinationName": e.get("destinationName"),
                "destinationFunction": _reference(nodes[e["destination"]]),
            }
            for e in version.relationships
        ],
        "reviewGates": gates or None,  # a Quarry extension: absent where there is none
        "createdAt": workflow.created_at,
        "updatedAt": version.created_at,
        "audit": {
            "workflowCreatedBy": workflow.created_by,
            "workflowLastUpdatedBy": details.last_updated_by,
            "versionCreatedBy": version.created_by,
        },
    }


def render_list(page: WorkflowPage, key: str = "workflows") -> dict[str, Any]:
    return {key: [render(item) for item in page.items], "totalCount": page.total_count}


def render_copy(result: WorkflowCopyResult) -> dict[str, Any]:
    return {
        "environment": result.environment_name,
        "workflow": render(result.workflow),
        "copiedFunctions": [copied_function(c) for c in result.copied_functions],
    }


def copied_function(copied: CopiedFunction) -> dict[str, Any]:
    """``CopiedFunction`` on the wire (the same in v2 and v3): the copy is always version 1."""
    return {
        "sourceFunctionName": copied.source.name,
        "sourceFunctionID": copied.source.id,
        "sourceVersionNum": copied.source_version_num,
        "targetFunctionName": copied.target.name,
        "targetFunctionID": copied.target.id,
        "targetVersionNum": 1,
    }
