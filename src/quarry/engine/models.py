"""The processes of a deployment, as each one reports itself (heartbeats)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base

ROLES = ("all", "api", "worker")


class Executor(Base):
    """One running Quarry process. A worker whose heartbeat stops (or that stopped with work
    still assigned to it) has its unfinished calls handed to the workers still alive."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)


class Drain(Base):
    """The deployment is being drained for an upgrade since ``started_at``: API processes refuse
    new calls until a process of a newer (or the same) version starts (``engine.upgrades``)."""

    __tablename__ = "drains"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1: one drain at a time
    started_at: Mapped[datetime]
    by: Mapped[str] = mapped_column(sa.String(255))  # who asked: host and pid
