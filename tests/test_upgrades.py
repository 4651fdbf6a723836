"""Upgrades: work in flight survives a restart of the same engine version; a version that could
not finish it refuses to start; ``quarry drain`` finishes it first while refusing new calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from quarry.engine.engine import APPLICATION_VERSION
from tests.calls_client import TERMINAL, get_call, single, submit
from tests.conftest import BACKENDS
from tests.harness.databases import engine_tables
from tests.harness.fake_model import SlowModel
from tests.harness.ports import free_port
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import assert_error, create_function

KEY = "upgrade-test-key"
QUARRY = [sys.executable, "-m", "quarry"]
SCHEMA = {"type": "object", "properties": {"pageText": {"type": "string"}}}


def _model_function(api: httpx.Client) -> None:
    create_function(api, {"functionName": "slow", "type": "transform", "outputSchemaName": "Page",
                          "outputSchema": SCHEMA, "provider": "openai"})  # fmt: skip


def _submit(api: httpx.Client, count: int) -> list[str]:
    calls = submit(api, *[{"functionName": "slow", "input": single(f"Page {n}".encode())} for n in range(count)])
    return [call["callID"] for call in calls]


def _running(api: httpx.Client, call_ids: list[str]) -> None:
    deadline = time.monotonic() + 60
    while any(get_call(api, c)["status"] != "running" for c in call_ids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _finished(api: httpx.Client, call_ids: list[str]) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        statuses = [get_call(api, c)["status"] for c in call_ids]
        if all(s in TERMINAL for s in statuses):
            return statuses
        time.sleep(0.2)
    return statuses


def _relabel_workflows(environ: dict[str, str], data_dir: Path, old: str, new: str) -> int:
    """What an engine of version ``new`` would have left: the in-flight workflows of ``old``, relabelled."""
    with engine_tables(environ, data_dir) as (session, prefix):
        statement = (
            f"UPDATE {prefix}workflow_status SET application_version = :new"
            " WHERE application_version = :old AND status IN ('PENDING', 'ENQUEUED')"
        )
        return session.execute(sa.text(statement), {"new": new, "old": old}).rowcount


@pytest.mark.parametrize("backend", BACKENDS)
def test_calls_in_flight_survive_a_restart_and_block_a_version_that_cannot_finish_them(
    tmp_path: Path, backend: str
) -> None:
    model = SlowModel({"pageText": "seen"}, delay=4, path="/v1")
    data_dir = tmp_path / "data"
    settings = {"QUARRY_API_KEY": KEY, "QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "slow"}
    try:
        with quarry_env(backend, data_dir, "quarry_upgrade", **settings) as environ:
            server = ServerProcess(environ)
            with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                _model_function(api)
                call_ids = _submit(api, 2)
                _running(api, call_ids)
            workers = server.worker_pids()
            server.kill()  # mid-flight, the model not answered yet: the serve and its worker child
            for pid in workers:
                os.kill(pid, signal.SIGKILL)

            # the workflows left in flight are of another engine version: this one cannot finish them
            assert _relabel_workflows(environ, data_dir, APPLICATION_VERSION, "quarry-engine-older") > 0
            command = [*QUARRY, "serve", "--port", str(free_port())]
            refused = subprocess.run(
                command, env=environ, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
            )
            assert refused.returncode == 2, refused.stdout + refused.stderr
            [line] = refused.stderr.splitlines()
            assert "quarry-engine-older" in line and "quarry drain" in line

            # started by the version that left them (relabelled back): they finish
            _relabel_workflows(environ, data_dir, "quarry-engine-older", APPLICATION_VERSION)
            server = ServerProcess(environ)
            try:
                with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                    assert _finished(api, call_ids) == ["completed", "completed"]
            finally:
                server.stop()
    finally:
        model.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_drain_refuses_new_calls_and_returns_once_nothing_is_in_flight(tmp_path: Path, backend: str) -> None:
    model = SlowModel({"pageText": "seen"}, delay=3, path="/v1")
    data_dir = tmp_path / "data"
    settings = {"QUARRY_API_KEY": KEY, "QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "slow"}
    try:
        with quarry_env(backend, data_dir, "quarry_drain", **settings) as environ:
            server = ServerProcess(environ)
            try:
                with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                    _model_function(api)
                    call_ids = _submit(api, 2)
                    _running(api, call_ids)
                    drain = subprocess.Popen([*QUARRY, "drain"], env=environ, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
                    deadline = time.monotonic() + 30
                    body = {"calls": [{"functionName": "slow", "input": single(b"Page late")}]}
                    while (refused := api.post("/v2/calls", json=body)).status_code != 503:
                        assert refused.status_code == 200 and time.monotonic() < deadline, refused.text
                        call_ids.append(refused.json()["calls"][0]["callID"])  # accepted before the drain began
                        time.sleep(0.2)
                    assert_error(refused, 503)
                    assert "drained" in refused.json()["message"] and refused.headers["retry-after"]
                    output, _ = drain.communicate(timeout=120)
                    assert drain.returncode == 0, output
                    assert "Drained" in output
                    # everything accepted finished before the drain returned; nothing was accepted since
                    assert {get_call(api, c)["status"] for c in call_ids} == {"completed"}
                    assert api.get("/v2/calls").json()["totalCount"] == len(call_ids)
                    assert api.post("/v2/calls", json=body).status_code == 503
            finally:
                server.stop()
            server = ServerProcess(environ)  # a new start ends the drain
            try:
                with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                    assert len(_submit(api, 1)) == 1
            finally:
                server.stop()
    finally:
        model.close()


def _forget_workflows(environ: dict[str, str], data_dir: Path, ids: list[str]) -> int:
    """Remove every record the engine has of these workflows, as a backup whose engine copy was
    taken before they began would lack them."""
    with engine_tables(environ, data_dir) as (session, prefix):
        schema = prefix.rstrip(".") or None
        inspector = sa.inspect(session.connection())
        removed = 0
        for table in inspector.get_table_names(schema=schema):
            if "workflow_uuid" in {column["name"] for column in inspector.get_columns(table, schema=schema)}:
                statement = sa.text(f"DELETE FROM {prefix}{table} WHERE workflow_uuid IN :ids")
                removed += session.execute(
                    statement.bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids}
                ).rowcount
        return removed


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_running_call_the_engine_has_no_record_of_is_run_again(tmp_path: Path, backend: str) -> None:
    model = SlowModel({"pageText": "seen"}, delay=3, path="/v1")
    data_dir = tmp_path / "data"
    settings = {"QUARRY_API_KEY": KEY, "QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "slow"}
    try:
        with quarry_env(backend, data_dir, "quarry_orphan", **settings) as environ:
            server = ServerProcess(environ)
            with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                _model_function(api)
                [call_id] = _submit(api, 1)
                _running(api, [call_id])
                [fc] = get_call(api, call_id)["functionCalls"]
            workers = server.worker_pids()
            server.kill()
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            assert _forget_workflows(environ, data_dir, [call_id, fc["functionCallID"]]) > 0
            server = ServerProcess(environ)
            try:
                with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                    assert _finished(api, [call_id]) == ["completed"]
            finally:
                server.stop()
    finally:
        model.close()
