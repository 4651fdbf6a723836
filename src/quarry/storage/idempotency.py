"""Idempotency keys: the answer a keyed creating request got, replayed when it is retried."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base


class IdempotencyRecord(Base):
    """One ``Idempotency-Key`` of an environment, written in the transaction of what it created.

    ``method``, ``path`` and ``request_sha256`` (of the body bytes) tell a retry from another
    request under the same key; ``response_body`` is the exact JSON first answered with
    ``status_code``. Records older than a day count as absent and are pruned (``created_at``).
    """

    __tablename__ = "idempotency_keys"

    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(16))
    path: Mapped[str] = mapped_column(sa.String(2048))
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int]
    response_body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)
