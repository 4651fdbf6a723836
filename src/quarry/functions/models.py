"""Functions and their immutable versions.

The ``functions`` row carries what identifies a function now (ID, type, current name, current
version); everything a user configures lives in ``function_versions``, one row per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow
from quarry.storage.versioned import VersionedObject


class Function(VersionedObject, Base):
    __tablename__ = "functions"

    type: Mapped[str] = mapped_column(sa.String(32))
    email_address: Mapped[str | None] = mapped_column(sa.String(320), index=True)  # inbound mail finds it


class FunctionVersion(Base):
    __tablename__ = "function_versions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id", ondelete="CASCADE"))
    version_num: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(128))
    display_name: Mapped[str | None] = mapped_column(sa.String(512))
    tags: Mapped[list[str]] = mapped_column(JSONDocument)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("function_id", "version_num"),)
