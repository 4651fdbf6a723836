"""Function definitions that used to freeze or crash the server: each is now a 400 at definition
time, or runs in bounded time (RE2) and leaves the server answering."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.calls_client import events_of, single, submit, wait_for
from tests.helpers import INVOICE_SCHEMA, assert_error, create_function, probing, transform

CATASTROPHIC = r"(a+)+$"  # exponential in a backtracking engine on "aaa…ab"
HOSTILE_TEXT = ("a" * 30 + "b").encode()


def nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


def route_with(patterns: list[str]) -> dict[str, Any]:
    return {
        "functionName": "sorter",
        "type": "route",
        "description": "Sort by pattern",
        "routes": [{"name": "as", "regex": {"patterns": patterns}}, {"name": "other", "isErrorFallback": True}],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (route_with([r"(a)\1"]), "routes[0].regex.patterns[0]"),  # a backreference: RE2 has none
        (route_with(["(?=lookahead)"]), "routes[0].regex.patterns[0]"),
        (route_with(["(" * 1000 + "a" + ")" * 1000]), "routes[0].regex.patterns[0]"),
        (transform("deep", outputSchema=nested_schema(100)), "outputSchema"),
        (transform("rx", outputSchema={"type": "object", "properties": {"a": {"pattern": r"(x)\1"}}}), "outputSchema"),
        ({"functionName": "shape", "type": "payload_shaping", "shapingSchema": "(" * 1000 + "a" + ")" * 1000}, None),
        ({"functionName": "shape", "type": "payload_shaping", "shapingSchema": "[" * 1000 + "]" * 1000}, None),
    ],
    ids=["backreference", "lookahead", "nested-groups", "schema-100-levels", "schema-pattern", "jmespath", "brackets"],
)
def test_definitions_beyond_the_bounds_are_400(api: httpx.Client, body: dict[str, Any], field: str | None) -> None:
    error = assert_error(api.post("/v2/functions", json=body), 400, field)
    assert "Internal" not in error["message"]


def test_enrich_source_field_nested_too_deeply_is_400(api: httpx.Client) -> None:
    body = {
        "functionName": "lookup",
        "type": "enrich",
        "config": {
            "steps": [{"sourceField": "(" * 1000 + "a" + ")" * 1000, "collectionName": "c", "targetField": "t"}]
        },
    }
    error = assert_error(api.post("/v2/functions", json=body), 400)
    assert "JMESPath" in error["message"] or "JMESPath" in str(error.get("details"))


def test_a_schema_at_a_realistic_depth_is_accepted(api: httpx.Client) -> None:
    create_function(api, transform("nested", outputSchema=nested_schema(20)))


def test_catastrophic_route_pattern_runs_in_linear_time_and_the_server_keeps_answering(api: httpx.Client) -> None:
    create_function(api, route_with([CATASTROPHIC, r"\d+ items"]))
    with probing(api) as answered:  # other requests while the route runs: each must be answered
        (call,) = submit(api, {"functionName": "sorter", "input": single(HOSTILE_TEXT * 200)})
        call = wait_for(api, call["callID"])
    assert call["status"] == "completed", call
    [routed] = events_of(api, call["callID"], "route")
    assert routed["choice"] == "other"  # no "a…a" line ends the text: the pattern does not match
    (matching,) = submit(api, {"functionName": "sorter", "input": single(b"aaaa")})
    [routed] = events_of(api, wait_for(api, matching["callID"])["callID"], "route")
    assert routed["choice"] == "as"
    assert answered and set(answered) == {200}


def test_catastrophic_schema_pattern_is_checked_in_linear_time(api: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {**INVOICE_SCHEMA["properties"], "invoiceNumber": {"type": "string", "pattern": CATASTROPHIC}},
    }
    create_function(api, transform("strict", outputSchema=schema))
    document = b"Invoice Number: " + b"a" * 40 + b"b\nTotal Amount: 10.00\n"
    (call,) = submit(api, {"functionName": "strict", "input": single(document)})
    call = wait_for(api, call["callID"])
    assert call["status"] in ("completed", "failed"), call


@pytest.mark.parametrize("signature", ["ü" * 64, "%C3%BC", "0" * 64])
def test_file_url_with_a_foreign_signature_is_403(anonymous: httpx.Client, signature: str) -> None:
    response = anonymous.get(
        "/v2/files/env/x.pdf", params={"expires": str(int(time.time()) + 60), "signature": signature}
    )
    assert_error(response, 403)
