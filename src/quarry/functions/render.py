"""The v2 wire form of functions (``/v2/functions``)."""

from __future__ import annotations

from typing import Any

from quarry.functions.service import FunctionDetails, FunctionPage


def render(details: FunctionDetails, *, as_version: bool = False) -> dict[str, Any]:
    function, version = details.function, details.version
    item: dict[str, Any] = {
        "functionID": function.id,
        "functionName": version.name,
        "versionNum": version.version_num,
        "type": function.type,
        "displayName": version.display_name,
        "tags": version.tags,
        **version.config,
        "emailAddress": function.email_address,
        "audit": {
            "functionCreatedBy": function.created_by,
            "functionLastUpdatedBy": details.last_updated_by,
            "versionCreatedBy": version.created_by,
        },
        "usedInWorkflows": details.used_in_workflows,
    }
    if as_version:
        item["createdAt"] = version.created_at
    return item


def render_list(page: FunctionPage) -> dict[str, Any]:
    return {"functions": [render(item) for item in page.items], "totalCount": page.total_count}


def render_versions(page: FunctionPage) -> dict[str, Any]:
    return {"versions": [render(item, as_version=True) for item in page.items], "totalCount": page.total_count}
