"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import base64

import httpx
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from quarry.tables import made_by_migrations, metadata
from tests.conftest import Server
from tests.helpers import create_function, transform


def test_migrated_schema_matches_the_models(server: Server) -> None:
    with server.db.write_engine.connect() as connection:
        options = {
            "compare_type": True,
            "include_name": lambda name, *_: not made_by_migrations(name),
        }
        context = MigrationContext.configure(connection, opts=options)
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_upgrade_is_idempotent(server: Server) -> None:
    server.db.upgrade()
    server.db.upgrade()


def test_refreshed_statistics_cover_the_listing_indexes(server: Server, api: httpx.Client) -> None:
    create_function(api, transform("extract"))
    document = {"singleFile": {"inputType": "text", "inputContent": base64.b64encode(b"Invoice Number: 1").decode()}}
    assert api.post("/v2/calls", json={"calls": [{"functionName": "extract", "input": document}]}).status_code == 200
    server.db.refresh_statistics()  # PostgreSQL leaves this to autovacuum: it must simply not fail
    if server.backend != "sqlite":
        return
    with server.db.read() as session:
        indexes = {row[0] for row in session.execute(sa.text("SELECT idx FROM sqlite_stat1 WHERE tbl = 'calls'"))}
    assert {"ix_calls_env_created", "ix_calls_env_workflow_name_created"} <= indexes
