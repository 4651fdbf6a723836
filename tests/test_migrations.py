"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from quarry.storage.models import metadata
from tests.conftest import Server


def test_migrated_schema_matches_the_models(server: Server) -> None:
    with server.db.write_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(server: Server) -> None:
    server.db.upgrade()
    server.db.upgrade()
