"""Database connections, transactions and schema migrations.

One code path for both databases. Reads run in autocommit mode on both: each statement has its
own snapshot (PostgreSQL's READ COMMITTED gives no more inside a transaction, and SQLite's WAL
readers never wait for a writer either way), and a read costs no BEGIN/ROLLBACK around it. On
SQLite, writers open their transaction with ``BEGIN IMMEDIATE`` so that two concurrent writers
queue on the busy timeout instead of failing with ``database is locked``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_362_001  # arbitrary advisory-lock key: one migrator at a time


def sqlalchemy_url(url: str) -> str:
    """Map user-facing URLs (``postgresql://``) onto the drivers Quarry ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def has_schema(url: str) -> bool:
    """Whether the database at ``url`` holds Quarry's tables, creating nothing to find out
    (connecting to a missing SQLite file would create it)."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:" or not Path(path).is_file():
            return False
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return sa.inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


_LONG_NUMBER = {str: re.compile("[0-9]{19}"), bytes: re.compile(b"[0-9]{19}")}
"""19 digits in a row: maybe an integer beyond 64 bits, which orjson would read as a float."""


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: orjson's parse (a page of calls spent a third of its time in json's
    decoder); json's where orjson would differ — integers beyond 64 bits (orjson makes floats of
    them) and what it refuses but json wrote (NaN, Infinity)."""
    if _LONG_NUMBER[type(text)].search(text):  # type: ignore[call-overload]
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(url: str, begin: str | None) -> sa.Engine:
    """``begin``: the statement that opens a transaction; ``None``: every statement on its own."""
    engine = sa.create_engine(
        url,
        connect_args={"isolation_level": None, "check_same_thread": False, "timeout": 30},
        pool_size=20,
        max_overflow=0,
        json_deserializer=json_loads,
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's own lower() folds ASCII only; case-insensitive search must fold "É" too
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    if begin is not None:

        @sa.event.listens_for(engine, "begin")
        def _begin(connection):  # type: ignore[no-untyped-def]
            connection.exec_driver_sql(begin)

    return engine


class Database:
    """Engines and session factories for one database URL.

    >>> db = Database("sqlite:///:memory:")  # doctest: +SKIP
    >>> with db.write() as session: ...       # doctest: +SKIP
    """

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = sqlalchemy_url(url)
        self._write_turn: threading.Lock | contextlib.nullcontext[None] = contextlib.nullcontext()
        if self.url.startswith("sqlite"):
            self._ensure_sqlite_dir()
            # SQLite has one writer at a time and makes the others wait by sleeping and retrying
            # (up to 100 ms a nap): dozens of threads of one process queue here instead, in turn
            self._write_turn = threading.Lock()
            self.write_engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, None)
        else:
            # connections are PostgreSQL's scarcest resource (100 by default for the whole server):
            # every process of a deployment keeps at most ``pool_size`` of them, plus DBOS's own
            self.write_engine = sa.create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=0,
                pool_timeout=60,
                pool_recycle=1800,
                json_deserializer=json_loads,
            )
            # READ COMMITTED gives every statement its own snapshot anyway: reads need no
            # BEGIN/ROLLBACK round trips around them
            self.read_engine = self.write_engine.execution_options(isolation_level="AUTOCOMMIT")
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    def _ensure_sqlite_dir(self) -> None:
        path = sa.engine.make_url(self.url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def before_flush(self, listener: Callable[[Session, Any, Any], None]) -> None:
        """Run ``listener`` before every flush of a write session (reads never flush)."""
        if not sa.event.contains(self._writer, "before_flush", listener):
            sa.event.listen(self._writer, "before_flush", listener)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self._write_turn, self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads only; never commits. Objects stay readable after it closes."""
        with self._reader() as session:
            yield session

    def upgrade(self) -> None:
        """Apply every pending Alembic migration (idempotent, safe with concurrent starters)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.write_engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})")
                connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if self.dialect == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})")
                    connection.commit()

    def refresh_statistics(self) -> None:
        """Give SQLite's query planner current table statistics (a full ``ANALYZE``: about a
        second per million calls). Without them it may scan a creation-order index where a
        primary-key lookup was wanted. PostgreSQL's autovacuum does this by itself."""
        if self.dialect != "sqlite":
            return
        with self.write_engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA analysis_limit=0")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()
