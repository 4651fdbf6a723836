"""A start that cannot succeed ends in one line naming the setting to fix, creates nothing, and the
next start once it is fixed is a first start; the banner tells where the data really lives."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS
from tests.harness.databases import drop_postgres_database, postgres_database
from tests.harness.ports import free_port
from tests.harness.processes import QUARRY, ServerProcess, quarry_environ
from tests.s3 import S3Server

KEY = re.compile(r"\bqk_[A-Za-z0-9]{40}\b")


def _start(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUARRY, *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _refused(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """The one line a refused start printed, checked: exit status 2, no traceback, the names in it."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("quarry: "), result.stderr
    for name in names:
        assert name in lines[0]
    return lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return quarry_environ(tmp_path / "data", COLUMNS="300")


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    name = f"quarry_start_{uuid.uuid4().hex[:8]}"
    url = postgres_database(name)
    try:
        yield url
    finally:
        drop_postgres_database(name)


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_port_in_use_is_one_line_and_creates_nothing(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _refused(_start(env, "serve", "--port", str(port)), f"127.0.0.1:{port}", "in use", "--port")
    assert "Traceback" not in line
    assert not Path(env["QUARRY_DATA_DIR"]).exists()


@pytest.mark.parametrize(
    ("database", "says"),
    [
        ("postgresql://quarry:s3cret@127.0.0.1:1/test", "Connection refused"),  # nothing listens on port 1
        ("postgresql://no_such_role_here@127.0.0.1:5432/test", 'role "no_such_role_here" does not exist'),
        ("postgresql://postgres@127.0.0.1:5432/no_such_database_here", "does not exist"),
        ("not a url", "not a database Quarry runs on"),
        ("mysql://quarry@127.0.0.1/quarry", "not a database Quarry runs on"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs the test PostgreSQL server")
def test_a_database_out_of_reach_is_one_line_naming_the_setting(
    env: dict[str, str], database: str, says: str, command: str
) -> None:
    env["QUARRY_DATABASE_URL"] = database
    line = _refused(_start(env, command, "--port", str(free_port())) if command == "serve" else _start(env, command))
    assert says in line and "QUARRY_DATABASE_URL" in line
    assert "s3cret" not in line  # a password is never printed


def test_a_data_directory_that_cannot_be_made_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    env["QUARRY_DATA_DIR"] = str(tmp_path / "a-file" / "quarry")
    _refused(_start(env, "serve", "--port", str(free_port())), str(tmp_path / "a-file"), "QUARRY_DATA_DIR")


def test_an_unsupported_blob_url_is_one_line(env: dict[str, str]) -> None:
    env["QUARRY_BLOB_URL"] = "ftp://files.example.com/quarry"
    _refused(_start(env, "serve", "--port", str(free_port())), "QUARRY_BLOB_URL", "s3://bucket")
    assert not Path(env["QUARRY_DATA_DIR"]).exists()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("QUARRY_WORKERS", "many", "a whole number"),
        ("QUARRY_API_THREADS", "0", "at least 1"),
        ("QUARRY_DRAIN_SECONDS", "30s", "a number"),
        ("QUARRY_RATE_LIMIT_PER_SECOND", "fast", "a number"),
        ("QUARRY_RETENTION", "30", "a duration"),
        ("QUARRY_LOG_FORMAT", "xml", "one of text, json"),
        ("QUARRY_METRICS_PORT", "ninety", "a whole number"),
    ],
)
def test_a_setting_that_is_not_a_usable_number_is_one_line(
    env: dict[str, str], variable: str, value: str, said: str
) -> None:
    env[variable] = value
    _refused(_start(env, "serve", "--port", str(free_port())), variable, said, repr(value))
    assert not Path(env["QUARRY_DATA_DIR"]).exists()


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="needs the test PostgreSQL server")
def test_a_missing_bucket_creates_no_schema(env: dict[str, str], s3_server: S3Server, empty_postgres: str) -> None:
    env |= s3_server.env | {"QUARRY_DATABASE_URL": empty_postgres, "QUARRY_BLOB_URL": "s3://no-such-bucket/prod"}
    for command in (["serve", "--port", str(free_port())], ["worker"]):
        _refused(_start(env, *command), "'no-such-bucket'", "does not exist", "QUARRY_BLOB_URL")
    assert _tables(empty_postgres) == []


def test_once_the_missing_bucket_exists_the_next_start_is_a_first_start(
    env: dict[str, str], s3_server: S3Server
) -> None:
    bucket = f"quarry-start-{uuid.uuid4().hex[:8]}"
    env |= s3_server.env | {"QUARRY_BLOB_URL": f"s3://{bucket}/files"}
    _refused(_start(env, "serve", "--port", str(free_port())), f"'{bucket}'", "QUARRY_BLOB_URL")
    assert not (Path(env["QUARRY_DATA_DIR"]) / "quarry.db").exists()

    s3_server.create_bucket(bucket)
    server = ServerProcess(env)
    output = server.stop()
    assert len(KEY.findall(output)) == 1, output  # the first API key, shown this time
    banner = next(line for line in output.splitlines() if line.startswith("Quarry: "))
    assert f"files in s3://{bucket}/files" in banner
    assert str(Path(env["QUARRY_DATA_DIR"]) / "quarry.db") in banner


def test_an_old_python_is_one_line(env: dict[str, str]) -> None:
    pretend = "import sys; sys.version_info = (3, 10, 12); sys.version = '3.10.12 (main)'; import quarry"
    result = subprocess.run([sys.executable, "-c", pretend], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip() == "quarry: Quarry needs Python 3.11 or newer, this is 3.10.12: use python3.11 or later"
    )


def test_the_banner_names_an_older_data_directory_it_does_not_use(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "quarry-data").mkdir()
    (tmp_path / "quarry-data" / "quarry.db").write_bytes(b"")
    server = subprocess.Popen(
        [*QUARRY, "serve", "--no-workers", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = ""
        for line in server.stdout:
            banner += line
            if line.startswith("Listening on"):
                break
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "./quarry-data (the data directory of older Quarry versions) is not used" in banner
    assert env["QUARRY_DATA_DIR"] in banner
