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
