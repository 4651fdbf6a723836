"""The ``quarry`` command as an operator uses it: a real server process, real keys."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, drop_postgres_database, postgres_database
from tests.processes import QUARRY, ServerProcess

KEY = re.compile(r"\bqk_[A-Za-z0-9]{40}\b")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(QUARRY + args, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
    environ["QUARRY_DATA_DIR"] = str(tmp_path / "data")
    environ["COLUMNS"] = "200"
    yield environ


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
    created = _run(["keys", "create", "--environment", "sandbox", "--name", "ci"], env)
    assert created.returncode == 0, created.stderr
    secret = KEY.findall(created.stdout)[0]
    key_id = re.search(r"\bkey_[A-Za-z0-9]+", created.stdout).group(0)  # type: ignore[union-attr]

    listed = _run(["keys", "list"], env)
    assert key_id in listed.stdout and "sandbox" in listed.stdout
    assert secret not in listed.stdout

    server = ServerProcess(env)
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
    result = _run(["keys", "create", "--environment", "staging"], env)
    assert result.returncode == 2
    assert "staging" in result.stdout + result.stderr
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
