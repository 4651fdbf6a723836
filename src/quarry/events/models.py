"""Events: what function calls emit (results and errors), stored in Quarry's own tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow

TRANSFORMATION_TYPES = ("transform", "join")
"""Event types that are *transformations* (they carry a ``transformationID`` and a
``transformedContent`` that can be corrected): the ``/v1-beta/transformations`` resource."""


class Event(Base):
    """The envelope fields are columns (they are filtered on); ``body`` holds the fields of the
    event's type (``transformedContent``, ``choice``, ``message`` …) as they appear on the wire.

    ``transformation_id`` repeats the body's ``transformationID`` of transform and join events
    (cursors and filters of the transformations list); ``labelled_at`` is when a correction was
    last stored (``correctedContent`` and ``metrics`` are then in the body); ``published_at`` and
    ``last_publish_error_at`` record webhook deliveries of the event.
    """

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    call_id: Mapped[str | None] = mapped_column(sa.String(64))
    function_call_id: Mapped[str | None] = mapped_column(sa.String(64))
    function_call_try_number: Mapped[int | None]
    reference_id: Mapped[str | None] = mapped_column(sa.String(256))
    function_id: Mapped[str | None] = mapped_column(sa.String(64))
    function_name: Mapped[str | None] = mapped_column(sa.String(128))
    function_version_num: Mapped[int | None]
    workflow_id: Mapped[str | None] = mapped_column(sa.String(64))
    workflow_name: Mapped[str | None] = mapped_column(sa.String(128))
    workflow_version_num: Mapped[int | None]
    transformation_id: Mapped[str | None] = mapped_column(sa.String(64))
    labelled_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    last_publish_error_at: Mapped[datetime | None]
    trace_parent: Mapped[str | None] = mapped_column(sa.String(64), default=None)  # its call's trace (``tracing``)
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_events_env_created", "environment_id", "created_at", "id"),
        sa.Index("ix_events_call_id", "call_id", "created_at", "id"),
        sa.Index("ix_events_function_call_id", "function_call_id"),
        sa.Index("ix_events_env_transformation", "environment_id", "transformation_id"),
        sa.Index("ix_events_env_reference", "environment_id", "reference_id", "created_at", "id"),
    )


METADATA_KEY = "_metadata"
"""Where an output's ``transformedContent`` carries the metadata its call was submitted with (and
the call's ``referenceID``), as bem injects it: not part of the extraction, so never compared,
evaluated or corrected."""


def without_metadata(content: Any) -> Any:
    """An output's content as extracted: without the call's ``_metadata``."""
    if isinstance(content, dict) and METADATA_KEY in content:
        return {key: value for key, value in content.items() if key != METADATA_KEY}
    return content


TRIAL_MARKS = ("isRegression", "scoreRunID")
"""What marks a *trial* output — one of a call Quarry made to measure a function (a regression's
replay, a score run's pair): kept apart from the function's own outputs, delivered to no webhook."""


def is_trial(body: dict[str, Any]) -> bool:
    return any(body.get(mark) for mark in TRIAL_MARKS)


def regression_filter(is_regression: bool, of: Any = Event) -> sa.ColumnElement[bool]:
    """Events (``of``: the table, or an alias of it) of regression calls (``isRegression`` in their
    body), or every other event."""
    marked = of.body["isRegression"].as_boolean().is_(True)
    return marked if is_regression else sa.not_(sa.func.coalesce(marked, False))


def own_outputs() -> sa.ColumnElement[bool]:
    """Events that are not trials: a function's outputs in its users' own calls."""
    return sa.and_(regression_filter(False), Event.body["scoreRunID"].as_string().is_(None))
