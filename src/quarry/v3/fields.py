"""Errors of the core named in v3's words: a core field path (``routes[0].name``) becomes the
v3 field the client sent (``classifications[0].name``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from quarry.errors import InvalidRequest, bad_request, invalid


def rename(field: str, renames: dict[str, str]) -> str:
    """``renames`` maps a core path segment (``routes``, ``relationships``) to the v3 one."""
    return re.sub(r"[A-Za-z]+", lambda m: renames.get(m.group(0), m.group(0)), field)


@contextmanager
def v3_fields(renames: dict[str, str]) -> Iterator[None]:
    """Re-raise the core's invalid-request errors with their fields renamed."""
    try:
        yield
    except InvalidRequest as exc:
        errors = (exc.details or {}).get("errors")
        if not errors:
            raise
        renamed = [{"field": rename(e["field"], renames), "reason": e["reason"]} for e in errors]
        if exc.message.startswith("Invalid request: "):
            raise invalid(renamed) from None
        raise bad_request(exc.message, errors=renamed) from None
