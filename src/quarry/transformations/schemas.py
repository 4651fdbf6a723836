"""Wire shapes of ``/v1-beta/transformations`` (reference §4.21)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool

from quarry.storage.pages import PageQuery
from quarry.wire import CsvList, WireModel

MAX_CORRECTIONS_PER_REQUEST = 100

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """An RFC 3339 date-time with its offset (``2024-05-01T12:00:00Z``); anything else is refused."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value.strip()):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2024-05-01T12:00:00Z")
    return datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))


Rfc3339 = Annotated[datetime | None, BeforeValidator(_rfc3339)]
TransformationID = Annotated[str, Field(min_length=1, max_length=64)]


class TransformationFilters(WireModel):
    """The filters shared by listing and deleting; they combine with AND, values within one with OR."""

    reference_ids: CsvList = Field(None, description="Only these referenceIDs.")
    transformation_ids: CsvList = Field(None, description="Only these transformations.")
    function_ids: CsvList = Field(None, description="Only transformations made by these functions (IDs).")
    function_names: CsvList = Field(None, description="Only transformations made by these functions (names).")
    event_ids: CsvList = Field(None, description="Only the transformations of these events.")
    published: bool | None = Field(None, description="true: delivered to a webhook (publishedAt set); false: not.")
    published_before: Rfc3339 = Field(None, description="Only transformations published before this instant.")
    published_after: Rfc3339 = Field(None, description="Only transformations published after this instant.")
    item_offset: int | None = Field(
        None, ge=0, le=2**31 - 1, description="Only this item of a batch; needs exactly one referenceID."
    )
    is_regression: bool | None = Field(
        None, description="true: only regression runs' transformations; false (the default): the others."
    )
    pipeline_id: str | None = Field(None, description="v1 only: refused (use functionIDs or functionNames).")
    task_ids: CsvList = Field(None, description="v1 only: refused.")


class TransformationListQuery(PageQuery, TransformationFilters):
    """``startingAfter`` / ``endingBefore`` are transformation IDs."""


class TransformationDeleteQuery(TransformationFilters):
    pass


class TransformationErrorListQuery(PageQuery):
    """``startingAfter`` / ``endingBefore`` are transformation error IDs (the error events' IDs)."""

    reference_ids: CsvList = Field(None, description="Only these referenceIDs (optional in Quarry).")
    function_ids: CsvList = None
    function_names: CsvList = None
    event_ids: CsvList = None
    pipeline_id: str | None = Field(None, description="v1 only: refused (use functionIDs or functionNames).")


class Correction(WireModel):
    transformation_id: TransformationID
    corrected_json: Any = Field(alias="correctedJSON", description="The right output: a JSON object.")
    order_matching: StrictBool = Field(
        False, description="true: array items are compared by index; false: matched regardless of order."
    )


class CorrectionRequest(WireModel):
    transformations: Annotated[list[Correction], Field(min_length=1, max_length=MAX_CORRECTIONS_PER_REQUEST)]
