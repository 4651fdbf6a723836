"""The tables of function accuracy: evaluations of events and score runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow


class Evaluation(Base):
    """One evaluation of one transformation event by one evaluation version (``evaluation.py``):
    ``pending`` until the engine has scored it, then ``completed`` with its ``result`` or
    ``failed`` with its ``error_message``. Removed with its event."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # also its job's workflow ID
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("events.id", ondelete="CASCADE"))
    evaluation_version: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, default=None)
    error_message: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (sa.UniqueConstraint("event_id", "evaluation_version", name="uq_evaluations_event_version"),)


class ScoreRun(Base):
    """A function scored against (input, expected) pairs: ``pairs`` is ``[{"callID", "expected"}]``,
    one call per pair (``Call.origin`` ``score``). Its status and figures are worked out from the
    calls at each read (``scoring.py``)."""

    __tablename__ = "score_runs"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    function_id: Mapped[str] = mapped_column(sa.String(64))
    function_name: Mapped[str] = mapped_column(sa.String(128))
    function_version_num: Mapped[int]
    pairs: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
