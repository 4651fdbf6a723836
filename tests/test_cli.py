"""The ``quarry`` command as an operator uses it: a real server process, real keys."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.harness.databases import drop_postgres_database, postgres_database
from tests.harness.processes import QUARRY, ServerProcess, quarry_environ

KEY = re.compile(r"\bqk_[A-Za-z0-9]{40}\b")


def _run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(QUARRY + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield quarry_environ(tmp_path / "data", COLUMNS="200")


def test_first_start_prints_a_working_key_once(env: dict[str, str]) -> None:
    server = ServerProcess(env)
    try:
        response = httpx.get(server.url + "/v2/functions")
        assert response.status_code == 401
    finally:
        output = server.stop()
    keys = KEY.findall(output)
    assert len(keys) == 1, output

    server = ServerProcess(env)
    try:
        response = httpx.get(server.url + "/v2/functions", headers={"x-api-key": keys[0]})
        assert response.status_code == 200
        assert response.json() == {"functions": [], "totalCount": 0}
    finally:
        output = server.stop()
    assert not KEY.findall(output), "the key must be printed only on first start"
    assert "quarry keys create" in output


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    assert _run(["db", "upgrade"], env).returncode == 0
    created = _run(["keys", "create", "--environment", "sandbox", "--name", "ci"], env)
    assert created.returncode == 0, created.stderr
    secret = KEY.findall(created.stdout)[0]
    key_id = re.search(r"\bkey_[A-Za-z0-9]+", created.stdout).group(0)  # type: ignore[union-attr]

    listed = _run(["keys", "list"], env | {"COLUMNS": "60"})  # narrow: an ID is still whole
    assert key_id in listed.stdout and "sandbox" in listed.stdout
    assert secret not in listed.stdout

    # no key trusted from memory (QUARRY_API_KEY_CACHE_SECONDS=0): refused on the next request once revoked
    server = ServerProcess(env | {"QUARRY_API_KEY_CACHE_SECONDS": "0"})
    try:
        sandbox = {"x-api-key": secret}
        made = httpx.post(
            server.url + "/v2/functions",
            headers=sandbox,
            json={"functionName": "shape", "type": "payload_shaping", "shapingSchema": "a.b"},
        )
        assert made.status_code == 200, made.text
        assert _run(["keys", "revoke", key_id], env).returncode == 0
        assert httpx.get(server.url + "/v2/functions", headers=sandbox).status_code == 401
    finally:
        server.stop()


def test_keys_create_for_unknown_environment_fails(env: dict[str, str]) -> None:
    assert _run(["db", "upgrade"], env).returncode == 0
    result = _run(["keys", "create", "--environment", "staging"], env)
    assert result.returncode == 2
    assert "staging" in result.stderr and result.stderr.count("\n") == 1
    assert _run(["environments", "create", "staging"], env).returncode == 0
    assert _run(["keys", "create", "--environment", "staging"], env).returncode == 0
    assert "staging" in _run(["environments", "list"], env).stdout


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="QUARRY_TEST_BACKENDS excludes PostgreSQL")
def test_env_key_and_postgresql(env: dict[str, str]) -> None:
    name = f"quarry_cli_{os.getpid()}"
    env["QUARRY_DATABASE_URL"] = postgres_database(name)
    env["QUARRY_API_KEY"] = "a-key-from-the-environment"
    try:
        assert _run(["db", "upgrade"], env).returncode == 0
        server = ServerProcess(env)
        try:
            response = httpx.get(server.url + "/v2/workflows", headers={"x-api-key": "a-key-from-the-environment"})
            assert response.status_code == 200
            assert response.json()["totalCount"] == 0
        finally:
            output = server.stop()
        assert not KEY.findall(output), "no key is generated when QUARRY_API_KEY is set"
    finally:
        drop_postgres_database(name)


def test_help_lists_the_commands(env: dict[str, str]) -> None:
    result = _run(["--help"], env)
    assert result.returncode == 0
    for command in ("serve", "keys", "db", "environments"):
        assert command in result.stdout


def test_admin_commands_find_the_servers_data_from_any_directory(env: dict[str, str], tmp_path: Path) -> None:
    """No QUARRY_DATA_DIR: the data is the user's ($XDG_DATA_HOME/quarry), not the directory's."""
    del env["QUARRY_DATA_DIR"]
    env |= {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = ServerProcess(env)
    try:
        created = _run(["keys", "create", "--name", "from-elsewhere"], env, cwd=elsewhere)
        assert created.returncode == 0, created.stderr
        response = httpx.get(server.url + "/v2/functions", headers={"x-api-key": KEY.findall(created.stdout)[0]})
        assert response.status_code == 200, response.text
    finally:
        output = server.stop()
    assert str(tmp_path / "xdg" / "quarry") in output
    assert (tmp_path / "xdg" / "quarry" / "quarry.db").is_file()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("command", [["keys", "create"], ["environments", "list"]])
def test_admin_commands_refuse_a_missing_database(env: dict[str, str], command: list[str]) -> None:
    result = _run(command, env)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert env["QUARRY_DATA_DIR"] in result.stderr and "QUARRY_DATA_DIR" in result.stderr
    assert not KEY.findall(result.stdout)
    assert not Path(env["QUARRY_DATA_DIR"]).exists(), "nothing is created"

    assert _run(["db", "upgrade"], env).returncode == 0
    assert _run(["environments", "list"], env).stdout.split() == ["production", "sandbox"]


def test_quarry_smtp_says_when_it_cannot_listen(env: dict[str, str]) -> None:
    assert _run(["db", "upgrade"], env).returncode == 0
    without_port = _run(["smtp"], env)
    assert without_port.returncode == 2 and "QUARRY_SMTP_PORT" in without_port.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = _run(["smtp", "--port", str(port)], env)
    assert in_use.returncode == 2, in_use.stdout + in_use.stderr
    assert f"cannot receive email on 127.0.0.1:{port}" in in_use.stderr and "Traceback" not in in_use.stderr
