"""A call and its function calls come from two autocommit statements: what the renderer makes of
a call that changed between them (the race behind a flaky "pending call, running function call")."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from quarry.calls import service


def _call(status: str) -> SimpleNamespace:
    return SimpleNamespace(id="call_1", status=status)


def _fcs(*statuses: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=f"fc_{i}", call_id="call_1", status=s) for i, s in enumerate(statuses)]


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The stored call and function calls; each read of the function calls first applies the next
    of ``changes`` (what committed just before that statement)."""
    stored: dict[str, Any] = {"call": _call("pending"), "fcs": _fcs("pending"), "changes": [], "reads": 0}

    def function_calls_of(_session: Any, calls: list[Any]) -> dict[str, list[Any]]:
        if stored["changes"]:
            stored["call"], stored["fcs"] = stored["changes"].pop(0)
        stored["reads"] += 1
        return {call.id: list(stored["fcs"]) for call in calls}

    def calls_by_ids(_session: Any, ids: list[str]) -> list[Any]:
        return [stored["call"] for _ in ids]

    monkeypatch.setattr(service, "function_calls_of", function_calls_of)
    monkeypatch.setattr(service, "calls_by_ids", calls_by_ids)
    return stored


def test_a_call_read_pending_whose_function_call_started_meanwhile_is_read_again(database: dict[str, Any]) -> None:
    database["changes"] = [(_call("running"), _fcs("running"))]
    [current], by_call = service.with_function_calls(None, [_call("pending")])  # type: ignore[arg-type]
    assert current.status == "running"
    assert [fc.status for fc in by_call["call_1"]] == ["running"]


def test_a_call_that_finished_while_read_again_is_read_once_more(database: dict[str, Any]) -> None:
    # pending call read; its function call is running by the first read, the call has finished by
    # the second read of the call, its function call too by the next read of the function calls
    database["changes"] = [(_call("completed"), _fcs("running")), (_call("completed"), _fcs("completed"))]
    [current], by_call = service.with_function_calls(None, [_call("pending")])  # type: ignore[arg-type]
    assert current.status == "completed"
    assert [fc.status for fc in by_call["call_1"]] == ["completed"]


def test_a_call_that_agrees_with_its_function_calls_is_read_once(database: dict[str, Any]) -> None:
    database["fcs"] = _fcs("running", "pending")
    [current], _ = service.with_function_calls(None, [_call("running")])  # type: ignore[arg-type]
    assert current.status == "running" and database["reads"] == 1
