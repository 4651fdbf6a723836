"""Errors of the domain: what a service says when a request cannot be carried out.

Services raise these and know nothing of HTTP; each API surface maps them to a status and its
error shape at the edge (``quarry.api.errors``). ``details`` names the offending fields:
``{"field", "reason", "errors": [{"field", "reason"}, …]}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class QuarryError(Exception):
    """A request that cannot be carried out, for a reason the client can act on."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(QuarryError):
    """Something in the request is invalid (a value, a reference to an unknown object)."""


class NotFound(QuarryError):
    """The object the request is about does not exist (in the caller's environment)."""


class Conflict(QuarryError):
    """The request contradicts the current state: a taken name, an object in use."""


class TooLarge(QuarryError):
    """A file in the request is larger than the deployment accepts."""


def bad_request(message: str, field: str | None = None, errors: list[dict[str, str]] | None = None) -> InvalidRequest:
    """``field`` names where the problem is (``calls[2].input.singleFile``)."""
    if errors is None and field is not None:
        errors = [{"field": field, "reason": message}]
    return InvalidRequest(message, _details(errors) if errors else None)


def not_found(kind: str, name: str) -> NotFound:
    return NotFound(f"{kind} {name!r} not found")


def conflict(message: str, details: dict[str, Any] | None = None) -> Conflict:
    return Conflict(message, details)


def _details(errors: list[dict[str, str]]) -> dict[str, Any]:
    """The first problem as ``field``/``reason`` (the documented example), all of them in ``errors``."""
    return {"field": errors[0]["field"], "reason": errors[0]["reason"], "errors": errors}


def _field_path(loc: tuple[Any, ...] | list[Any], body: Any) -> str:
    """``('body', 'transform', 'routes', 0, 'name')`` -> ``routes[0].name``.

    Pydantic puts the tag of a discriminated union into ``loc``; such an element is a string
    that is not a key of the document at that point (and not the last element, which may name
    a missing field), so walking the submitted body tells them apart.
    """
    parts: list[str] = []
    node = body
    for index, element in enumerate(loc):
        if index == 0 and element in ("body", "query", "path", "header"):
            continue
        if isinstance(element, int):
            parts.append(f"[{element}]")
            node = node[element] if isinstance(node, list) and element < len(node) else None
            continue
        if isinstance(node, dict) and element not in node and index < len(loc) - 1:
            continue  # a union tag
        parts.append(f".{element}" if parts else str(element))
        node = node.get(element) if isinstance(node, dict) else None
    return "".join(parts)


def _reason(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot be parsed')}"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _location(error: dict[str, Any]) -> tuple[Any, ...]:
    """Where the error is; a bad or missing union tag is an error of the tag's field (``type``)."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        loc += (str(error.get("ctx", {}).get("discriminator", "")).strip("'\""),)
    return loc


def validation_errors(errors: list[dict[str, Any]], body: Any = None) -> list[dict[str, str]]:
    return [{"field": _field_path(_location(e), body) or "body", "reason": _reason(e)} for e in errors]


def invalid(errors: list[dict[str, str]]) -> InvalidRequest:
    first = errors[0]
    suffix = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidRequest(f"Invalid request: {first['field']}: {first['reason']}{suffix}", _details(errors))


def unknown_fields(names: list[str]) -> InvalidRequest:
    """Fields a request may not have (a form's, a query's), refused in pydantic's words for a JSON body's."""
    return invalid([{"field": name, "reason": "Extra inputs are not permitted"} for name in names])


def from_validation_error(exc: ValidationError, body: Any, prefix: str = "") -> InvalidRequest:
    """Turn a pydantic error raised while validating part of a request into a 400."""
    errors = validation_errors(exc.errors(), body)
    if prefix:
        for error in errors:
            error["field"] = prefix if error["field"] == "body" else f"{prefix}.{error['field']}"
    return invalid(errors)
