"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from quarry.calls.search import is_search_object
from quarry.storage.models import metadata
from tests.conftest import Server


def test_migrated_schema_matches_the_models(server: Server) -> None:
    with server.db.write_engine.connect() as connection:
        options = {"compare_type": True, "include_name": lambda name, *_: not is_search_object(name)}
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(server: Server) -> None:
    server.db.upgrade()
    server.db.upgrade()
