"""``QUARRY_LOG_FORMAT=json``: every line one JSON object, lines about a call carry its IDs,
requests are logged, and neither keys nor documents end up in the log."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import httpx

from quarry.logs import JsonLines, about
from tests.calls_client import get_call, shaping, single, submit, wait_for
from tests.harness.processes import ServerProcess, quarry_environ
from tests.helpers import create_function

KEY = "log-test-key-8c1f0e"
CONTENT = b'{"a": "confidential-figure-4471"}'


def test_a_json_log_is_one_object_a_line_with_the_ids_of_the_call(tmp_path: Path) -> None:
    environ = quarry_environ(tmp_path / "data", QUARRY_API_KEY=KEY, QUARRY_LOG_FORMAT="json", QUARRY_LOG_LEVEL="debug")
    server = ServerProcess(environ, "--access-log")
    try:
        with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
            create_function(api, shaping("logged", "{total: a}"))
            [call] = submit(api, {"functionName": "logged", "input": single(CONTENT, "json")})
            assert wait_for(api, call["callID"])["status"] == "completed"
            [fc] = get_call(api, call["callID"])["functionCalls"]
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log.splitlines() if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    about_the_call = [line for line in lines if line.get("callID") == call["callID"]]
    assert about_the_call
    assert all(line["functionCallID"] == fc["functionCallID"] for line in about_the_call if "functionCallID" in line)
    assert any(line.get("functionCallID") == fc["functionCallID"] and line.get("environmentID") for line in lines)
    posted = [line for line in lines if line.get("path") == "/v2/calls" and line.get("method") == "POST"]
    assert [line["status"] for line in posted] == [200]
    assert KEY not in server.log
    assert "confidential-figure-4471" not in server.log


def test_lines_say_what_they_are_about_in_their_context() -> None:
    def formatted(message: str, exc_info: object = None) -> dict[str, object]:
        record = logging.LogRecord("quarry.test", logging.WARNING, __file__, 1, message, None, exc_info)  # type: ignore[arg-type]
        return json.loads(JsonLines().format(record))

    assert "callID" not in formatted("outside")
    with about(callID="call_1", environmentID=None):
        with about(functionCallID="fc_1"):
            inner = formatted("inside")
        outer = formatted("after")
    assert (inner["callID"], inner["functionCallID"], "environmentID" in inner) == ("call_1", "fc_1", False)
    assert outer["callID"] == "call_1" and "functionCallID" not in outer
    try:
        raise ValueError("broken")
    except ValueError:
        failed = formatted("failed", sys.exc_info())
    assert "ValueError: broken" in failed["exception"] and failed["level"] == "warning"
