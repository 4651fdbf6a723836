"""Fetching one object of the caller's environment by ID, or answering 404."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.errors import not_found

Model = TypeVar("Model")


def get_in_environment(session: Session, model: type[Model], environment_id: str, object_id: str, kind: str) -> Model:
    """The ``model`` row with this ID in this environment; another environment's is a 404 too."""
    table: Any = model
    found = session.scalar(sa.select(model).where(table.environment_id == environment_id, table.id == object_id))
    if found is None:
        raise not_found(kind, object_id)
    return found
