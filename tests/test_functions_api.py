"""Conformance suite for the Functions API (bem v2), written from the API reference.

Covers ``POST/GET /v2/functions``, ``GET/PUT/DELETE /v2/functions/{functionName}``, the
versions endpoints and ``POST /v2/functions/copy`` (reference sections 2, 3.3-3.6, 4.6-4.11, 5, 6).
Every expectation is derived from the request the test sent, never from a previous response of
the implementation, except for server-assigned values (IDs), which are only compared with each other.
"""

from __future__ import annotations

import copy as copylib
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant
from tests.helpers import INVOICE_SCHEMA, assert_error, create_function, route, transform

# --------------------------------------------------------------------------------------------
# request bodies and local helpers
# --------------------------------------------------------------------------------------------

OTHER_SCHEMA = {
    "type": "object",
    "properties": {"vendor": {"type": "string"}, "lines": {"type": "array", "items": {"type": "number"}}},
}

COMMON_FIELDS = {"functionID", "functionName", "versionNum", "type", "displayName", "tags", "audit", "usedInWorkflows"}
TYPE_FIELDS = {
    "transform": {
        "outputSchemaName",
        "outputSchema",
        "emailAddress",
        "tabularChunkingEnabled",
        "independentDocumentProcessingEnabled",
    },
    "analyze": {"outputSchemaName", "outputSchema"},
    "route": {"description", "routes", "emailAddress"},
    "split": {"splitType", "printPageSplitConfig", "semanticPageSplitConfig"},
    "join": {"description", "joinType", "outputSchemaName", "outputSchema"},
    "payload_shaping": {"shapingSchema"},
    "enrich": {"config"},
}
UAS_FIELDS = {"userActionID", "createdAt", "userID", "userEmail", "apiKeyName", "emailAddress"}
AUDIT_FIELDS = {"functionCreatedBy", "functionLastUpdatedBy", "versionCreatedBy"}
USAGE_FIELDS = {"workflowID", "workflowName", "currentVersionNum", "usedInWorkflowVersionNums"}
# conftest names each tenant's keys "<environment>-key"
PRODUCTION_KEY_NAME = "production-key"
SANDBOX_KEY_NAME = "sandbox-key"


def analyze(name: str, **extra: Any) -> dict[str, Any]:
    return {"functionName": name, "type": "analyze", "outputSchemaName": "Scan", "outputSchema": OTHER_SCHEMA, **extra}


def split_print(name: str, **extra: Any) -> dict[str, Any]:
    return {"functionName": name, "type": "split", "splitType": "print_page", **extra}


