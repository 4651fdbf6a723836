"""Secrets of the installation (e.g. the key that signs file URLs), kept in the database so that
every process of a deployment shares them without configuration."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from quarry.storage.base import Base


class InstanceSecret(Base):
    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(256))


def instance_secret(session: Session, name: str) -> str:
    """The secret called ``name``, made on first use (safe when several processes race)."""
    existing = session.get(InstanceSecret, name)
    if existing is not None:
        return existing.value
    try:
        with session.begin_nested():
            session.add(InstanceSecret(name=name, value=secrets.token_hex(32)))
    except IntegrityError:
        pass
    return session.get_one(InstanceSecret, name).value
