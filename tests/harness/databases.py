"""PostgreSQL databases made for one test or one benchmark run, and dropped afterwards.

Tests and benchmarks reach PostgreSQL through the same administration URL
(``QUARRY_TEST_POSTGRES_URL``, by default the local ``test`` database with trust auth) and make a
database the same way: one left by an interrupted run is dropped first, then an empty one created.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.orm import Session

POSTGRES_ADMIN_URL = os.environ.get("QUARRY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be reached (or refused to make the database)."""


def database_url(name: str) -> str:
    """The URL of database ``name`` on the server of ``POSTGRES_ADMIN_URL``."""
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def postgres_database(name: str) -> str:
    """Create an empty database ``name`` and return its URL; ``PostgresUnavailable`` if PostgreSQL is absent."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}). Start it, point "
            "QUARRY_TEST_POSTGRES_URL at one, or run with QUARRY_TEST_BACKENDS=sqlite."
        ) from exc
    return database_url(name)


def drop_postgres_database(name: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def engine_tables(environ: dict[str, str], data_dir: Path) -> Iterator[tuple[Session, str]]:
    """A write session on the database of a deployment's engine (DBOS) tables, and the prefix
    their names take there (``dbos.`` on PostgreSQL; none in the embedded ``engine.sqlite``)."""
    from quarry.storage.db import Database

    url = environ.get("QUARRY_DATABASE_URL")
    db = Database(url or f"sqlite:///{data_dir / 'engine.sqlite'}")
    try:
        with db.write() as session:
            yield session, "dbos." if url else ""
    finally:
        db.dispose()
