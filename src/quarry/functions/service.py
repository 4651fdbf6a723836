"""Creating, versioning, copying and finding functions (``catalog.functions`` reads them with the
workflows that use them, and deletes them).

Every change makes a new immutable ``FunctionVersion``; the ``functions`` row only points at
the current one. Functions are soft-deleted so that calls made with them stay readable.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry.audit import user_action
from quarry.errors import bad_request, conflict, from_validation_error, invalid, not_found
from quarry.functions.models import Function, FunctionVersion, v3_type
from quarry.functions.schemas import CONFIG_MODELS, CREATE_MODELS, EMAIL_FUNCTION_TYPES, FunctionCommon, FunctionCopy
from quarry.ids import new_id
from quarry.lru import Lru
from quarry.storage.base import utcnow
from quarry.storage.tags import replace_tags
from quarry.storage.versioned import find_live as find_live_object
from quarry.tenancy.service import Principal, find_environment


def email_address(name: str, domain: str) -> str:
    """A stable inbound address, made once at creation: ``<name>-<8 hex>@<domain>``."""
    return f"{name.lower()}-{secrets.token_hex(4)}@{domain}"


def _config_of(body: FunctionCommon, type_: str) -> dict[str, Any]:
    fields = set(CONFIG_MODELS[type_].model_fields)
    return body.model_dump(mode="json", by_alias=True, exclude_none=True, include=fields)


def find_live(
    session: Session, environment_id: str, name: str | None, *, id: str | None = None, for_update: bool = False
) -> Function | None:
    """The live function of this environment with this ID, or else this name."""
    return find_live_object(session, Function, environment_id, name=name, id=id, for_update=for_update)


def with_email_address(session: Session, address: str) -> Function | None:
    """The live function whose inbound address this is (lower case, as ``email_address`` makes it)."""
    stmt = sa.select(Function).where(Function.email_address == address, Function.deleted_at.is_(None))
    return session.scalars(stmt).first()


def by_id(session: Session, function_id: str) -> Function:
    """A function by ID, live or deleted (a call in flight keeps running what it pinned)."""
    return session.get_one(Function, function_id)


# A version's configuration and a function's type never change once written (an update makes a
# new version), and every call reads them: each process keeps those it read. IDs are unique across
# databases, so the maps need no database in their keys.
_CONFIGS: Lru[tuple[str, int], dict[str, Any]] = Lru(4096)
_TYPES: Lru[str, str] = Lru(4096)


def config_of(session: Session, function_id: str, version_num: int) -> dict[str, Any]:
    """The configuration of one version of a function (shared: not to be changed)."""

    def load() -> dict[str, Any]:
        return session.scalars(
            sa.select(FunctionVersion.config).where(
                FunctionVersion.function_id == function_id, FunctionVersion.version_num == version_num
            )
        ).one()

    return _CONFIGS.get_or_load((function_id, version_num), load)


def count_of_type(session: Session, function_ids: list[str], function_type: str) -> int:
    """How many of these functions are of this type."""
    unknown = [function_id for function_id in function_ids if _TYPES.get(function_id) is None]
    if unknown:
        known = session.execute(sa.select(Function.id, Function.type).where(Function.id.in_(unknown)))
        for function_id, type_ in known:
            _TYPES.put(function_id, type_)
    return sum(1 for function_id in function_ids if _TYPES.get(function_id) == function_type)


_V3_TYPES: Lru[str, str] = Lru(4096)


def v3_types_of(session: Session, function_ids: Iterable[str]) -> dict[str, str]:
    """Each function's type as v3 reads it (``models.v3_type``; fixed at creation, so kept)."""
    wanted = set(function_ids)
    unknown = [function_id for function_id in wanted if _V3_TYPES.get(function_id) is None]
    if unknown:
        named = sa.select(Function.id, Function.type, Function.type_name).where(Function.id.in_(unknown))
        rows = session.execute(named)
        for function_id, type_, type_name in rows:
            _V3_TYPES.put(function_id, v3_type(type_, type_name))
    return {function_id: found for function_id in wanted if (found := _V3_TYPES.get(function_id)) is not None}


def get_live(session: Session, environment_id: str, name: str, *, for_update: bool = False) -> Function:
    function = find_live(session, environment_id, name, for_update=for_update)
    if function is None:
        raise not_found("function", name)
    return function


