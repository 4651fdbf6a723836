"""Subscriptions and the webhook signing secret of an environment."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, utcnow


class Subscription(Base):
    """``event_type`` is the type of event delivered: ``type`` itself, but ``transform`` for an
    ``analyze`` subscription (analyze functions emit transform events)."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(256))
    type: Mapped[str] = mapped_column(sa.String(32))
    event_type: Mapped[str] = mapped_column(sa.String(32))
    function_id: Mapped[str | None] = mapped_column(sa.String(64))
    function_name: Mapped[str | None] = mapped_column(sa.String(128))
    collection_id: Mapped[str | None] = mapped_column(sa.String(64))
    collection_name: Mapped[str | None] = mapped_column(sa.String(1024))
    disabled: Mapped[bool] = mapped_column(default=False)
    webhook_url: Mapped[str] = mapped_column(sa.String(2048))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_subscriptions_env_created", "environment_id", "created_at", "id"),
        sa.Index("ix_subscriptions_function", "environment_id", "event_type", "function_id"),
        sa.Index("ix_subscriptions_collection", "environment_id", "event_type", "collection_id"),
    )


class WebhookSecret(Base):
    """The environment's active signing secret (one at a time: generating a new one replaces it)."""

    __tablename__ = "webhook_secrets"

    environment_id: Mapped[str] = mapped_column(sa.ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
