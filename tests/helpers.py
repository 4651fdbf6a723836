"""Request bodies and assertions shared by the API tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "totalAmount": {"type": "number"},
    },
    "required": ["invoiceNumber"],
}


def transform(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "functionName": name,
        "type": "transform",
        "outputSchemaName": "Invoice",
        "outputSchema": INVOICE_SCHEMA,
        **extra,
    }


def route(name: str, routes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "functionName": name,
        "type": "route",
        "description": "Sort documents",
        "routes": [{"name": r} for r in routes],
        **extra,
    }


def create_function(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v2/functions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is the documented error shape with this status (and names ``field`` when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert body["code"] == status
    assert set(body) <= {"message", "code", "details"}
    if field is not None:
        fields = (
            [e["field"] for e in body["details"]["errors"]]
            if "errors" in body.get("details", {})
            else [body["details"]["field"]]
        )
        assert field in fields, f"{field!r} not in {fields}"
    return body


@contextmanager
def probing(api: httpx.Client) -> Iterator[list[int]]:
    """``GET /v2/functions`` in a loop on a client of its own while the block runs; yields the
    statuses answered (checked by the caller: a failed assertion in a thread would go unseen)."""
    statuses: list[int] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers), timeout=60) as other:
            while not done.is_set():
                statuses.append(other.get("/v2/functions").status_code)
                time.sleep(0.05)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        yield statuses
    finally:
        done.set()
        thread.join()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client, **headers: str) -> Samples:
    """``GET /metrics``, read by prometheus-client's own parser: each sample's value by name and labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for one not there (a counter that never counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
