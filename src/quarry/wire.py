"""Wire shapes below the HTTP layer: snake_case in Python, bem's lowerCamelCase (``callID``, ``s3URL``)
on the wire, RFC 3339 timestamps and comma-separated array parameters.

Services render and validate with these; only ``quarry.api`` knows how they travel over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

_ACRONYMS = re.compile(r"(Id|Url)(?=$|[A-Z]|s$|s[A-Z])")


def wire_name(name: str) -> str:
    """``reference_id_substring`` -> ``referenceIDSubstring``; ``s3_url`` -> ``s3URL``.

    >>> wire_name("workflow_id_version_nums"), wire_name("call_ids"), wire_name("webhook_url")
    ('workflowIDVersionNums', 'callIDs', 'webhookURL')
    """
    return _ACRONYMS.sub(lambda m: m.group(1).upper(), to_camel(name))


class WireModel(BaseModel):
    """A request or response shape. Unknown fields are refused so that typos are not silently ignored."""

    model_config = ConfigDict(alias_generator=wire_name, validate_by_alias=True, validate_by_name=False, extra="forbid")


MAX_VERSION_NUM = 2**31 - 1
VersionNum = Annotated[int, Field(ge=1, le=MAX_VERSION_NUM)]
"""A version number: 1 and up, within what every database stores as an integer."""


def rfc3339(value: datetime) -> str:
    """``2026-12-05T13:00:00.000000Z``: always microseconds, always ``Z`` (the stored instants
    are UTC already: no conversion on the hot path of every listed call)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def rfc3339_or_none(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


def without_none(fields: dict[str, Any]) -> dict[str, Any]:
    """A wire object's fields that have a value: the API leaves absent what it does not know."""
    return {name: value for name, value in fields.items() if value is not None}


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
"""A UTC instant written as RFC 3339 with a ``Z`` suffix."""


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$", re.IGNORECASE)


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 instant with its offset (``2026-12-05T13:00:00.000001Z``), as an aware datetime;
    nothing looser (a number is not taken for seconds since 1970)."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 instant with an offset, e.g. 2026-12-05T13:00:00Z")
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


Instant = Annotated[datetime, BeforeValidator(parse_rfc3339)]
"""An RFC 3339 instant given by a client."""


def split_csv(value: Any) -> Any:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    items = [item.strip() for raw in values for item in str(raw).split(",")]
    if any(not item for item in items):
        raise ValueError("must be a non-empty, comma-separated list without empty items")
    return items


CsvList = Annotated[list[str] | None, BeforeValidator(split_csv)]
"""An array query parameter: ``?ids=a,b``, ``?ids=a&ids=b`` or both."""
