"""Request bodies over the limit are a 413 in the error shape, however they arrive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quarry.app import create_app
from quarry.bootstrap import bootstrap
from quarry.config import Settings
from quarry.engine.engine import Role

KEY = "limits-test-key"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}", api_key=KEY, max_input_bytes=1000
    )
    # the engine is not started: it is one per process, and the session's test server runs it already
    app = create_app(bootstrap(settings, Role.API), start_engine=False)
    with TestClient(app, headers={"x-api-key": KEY}) as test_client:
        yield test_client


def _assert_413(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == 413 and "larger than" in body["message"]


def test_json_body_over_the_limit(client: TestClient) -> None:
    limit = client.app.state.process.settings.max_request_bytes  # type: ignore[attr-defined]
    _assert_413(client.post("/v2/calls", content=b" " * (limit + 1), headers={"content-type": "application/json"}))


def test_streamed_upload_over_the_limit(client: TestClient) -> None:
    limit = client.app.state.process.settings.max_request_bytes  # type: ignore[attr-defined]
    assert (
        client.post(
            "/v2/functions", json={"functionName": "f", "type": "payload_shaping", "shapingSchema": "@"}
        ).status_code
        == 200
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server has to count
        boundary = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n'
        yield boundary
        for _ in range(limit // 10_000 + 2):
            yield b" " * 10_000
        yield b"\r\n--b--\r\n"

    response = client.post(
        "/v2/functions/f/call", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    _assert_413(response)
    assert client.get("/v2/calls").json()["totalCount"] == 0
