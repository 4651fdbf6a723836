"""``quarry backup`` while the embedded server works, ``quarry restore`` into a new place: the
restored server answers for every call of the copy, with its files, and finishes what was in
flight."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.calls_client import TERMINAL, get_call, shaping, single, submit
from tests.harness.processes import ServerProcess, quarry_environ
from tests.helpers import create_function

KEY = "backup-test-key"
QUARRY = [sys.executable, "-m", "quarry"]


def _quarry(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUARRY, *args], env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )


def _all_calls(api: httpx.Client) -> tuple[int, list[dict]]:
    calls, after = [], None
    while True:
        page = api.get("/v2/calls", params={"limit": 100, **({"startingAfter": after} if after else {})}).json()
        calls += page["calls"]
        if len(page["calls"]) < 100:
            return page["totalCount"], calls
        after = calls[-1]["callID"]


def test_a_backup_taken_under_load_restores_to_a_working_server(tmp_path: Path) -> None:
    original = quarry_environ(tmp_path / "original", QUARRY_API_KEY=KEY)
    server = ServerProcess(original)
    submitted: list[str] = []
    stop = threading.Event()
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
            create_function(api, shaping("copied", "{n: n}"))

            def load() -> None:  # calls keep coming while the backup is taken
                n = 0
                while not stop.is_set():
                    batch = [{"functionName": "copied", "callReferenceID": f"c-{n + i}",
                              "input": single(f'{{"n": {n + i}}}'.encode(), "json")} for i in range(10)]  # fmt: skip
                    submitted.extend(call["callID"] for call in submit(api, *batch))
                    n += 10

            loader = threading.Thread(target=load)
            loader.start()
            while len(submitted) < 100:
                time.sleep(0.05)
            taken = _quarry(original, "backup", str(tmp_path / "backup"))
            stop.set()
            loader.join()
        assert taken.returncode == 0, taken.stdout + taken.stderr
    finally:
        stop.set()
        server.stop()

    restored = quarry_environ(tmp_path / "restored", QUARRY_API_KEY=KEY)
    put_back = _quarry(restored, "restore", str(tmp_path / "backup"))
    assert put_back.returncode == 0, put_back.stdout + put_back.stderr
    again = _quarry(restored, "restore", str(tmp_path / "backup"))
    assert again.returncode == 2 and "--replace" in again.stderr  # the data there is not overwritten unasked
    server = ServerProcess(restored)
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
            total, calls = _all_calls(api)
            assert total == len(calls) >= 100  # what had been submitted when the copy began, at least
            assert {call["callID"] for call in calls} <= set(submitted)
            deadline = time.monotonic() + 120  # what was in flight at the copy finishes here
            while any(get_call(api, c["callID"])["status"] not in TERMINAL for c in calls):
                assert time.monotonic() < deadline
                time.sleep(0.5)
            for call in calls[:: max(1, len(calls) // 10)]:
                [fc] = get_call(api, call["callID"])["functionCalls"]
                n = int(call["callReferenceID"].split("-")[1])
                assert fc["status"] == "completed"
                assert httpx.get(fc["inputs"][0]["s3URL"]).json() == {"n": n}  # its file came along
    finally:
        server.stop()


def test_a_postgresql_deployment_is_backed_up_by_postgresql(tmp_path: Path) -> None:
    env = quarry_environ(tmp_path / "data", QUARRY_DATABASE_URL="postgresql://nobody@127.0.0.1:5432/none")
    result = _quarry(env, "backup", str(tmp_path / "backup"))
    assert result.returncode == 2 and "pg_dump" in result.stderr
    assert not (tmp_path / "backup").exists()


@pytest.mark.parametrize("what", ["nothing", "not a backup"])
def test_restoring_what_is_not_a_backup_is_refused(tmp_path: Path, what: str) -> None:
    source = tmp_path / "source"
    if what == "not a backup":
        source.mkdir()
        (source / "quarry.db").write_bytes(b"not SQLite")
    result = _quarry(quarry_environ(tmp_path / "data"), "restore", str(source))
    assert result.returncode == 2 and "not a Quarry backup" in result.stderr
    assert not (tmp_path / "data" / "quarry.db").exists()
