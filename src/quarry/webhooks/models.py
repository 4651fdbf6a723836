"""The webhook outbox: one delivery per (subscription, event), and a log of its attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Delivery(Base):
    """Made in the transaction that records the event, so no event is ever left unsent; the worker
    claims due deliveries (``claimed_until`` fences a claim, so a crashed worker's claim expires)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    subscription_id: Mapped[str] = mapped_column(sa.String(64))
    event_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(sa.String(1024), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id"),
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at", "id"),
        sa.Index("ix_webhook_deliveries_event", "event_id"),
    )


class DeliveryAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int]
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(sa.String(1024), default=None)
