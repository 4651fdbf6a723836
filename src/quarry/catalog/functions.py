"""Functions as their readers see them: each version with the workflows that use it.

It reads across two packages — functions, and the workflows that pin their versions — so it sits
above both: ``functions`` knows nothing of workflows, and ``workflows`` builds on ``functions``.
Deleting lives here too (the workflows that use a function keep running what they pinned).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.errors import bad_request, not_found
from quarry.functions import service
from quarry.functions.models import Function, FunctionVersion
from quarry.functions.schemas import FunctionCommon, FunctionCopy
from quarry.functions.service import FunctionDetails, FunctionPage, get_live, get_version
from quarry.storage.base import icontains, utcnow
from quarry.storage.pages import creation_page, keyset_page, total_count
from quarry.storage.tags import has_all_tags, replace_tags
from quarry.storage.versioned import current_versions
from quarry.subscriptions.addresses import AddressRefused, check_address, check_url
from quarry.tenancy.service import Principal
from quarry.workflows.usage import functions_used_by, parse_version_refs, usage_of


def create_function(
    session: Session, principal: Principal, body: FunctionCommon, email_domain: str, type_name: str | None = None
) -> FunctionDetails:
    function, version = service.create_function(session, principal, body, email_domain, type_name)
    _check_webhook_url(version)
    return describe(session, function, version)


def update_function(session: Session, principal: Principal, name: str, changes: dict[str, Any]) -> FunctionDetails:
    function, version = service.update_function(session, principal, name, changes)
    _check_webhook_url(version)
    return describe(session, function, version)


def _check_webhook_url(version: FunctionVersion) -> None:
    """A send function's webhook URL obeys the rule of subscriptions' (``subscriptions.addresses``,
    which ``functions`` sits below): checked again, resolved, at each delivery. Raised before the
    write transaction commits, so nothing is stored."""
    url = version.config.get("webhookUrl")
    if url is None:
        return
    try:
        check_address(check_url(url), resolve=False)
    except AddressRefused as exc:
        raise bad_request(str(exc), field="webhookUrl") from None


def copy_function(session: Session, principal: Principal, body: FunctionCopy, email_domain: str) -> FunctionDetails:
    return describe(session, *service.copy_function(session, principal, body, email_domain))


def delete_function(session: Session, principal: Principal, name: str) -> None:
    """Delete a function, used by workflows or not, as bem does. A workflow that uses it keeps the
    version its node pins (or the function's last current one) and runs and reads it as before;
    a new graph cannot name it (it is not live), a new version that keeps the graph keeps it."""
    function = get_live(session, principal.environment_id, name, for_update=True)
    function.deleted_at = utcnow()
    replace_tags(session, function.id, [])


def describe(session: Session, function: Function, version: FunctionVersion) -> FunctionDetails:
    return describe_many(session, [(function, version)])[0]


def describe_many(session: Session, pairs: list[tuple[Function, FunctionVersion]]) -> list[FunctionDetails]:
    usage = usage_of(session, [(function, version.version_num) for function, version in pairs])
    older = [function for function, version in pairs if version.version_num != function.current_version_num]
    current = current_versions(session, FunctionVersion, FunctionVersion.function_id, older)
    return [
        FunctionDetails(
            function,
            version,
            current.get(function.id, version).created_by,
            usage[(function.id, version.version_num)],
        )
        for function, version in pairs
    ]


def list_functions(
    session: Session, environment_id: str, query: Any, where: list[sa.ColumnElement[bool]] | None = None
) -> FunctionPage:
    """``where``: further conditions on ``Function`` (v3's type names, say)."""
    filters = list(where or [])
    if query.function_ids is not None:
        filters.append(Function.id.in_(query.function_ids))
    if query.function_names is not None:
        filters.append(Function.name.in_(query.function_names))
    if query.types is not None:
        filters.append(Function.type.in_(query.types))
    if query.display_name is not None:
        filters.append(icontains(Function.display_name, query.display_name))
    if query.tags is not None:
        filters.append(has_all_tags(Function.id, query.tags))
    filters += functions_used_by(
        workflow_ids=query.workflow_ids,
        workflow_names=query.workflow_names,
        workflow_id_versions=parse_version_refs(query.workflow_id_version_nums, "workflowIDVersionNums"),
        workflow_name_versions=parse_version_refs(query.workflow_name_version_nums, "workflowNameVersionNums"),
    )
    scope = [Function.environment_id == environment_id, Function.deleted_at.is_(None)]
    functions = creation_page(session, Function, scope, filters, query)
    total = total_count(session, sa.select(Function).where(*scope, *filters), query, functions)
    versions = current_versions(session, FunctionVersion, FunctionVersion.function_id, functions)
    return FunctionPage(describe_many(session, [(f, versions[f.id]) for f in functions]), total)


def get_function(session: Session, environment_id: str, name: str) -> FunctionDetails:
    function = get_live(session, environment_id, name)
    version = get_version(session, function, function.current_version_num)
    assert version is not None
    return describe(session, function, version)


def list_versions(session: Session, environment_id: str, name: str, query: Any) -> FunctionPage:
    function = get_live(session, environment_id, name)
    stmt = sa.select(FunctionVersion).where(FunctionVersion.function_id == function.id)

    def cursor_key(raw: str) -> tuple[Any, ...] | None:
        num = int(raw)
        return (num,) if 1 <= num <= function.current_version_num else None

    versions = keyset_page(session, stmt, (FunctionVersion.version_num,), query, cursor_key)
    total = total_count(session, stmt, query, versions)
    return FunctionPage(describe_many(session, [(function, v) for v in versions]), total)


def get_function_version(session: Session, environment_id: str, name: str, version_num: int) -> FunctionDetails:
    function = get_live(session, environment_id, name)
    version = get_version(session, function, version_num)
    if version is None:
        raise not_found("version", f"{name}.{version_num}")
    return describe(session, function, version)
