"""The worker supervisor on its own: restarts with backoff, and survives a worker that cannot start."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import pytest

from quarry.engine.supervisor import WorkerSupervisor
from quarry.storage.db import Database


def _until(condition, what: str, limit: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"never: {what}")


def _supervisor(tmp_path: Path, command: list[str]) -> WorkerSupervisor:
    return WorkerSupervisor(Database(f"sqlite:///{tmp_path / 'quarry.db'}"), "host-1-abc", command, {}, count=1)


def test_a_worker_that_exits_is_restarted_with_a_doubling_delay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "quarry.engine")
    supervisor = _supervisor(tmp_path, [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor.start()
    try:
        _until(lambda: "restarting it in 4 s" in caplog.text, "a third restart")
    finally:
        supervisor.stop(drain_seconds=0)
    exits = [r.getMessage() for r in caplog.records if "exited with code 3" in r.getMessage()]
    assert [m.split("restarting it in ")[1] for m in exits[:3]] == ["1 s", "2 s", "4 s"]
    assert all(m.startswith("worker host-1-abc-w1 ") for m in exits)
    assert not any(t.name == "quarry-supervisor" for t in threading.enumerate())  # stop ends it


def test_a_worker_that_cannot_be_started_is_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "quarry.engine")
    supervisor = _supervisor(tmp_path, [str(tmp_path / "no-such-program")])
    supervisor.start()
    try:
        _until(lambda: caplog.text.count("could not start worker host-1-abc-w1") >= 2, "a second try")
        assert any(t.name == "quarry-supervisor" for t in threading.enumerate())  # still supervising
        assert supervisor.pids() == [] and not supervisor.joined()
    finally:
        supervisor.stop(drain_seconds=0)
