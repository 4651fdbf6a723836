"""Workflows, their immutable versions, and the functions each version uses (its nodes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from quarry.storage.base import Base, JSONDocument, utcnow
from quarry.storage.versioned import VersionedObject


class Workflow(VersionedObject, Base):
    __tablename__ = "workflows"

    email_address: Mapped[str] = mapped_column(sa.String(320), index=True)  # inbound mail finds it


class WorkflowVersion(Base):
    """One immutable version. ``relationships`` holds edges by function ID:
    ``[{"source": id, "destinationName": str | None, "destination": id, "metadata"?: any}]``
    (``metadata``: v3's opaque edge metadata, when given)."""

    __tablename__ = "workflow_versions"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(sa.ForeignKey("workflows.id", ondelete="CASCADE"))
    version_num: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(128))
    display_name: Mapped[str | None] = mapped_column(sa.String(512))
    tags: Mapped[list[str]] = mapped_column(JSONDocument)
    main_function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id"))
    relationships: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_by: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("workflow_id", "version_num"),)


class WorkflowNode(Base):
    """A function used by a workflow version; ``function_version_num`` is NULL when the
    workflow follows the function's current version instead of pinning one. ``name`` and
    ``node_metadata`` are v3's call-site name (NULL: the function's name) and its opaque metadata;
    ``review`` the node's review gate (``workflows.schemas.ReviewSetting``; NULL: none)."""

    __tablename__ = "workflow_nodes"

    workflow_version_id: Mapped[str] = mapped_column(
        sa.ForeignKey("workflow_versions.id", ondelete="CASCADE"), primary_key=True
    )
    function_id: Mapped[str] = mapped_column(sa.ForeignKey("functions.id"), primary_key=True, index=True)
    function_version_num: Mapped[int | None]
    name: Mapped[str | None] = mapped_column(sa.String(128))
    node_metadata: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