def get_version(session: Session, function: Function, version_num: int) -> FunctionVersion | None:
    return session.scalar(
        sa.select(FunctionVersion).where(
            FunctionVersion.function_id == function.id, FunctionVersion.version_num == version_num
        )
    )


@dataclass(frozen=True)
class TargetReference:
    """A function named inside another function's configuration (a route or split target)."""

    field: str  # path for error messages, e.g. ``routes[0].functionID``
    holder: dict[str, Any]  # the configuration object holding the reference
    key: str  # ``functionID``, ``functionName``, ``nextFunctionID`` or ``nextFunctionName``

    @property
    def by_id(self) -> bool:
        return self.key.endswith("ID")

    @property
    def value(self) -> str:
        return str(self.holder[self.key])


def target_references(type_: str, config: dict[str, Any]) -> list[TargetReference]:
    holders: list[tuple[str, dict[str, Any]]] = []
    if type_ == "route":
        holders = [(f"routes[{i}]", route) for i, route in enumerate(config["routes"])]
    elif type_ == "split":
        classes = (config.get("semanticPageSplitConfig") or {}).get("itemClasses", [])
        holders = [("printPageSplitConfig", config.get("printPageSplitConfig") or {})]
        holders += [(f"semanticPageSplitConfig.itemClasses[{i}]", item) for i, item in enumerate(classes)]
    keys = ("functionID", "functionName") if type_ == "route" else ("nextFunctionID", "nextFunctionName")
    return [TargetReference(f"{path}.{key}", holder, key) for path, holder in holders for key in keys if key in holder]


def find_target(session: Session, environment_id: str, reference: TargetReference) -> Function | None:
    key = "id" if reference.by_id else "name"
    return find_live_object(session, Function, environment_id, **{key: reference.value})


def _check_targets(session: Session, environment_id: str, type_: str, config: dict[str, Any]) -> None:
    """Route and split targets named in the configuration must be live functions of this environment."""
    errors = [
        {"field": ref.field, "reason": f"no function {ref.value!r} in this environment"}
        for ref in target_references(type_, config)
        if find_target(session, environment_id, ref) is None
    ]
    if errors:
        raise invalid(errors)


