"""Timestamps are stored as UTC instants and read back aware, exactly, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from quarry.storage.base import UTCDateTime
from tests.conftest import Server

INSTANTS = [
    datetime(2026, 12, 6, 23, 10, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 6, 23, 10, 0, tzinfo=UTC),  # no fraction of a second
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),  # another offset
]


def test_instants_read_back_as_the_same_aware_utc_values(server: Server) -> None:
    table = sa.Table(
        "timestamp_probe", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True), sa.Column("at", UTCDateTime())
    )
    with server.db.write() as session:
        connection = session.connection()
        table.create(connection, checkfirst=True)
        connection.execute(table.delete())
        connection.execute(table.insert(), [{"n": n, "at": at} for n, at in enumerate([*INSTANTS, None])])
    with server.db.read() as session:
        read = [at for _, at in session.connection().execute(sa.select(table).order_by(table.c.n))]
    with server.db.write() as session:
        table.drop(session.connection())
    assert read == [*INSTANTS, None]
    assert all(at.tzinfo is UTC for at in read[:-1])
    assert [at.isoformat() for at in read[:-1]] == [at.astimezone(UTC).isoformat() for at in INSTANTS]


def test_a_naive_datetime_is_refused(server: Server) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        with server.db.write() as session:
            session.connection().execute(sa.select(sa.literal(datetime(2026, 1, 1), UTCDateTime())))
