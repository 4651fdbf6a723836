"""Documents are read in reader processes with memory and time limits: a hostile or huge file fails
its own function call, and the server — a real ``quarry serve`` here — keeps its memory and keeps
answering. Storage plays no part, so these run on the embedded database only."""

from __future__ import annotations

import io
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests import documents
from tests.calls_client import POLL_SECONDS, b64, events_of, single, wait_for
from tests.harness.processes import ServerProcess, child_pids, quarry_env
from tests.helpers import create_function, probing, transform

KEY = "qk_" + "isolation" * 4


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid``; 0 for a reader that exited meanwhile (gone, or a zombie: no VmRSS)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) if found else 0


def readers_of(server: ServerProcess) -> list[int]:
    """The reader processes of the server: children of the fork server of its worker process."""
    return [reader for worker in server.worker_pids() for fork in child_pids(worker) for reader in child_pids(fork)]


def huge_png() -> bytes:
    """55 megapixels in a 70 KB file: cheap to send, ~1 GB to decode and recognise."""
    buffer = io.BytesIO()
    Image.new("L", (7500, 7400), 255).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    settings = getattr(request, "param", {})
    with quarry_env("sqlite", tmp_path / "data", "unused", QUARRY_API_KEY=KEY, **settings) as env:
        server = ServerProcess(env)
        api = httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=60)
        try:
            create_function(api, transform("extract"))
            yield server, api
        finally:
            api.close()
            server.stop()


def run(api: httpx.Client, data: bytes, input_type: str) -> tuple[dict, list[dict]]:
    response = api.post("/v2/calls", json={"calls": [{"functionName": "extract", "input": single(data, input_type)}]})
    assert response.status_code == 200, response.text
    call = wait_for(api, response.json()["calls"][0]["callID"])
    return call, events_of(api, call["callID"], "error")


def test_huge_images_leave_the_server_at_its_idle_memory_and_answering(
    served: tuple[ServerProcess, httpx.Client],
) -> None:
    server, api = served
    run(api, documents.text(), "text")  # warm: the first call loads what every call needs
    idle = rss_kb(server.process.pid)
    with probing(api) as answered:
        image = b64(huge_png())
        batch = {"batchFiles": {"inputs": [{"inputType": "png", "inputContent": image}] * 4}}
        response = api.post("/v2/calls", json={"calls": [{"functionName": "extract", "input": batch}]})
        assert response.status_code == 200, response.text
        call = wait_for(api, response.json()["calls"][0]["callID"], seconds=180)  # minutes of OCR on busy cores
    assert call["status"] in ("completed", "failed")
    assert answered and set(answered) == {200}, "the server did not answer while it read the images"
    assert rss_kb(server.process.pid) <= 1.5 * idle
    for reader in readers_of(server):  # a reader that grew past its recycling size has gone
        assert rss_kb(reader) < 800 * 1024


@pytest.mark.parametrize("served", [{"QUARRY_PARSE_TIMEOUT_SECONDS": "0.5"}], indirect=True)
def test_a_read_over_the_time_limit_fails_its_call_and_the_next_one_is_read(
    served: tuple[ServerProcess, httpx.Client],
) -> None:
    _, api = served
    call, [error] = run(api, documents.scanned_pdf(), "pdf")  # OCR takes seconds
    assert call["status"] == "failed"
    assert "took longer than 0.5 s" in error["message"] and "QUARRY_PARSE_TIMEOUT_SECONDS" in error["message"]
    call, errors = run(api, documents.text(), "text")
    assert call["status"] == "completed" and not errors


@pytest.mark.parametrize("served", [{"QUARRY_PARSE_MEMORY_MB": "200"}], indirect=True)
def test_a_read_over_the_memory_limit_fails_its_call_and_the_next_one_is_read(
    served: tuple[ServerProcess, httpx.Client],
) -> None:
    _, api = served
    call, [error] = run(api, documents.image("png"), "png")  # the OCR runtime alone needs more than 200 MB
    assert call["status"] == "failed"
    assert "memory limit of 200 MB" in error["message"], error
    call, errors = run(api, documents.text(), "text")
    assert call["status"] == "completed" and not errors


def test_a_reader_killed_mid_read_fails_only_its_call(served: tuple[ServerProcess, httpx.Client]) -> None:
    server, api = served
    response = api.post(
        "/v2/calls", json={"calls": [{"functionName": "extract", "input": single(documents.scanned_pdf(), "pdf")}]}
    )
    call_id = response.json()["calls"][0]["callID"]
    deadline = time.monotonic() + POLL_SECONDS
    while not (readers := readers_of(server)):
        assert time.monotonic() < deadline, "no reader process started"
        time.sleep(0.01)
    for reader in readers:
        os.kill(reader, signal.SIGKILL)
    call = wait_for(api, call_id)
    assert call["status"] == "failed"
    [error] = events_of(api, call_id, "error")
    assert "reader process died (signal 9)" in error["message"]
    call, errors = run(api, documents.text(), "text")
    assert call["status"] == "completed" and not errors