def split_semantic(name: str, classes: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    classes = classes or ["invoice", "receipt"]
    return {
        "functionName": name,
        "type": "split",
        "splitType": "semantic_page",
        "semanticPageSplitConfig": {"itemClasses": [{"name": c, "description": f"A {c}"} for c in classes]},
        **extra,
    }


def join(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "functionName": name,
        "type": "join",
        "description": "Merge the invoice with its delivery notes",
        "joinType": "standard",
        "outputSchemaName": "Merged",
        "outputSchema": INVOICE_SCHEMA,
        **extra,
    }


def shaping(name: str, expression: str = "{ id: invoiceNumber, total: totalAmount }", **extra: Any) -> dict[str, Any]:
    return {"functionName": name, "type": "payload_shaping", "shapingSchema": expression, **extra}


def enrich_step(**overrides: Any) -> dict[str, Any]:
    return {"collectionName": "vendors", "sourceField": "vendorName", "targetField": "vendorMatches", **overrides}


def enrich(name: str, steps: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"functionName": name, "type": "enrich", "config": {"steps": steps or [enrich_step()]}, **extra}


BUILDERS = {
    "transform": transform,
    "analyze": analyze,
    "route": lambda name, **extra: route(name, ["invoice", "receipt"], **extra),
    "split": split_print,
    "join": join,
    "payload_shaping": shaping,
    "enrich": enrich,
}
ALL_TYPES = list(BUILDERS)


def error_fields(response: httpx.Response) -> list[str]:
    details = response.json().get("details") or {}
    if "errors" in details:
        return [e["field"] for e in details["errors"]]
    return [details["field"]] if "field" in details else []


def assert_error_at(response: httpx.Response, status: int, field: str) -> None:
    """Documented error shape, and ``details`` names ``field`` or a path inside it."""
    assert_error(response, status)
    fields = error_fields(response)
    assert any(f == field or f.startswith((field + ".", field + "[")) for f in fields), (
        f"{field!r} not named in {fields}"
    )


def get_function(api: httpx.Client, name: str) -> dict[str, Any]:
    response = api.get(f"/v2/functions/{name}")
    assert response.status_code == 200, response.text
    return response.json()


def update_function(api: httpx.Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.put(f"/v2/functions/{name}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def list_functions(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v2/functions", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"functions", "totalCount"}
    return body


def listed_names(api: httpx.Client, params: Any = None) -> list[str]:
    return [f["functionName"] for f in list_functions(api, params)["functions"]]


def create_workflow(api: httpx.Client, name: str, main: str, edges: list[tuple[str, str]] = (), **pin: int) -> dict:
    body: dict[str, Any] = {"name": name, "mainFunction": {"name": main}}
    if main in pin:
        body["mainFunction"]["versionNum"] = pin[main]
    if edges:
        body["relationships"] = [
            {"sourceFunction": {"name": src}, "destinationFunction": {"name": dst}} for src, dst in edges
        ]
    response = api.post("/v2/workflows", json=body)
    assert response.status_code == 200, response.text
    return response.json()["workflow"]


def patch_workflow(api: httpx.Client, name: str, body: dict[str, Any]) -> dict:
    response = api.patch(f"/v2/workflows/{name}", json=body)
    assert response.status_code == 200, response.text
    return response.json()["workflow"]


def parse_time(value: str) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value)  # RFC 3339 with "Z" (Python >= 3.11)


def assert_uas(summary: dict[str, Any], key_name: str) -> None:
    assert set(summary) <= UAS_FIELDS, set(summary) - UAS_FIELDS
    assert isinstance(summary["userActionID"], str) and summary["userActionID"]
    parse_time(summary["createdAt"])
    assert summary.get("apiKeyName") == key_name


def expected_type_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The type-specific fields of a create body, as the response must echo them."""
    return {k: v for k, v in body.items() if k in TYPE_FIELDS[body["type"]]}


def assert_echoed(fn: dict[str, Any], body: dict[str, Any]) -> None:
    """``fn`` carries every type-specific field of ``body`` unchanged.

    Enrich steps may come back with their documented defaults filled in (topK 1, searchMode
    "semantic", ...), so for them only the keys that were sent are compared.
    """
    for field, value in expected_type_fields(body).items():
        if field == "config":
            assert len(fn["config"]["steps"]) == len(value["steps"])
            for sent, got in zip(value["steps"], fn["config"]["steps"]):
                assert {k: got.get(k) for k in sent} == sent
        else:
            assert fn[field] == value, field


def assert_function_shape(fn: dict[str, Any]) -> None:
    allowed = COMMON_FIELDS | TYPE_FIELDS[fn["type"]]
    assert set(fn) <= allowed, f"unexpected fields {set(fn) - allowed}"
    assert isinstance(fn["functionID"], str) and fn["functionID"]
    assert isinstance(fn["versionNum"], int)
    if fn["type"] in ("transform", "route"):
        assert isinstance(fn.get("emailAddress"), str) and "@" in fn["emailAddress"], fn
    else:
        assert "emailAddress" not in fn


# --------------------------------------------------------------------------------------------
# POST /v2/functions — every type, required fields, response shape
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_create_each_type_echoes_its_configuration(api: httpx.Client, kind: str) -> None:
    body = BUILDERS[kind](f"my-{kind}", displayName=f"My {kind} function", tags=["alpha", kind])

    created = create_function(api, body)

    assert_function_shape(created)
    assert created["functionName"] == f"my-{kind}"
    assert created["type"] == kind
    assert created["versionNum"] == 1
    assert created["displayName"] == f"My {kind} function"
    assert sorted(created["tags"]) == sorted(["alpha", kind])
    assert_echoed(created, body)
    assert created.get("usedInWorkflows", []) == []
    # GET returns the same current version
    assert get_function(api, f"my-{kind}") == created


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_create_each_type_without_optional_fields(api: httpx.Client, kind: str) -> None:
    created = create_function(api, BUILDERS[kind]("bare"))
    assert created["type"] == kind
    assert created["versionNum"] == 1
    assert created.get("tags", []) == []
    assert_function_shape(created)


def test_create_response_and_ids_are_distinct(api: httpx.Client) -> None:
    a = create_function(api, transform("one"))
    b = create_function(api, transform("two"))
    assert a["functionID"] != b["functionID"]
    assert a["emailAddress"] != b["emailAddress"]


def test_transform_tabular_chunking_defaults_false_and_is_kept(api: httpx.Client) -> None:
    assert create_function(api, transform("plain")).get("tabularChunkingEnabled") is False
    assert create_function(api, transform("chunked", tabularChunkingEnabled=True))["tabularChunkingEnabled"] is True


def test_route_items_with_all_documented_fields(api: httpx.Client) -> None:
    target = create_function(api, transform("urgent-processor"))
    routes = [
        {
            "name": "Urgent Invoices",
            "description": "Invoices marked urgent",
            "regex": {"patterns": ["URGENT.*", r"^INV-\d+$"]},
            "functionName": "urgent-processor",
        },
        {"name": "From suppliers", "origin": {"email": {"patterns": [r".*@supplier\.example$"]}}},
        {"name": "Fallback", "isErrorFallback": True},
    ]
    created = create_function(api, {"functionName": "router", "type": "route", "description": "Sort", "routes": routes})

    assert [r["name"] for r in created["routes"]] == ["Urgent Invoices", "From suppliers", "Fallback"]
    urgent, suppliers, fallback = created["routes"]
    assert urgent["description"] == "Invoices marked urgent"
    assert urgent["regex"] == {"patterns": ["URGENT.*", r"^INV-\d+$"]}
    assert urgent["functionName"] == "urgent-processor"
    assert urgent.get("functionID") in (None, target["functionID"])
    assert suppliers["origin"] == {"email": {"patterns": [r".*@supplier\.example$"]}}
    assert fallback["isErrorFallback"] is True


def test_semantic_split_keeps_item_classes(api: httpx.Client) -> None:
    body = split_semantic("splitter", ["invoice", "receipt", "delivery_note"])
    created = create_function(api, body)
    assert created["splitType"] == "semantic_page"
    classes = created["semanticPageSplitConfig"]["itemClasses"]
    assert [c["name"] for c in classes] == ["invoice", "receipt", "delivery_note"]
    assert [c["description"] for c in classes] == ["A invoice", "A receipt", "A delivery_note"]


def test_print_split_next_function_name_resolves_to_its_id(api: httpx.Client) -> None:
    page_fn = create_function(api, transform("per-page"))
    created = create_function(api, split_print("pages", printPageSplitConfig={"nextFunctionName": "per-page"}))
    config = created["printPageSplitConfig"]
    # §3.3 shows the response with nextFunctionID; §6 lists nextFunctionName in the configuration
    # too. Either the name was resolved to the ID, or the name is echoed as sent.
    assert config.get("nextFunctionID") == page_fn["functionID"] or (
        config.get("nextFunctionName") == "per-page" and "nextFunctionID" not in config
    ), config
    by_id = create_function(api, split_print("pages-2", printPageSplitConfig={"nextFunctionID": page_fn["functionID"]}))
    assert by_id["printPageSplitConfig"]["nextFunctionID"] == page_fn["functionID"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (split_print("s", printPageSplitConfig={"nextFunctionName": "missing"}), "printPageSplitConfig"),
        (split_print("s", printPageSplitConfig={"nextFunctionID": "f_missing"}), "printPageSplitConfig"),
        (
            {
                **split_semantic("s"),
                "semanticPageSplitConfig": {"itemClasses": [{"name": "a", "nextFunctionName": "nope"}]},
            },
            "semanticPageSplitConfig",
        ),
        ({**route("r", []), "routes": [{"name": "a", "functionName": "missing"}]}, "routes"),
        ({**route("r", []), "routes": [{"name": "a", "functionID": "f_missing"}]}, "routes"),
    ],
)
def test_target_function_that_does_not_exist_is_400(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error_at(api.post("/v2/functions", json=body), 400, field)
    assert list_functions(api)["totalCount"] == 0


def test_enrich_config_steps_are_kept(api: httpx.Client) -> None:
    steps = [
        enrich_step(),
        enrich_step(
            collectionName="catalog.products",
            sourceField="lineItems[].sku",
            targetField="products",
            topK=3,
            searchMode="hybrid",
            scoreThreshold=0.4,
            includeCosineDistance=True,
            includeSubcollections=True,
        ),
    ]
    created = create_function(api, enrich("enricher", steps))
    got = created["config"]["steps"]
    assert len(got) == 2
    for sent, received in zip(steps, got):
        for key, value in sent.items():
            assert received[key] == value, key


@pytest.mark.parametrize("name", ["a", "A", "0", "_", "-", "Invoice_Extractor-v2", "x" * 128])
def test_valid_function_names(api: httpx.Client, name: str) -> None:
    created = create_function(api, transform(name))
    assert created["functionName"] == name
    assert get_function(api, name)["functionID"] == created["functionID"]


@pytest.mark.parametrize(
    "name", ["", "has space", "x" * 129, "naïve", "a/b", "a.b", "semi;colon", "tab\tname", "dollar$"]
)
def test_invalid_function_name_is_400(api: httpx.Client, name: str) -> None:
    assert_error_at(api.post("/v2/functions", json=transform(name)), 400, "functionName")
    assert list_functions(api)["totalCount"] == 0


REQUIRED = [
    ("transform", "outputSchemaName"),
    ("transform", "outputSchema"),
    ("analyze", "outputSchemaName"),
    ("analyze", "outputSchema"),
    ("route", "description"),
    ("route", "routes"),
    ("split", "splitType"),
    ("join", "description"),
    ("join", "joinType"),
    ("join", "outputSchemaName"),
    ("join", "outputSchema"),
    ("payload_shaping", "shapingSchema"),
    ("enrich", "config"),
]


@pytest.mark.parametrize(("kind", "field"), REQUIRED)
def test_missing_required_field_is_400(api: httpx.Client, kind: str, field: str) -> None:
    body = BUILDERS[kind]("incomplete")
    del body[field]
    assert_error_at(api.post("/v2/functions", json=body), 400, field)
    assert_error(api.get("/v2/functions/incomplete"), 404)


def test_missing_function_name_is_400(api: httpx.Client) -> None:
    body = transform("incomplete")
    del body["functionName"]
    assert_error_at(api.post("/v2/functions", json=body), 400, "functionName")


UNKNOWN_TYPES = ["nonsense", "extract", "classify", "parse", "Transform", "", None]


@pytest.mark.parametrize("kind", UNKNOWN_TYPES)
def test_unknown_or_missing_type_is_400(api: httpx.Client, kind: str | None) -> None:
    body = transform("typed")
    if kind is None:
        del body["type"]
    else:
        body["type"] = kind
    assert_error(api.post("/v2/functions", json=body), 400)
    assert_error(api.get("/v2/functions/typed"), 404)


@pytest.mark.parametrize("kind", ["nonsense", None])
def test_unknown_or_missing_type_error_names_type(api: httpx.Client, kind: str | None) -> None:
    body = transform("typed")
    if kind is None:
        del body["type"]
    else:
        body["type"] = kind
    assert_error_at(api.post("/v2/functions", json=body), 400, "type")


BAD_CONFIGURATIONS = [
    # invalid JSON Schema
    pytest.param(transform("f", outputSchema={"type": "objekt"}), "outputSchema", id="transform-schema-bad-type"),
    pytest.param(
        transform("f", outputSchema={"type": "object", "properties": {"a": {"type": 12}}}),
        "outputSchema",
        id="transform-schema-nested-bad-type",
    ),
    pytest.param(transform("f", outputSchema={"type": "object", "required": "a"}), "outputSchema", id="required-str"),
    pytest.param(transform("f", outputSchema="not a schema"), "outputSchema", id="transform-schema-string"),
    pytest.param(transform("f", outputSchema=["type", "object"]), "outputSchema", id="transform-schema-list"),
    pytest.param(analyze("f", outputSchema={"type": "objekt"}), "outputSchema", id="analyze-schema"),
    pytest.param(join("f", outputSchema={"minLength": -1}), "outputSchema", id="join-schema"),
    pytest.param(transform("f", outputSchemaName=7), "outputSchemaName", id="schema-name-not-string"),
    pytest.param(transform("f", tabularChunkingEnabled="sometimes"), "tabularChunkingEnabled", id="tabular-not-bool"),
    # JMESPath
    pytest.param(shaping("f", "foo["), "shapingSchema", id="jmespath-unclosed"),
    pytest.param(shaping("f", "{ id: }"), "shapingSchema", id="jmespath-bad-multiselect"),
    pytest.param(shaping("f", ""), "shapingSchema", id="jmespath-empty"),
    pytest.param(shaping("f", 42), "shapingSchema", id="jmespath-not-string"),
    # route
    pytest.param(route("f", []), "routes", id="route-empty-routes"),
    pytest.param(route("f", ["invoice", "receipt", "invoice"]), "routes", id="route-duplicate-names"),
    pytest.param(
        {**route("f", []), "routes": [{"name": "a"}, {"description": "no name"}]}, "routes", id="route-without-name"
    ),
    pytest.param(
        {**route("f", []), "routes": [{"name": "a", "regex": {"patterns": ["[unclosed"]}}]}, "routes", id="regex-open"
    ),
    pytest.param(
        {**route("f", []), "routes": [{"name": "a", "regex": {"patterns": ["ok.*", "(?P<"]}}]}, "routes", id="regex-2"
    ),
    pytest.param(
        {**route("f", []), "routes": [{"name": "a", "origin": {"email": {"patterns": ["*@x"]}}}]},
        "routes",
        id="origin-regex",
    ),
    pytest.param({**route("f", []), "routes": "invoice,receipt"}, "routes", id="routes-not-list"),
    # split
    pytest.param(split_print("f", splitType="by_magic"), "splitType", id="split-unknown-type"),
    pytest.param(
        {"functionName": "f", "type": "split", "splitType": "semantic_page"},
        "semanticPageSplitConfig",
        id="semantic-without-config",
    ),
    pytest.param(
        {"functionName": "f", "type": "split", "splitType": "semantic_page", "semanticPageSplitConfig": {}},
        "semanticPageSplitConfig",
        id="semantic-without-item-classes",
    ),
    pytest.param(
        {
            "functionName": "f",
            "type": "split",
            "splitType": "semantic_page",
            "semanticPageSplitConfig": {"itemClasses": []},
        },
        "semanticPageSplitConfig",
        id="semantic-empty-item-classes",
    ),
    pytest.param(
        {
            "functionName": "f",
            "type": "split",
            "splitType": "semantic_page",
            "semanticPageSplitConfig": {"itemClasses": [{"description": "nameless"}]},
        },
        "semanticPageSplitConfig",
        id="semantic-class-without-name",
    ),
    pytest.param(split_semantic("f", ["invoice", "invoice"]), "semanticPageSplitConfig", id="semantic-dup-classes"),
    # join
    pytest.param(join("f", joinType="fancy"), "joinType", id="join-unknown-type"),
    # enrich
    pytest.param(enrich("f", [enrich_step(collectionName="product-catalog")]), "config", id="enrich-coll-hyphen"),
    pytest.param(enrich("f", [enrich_step(collectionName="123items")]), "config", id="enrich-coll-digits"),
    pytest.param(enrich("f", [enrich_step(collectionName="items..data")]), "config", id="enrich-coll-dots"),
    pytest.param(enrich("f", [enrich_step(collectionName="order#123")]), "config", id="enrich-coll-hash"),
    pytest.param(enrich("f", [enrich_step(collectionName="")]), "config", id="enrich-coll-empty"),
    pytest.param(enrich("f", [enrich_step(targetField="a.b")]), "config", id="enrich-target-dotted"),
    pytest.param(enrich("f", [enrich_step(targetField="has space")]), "config", id="enrich-target-space"),
    pytest.param(enrich("f", [enrich_step(targetField="")]), "config", id="enrich-target-empty"),
    pytest.param(enrich("f", [enrich_step(targetField="items[0]")]), "config", id="enrich-target-index"),
    pytest.param(enrich("f", [enrich_step(sourceField="foo[")]), "config", id="enrich-source-jmespath"),
    pytest.param(enrich("f", [enrich_step(searchMode="fuzzy")]), "config", id="enrich-search-mode"),
    pytest.param(
        enrich("f", [{"sourceField": "a", "targetField": "b"}]), "config", id="enrich-step-without-collection"
    ),
    pytest.param({**enrich("f"), "config": {"steps": []}}, "config", id="enrich-no-steps"),
    pytest.param({**enrich("f"), "config": {}}, "config", id="enrich-empty-config"),
    # common fields
    pytest.param(transform("f", tags="billing"), "tags", id="tags-not-list"),
    pytest.param(transform("f", tags=[1, 2]), "tags", id="tags-not-strings"),
    pytest.param(transform("f", displayName=["x"]), "displayName", id="display-name-not-string"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CONFIGURATIONS)
def test_bad_configuration_is_400_naming_the_field(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert_error_at(api.post("/v2/functions", json=body), 400, field)
    assert_error(api.get("/v2/functions/f"), 404)
    assert list_functions(api)["totalCount"] == 0


def test_second_enrich_step_error_is_reported(api: httpx.Client) -> None:
    response = api.post("/v2/functions", json=enrich("f", [enrich_step(), enrich_step(targetField="a.b")]))
    assert_error_at(response, 400, "config")
    # the path points at the second step (index 1), however it is spelled
    assert any("1" in f for f in error_fields(response)), error_fields(response)


def test_malformed_json_body_is_400(api: httpx.Client) -> None:
    response = api.post(
        "/v2/functions", content=b'{"functionName": "x", ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400)


def test_body_that_is_not_an_object_is_400(api: httpx.Client) -> None:
    assert_error(api.post("/v2/functions", json=["functionName", "x"]), 400)


def test_duplicate_name_is_409(api: httpx.Client) -> None:
    first = create_function(api, transform("taken"))
    assert_error(api.post("/v2/functions", json=transform("taken")), 409)
    # also when the second one is a different type
    assert_error(api.post("/v2/functions", json=shaping("taken")), 409)
    assert get_function(api, "taken") == first
    assert list_functions(api)["totalCount"] == 1


def test_same_name_in_other_environment_is_allowed(tenant: Tenant) -> None:
    a = create_function(tenant.production, transform("shared"))
    b = create_function(tenant.sandbox, shaping("shared"))
    assert a["functionID"] != b["functionID"]
    assert get_function(tenant.production, "shared")["type"] == "transform"
    assert get_function(tenant.sandbox, "shared")["type"] == "payload_shaping"


# --------------------------------------------------------------------------------------------
# audit and usedInWorkflows
# --------------------------------------------------------------------------------------------


def test_audit_on_create_names_the_api_key(api: httpx.Client) -> None:
    created = create_function(api, transform("audited"))
    audit = created["audit"]
    assert set(audit) <= AUDIT_FIELDS
    for key in AUDIT_FIELDS:
        assert_uas(audit[key], PRODUCTION_KEY_NAME)
    # on version 1 all three describe the same action: the creation
    assert audit["functionCreatedBy"]["userActionID"] == audit["versionCreatedBy"]["userActionID"]
    assert audit["functionLastUpdatedBy"]["userActionID"] == audit["functionCreatedBy"]["userActionID"]


def test_audit_after_update(tenant: Tenant) -> None:
    created = create_function(tenant.production, transform("audited"))
    updated = update_function(tenant.production, "audited", {"displayName": "Audited"})
    before, after = created["audit"], updated["audit"]
    assert after["functionCreatedBy"] == before["functionCreatedBy"]
    assert after["functionLastUpdatedBy"]["userActionID"] != before["functionLastUpdatedBy"]["userActionID"]
    assert after["versionCreatedBy"]["userActionID"] == after["functionLastUpdatedBy"]["userActionID"]
    assert parse_time(after["versionCreatedBy"]["createdAt"]) >= parse_time(before["versionCreatedBy"]["createdAt"])
    for key in AUDIT_FIELDS:
        assert_uas(after[key], PRODUCTION_KEY_NAME)
    # the version-1 object still describes its own creation
    v1 = tenant.production.get("/v2/functions/audited/versions/1").json()
    assert v1["audit"]["versionCreatedBy"]["userActionID"] == before["versionCreatedBy"]["userActionID"]


def test_audit_names_the_sandbox_key_in_sandbox(tenant: Tenant) -> None:
    created = create_function(tenant.sandbox, transform("audited"))
    assert_uas(created["audit"]["functionCreatedBy"], SANDBOX_KEY_NAME)


def test_used_in_workflows_lists_the_workflow(api: httpx.Client) -> None:
    create_function(api, route("router", ["invoice"]))
    create_function(api, transform("extractor"))
    create_function(api, shaping("unused"))
    wf = create_workflow(api, "invoice-flow", "router", [("router", "extractor")])

    for name in ("router", "extractor"):
        usage = get_function(api, name)["usedInWorkflows"]
        assert len(usage) == 1, usage
        assert set(usage[0]) <= USAGE_FIELDS
        assert usage[0]["workflowID"] == wf["id"]
        assert usage[0]["workflowName"] == "invoice-flow"
        assert usage[0]["currentVersionNum"] == 1
        assert usage[0]["usedInWorkflowVersionNums"] == [1]
    assert get_function(api, "unused").get("usedInWorkflows", []) == []
    # the list endpoint carries the same information
    listed = {f["functionName"]: f for f in list_functions(api)["functions"]}
    assert listed["router"]["usedInWorkflows"] == get_function(api, "router")["usedInWorkflows"]
    assert listed["unused"].get("usedInWorkflows", []) == []


def test_used_in_workflows_follows_workflow_versions(api: httpx.Client) -> None:
    create_function(api, transform("extractor"))
    create_function(api, transform("other"))
    wf = create_workflow(api, "flow", "extractor")
    patch_workflow(api, "flow", {"displayName": "Flow v2"})
    usage = get_function(api, "extractor")["usedInWorkflows"]
    assert len(usage) == 1
    assert usage[0]["workflowID"] == wf["id"]
    assert usage[0]["currentVersionNum"] == 2
    assert sorted(usage[0]["usedInWorkflowVersionNums"]) == [1, 2]

    # version 3 of the workflow no longer uses "extractor"
    patch_workflow(api, "flow", {"mainFunction": {"name": "other"}})
    usage = get_function(api, "extractor")["usedInWorkflows"]
    assert sorted(usage[0]["usedInWorkflowVersionNums"]) == [1, 2]
    assert usage[0]["currentVersionNum"] == 3
    other = get_function(api, "other")["usedInWorkflows"]
    assert other[0]["usedInWorkflowVersionNums"] == [3]


def test_used_in_workflows_follows_function_versions(api: httpx.Client) -> None:
    create_function(api, transform("floating"))
    create_function(api, transform("pinned"))
    floating_wf = create_workflow(api, "uses-floating", "floating")
    pinned_wf = create_workflow(api, "uses-pinned", "pinned", pinned=1)
    update_function(api, "floating", {"displayName": "v2"})
    update_function(api, "pinned", {"displayName": "v2"})

    # an unpinned reference follows the function to its new current version
    usage = get_function(api, "floating")["usedInWorkflows"]
    assert [(u["workflowID"], u["usedInWorkflowVersionNums"]) for u in usage] == [(floating_wf["id"], [1])]
    # a pinned reference stays on version 1: the current version (2) is not used by it
    assert get_function(api, "pinned").get("usedInWorkflows", []) == []
    v1 = api.get("/v2/functions/pinned/versions/1").json()
    assert [(u["workflowID"], u["usedInWorkflowVersionNums"]) for u in v1["usedInWorkflows"]] == [
        (pinned_wf["id"], [1])
    ]


def test_used_in_workflows_lists_several_workflows(api: httpx.Client) -> None:
    create_function(api, transform("extractor"))
    a = create_workflow(api, "flow-a", "extractor")
    b = create_workflow(api, "flow-b", "extractor")
    usage = get_function(api, "extractor")["usedInWorkflows"]
    assert sorted((u["workflowID"], u["workflowName"]) for u in usage) == sorted(
        [(a["id"], "flow-a"), (b["id"], "flow-b")]
    )


# --------------------------------------------------------------------------------------------
# GET /v2/functions — filters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def catalog(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """Five functions with distinct types, display names and tags, created in this order."""
    bodies = [
        transform("inv", displayName="Invoice Extractor", tags=["billing", "finance"]),
        route("mail", ["a", "b"], displayName="Mail ROUTER", tags=["billing"]),
        shaping("shape", displayName="Shaper for INVOICES", tags=["finance", "ops"]),
        analyze("scan", tags=[]),
        split_print("pages", displayName="100% Split_v2", tags=["ops"]),
    ]
    return {b["functionName"]: create_function(api, b) for b in bodies}


def test_empty_list(api: httpx.Client) -> None:
    assert list_functions(api) == {"functions": [], "totalCount": 0}


def test_list_returns_full_function_objects(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    body = list_functions(api)
    assert body["totalCount"] == 5
    assert [f["functionName"] for f in body["functions"]] == list(catalog)
    for fn in body["functions"]:
        assert_function_shape(fn)
        assert fn == get_function(api, fn["functionName"])


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_function_ids(api: httpx.Client, catalog: dict[str, dict[str, Any]], style: str) -> None:
    ids = [catalog["inv"]["functionID"], catalog["shape"]["functionID"]]
    params = {"functionIDs": ",".join(ids)} if style == "comma" else [("functionIDs", i) for i in ids]
    body = list_functions(api, params)
    assert [f["functionID"] for f in body["functions"]] == ids
    assert body["totalCount"] == 2


def test_filter_function_ids_unknown_id_matches_nothing(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    assert list_functions(api, {"functionIDs": "f_doesnotexist"}) == {"functions": [], "totalCount": 0}
    ids = f"f_doesnotexist,{catalog['scan']['functionID']}"
    assert listed_names(api, {"functionIDs": ids}) == ["scan"]


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_function_names(api: httpx.Client, catalog: dict[str, dict[str, Any]], style: str) -> None:
    names = ["pages", "mail"]
    params = {"functionNames": ",".join(names)} if style == "comma" else [("functionNames", n) for n in names]
    assert listed_names(api, params) == ["mail", "pages"]  # creation order, not request order
    assert list_functions(api, params)["totalCount"] == 2


def test_filter_function_names_is_exact(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    assert listed_names(api, {"functionNames": "in"}) == []
    assert listed_names(api, {"functionNames": "inv"}) == ["inv"]


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("invoice", ["inv", "shape"]),
        ("INVOICE", ["inv", "shape"]),
        ("iNvOiCeS", ["shape"]),
        ("router", ["mail"]),
        ("r fo", ["shape"]),
        ("%", ["pages"]),
        ("0%", ["pages"]),
        ("_", ["pages"]),
        ("t_v", ["pages"]),
        ("nothing-like-this", []),
    ],
)
def test_filter_display_name_case_insensitive_substring(
    api: httpx.Client, catalog: dict[str, dict[str, Any]], needle: str, expected: list[str]
) -> None:
    body = list_functions(api, {"displayName": needle})
    assert [f["functionName"] for f in body["functions"]] == expected
    assert body["totalCount"] == len(expected)


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_types(api: httpx.Client, catalog: dict[str, dict[str, Any]], style: str) -> None:
    types = ["route", "transform"]
    params = {"types": ",".join(types)} if style == "comma" else [("types", t) for t in types]
    assert listed_names(api, params) == ["inv", "mail"]
    assert listed_names(api, {"types": "analyze"}) == ["scan"]
    assert listed_names(api, {"types": "join"}) == []


@pytest.mark.parametrize("value", ["bogus", "transform,bogus", "Transform", "extract"])
def test_filter_unknown_type_is_400(api: httpx.Client, value: str) -> None:
    assert_error_at(api.get("/v2/functions", params={"types": value}), 400, "types")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tags": "billing"}, ["inv", "mail"]),
        ({"tags": "billing,finance"}, ["inv"]),
        ({"tags": "finance,billing"}, ["inv"]),
        ([("tags", "finance"), ("tags", "ops")], ["shape"]),
        ([("tags", "ops")], ["shape", "pages"]),
        ({"tags": "billing,ops"}, []),
        ({"tags": "bill"}, []),
        ({"tags": "nope"}, []),
    ],
)
def test_filter_tags_must_contain_all(
    api: httpx.Client, catalog: dict[str, dict[str, Any]], params: Any, expected: list[str]
) -> None:
    body = list_functions(api, params)
    assert [f["functionName"] for f in body["functions"]] == expected
    assert body["totalCount"] == len(expected)


def test_filter_arrays_mix_comma_and_repeated(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    params = [("functionNames", "inv,mail"), ("functionNames", "scan")]
    assert listed_names(api, params) == ["inv", "mail", "scan"]
    assert listed_names(api, [("types", "analyze,split"), ("types", "route")]) == ["mail", "scan", "pages"]


@pytest.mark.parametrize("param", ["functionIDs", "functionNames", "types", "tags", "workflowIDs", "workflowNames"])
@pytest.mark.parametrize("value", ["", "a,,b", ","])
def test_filter_array_with_empty_item_is_400(api: httpx.Client, param: str, value: str) -> None:
    # "Items 1 <= items": an array filter, when present, is non-empty
    assert_error_at(api.get("/v2/functions", params={param: value}), 400, param)


def test_filters_combine_with_and(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    params = {"types": "transform,payload_shaping,route", "tags": "finance", "displayName": "invoice"}
    assert listed_names(api, params) == ["inv", "shape"]
    assert listed_names(api, {"types": "route", "tags": "finance"}) == []
    ids = ",".join(catalog[n]["functionID"] for n in ("inv", "mail", "pages"))
    assert listed_names(api, {"functionIDs": ids, "functionNames": "mail,pages,scan"}) == ["mail", "pages"]
    assert list_functions(api, {"functionIDs": ids, "tags": "ops"})["totalCount"] == 1


def test_total_count_ignores_limit(api: httpx.Client, catalog: dict[str, dict[str, Any]]) -> None:
    body = list_functions(api, {"limit": 1})
    assert len(body["functions"]) == 1
    assert body["totalCount"] == 5
    body = list_functions(api, {"limit": 1, "tags": "billing"})
    assert [f["functionName"] for f in body["functions"]] == ["inv"]
    assert body["totalCount"] == 2


@pytest.mark.parametrize("limit", [4, 5, 6])
def test_total_count_of_a_page_after_a_cursor_counts_every_match(
    api: httpx.Client, catalog: dict[str, dict[str, Any]], limit: int
) -> None:
    """A short last page is not the whole list: the total stays that of every function, whether the
    first page was full (4, 5) or held them all (6), and from either cursor."""
    first = list_functions(api, {"limit": limit})
    assert first["totalCount"] == 5
    names = [f["functionName"] for f in first["functions"]]
    after = list_functions(api, {"limit": limit, "startingAfter": first["functions"][0]["functionID"]})
    assert after["totalCount"] == 5
    assert [f["functionName"] for f in after["functions"]] == list(catalog)[1 : 1 + limit]
    last = first["functions"][-1]["functionID"]
    before = list_functions(api, {"limit": limit, "endingBefore": last})
    assert before["totalCount"] == 5
    assert [f["functionName"] for f in before["functions"]] == names[:-1]


def test_filters_do_not_see_other_environment(tenant: Tenant, catalog: dict[str, dict[str, Any]]) -> None:
    create_function(tenant.sandbox, transform("inv", displayName="Invoice Extractor", tags=["billing"]))
    assert listed_names(tenant.sandbox, {"tags": "billing"}) == ["inv"]
    assert list_functions(tenant.sandbox, {"displayName": "invoice"})["totalCount"] == 1
    assert list_functions(tenant.production, {"displayName": "invoice"})["totalCount"] == 2


# --------------------------------------------------------------------------------------------
# GET /v2/functions — workflow filters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def flows(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """Workflows over functions:

    flow-one v1: router -> extractor ; flow-one v2: main = shaper
    flow-two v1: main = extractor
    flow-pinned v1: main = pinned@1 (then pinned is updated to v2)
    """
    for body in (
        route("router", ["a"]),
        transform("extractor"),
        shaping("shaper"),
        analyze("lonely"),
        transform("pinned"),
    ):
        create_function(api, body)
    one = create_workflow(api, "flow-one", "router", [("router", "extractor")])
    two = create_workflow(api, "flow-two", "extractor")
    pinned = create_workflow(api, "flow-pinned", "pinned", pinned=1)
    update_function(api, "pinned", {"displayName": "Pinned v2"})
    patch_workflow(api, "flow-one", {"mainFunction": {"name": "shaper"}, "relationships": []})
    return {"flow-one": one, "flow-two": two, "flow-pinned": pinned}


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_workflow_ids_uses_current_versions(
    api: httpx.Client, flows: dict[str, dict[str, Any]], style: str
) -> None:
    one, two = flows["flow-one"]["id"], flows["flow-two"]["id"]
    assert listed_names(api, {"workflowIDs": one}) == ["shaper"]
    params = {"workflowIDs": f"{one},{two}"} if style == "comma" else [("workflowIDs", one), ("workflowIDs", two)]
    body = list_functions(api, params)
    assert [f["functionName"] for f in body["functions"]] == ["extractor", "shaper"]
    assert body["totalCount"] == 2


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_workflow_names(api: httpx.Client, flows: dict[str, dict[str, Any]], style: str) -> None:
    params = (
        {"workflowNames": "flow-two,flow-one"}
        if style == "comma"
        else [
            ("workflowNames", "flow-two"),
            ("workflowNames", "flow-one"),
        ]
    )
    assert listed_names(api, params) == ["extractor", "shaper"]
    assert listed_names(api, {"workflowNames": "flow-two"}) == ["extractor"]
    assert list_functions(api, {"workflowNames": "no-such-flow"}) == {"functions": [], "totalCount": 0}


def test_filter_workflow_lists_every_node(api: httpx.Client) -> None:
    for body in (route("router", ["a", "b"]), transform("left"), transform("right"), shaping("after"), shaping("x")):
        create_function(api, body)
    create_workflow(api, "graph", "router", [("router", "left"), ("router", "right"), ("left", "after")])
    assert listed_names(api, {"workflowNames": "graph"}) == ["router", "left", "right", "after"]
    assert list_functions(api, {"workflowNames": "graph"})["totalCount"] == 4


def test_filter_workflow_pinned_old_function_version_is_not_current(
    api: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    # flow-pinned's current version uses pinned v1, but pinned's current version is v2
    assert listed_names(api, {"workflowNames": "flow-pinned"}) == []
    assert listed_names(api, {"workflowIDs": flows["flow-pinned"]["id"]}) == []


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_workflow_id_version_nums(api: httpx.Client, flows: dict[str, dict[str, Any]], style: str) -> None:
    one, two = flows["flow-one"]["id"], flows["flow-two"]["id"]
    assert listed_names(api, {"workflowIDVersionNums": f"{one}.1"}) == ["router", "extractor"]
    assert listed_names(api, {"workflowIDVersionNums": f"{one}.2"}) == ["shaper"]
    values = [f"{one}.2", f"{two}.1"]
    params = (
        {"workflowIDVersionNums": ",".join(values)}
        if style == "comma"
        else [("workflowIDVersionNums", v) for v in values]
    )
    body = list_functions(api, params)
    assert [f["functionName"] for f in body["functions"]] == ["extractor", "shaper"]
    assert body["totalCount"] == 2
    assert listed_names(api, {"workflowIDVersionNums": f"{one}.3"}) == []


@pytest.mark.parametrize("style", ["comma", "repeated"])
def test_filter_workflow_name_version_nums(api: httpx.Client, flows: dict[str, dict[str, Any]], style: str) -> None:
    assert listed_names(api, {"workflowNameVersionNums": "flow-one.1"}) == ["router", "extractor"]
    values = ["flow-one.2", "flow-two.1"]
    params = (
        {"workflowNameVersionNums": ",".join(values)}
        if style == "comma"
        else [("workflowNameVersionNums", v) for v in values]
    )
    assert listed_names(api, params) == ["extractor", "shaper"]
    assert listed_names(api, {"workflowNameVersionNums": "flow-two.2"}) == []
    assert listed_names(api, {"workflowNameVersionNums": "nope.1"}) == []


def test_filter_workflow_name_version_nums_resolves_current_names(
    api: httpx.Client, flows: dict[str, dict[str, Any]]
) -> None:
    patch_workflow(api, "flow-two", {"name": "flow-renamed"})
    assert listed_names(api, {"workflowNameVersionNums": "flow-two.1"}) == []
    assert listed_names(api, {"workflowNameVersionNums": "flow-renamed.1"}) == ["extractor"]
    assert listed_names(api, {"workflowNames": "flow-two"}) == []
    assert listed_names(api, {"workflowNames": "flow-renamed"}) == ["extractor"]


def test_workflow_filters_combine_with_other_filters(api: httpx.Client, flows: dict[str, dict[str, Any]]) -> None:
    assert listed_names(api, {"workflowIDVersionNums": f"{flows['flow-one']['id']}.1", "types": "route"}) == ["router"]
    assert listed_names(api, {"workflowNames": "flow-one,flow-two", "functionNames": "shaper,lonely"}) == ["shaper"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("workflowIDVersionNums", "wf_abc"),
        ("workflowIDVersionNums", "wf_abc.x"),
        ("workflowIDVersionNums", "wf_abc.-1"),
        ("workflowNameVersionNums", "flow-one"),
        ("workflowNameVersionNums", "flow-one.two"),
        ("workflowNameVersionNums", ".1"),
    ],
)
def test_filter_malformed_version_num_is_400(api: httpx.Client, param: str, value: str) -> None:
    assert_error_at(api.get("/v2/functions", params={param: value}), 400, param)


# --------------------------------------------------------------------------------------------
# GET /v2/functions — pagination
# --------------------------------------------------------------------------------------------


@pytest.fixture
def seven(api: httpx.Client) -> list[str]:
    """Seven functions, alternating types; returns their IDs in creation order."""
    ids = []
    for i in range(7):
        body = transform(f"fn-{i}") if i % 2 == 0 else shaping(f"fn-{i}")
        ids.append(create_function(api, body)["functionID"])
    return ids


def walk(api: httpx.Client, direction: str, order: str, limit: int, start: str | None, extra: Any = None) -> list[str]:
    """Follow cursors until an empty page; return all IDs in list order."""
    seen: list[str] = []
    cursor = start
    for _ in range(50):
        params: dict[str, Any] = {"limit": limit, "sortOrder": order, **(extra or {})}
        if cursor is not None:
            params[direction] = cursor
        body = list_functions(api, params)
        page = [f["functionID"] for f in body["functions"]]
        assert len(page) <= limit
        if not page:
            return seen
        if direction == "startingAfter":
            seen = seen + page
            cursor = page[-1]
        else:
            seen = page + seen
            cursor = page[0]
    raise AssertionError("pagination did not terminate")


def test_sort_order_asc_is_creation_order_and_default(api: httpx.Client, seven: list[str]) -> None:
    assert [f["functionID"] for f in list_functions(api)["functions"]] == seven
    assert [f["functionID"] for f in list_functions(api, {"sortOrder": "asc"})["functions"]] == seven
    assert [f["functionID"] for f in list_functions(api, {"sortOrder": "desc"})["functions"]] == seven[::-1]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_walk_forward_with_starting_after(api: httpx.Client, seven: list[str], order: str, limit: int) -> None:
    expected = seven if order == "asc" else seven[::-1]
    assert walk(api, "startingAfter", order, limit, None) == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_walk_backward_with_ending_before(api: httpx.Client, seven: list[str], order: str, limit: int) -> None:
    expected = seven if order == "asc" else seven[::-1]
    # start at the last item of the list and walk back to the first
    assert walk(api, "endingBefore", order, limit, expected[-1]) + [expected[-1]] == expected


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_are_exact(api: httpx.Client, seven: list[str], order: str) -> None:
    ordered = seven if order == "asc" else seven[::-1]

    def page(**params: Any) -> list[str]:
        body = list_functions(api, {"sortOrder": order, **params})
        assert body["totalCount"] == 7  # independent of limit and cursors
        return [f["functionID"] for f in body["functions"]]

    assert page(limit=3) == ordered[:3]
    assert page(limit=3, startingAfter=ordered[2]) == ordered[3:6]
    assert page(limit=3, startingAfter=ordered[5]) == ordered[6:]
    assert page(limit=3, startingAfter=ordered[6]) == []
    # endingBefore returns the items immediately before the cursor, still in the chosen order
    assert page(limit=3, endingBefore=ordered[6]) == ordered[3:6]
    assert page(limit=3, endingBefore=ordered[2]) == ordered[:2]
    assert page(limit=10, endingBefore=ordered[4]) == ordered[:4]
    assert page(limit=3, endingBefore=ordered[0]) == []


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_walk_with_filter(api: httpx.Client, seven: list[str], order: str) -> None:
    transforms = [fid for i, fid in enumerate(seven) if i % 2 == 0]
    expected = transforms if order == "asc" else transforms[::-1]
    assert walk(api, "startingAfter", order, 2, None, {"types": "transform"}) == expected
    assert walk(api, "endingBefore", order, 2, expected[-1], {"types": "transform"}) + [expected[-1]] == expected
    body = list_functions(api, {"types": "transform", "limit": 1, "startingAfter": expected[0], "sortOrder": order})
    assert body["totalCount"] == 4


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_cursor_outside_the_filter_still_marks_a_position(api: httpx.Client, seven: list[str], order: str) -> None:
    # fn-3 is payload_shaping; as a cursor of a transform-only list it still marks its place
    transforms = [fid for i, fid in enumerate(seven) if i % 2 == 0]
    params = {"types": "transform", "sortOrder": order}
    after = [f["functionID"] for f in list_functions(api, {**params, "startingAfter": seven[3]})["functions"]]
    before = [f["functionID"] for f in list_functions(api, {**params, "endingBefore": seven[3]})["functions"]]
    if order == "asc":
        assert after == transforms[2:]
        assert before == transforms[:2]
    else:
        assert after == transforms[:2][::-1]
        assert before == transforms[2:][::-1]


def test_default_limit_is_50(api: httpx.Client) -> None:
    ids = [create_function(api, shaping(f"s{i:02d}"))["functionID"] for i in range(51)]
    body = list_functions(api)
    assert [f["functionID"] for f in body["functions"]] == ids[:50]
    assert body["totalCount"] == 51
    body = list_functions(api, {"startingAfter": ids[49]})
    assert [f["functionID"] for f in body["functions"]] == ids[50:]
    assert body["totalCount"] == 51


def test_limit_100_is_allowed(api: httpx.Client, seven: list[str]) -> None:
    assert len(list_functions(api, {"limit": 100})["functions"]) == 7


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_limit_out_of_range_is_400(api: httpx.Client, limit: str) -> None:
    assert_error_at(api.get("/v2/functions", params={"limit": limit}), 400, "limit")


@pytest.mark.parametrize("order", ["ascending", "DESC", "random", ""])
def test_unknown_sort_order_is_400(api: httpx.Client, order: str) -> None:
    assert_error_at(api.get("/v2/functions", params={"sortOrder": order}), 400, "sortOrder")


def test_both_cursors_is_400(api: httpx.Client, seven: list[str]) -> None:
    assert_error(api.get("/v2/functions", params={"startingAfter": seven[1], "endingBefore": seven[5]}), 400)


@pytest.mark.parametrize("cursor", ["startingAfter", "endingBefore"])
def test_unknown_cursor_is_400(api: httpx.Client, seven: list[str], cursor: str) -> None:
    assert_error_at(api.get("/v2/functions", params={cursor: "f_doesnotexist"}), 400, cursor)


@pytest.mark.parametrize("cursor", ["startingAfter", "endingBefore"])
def test_cursor_of_deleted_function_is_400(api: httpx.Client, seven: list[str], cursor: str) -> None:
    assert api.delete("/v2/functions/fn-3").status_code == 204
    assert_error_at(api.get("/v2/functions", params={cursor: seven[3]}), 400, cursor)


def test_list_order_is_unchanged_by_updates_and_renames(api: httpx.Client, seven: list[str]) -> None:
    update_function(api, "fn-0", {"displayName": "updated"})
    update_function(api, "fn-2", {"functionName": "fn-2-renamed"})
    assert [f["functionID"] for f in list_functions(api)["functions"]] == seven


# --------------------------------------------------------------------------------------------
# GET /v2/functions/{functionName}
# --------------------------------------------------------------------------------------------


def test_get_unknown_function_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/functions/nope"), 404)


def test_get_by_name_is_exact(api: httpx.Client) -> None:
    create_function(api, transform("Invoice"))
    assert_error(api.get("/v2/functions/invoice"), 404)
    assert_error(api.get("/v2/functions/Invoic"), 404)
    assert get_function(api, "Invoice")["functionName"] == "Invoice"


# --------------------------------------------------------------------------------------------
# PUT /v2/functions/{functionName}
# --------------------------------------------------------------------------------------------


def test_update_creates_new_version_and_keeps_unchanged_fields(api: httpx.Client) -> None:
    original = transform("inv", displayName="Invoices", tags=["billing"], tabularChunkingEnabled=True)
    created = create_function(api, original)

    updated = update_function(api, "inv", {"outputSchema": OTHER_SCHEMA, "outputSchemaName": "Other"})

    assert updated["functionID"] == created["functionID"]
    assert updated["versionNum"] == 2
    assert updated["type"] == "transform"
    assert updated["outputSchema"] == OTHER_SCHEMA
    assert updated["outputSchemaName"] == "Other"
    # unchanged fields kept
    assert updated["displayName"] == "Invoices"
    assert updated["tags"] == ["billing"]
    assert updated["tabularChunkingEnabled"] is True
    assert updated["emailAddress"] == created["emailAddress"]
    assert get_function(api, "inv") == updated

    again = update_function(api, "inv", {"tags": ["billing", "eu"]})
    assert again["versionNum"] == 3
    assert sorted(again["tags"]) == ["billing", "eu"]
    assert again["outputSchema"] == OTHER_SCHEMA
    assert again["displayName"] == "Invoices"


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("analyze", {"outputSchema": INVOICE_SCHEMA}),
        ("route", {"routes": [{"name": "x"}, {"name": "y"}, {"name": "z"}]}),
        ("route", {"description": "New description"}),
        ("split", {"splitType": "semantic_page", "semanticPageSplitConfig": {"itemClasses": [{"name": "memo"}]}}),
        ("join", {"description": "Join differently", "outputSchemaName": "Renamed"}),
        ("payload_shaping", {"shapingSchema": "items[].price | sum(@)"}),
        ("enrich", {"config": {"steps": [enrich_step(collectionName="customers", targetField="customer")]}}),
    ],
)
def test_update_each_type(api: httpx.Client, kind: str, change: dict[str, Any]) -> None:
    body = BUILDERS[kind]("fn", displayName="Keep me")
    create_function(api, body)
    updated = update_function(api, "fn", copylib.deepcopy(change))
    assert updated["versionNum"] == 2
    assert updated["type"] == kind
    assert updated["displayName"] == "Keep me"
    for field, value in change.items():
        if field == "routes":
            assert [r["name"] for r in updated["routes"]] == [r["name"] for r in value]
        elif field == "config":
            for sent, got in zip(value["steps"], updated["config"]["steps"]):
                assert {k: got[k] for k in sent} == sent
        elif field == "semanticPageSplitConfig":
            assert [c["name"] for c in updated[field]["itemClasses"]] == ["memo"]
        else:
            assert updated[field] == value, field
    for field, value in expected_type_fields(body).items():
        if field not in change:
            assert updated[field] == value, field
    assert_function_shape(updated)


def test_update_with_different_type_is_400(api: httpx.Client) -> None:
    created = create_function(api, transform("inv"))
    assert_error_at(api.put("/v2/functions/inv", json={"type": "analyze"}), 400, "type")
    assert_error_at(api.put("/v2/functions/inv", json={"type": "payload_shaping", "shapingSchema": "a"}), 400, "type")
    assert get_function(api, "inv") == created


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("transform", {"outputSchema": {"type": "objekt"}}, "outputSchema"),
        ("join", {"joinType": "fancy"}, "joinType"),
        ("payload_shaping", {"shapingSchema": "foo["}, "shapingSchema"),
        ("route", {"routes": [{"name": "a"}, {"name": "a"}]}, "routes"),
        ("route", {"routes": [{"name": "a", "regex": {"patterns": ["("]}}]}, "routes"),
        ("route", {"routes": []}, "routes"),
        ("split", {"splitType": "semantic_page"}, "semanticPageSplitConfig"),
        ("split", {"splitType": "by_magic"}, "splitType"),
        ("enrich", {"config": {"steps": [enrich_step(targetField="a.b")]}}, "config"),
        ("enrich", {"config": {"steps": [enrich_step(collectionName="123items")]}}, "config"),
        ("transform", {"functionName": "bad name"}, "functionName"),
        ("transform", {"tags": "billing"}, "tags"),
    ],
)
def test_invalid_update_is_400_and_creates_no_version(
    api: httpx.Client, kind: str, change: dict[str, Any], field: str
) -> None:
    created = create_function(api, BUILDERS[kind]("fn"))
    assert_error_at(api.put("/v2/functions/fn", json=change), 400, field)
    assert get_function(api, "fn") == created
    versions = api.get("/v2/functions/fn/versions").json()["versions"]
    assert [v["versionNum"] for v in versions] == [1]


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("transform", {"shapingSchema": "a"}, "shapingSchema"),
        ("payload_shaping", {"outputSchema": INVOICE_SCHEMA}, "outputSchema"),
        ("analyze", {"tabularChunkingEnabled": True}, "tabularChunkingEnabled"),
        ("route", {"joinType": "standard"}, "joinType"),
    ],
)
def test_update_with_field_of_another_type_is_400(
    api: httpx.Client, kind: str, change: dict[str, Any], field: str
) -> None:
    created = create_function(api, BUILDERS[kind]("fn"))
    assert_error_at(api.put("/v2/functions/fn", json=change), 400, field)
    assert get_function(api, "fn") == created


def test_update_unknown_function_is_404(api: httpx.Client) -> None:
    assert_error(api.put("/v2/functions/nope", json={"displayName": "x"}), 404)


def test_rename(api: httpx.Client) -> None:
    created = create_function(api, transform("old-name", displayName="Keep"))
    renamed = update_function(api, "old-name", {"functionName": "new-name"})
    assert renamed["functionName"] == "new-name"
    assert renamed["functionID"] == created["functionID"]
    assert renamed["versionNum"] == 2
    assert renamed["displayName"] == "Keep"
    assert renamed["outputSchema"] == INVOICE_SCHEMA
    assert_error(api.get("/v2/functions/old-name"), 404)
    assert_error(api.put("/v2/functions/old-name", json={"displayName": "x"}), 404)
    assert get_function(api, "new-name") == renamed
    assert listed_names(api) == ["new-name"]
    assert listed_names(api, {"functionNames": "old-name"}) == []
    # the versions follow the function
    versions = api.get("/v2/functions/new-name/versions").json()["versions"]
    assert sorted(v["versionNum"] for v in versions) == [1, 2]
    assert_error(api.get("/v2/functions/old-name/versions"), 404)
    # the old name is free again
    assert create_function(api, transform("old-name"))["functionID"] != created["functionID"]


def test_rename_with_other_changes(api: httpx.Client) -> None:
    create_function(api, shaping("a"))
    renamed = update_function(api, "a", {"functionName": "b", "shapingSchema": "total", "tags": ["t"]})
    assert (renamed["functionName"], renamed["shapingSchema"], renamed["tags"]) == ("b", "total", ["t"])


def test_rename_onto_taken_name_is_409(api: httpx.Client) -> None:
    first = create_function(api, transform("first"))
    second = create_function(api, transform("second"))
    assert_error(api.put("/v2/functions/first", json={"functionName": "second"}), 409)
    assert get_function(api, "first") == first
    assert get_function(api, "second") == second


def test_rename_to_same_name_is_allowed(api: httpx.Client) -> None:
    create_function(api, transform("same"))
    updated = update_function(api, "same", {"functionName": "same", "displayName": "Same"})
    assert updated["functionName"] == "same"
    assert updated["displayName"] == "Same"


def test_update_changes_the_listing(api: httpx.Client) -> None:
    create_function(api, transform("inv", tags=["a"]))
    update_function(api, "inv", {"tags": ["b"], "displayName": "Brand New"})
    assert listed_names(api, {"tags": "a"}) == []
    assert listed_names(api, {"tags": "b"}) == ["inv"]
    assert listed_names(api, {"displayName": "brand"}) == ["inv"]
    assert list_functions(api)["functions"][0]["versionNum"] == 2


# --------------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------------


def test_versions_list_and_get(api: httpx.Client) -> None:
    create_function(api, transform("inv", displayName="v1"))
    update_function(api, "inv", {"displayName": "v2", "outputSchema": OTHER_SCHEMA})
    update_function(api, "inv", {"displayName": "v3"})

    response = api.get("/v2/functions/inv/versions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) <= {"versions", "totalCount"}
    versions = body["versions"]
    nums = [v["versionNum"] for v in versions]
    assert sorted(nums) == [1, 2, 3]
    assert nums in ([1, 2, 3], [3, 2, 1])  # one consistent order
    if "totalCount" in body:
        assert body["totalCount"] == 3
    by_num = {v["versionNum"]: v for v in versions}
    assert by_num[1]["displayName"] == "v1" and by_num[1]["outputSchema"] == INVOICE_SCHEMA
    assert by_num[2]["displayName"] == "v2" and by_num[2]["outputSchema"] == OTHER_SCHEMA
    assert by_num[3]["displayName"] == "v3" and by_num[3]["outputSchema"] == OTHER_SCHEMA
    times = [parse_time(by_num[n]["createdAt"]) for n in (1, 2, 3)]
    assert times == sorted(times)
    for v in versions:
        assert v["functionName"] == "inv"
        assert v["type"] == "transform"
        assert set(v) <= COMMON_FIELDS | TYPE_FIELDS["transform"] | {"createdAt"}
        # each version is retrievable on its own, identical to its list entry
        single = api.get(f"/v2/functions/inv/versions/{v['versionNum']}")
        assert single.status_code == 200, single.text
        assert single.json() == v


def test_version_of_route_keeps_old_routes(api: httpx.Client) -> None:
    create_function(api, route("router", ["a", "b"]))
    update_function(api, "router", {"routes": [{"name": "c"}]})
    v1 = api.get("/v2/functions/router/versions/1").json()
    assert [r["name"] for r in v1["routes"]] == ["a", "b"]
    assert [r["name"] for r in get_function(api, "router")["routes"]] == ["c"]


def test_version_get_has_created_at(api: httpx.Client) -> None:
    create_function(api, shaping("s"))
    v1 = api.get("/v2/functions/s/versions/1")
    assert v1.status_code == 200, v1.text
    parse_time(v1.json()["createdAt"])
    assert v1.json()["shapingSchema"] == shaping("s")["shapingSchema"]


@pytest.mark.parametrize("num", ["2", "99"])
def test_missing_version_is_404(api: httpx.Client, num: str) -> None:
    create_function(api, shaping("s"))
    assert_error(api.get(f"/v2/functions/s/versions/{num}"), 404)


@pytest.mark.parametrize("num", ["latest", "1.5", "0", "-1"])
def test_non_positive_integer_version_is_400(api: httpx.Client, num: str) -> None:
    create_function(api, shaping("s"))
    assert_error_at(api.get(f"/v2/functions/s/versions/{num}"), 400, "versionNum")


def test_versions_of_unknown_function_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/functions/nope/versions"), 404)
    assert_error(api.get("/v2/functions/nope/versions/1"), 404)


# --------------------------------------------------------------------------------------------
# POST /v2/functions/copy
# --------------------------------------------------------------------------------------------


def copy(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/v2/functions/copy", json=body)


def test_copy_in_same_environment(api: httpx.Client) -> None:
    source_body = route("router", ["a", "b"], displayName="Router", tags=["mail", "eu"])
    source = create_function(api, source_body)
    update_function(api, "router", {"description": "Sort carefully"})

    response = copy(api, sourceFunctionName="router", targetFunctionName="router-2")
    assert response.status_code == 200, response.text
    copied = response.json()
    assert_function_shape(copied)
    assert copied["functionName"] == "router-2"
    assert copied["functionID"] != source["functionID"]
    assert copied["type"] == "route"
    assert copied["versionNum"] == 1
    assert copied["displayName"] == "Router (Copy)"
    assert sorted(copied["tags"]) == ["eu", "mail"]
    assert copied["description"] == "Sort carefully"  # the source's current version
    assert [r["name"] for r in copied["routes"]] == ["a", "b"]
    assert copied["emailAddress"] != source["emailAddress"]
    assert copied.get("usedInWorkflows", []) == []
    assert get_function(api, "router-2") == copied
    # the source is untouched
    assert get_function(api, "router")["versionNum"] == 2
    assert get_function(api, "router")["displayName"] == "Router"
    assert listed_names(api) == ["router", "router-2"]


@pytest.mark.parametrize("kind", ALL_TYPES)
def test_copy_keeps_type_configuration(api: httpx.Client, kind: str) -> None:
    body = BUILDERS[kind]("src", displayName="Src")
    create_function(api, body)
    copied = copy(api, sourceFunctionName="src", targetFunctionName="dst")
    assert copied.status_code == 200, copied.text
    copied = copied.json()
    assert copied["type"] == kind
    assert_echoed(copied, body)


def test_copy_with_display_name_and_tags(api: httpx.Client) -> None:
    create_function(api, transform("inv", displayName="Invoices", tags=["a"]))
    response = copy(
        api, sourceFunctionName="inv", targetFunctionName="inv-eu", targetDisplayName="EU invoices", tags=["eu"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["displayName"] == "EU invoices"
    assert response.json()["tags"] == ["eu"]
    assert get_function(api, "inv")["tags"] == ["a"]


def test_copy_of_function_without_display_name(api: httpx.Client) -> None:
    create_function(api, transform("nameless"))
    response = copy(api, sourceFunctionName="nameless", targetFunctionName="named")
    assert response.status_code == 200, response.text
    # no display name to suffix: the source's name stands in for it
    assert response.json()["displayName"] == "nameless (Copy)"


def test_copy_is_independent_of_source(api: httpx.Client) -> None:
    create_function(api, shaping("src", "a"))
    assert copy(api, sourceFunctionName="src", targetFunctionName="dst").status_code == 200
    update_function(api, "dst", {"shapingSchema": "b"})
    assert get_function(api, "src")["shapingSchema"] == "a"
    assert get_function(api, "src")["versionNum"] == 1
    assert api.delete("/v2/functions/src").status_code == 204
    assert get_function(api, "dst")["shapingSchema"] == "b"


def test_copy_of_used_function_is_unused(api: httpx.Client) -> None:
    create_function(api, transform("inv"))
    create_workflow(api, "flow", "inv")
    copied = copy(api, sourceFunctionName="inv", targetFunctionName="inv-copy").json()
    assert copied.get("usedInWorkflows", []) == []


def test_copy_to_sandbox(tenant: Tenant) -> None:
    source = create_function(tenant.production, join("merger", displayName="Merger", tags=["ops"]))
    response = copy(
        tenant.production, sourceFunctionName="merger", targetFunctionName="merger", targetEnvironment="sandbox"
    )
    assert response.status_code == 200, response.text
    copied = response.json()
    assert copied["functionName"] == "merger"
    assert copied["functionID"] != source["functionID"]
    assert copied["versionNum"] == 1
    assert copied["displayName"] == "Merger (Copy)"
    assert_echoed(copied, join("merger"))
    assert get_function(tenant.sandbox, "merger") == copied
    # the production function is untouched and still the only one there
    assert get_function(tenant.production, "merger") == source
    assert list_functions(tenant.production)["totalCount"] == 1
    assert list_functions(tenant.sandbox)["totalCount"] == 1


def test_copy_to_another_environment_needs_the_route_targets_there(tenant: Tenant) -> None:
    prod, sandbox = tenant.production, tenant.sandbox
    extract = create_function(prod, transform("extract"))
    routes = [{"name": "by-id", "functionID": extract["functionID"]}, {"name": "by-name", "functionName": "extract"}]
    create_function(prod, {**route("sorter", []), "routes": routes})
    copy_body = {"sourceFunctionName": "sorter", "targetFunctionName": "sorter", "targetEnvironment": "sandbox"}

    body = assert_error(prod.post("/v2/functions/copy", json=copy_body), 400, "routes[0].functionID")
    assert {e["field"] for e in body["details"]["errors"]} == {"routes[0].functionID", "routes[1].functionName"}
    assert sandbox.get("/v2/functions").json()["totalCount"] == 0

    sandbox_extract = create_function(sandbox, transform("extract"))
    copied = prod.post("/v2/functions/copy", json=copy_body)
    assert copied.status_code == 200, copied.text
    assert copied.json()["routes"] == [
        {"name": "by-id", "functionID": sandbox_extract["functionID"]},
        {"name": "by-name", "functionName": "extract"},
    ]


def test_copy_to_sandbox_taken_name_is_409(tenant: Tenant) -> None:
    create_function(tenant.production, transform("inv"))
    existing = create_function(tenant.sandbox, shaping("inv"))
    response = copy(tenant.production, sourceFunctionName="inv", targetFunctionName="inv", targetEnvironment="sandbox")
    assert_error(response, 409)
    assert get_function(tenant.sandbox, "inv") == existing


def test_copy_to_own_environment_by_name(tenant: Tenant) -> None:
    create_function(tenant.sandbox, transform("inv"))
    response = copy(tenant.sandbox, sourceFunctionName="inv", targetFunctionName="inv2", targetEnvironment="sandbox")
    assert response.status_code == 200, response.text
    assert listed_names(tenant.sandbox) == ["inv", "inv2"]
    assert list_functions(tenant.production)["totalCount"] == 0


def test_copy_from_sandbox_to_production(tenant: Tenant) -> None:
    create_function(tenant.sandbox, transform("inv", tags=["x"]))
    response = copy(
        tenant.sandbox, sourceFunctionName="inv", targetFunctionName="inv-prod", targetEnvironment="production"
    )
    assert response.status_code == 200, response.text
    assert get_function(tenant.production, "inv-prod")["tags"] == ["x"]
    assert_uas(get_function(tenant.production, "inv-prod")["audit"]["functionCreatedBy"], SANDBOX_KEY_NAME)


@pytest.mark.parametrize("env", ["staging", "Sandbox", ""])
def test_copy_to_unknown_environment_is_400(api: httpx.Client, env: str) -> None:
    create_function(api, transform("inv"))
    assert_error_at(
        copy(api, sourceFunctionName="inv", targetFunctionName="inv2", targetEnvironment=env), 400, "targetEnvironment"
    )
    assert_error(api.get("/v2/functions/inv2"), 404)


def test_copy_onto_taken_name_is_409(api: httpx.Client) -> None:
    create_function(api, transform("inv"))
    other = create_function(api, shaping("other"))
    assert_error(copy(api, sourceFunctionName="inv", targetFunctionName="other"), 409)
    assert_error(copy(api, sourceFunctionName="inv", targetFunctionName="inv"), 409)
    assert get_function(api, "other") == other
    assert list_functions(api)["totalCount"] == 2


def test_copy_unknown_source_is_404(api: httpx.Client) -> None:
    assert_error(copy(api, sourceFunctionName="nope", targetFunctionName="x"), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"targetFunctionName": "x"}, "sourceFunctionName"),
        ({"sourceFunctionName": "inv"}, "targetFunctionName"),
        ({"sourceFunctionName": "inv", "targetFunctionName": "bad name"}, "targetFunctionName"),
        ({"sourceFunctionName": "inv", "targetFunctionName": "x" * 129}, "targetFunctionName"),
        ({"sourceFunctionName": "inv", "targetFunctionName": "x", "tags": "a"}, "tags"),
    ],
)
def test_copy_invalid_body_is_400(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    create_function(api, transform("inv"))
    assert_error_at(api.post("/v2/functions/copy", json=body), 400, field)
    assert list_functions(api)["totalCount"] == 1


# --------------------------------------------------------------------------------------------
# DELETE /v2/functions/{functionName}
# --------------------------------------------------------------------------------------------


def test_delete(api: httpx.Client) -> None:
    create_function(api, transform("gone"))
    create_function(api, transform("stays"))
    response = api.delete("/v2/functions/gone")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get("/v2/functions/gone"), 404)
    assert_error(api.get("/v2/functions/gone/versions"), 404)
    assert_error(api.get("/v2/functions/gone/versions/1"), 404)
    assert_error(api.put("/v2/functions/gone", json={"displayName": "x"}), 404)
    assert_error(api.delete("/v2/functions/gone"), 404)
    assert_error(copy(api, sourceFunctionName="gone", targetFunctionName="x"), 404)
    body = list_functions(api)
    assert [f["functionName"] for f in body["functions"]] == ["stays"]
    assert body["totalCount"] == 1


def test_delete_unknown_is_404(api: httpx.Client) -> None:
    assert_error(api.delete("/v2/functions/nope"), 404)


def test_delete_function_used_by_workflow(api: httpx.Client) -> None:
    create_function(api, route("router", ["a"]))
    create_function(api, transform("extractor"))
    create_workflow(api, "flow", "router", [("router", "extractor")])
    for name in ("router", "extractor"):  # as bem does: the workflow keeps what it pinned
        assert api.delete(f"/v2/functions/{name}").status_code == 204
        assert_error(api.get(f"/v2/functions/{name}"), 404)
    assert listed_names(api, {"workflowNames": "flow"}) == []  # lists show live functions only
    assert api.get("/v2/workflows/flow").status_code == 200


def test_delete_in_one_environment_leaves_the_other(tenant: Tenant) -> None:
    create_function(tenant.production, transform("inv"))
    sandbox = create_function(tenant.sandbox, transform("inv"))
    assert tenant.production.delete("/v2/functions/inv").status_code == 204
    assert get_function(tenant.sandbox, "inv") == sandbox