def _flush_or_conflict(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise conflict(
            f"a function named {name!r} already exists in this environment", {"field": "functionName"}
        ) from None


def _ensure_name_free(session: Session, environment_id: str, name: str) -> None:
    if find_live(session, environment_id, name) is not None:
        raise conflict(f"a function named {name!r} already exists in this environment", {"field": "functionName"})


def _add_function(
    session: Session,
    principal: Principal,
    environment_id: str,
    body: FunctionCommon,
    type_: str,
    email_domain: str,
    function_id: str | None = None,
    type_name: str | None = None,
) -> tuple[Function, FunctionVersion]:
    _ensure_name_free(session, environment_id, body.function_name)
    action = user_action(principal)
    function = Function(
        id=function_id or new_id("f"),
        environment_id=environment_id,
        type=type_,
        name=body.function_name,
        display_name=body.display_name,
        current_version_num=1,
        email_address=email_address(body.function_name, email_domain) if type_ in EMAIL_FUNCTION_TYPES else None,
        type_name=(type_name or type_) if type_ == "transform" else None,
        created_by=action,
    )
    version = FunctionVersion(
        id=new_id("fv"),
        function_id=function.id,
        version_num=1,
        name=body.function_name,
        display_name=body.display_name,
        tags=sorted(set(body.tags or [])),
        config=_config_of(body, type_),
        created_by=action,
    )
    session.add(function)
    _flush_or_conflict(session, body.function_name)
    session.add(version)
    replace_tags(session, function.id, version.tags)
    session.flush()
    return function, version


def create_function(
    session: Session, principal: Principal, body: FunctionCommon, email_domain: str, type_name: str | None = None
) -> tuple[Function, FunctionVersion]:
    """``type_name``: the name the type was given, where bem has two for it (v3's ``extract``)."""
    type_ = body.type  # type: ignore[attr-defined]
    config = _config_of(body, type_)
    _check_targets(session, principal.environment_id, type_, config)
    return _add_function(session, principal, principal.environment_id, body, type_, email_domain, type_name=type_name)


def update_function(
    session: Session, principal: Principal, name: str, changes: dict[str, Any]
) -> tuple[Function, FunctionVersion]:
    """``PUT``: the given fields replace the current version's, making a new version."""
    function = get_live(session, principal.environment_id, name, for_update=True)
    if "type" in changes and changes["type"] != function.type:
        raise bad_request(f"type cannot be changed (this function is a {function.type!r} function)", field="type")
    current = get_version(session, function, function.current_version_num)
    assert current is not None
    merged = {
        "functionName": current.name,
        "displayName": current.display_name,
        "tags": current.tags,
        **current.config,
        **changes,
        "type": function.type,
    }
    try:
        body = CREATE_MODELS[function.type].model_validate(merged)
    except ValidationError as exc:
        raise from_validation_error(exc, merged) from None
    config = _config_of(body, function.type)
    _check_targets(session, principal.environment_id, function.type, config)
    if body.function_name != function.name:
        _ensure_name_free(session, principal.environment_id, body.function_name)
    version = FunctionVersion(
        id=new_id("fv"),
        function_id=function.id,
        version_num=function.current_version_num + 1,
        name=body.function_name,
        display_name=body.display_name,
        tags=sorted(set(body.tags or [])),
        config=config,
        created_by=user_action(principal),
    )
    function.name = body.function_name
    function.display_name = body.display_name
    function.current_version_num = version.version_num
    function.updated_at = utcnow()
    session.add(version)
    _flush_or_conflict(session, body.function_name)
    replace_tags(session, function.id, version.tags)
    session.flush()
    return function, version


def copy_function(
    session: Session, principal: Principal, body: FunctionCopy, email_domain: str
) -> tuple[Function, FunctionVersion]:
    """Copy the current version. Into another environment, route/split targets must exist there by
    name (copy them first); targets given by ID are translated to the same-named function there."""
    source = get_live(session, principal.environment_id, body.source_function_name)
    target_environment_id = principal.environment_id
    if body.target_environment is not None:
        target = find_environment(session, principal.account_id, body.target_environment)
        if target is None:
            raise bad_request(f"no environment named {body.target_environment!r}", field="targetEnvironment")
        target_environment_id = target.id
    version = get_version(session, source, source.current_version_num)
    assert version is not None
    id_map: dict[str, str] = {}
    if target_environment_id != principal.environment_id:
        errors = []
        for ref in target_references(source.type, version.config):
            in_source = find_target(session, principal.environment_id, ref)
            name = in_source.name if in_source else ref.value
            in_target = find_live(session, target_environment_id, name)
            if in_target is None:
                errors.append(
                    {
                        "field": ref.field,
                        "reason": f"the target environment has no function named {name!r}; copy it there first",
                    }
                )
            elif in_source is not None:
                id_map[in_source.id] = in_target.id
        if errors:
            raise invalid(errors)
    function, new_version = copy_version(
        session,
        principal,
        source,
        version,
        target_environment_id,
        body.target_function_name,
        display_name=body.target_display_name,
        tags=body.tags,
        email_domain=email_domain,
        id_map=id_map,
    )
    return function, new_version


def copy_version(
    session: Session,
    principal: Principal,
    source: Function,
    version: FunctionVersion,
    environment_id: str,
    name: str,
    *,
    display_name: str | None,
    tags: list[str] | None,
    email_domain: str,
    id_map: dict[str, str],
    function_id: str | None = None,
) -> tuple[Function, FunctionVersion]:
    """Make a new function (version 1) from one version of another.

    Target references by ID are translated through ``id_map`` (IDs it does not know are kept);
    ``function_id`` is the new function's ID when the caller had to know it in advance.
    """
    config = copy.deepcopy(version.config)
    for ref in target_references(source.type, config):
        if ref.by_id:
            ref.holder[ref.key] = id_map.get(ref.value, ref.value)
    body = CREATE_MODELS[source.type].model_validate(
        {
            **config,
            "type": source.type,
            "functionName": name,
            "displayName": display_name or f"{version.display_name or version.name} (Copy)",
            "tags": version.tags if tags is None else tags,
        }
    )
    return _add_function(
        session, principal, environment_id, body, source.type, email_domain, function_id, source.type_name
    )


@dataclass(frozen=True)
class FunctionDetails:
    """One function version with what its readers show besides its configuration."""

    function: Function
    version: FunctionVersion
    last_updated_by: dict[str, Any]  # who made the function's current version
    used_in_workflows: list[dict[str, Any]]  # ``WorkflowUsageInfo`` (the same in v2 and v3)


@dataclass(frozen=True)
class FunctionPage:
    items: list[FunctionDetails]
    total_count: int
