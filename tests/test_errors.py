"""One error shape for every non-2xx answer, and 400 (never 422 or 500) for client mistakes."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import assert_error, create_function, transform


def test_unknown_route_is_404_with_error_shape(api: httpx.Client) -> None:
    assert_error(api.get("/v2/no-such-thing"), 404)


def test_wrong_method_has_error_shape(api: httpx.Client) -> None:
    assert_error(api.patch("/v2/functions"), 405)


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.post("/v2/functions", content=b'{"functionName": ', headers={"content-type": "application/json"})
    body = assert_error(response, 400)
    assert "JSON" in body["message"]


def test_body_that_is_not_an_object_is_400(api: httpx.Client) -> None:
    assert_error(api.post("/v2/functions", json=["not", "an", "object"]), 400)
    assert_error(api.post("/v2/functions", json=None), 400)


def test_wrong_types_name_the_field(api: httpx.Client) -> None:
    body = transform("typed")
    body["tabularChunkingEnabled"] = "very"
    assert_error(api.post("/v2/functions", json=body), 400, field="tabularChunkingEnabled")


def test_unknown_body_field_is_refused(api: httpx.Client) -> None:
    assert_error(api.post("/v2/functions", json=transform("x", outputschema={})), 400, field="outputschema")


@pytest.mark.parametrize("limit", ["0", "101", "abc", "-1", "1.5"])
def test_limit_out_of_range_is_400(api: httpx.Client, limit: str) -> None:
    assert_error(api.get(f"/v2/functions?limit={limit}"), 400, field="limit")
    assert_error(api.get(f"/v2/workflows?limit={limit}"), 400, field="limit")


def test_unknown_query_parameter_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/v2/functions?functionname=x"), 400, field="functionname")


@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/v2/functions/nope/call"),  # takes no query parameter
        ("get", "/v2/calls/call_nope"),  # takes waitSeconds only
        ("get", "/v3/calls/call_nope"),
        ("delete", "/v2/workflows/nope"),
        ("get", "/v1-alpha/events/ev_nope"),
    ],
)
def test_query_parameters_a_route_does_not_declare_are_400(api: httpx.Client, method: str, path: str) -> None:
    """Refused, not ignored, wherever the route declares none or others: ``?wait=true`` on a route
    that does not wait must not look obeyed."""
    body = assert_error(api.request(method, path, params=[("wait", "true"), ("x", "1"), ("x", "2")]), 400)
    assert body["message"] == "Invalid request: wait: Extra inputs are not permitted (and 1 more)"
    assert [error["field"] for error in body["details"]["errors"]] == ["wait", "x"]


def test_declared_query_parameters_pass_and_the_key_is_checked_first(
    api: httpx.Client, anonymous: httpx.Client
) -> None:
    assert_error(api.get("/v2/calls/call_nope", params={"waitSeconds": "0"}), 404)
    assert_error(anonymous.get("/v2/calls/call_nope", params={"wait": "true"}), 401)


def test_bad_sort_order_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/v2/functions?sortOrder=sideways"), 400, field="sortOrder")


def test_openapi_document_is_served(anonymous: httpx.Client) -> None:
    document = anonymous.get("/openapi.json").json()
    assert "/v2/functions" in document["paths"]
    assert "/v2/workflows/{workflowName}/versions" in document["paths"]


def test_openapi_documents_the_errors_quarry_answers(anonymous: httpx.Client) -> None:
    """400 (never 422) and the rest, each with the one error shape; test_openapi_conformance checks
    that the server keeps to it."""
    document = anonymous.get("/openapi.json").json()
    statuses = {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert not [op for op, codes in statuses.items() if "422" in codes]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "code"] and error["properties"]["code"]["type"] == "integer"

    assert statuses["GET /healthz"] == {"200"}
    assert statuses["GET /v2/files/{key}"] == {"200", "400", "403", "404"}  # the URL is the credential
    assert statuses["GET /v1-beta/webhook-secret"] == {"200", "401", "404", "429"}
    # creating: a malformed Idempotency-Key is a 400, one used for another request a 409
    assert statuses["POST /v1-beta/webhook-secret"] == {"200", "400", "401", "409", "429"}
    assert statuses["GET /v2/functions"] == {"200", "400", "401", "429"}
    assert statuses["POST /v2/functions"] == {"200", "400", "401", "409", "413", "429"}
    assert statuses["DELETE /v2/collections"] == {"204", "400", "401", "404", "429"}
    assert statuses["POST /v2/functions/{functionName}/call"] == {"200", "400", "401", "404", "409", "413", "429"}
    assert statuses["PUT /v1-beta/transformations"] == {"200", "207", "400", "401", "413", "429"}

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    if (method, path, status) == ("post", "/v3/workflows/{workflowName}/call", "500"):
                        # bem v3: a call that failed while the client waited is answered with the call
                        assert schema == {"$ref": "#/components/schemas/CallAnswer"}
                        continue
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            if "429" in operation["responses"]:
                assert "Retry-After" in operation["responses"]["429"]["headers"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/v2/functions?functionNames=a%00b", None),
        ("get", "/v2/functions/a%00b", None),
        ("post", "/v2/functions", transform("nul", displayName="a\u0000b")),
        ("post", "/v2/functions", transform("nul", outputSchema={"type": "object", "description": "\u0000"})),
    ],
)
def test_nul_characters_are_refused_on_every_backend(api: httpx.Client, method: str, path: str, body: object) -> None:
    response = api.request(method, path, json=body) if body is not None else api.request(method, path)
    assert_error(response, 400)
    assert api.get("/v2/functions").json()["totalCount"] == 0


def test_escaped_backslash_before_u0000_is_ordinary_text(api: httpx.Client) -> None:
    response = api.post("/v2/functions", json=transform("slashes", displayName="C:\\u0000"))
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "C:\\u0000"


@pytest.mark.parametrize(
    "path", ["/v2/functions/x/versions/99999999999999999999", "/v2/workflows/x/versions/2147483648"]
)
def test_huge_version_numbers_are_400(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 400, "versionNum")


def test_huge_version_cursor_and_filter_are_400(api: httpx.Client) -> None:
    create_function(api, transform("f"))
    assert_error(api.get("/v2/functions/f/versions?startingAfter=99999999999999999999"), 400, "startingAfter")
    assert_error(api.get("/v2/functions?workflowIDVersionNums=w.99999999999999999999"), 400, "workflowIDVersionNums")


@pytest.mark.parametrize("content_type", ["Application/JSON", "application/merge-patch+json", "text/plain", None])
def test_nul_characters_are_refused_whatever_the_content_type(api: httpx.Client, content_type: str | None) -> None:
    create_function(api, {"functionName": "shape", "type": "payload_shaping", "shapingSchema": "@"})
    body = b'{"arguments": [{"referenceID": "a\\u0000b", "inputType": "json", "inputContent": "e30="}]}'
    headers = {"content-type": content_type} if content_type else {}
    assert_error(api.post("/v2/functions/shape/call", content=body, headers=headers), 400)
    assert api.get("/v2/calls").json()["totalCount"] == 0


def test_nul_in_a_form_field_is_refused(api: httpx.Client) -> None:
    create_function(api, {"functionName": "shape", "type": "payload_shaping", "shapingSchema": "@"})
    response = api.post(
        "/v2/functions/shape/call",
        data={"referenceID": "a\x00b"},
        files={"file": ("a.json", b"{}", "application/json")},
    )
    assert_error(response, 400, "referenceID")
    assert api.get("/v2/calls").json()["totalCount"] == 0
