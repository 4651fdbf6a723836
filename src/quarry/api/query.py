"""Query parameters a route does not declare are refused, as unknown fields of a JSON body are: a
``?wait=true`` that a route does not take must not look as if it had been obeyed."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from quarry.errors import unknown_fields

_DECLARED = "quarry_declared_query"


def refuse_undeclared_query(request: Request) -> None:
    """A 400 naming each query parameter that the request's route (its dependencies included) does
    not declare; a parameter model declares its fields' wire names."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    declared = _declared(route)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in declared]
    if unknown:
        raise unknown_fields(unknown)


def _declared(route: APIRoute) -> frozenset[str]:
    """Walked once per route, kept on it: a route lives as long as its app."""
    declared = route.__dict__.get(_DECLARED)
    if declared is None:
        declared = route.__dict__[_DECLARED] = frozenset(_names(route.dependant))
    return declared


def _names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            yield from (field.alias or name for name, field in model.model_fields.items())
        else:
            yield param.alias
    for dependency in dependant.dependencies:
        yield from _names(dependency)
