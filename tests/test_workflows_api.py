"""Conformance of ``/v2/workflows`` with the bem v2 reference (sections 2, 3.7, 4.13-4.16, 6.1)
and the decisions in design.md.

Every expectation is derived from what the test sent: function IDs come from the create
responses of the functions, names and labels from the request bodies, orders from the order of
creation.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Server, Tenant, make_tenant
from tests.helpers import assert_error, create_function, route, transform

WORKFLOW_KEYS = {
    "id",
    "name",
    "versionNum",
    "displayName",
    "emailAddress",
    "tags",
    "mainFunction",
    "relationships",
    "createdAt",
    "updatedAt",
    "audit",
}


# --- request builders -----------------------------------------------------------------------


def shaping(name: str, expression: str = "{ id: invoiceNumber, total: totalAmount }") -> dict[str, Any]:
    return {
        "functionName": name,
        "type": "payload_shaping",
        "shapingSchema": expression,
    }


def semantic_split(name: str, classes: list[str]) -> dict[str, Any]:
    return {
        "functionName": name,
        "type": "split",
        "splitType": "semantic_page",
        "semanticPageSplitConfig": {"itemClasses": [{"name": c} for c in classes]},
    }


def print_split(name: str) -> dict[str, Any]:
    return {"functionName": name, "type": "split", "splitType": "print_page"}


def fn(name: str, version: int | None = None) -> dict[str, Any]:
    """A FunctionVersionIdentifier by name."""
    return {"name": name} if version is None else {"name": name, "versionNum": version}


def fn_id(function_id: str, version: int | None = None) -> dict[str, Any]:
    """A FunctionVersionIdentifier by ID."""
    return {"id": function_id} if version is None else {"id": function_id, "versionNum": version}


def edge(
    source: str | dict[str, Any],
    destination: str | dict[str, Any],
    label: str | None = None,
) -> dict[str, Any]:
    rel: dict[str, Any] = {
        "sourceFunction": fn(source) if isinstance(source, str) else source,
        "destinationFunction": fn(destination) if isinstance(destination, str) else destination,
    }
    if label is not None:
        rel["destinationName"] = label
    return rel


def workflow_body(
    name: str,
    main: str | dict[str, Any],
    relationships: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "mainFunction": fn(main) if isinstance(main, str) else main,
        **extra,
    }
    if relationships is not None:
        body["relationships"] = relationships
    return body


# --- expected response pieces ---------------------------------------------------------------


def out_ref(function: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    """How a workflow response names a function created as ``function``."""
    ref = {"id": function["functionID"], "name": function["functionName"]}
    if version is not None:
        ref["versionNum"] = version
    return ref


def out_edge(source: dict[str, Any], destination: dict[str, Any], label: str | None = None) -> dict[str, Any]:
    rel: dict[str, Any] = {"sourceFunction": source, "destinationFunction": destination}
    if label is not None:
        rel["destinationName"] = label
    return rel


# --- client helpers -------------------------------------------------------------------------


def create_workflow(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v2/workflows", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"workflow"}, payload
    return payload["workflow"]


def get_workflow(api: httpx.Client, name: str) -> dict[str, Any]:
    response = api.get(f"/v2/workflows/{name}")
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"workflow"}, payload
    return payload["workflow"]


def patch_workflow(api: httpx.Client, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.patch(f"/v2/workflows/{name}", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"workflow"}, payload
    return payload["workflow"]


def list_workflows(api: httpx.Client, params: Any = None) -> dict[str, Any]:
    response = api.get("/v2/workflows", params=params)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"workflows", "totalCount"}, payload
    return payload


def listed_names(api: httpx.Client, params: Any = None) -> list[str]:
    return [w["name"] for w in list_workflows(api, params)["workflows"]]


def update_function(api: httpx.Client, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    response = api.put(f"/v2/functions/{name}", json=changes)
    assert response.status_code == 200, response.text
    return response.json()


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


@pytest.fixture
def fns(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """One function of each kind a graph needs, in the ``api`` environment."""
    return {
        "extract": create_function(api, transform("extract")),
        "extract-2": create_function(api, transform("extract-2")),
        "shape": create_function(api, shaping("shape")),
        "sorter": create_function(api, route("sorter", ["invoice", "receipt"])),
        "splitter": create_function(api, semantic_split("splitter", ["invoice", "contract"])),
        "pager": create_function(api, print_split("pager")),
    }


# === POST /v2/workflows: valid graphs ========================================================


def test_create_single_function_workflow_has_documented_shape(api: httpx.Client, fns: dict[str, Any]) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    wf = create_workflow(
        api,
        workflow_body(
            "invoice-flow",
            "extract",
            displayName="Invoice Flow",
            tags=["billing", "finance"],
        ),
    )
    after = datetime.now(UTC) + timedelta(minutes=1)

    assert set(wf) == WORKFLOW_KEYS
    assert isinstance(wf["id"], str) and wf["id"].startswith("wf_")
    assert wf["id"] != fns["extract"]["functionID"]
    assert wf["name"] == "invoice-flow"
    assert wf["versionNum"] == 1
    assert wf["displayName"] == "Invoice Flow"
    assert sorted(wf["tags"]) == ["billing", "finance"]
    assert wf["mainFunction"] == out_ref(fns["extract"])  # unpinned: no versionNum
    assert wf["relationships"] == []
    assert re.fullmatch(r"invoice-flow-[0-9a-z]+@inbound\.quarry\.localhost", wf["emailAddress"]), wf["emailAddress"]
    assert before <= parse_time(wf["createdAt"]) <= after
    assert wf["updatedAt"] == wf["createdAt"]  # not updated yet
    audit = wf["audit"]
    assert set(audit) == {
        "workflowCreatedBy",
        "workflowLastUpdatedBy",
        "versionCreatedBy",
    }
    # creating the workflow and its version 1 is one action
    assert audit["workflowCreatedBy"] == audit["versionCreatedBy"] == audit["workflowLastUpdatedBy"]
    for action in audit.values():
        assert isinstance(action["userActionID"], str) and action["userActionID"]
        assert before <= parse_time(action["createdAt"]) <= after
        assert action["apiKeyName"] == "production-key"

    assert get_workflow(api, "invoice-flow") == wf


def test_create_without_relationships_or_with_empty_list_is_the_same(api: httpx.Client, fns: dict[str, Any]) -> None:
    omitted = create_workflow(api, workflow_body("omitted", "extract"))
    empty = create_workflow(api, workflow_body("empty", "extract", []))
    nulled = create_workflow(api, workflow_body("nulled", "extract", None) | {"relationships": None})
    for wf in (omitted, empty, nulled):
        assert wf["relationships"] == []
        assert wf["mainFunction"] == out_ref(fns["extract"])
    assert "displayName" not in omitted or omitted["displayName"] is None
    assert omitted["tags"] == []
    assert len({omitted["id"], empty["id"], nulled["id"]}) == 3
    assert len({omitted["emailAddress"], empty["emailAddress"], nulled["emailAddress"]}) == 3


def test_create_linear_chain_transform_to_payload_shaping(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(api, workflow_body("chain", "extract", [edge("extract", "shape")]))
    assert wf["mainFunction"] == out_ref(fns["extract"])
    assert wf["relationships"] == [out_edge(out_ref(fns["extract"]), out_ref(fns["shape"]))]
    assert "destinationName" not in wf["relationships"][0]
    assert get_workflow(api, "chain")["relationships"] == wf["relationships"]


def test_create_by_function_id_and_mixed_references(api: httpx.Client, fns: dict[str, Any]) -> None:
    extract_id, shape_id = fns["extract"]["functionID"], fns["shape"]["functionID"]
    wf = create_workflow(
        api,
        workflow_body(
            "by-id",
            fn_id(extract_id),
            [
                edge(fn("extract"), fn_id(shape_id)),
                edge(fn_id(shape_id), fn("extract-2")),
            ],
        ),
    )
    # however a function is referenced, the response names it by both ID and name
    assert wf["mainFunction"] == out_ref(fns["extract"])
    assert wf["relationships"] == [
        out_edge(out_ref(fns["extract"]), out_ref(fns["shape"])),
        out_edge(out_ref(fns["shape"]), out_ref(fns["extract-2"])),
    ]


def test_create_route_with_branches_by_destination_name(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(
        api,
        workflow_body(
            "routed",
            "sorter",
            [
                edge("sorter", "extract", "invoice"),
                edge("sorter", "extract-2", "receipt"),
            ],
        ),
    )
    sorter = out_ref(fns["sorter"])
    assert wf["mainFunction"] == sorter
    assert wf["relationships"] == [
        out_edge(sorter, out_ref(fns["extract"]), "invoice"),
        out_edge(sorter, out_ref(fns["extract-2"]), "receipt"),
    ]


def test_create_route_with_unlabelled_edge_meaning_every_branch(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(api, workflow_body("all-branches", "sorter", [edge("sorter", "extract")]))
    assert wf["relationships"] == [out_edge(out_ref(fns["sorter"]), out_ref(fns["extract"]))]


def test_two_branches_of_a_route_may_lead_to_the_same_function(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(
        api,
        workflow_body(
            "merge",
            "sorter",
            [
                edge("sorter", "extract", "invoice"),
                edge("sorter", "extract", "receipt"),
            ],
        ),
    )
    assert [r["destinationName"] for r in wf["relationships"]] == ["invoice", "receipt"]


def test_create_semantic_split_with_item_classes(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(
        api,
        workflow_body(
            "split-flow",
            "splitter",
            [
                edge("splitter", "extract", "invoice"),
                edge("splitter", "extract-2", "contract"),
                edge("extract", "shape"),
            ],
        ),
    )
    splitter = out_ref(fns["splitter"])
    assert wf["relationships"] == [
        out_edge(splitter, out_ref(fns["extract"]), "invoice"),
        out_edge(splitter, out_ref(fns["extract-2"]), "contract"),
        out_edge(out_ref(fns["extract"]), out_ref(fns["shape"])),
    ]


def test_print_page_split_takes_unlabelled_edges(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(api, workflow_body("pages", "pager", [edge("pager", "extract")]))
    assert wf["relationships"] == [out_edge(out_ref(fns["pager"]), out_ref(fns["extract"]))]


def test_diamond_is_not_a_cycle(api: httpx.Client, fns: dict[str, Any]) -> None:
    wf = create_workflow(
        api,
        workflow_body(
            "diamond",
            "sorter",
            [
                edge("sorter", "extract", "invoice"),
                edge("sorter", "extract-2", "receipt"),
                edge("extract", "shape"),
                edge("extract-2", "shape"),
            ],
        ),
    )
    assert len(wf["relationships"]) == 4


def test_pinned_main_function_shows_version_only_when_pinned(api: httpx.Client, fns: dict[str, Any]) -> None:
    update_function(api, "extract", {"displayName": "Extract v2"})
    pinned = create_workflow(
        api,
        workflow_body("pinned", fn("extract", 1), [edge(fn("extract", 1), "shape")]),
    )
    assert pinned["mainFunction"] == out_ref(fns["extract"], 1)
    assert pinned["relationships"] == [out_edge(out_ref(fns["extract"], 1), out_ref(fns["shape"]))]
    pinned_current = create_workflow(api, workflow_body("pinned-current", fn("extract", 2)))
    assert pinned_current["mainFunction"] == out_ref(fns["extract"], 2)
    unpinned = create_workflow(api, workflow_body("unpinned", "extract"))
    assert unpinned["mainFunction"] == out_ref(fns["extract"])
    assert "versionNum" not in unpinned["mainFunction"]


def test_pin_applies_to_every_reference_of_the_function(api: httpx.Client, fns: dict[str, Any]) -> None:
    """A function is one node per workflow: pinned once, it is pinned wherever it appears."""
    update_function(api, "extract", {"displayName": "Extract v2"})
    wf = create_workflow(api, workflow_body("pin-once", fn("extract", 1), [edge("extract", "shape")]))
    assert wf["mainFunction"] == out_ref(fns["extract"], 1)
    assert wf["relationships"][0]["sourceFunction"] == out_ref(fns["extract"], 1)


def test_consistent_pins_in_several_places_are_accepted(api: httpx.Client, fns: dict[str, Any]) -> None:
    update_function(api, "shape", {"displayName": "Shape v2"})
    wf = create_workflow(
        api,
        workflow_body(
            "consistent",
            "sorter",
            [
                edge("sorter", fn("shape", 1), "invoice"),
                edge("sorter", fn_id(fns["shape"]["functionID"], 1), "receipt"),
            ],
        ),
    )
    assert [r["destinationFunction"] for r in wf["relationships"]] == [out_ref(fns["shape"], 1)] * 2


def test_destination_name_is_checked_against_the_pinned_version_of_a_route(
    api: httpx.Client, fns: dict[str, Any]
) -> None:
    update_function(api, "sorter", {"routes": [{"name": "invoice"}, {"name": "memo"}]})  # v2: receipt -> memo
    create_workflow(
        api,
        workflow_body("old-routes", fn("sorter", 1), [edge(fn("sorter", 1), "extract", "receipt")]),
    )
    create_workflow(api, workflow_body("new-routes", "sorter", [edge("sorter", "extract", "memo")]))
    assert_error(
        api.post(
            "/v2/workflows",
            json=workflow_body("bad-new", "sorter", [edge("sorter", "extract", "receipt")]),
        ),
        400,
        "relationships[0].destinationName",
    )
    assert_error(
        api.post(
            "/v2/workflows",
            json=workflow_body("bad-old", fn("sorter", 1), [edge(fn("sorter", 1), "extract", "memo")]),
        ),
        400,
        "relationships[0].destinationName",
    )


def test_deleted_workflow_name_can_be_reused(api: httpx.Client, fns: dict[str, Any]) -> None:
    first = create_workflow(api, workflow_body("reused", "extract"))
    assert api.delete("/v2/workflows/reused").status_code == 204
    second = create_workflow(api, workflow_body("reused", "shape"))
    assert second["id"] != first["id"]
    assert second["versionNum"] == 1
    assert second["mainFunction"] == out_ref(fns["shape"])


# === POST /v2/workflows: invalid requests =====================================================

INVALID_GRAPHS: list[tuple[str, dict[str, Any], list[dict[str, Any]] | None, str]] = [
    (
        "cycle",
        fn("extract"),
        [
            edge("extract", "shape"),
            edge("shape", "extract-2"),
            edge("extract-2", "shape"),
        ],
        "relationships",
    ),
    (
        "cycle-through-main",
        fn("extract"),
        [edge("extract", "shape"), edge("shape", "extract")],
        "relationships",
    ),
    ("self-loop", fn("extract"), [edge("extract", "extract")], "relationships"),
    ("unreachable-edge", fn("extract"), [edge("shape", "extract-2")], "relationships"),
    (
        "unreachable-source",
        fn("extract"),
        [edge("extract", "shape"), edge("extract-2", "shape")],
        "relationships",
    ),
    (
        "duplicate-edge",
        fn("extract"),
        [edge("extract", "shape"), edge("extract", "shape")],
        "relationships[1]",
    ),
    (
        "duplicate-labelled-edge",
        fn("sorter"),
        [
            edge("sorter", "extract", "invoice"),
            edge("sorter", "shape"),
            edge("sorter", "extract", "invoice"),
        ],
        "relationships[2]",
    ),
    (
        "label-on-transform",
        fn("extract"),
        [edge("extract", "shape", "invoice")],
        "relationships[0].destinationName",
    ),
    (
        "label-not-a-route",
        fn("sorter"),
        [edge("sorter", "extract", "invoices")],
        "relationships[0].destinationName",
    ),
    (
        "label-is-an-item-class-not-a-route",
        fn("sorter"),
        [edge("sorter", "extract", "contract")],
        "relationships[0].destinationName",
    ),
    (
        "label-on-later-edge",
        fn("extract"),
        [edge("extract", "sorter"), edge("sorter", "shape", "nope")],
        "relationships[1].destinationName",
    ),
    (
        "label-on-print-page-split",
        fn("pager"),
        [edge("pager", "extract", "page")],
        "relationships[0].destinationName",
    ),
    (
        "label-not-an-item-class",
        fn("splitter"),
        [edge("splitter", "extract", "receipt")],
        "relationships[0].destinationName",
    ),
    (
        "label-empty",
        fn("sorter"),
        [edge("sorter", "extract", "")],
        "relationships[0].destinationName",
    ),
    ("unknown-main", fn("ghost"), [], "mainFunction"),
    ("unknown-main-id", fn_id("f_doesnotexist"), [], "mainFunction"),
    (
        "unknown-destination",
        fn("extract"),
        [edge("extract", "ghost")],
        "relationships[0].destinationFunction",
    ),
    (
        "unknown-source",
        fn("extract"),
        [edge("extract", "shape"), edge("ghost", "shape")],
        "relationships[1].sourceFunction",
    ),
    ("unknown-main-version", fn("extract", 2), [], "mainFunction.versionNum"),
    (
        "unknown-edge-version",
        fn("extract"),
        [edge("extract", fn("shape", 5))],
        "relationships[0].destinationFunction.versionNum",
    ),
    ("version-zero", fn("extract", 0), [], "mainFunction.versionNum"),
    ("neither-id-nor-name", {}, [], "mainFunction"),
    ("version-only", {"versionNum": 1}, [], "mainFunction"),
    (
        "missing-destination",
        fn("extract"),
        [{"sourceFunction": fn("extract")}],
        "relationships[0].destinationFunction",
    ),
    (
        "missing-source",
        fn("extract"),
        [{"destinationFunction": fn("shape")}],
        "relationships[0].sourceFunction",
    ),
]


@pytest.mark.parametrize(
    ("main", "relationships", "field"),
    [case[1:] for case in INVALID_GRAPHS],
    ids=[case[0] for case in INVALID_GRAPHS],
)
def test_invalid_graph_is_400_naming_the_field(
    api: httpx.Client,
    fns: dict[str, Any],
    main: dict[str, Any],
    relationships: list[dict[str, Any]],
    field: str,
) -> None:
    assert_error(
        api.post("/v2/workflows", json=workflow_body("bad", main, relationships)),
        400,
        field,
    )
    assert list_workflows(api)["totalCount"] == 0
    assert_error(api.get("/v2/workflows/bad"), 404)


def test_conflicting_pins_of_one_function_are_400(api: httpx.Client, fns: dict[str, Any]) -> None:
    update_function(api, "extract", {"displayName": "Extract v2"})
    body = workflow_body("conflict", fn("extract", 1), [edge(fn("extract", 2), "shape")])
    assert_error(
        api.post("/v2/workflows", json=body),
        400,
        "relationships[0].sourceFunction.versionNum",
    )
    by_id = workflow_body(
        "conflict",
        fn("extract", 2),
        [
            edge("extract", "shape"),
            edge("shape", fn_id(fns["extract"]["functionID"], 1)),
        ],
    )
    # (also a cycle; the conflicting pin must be named either way)
    assert_error(
        api.post("/v2/workflows", json=by_id),
        400,
        "relationships[1].destinationFunction.versionNum",
    )
    assert list_workflows(api)["totalCount"] == 0


def test_function_reference_with_both_id_and_name_is_400(api: httpx.Client, fns: dict[str, Any]) -> None:
    extract_id, shape_id = fns["extract"]["functionID"], fns["shape"]["functionID"]
    for main in (
        {"id": extract_id, "name": "extract"},
        {"id": shape_id, "name": "extract"},
    ):
        assert_error(
            api.post("/v2/workflows", json=workflow_body("both", main)),
            400,
            "mainFunction",
        )
    body = workflow_body("both", "extract", [edge("extract", {"id": shape_id, "name": "shape"})])
    assert_error(
        api.post("/v2/workflows", json=body),
        400,
        "relationships[0].destinationFunction",
    )
    assert list_workflows(api)["totalCount"] == 0


def test_same_edge_by_id_and_by_name_is_a_duplicate(api: httpx.Client, fns: dict[str, Any]) -> None:
    body = workflow_body(
        "dup",
        "extract",
        [
            edge("extract", "shape"),
            edge(fn_id(fns["extract"]["functionID"]), fn_id(fns["shape"]["functionID"])),
        ],
    )
    assert_error(api.post("/v2/workflows", json=body), 400, "relationships[1]")


def test_relationships_without_main_function_is_400(api: httpx.Client, fns: dict[str, Any]) -> None:
    body = {"name": "no-main", "relationships": [edge("extract", "shape")]}
    assert_error(api.post("/v2/workflows", json=body), 400, "mainFunction")
    assert_error(api.post("/v2/workflows", json={"name": "no-main"}), 400, "mainFunction")
    assert list_workflows(api)["totalCount"] == 0


@pytest.mark.parametrize("name", ["", "has space", "slash/name", "dot.name", "a" * 129, "ünïcode"])
def test_invalid_workflow_name_is_400(api: httpx.Client, fns: dict[str, Any], name: str) -> None:
    assert_error(api.post("/v2/workflows", json=workflow_body(name, "extract")), 400, "name")


def test_longest_allowed_name_is_accepted(api: httpx.Client, fns: dict[str, Any]) -> None:
    name = "A_b-9" * 25 + "xyz"  # 128 characters
    assert create_workflow(api, workflow_body(name, "extract"))["name"] == name


def test_missing_name_and_unknown_fields_are_400(api: httpx.Client, fns: dict[str, Any]) -> None:
    assert_error(api.post("/v2/workflows", json={"mainFunction": fn("extract")}), 400, "name")
    assert_error(
        api.post("/v2/workflows", json=workflow_body("x", "extract", workflowName="x")),
        400,
        "workflowName",
    )
    assert_error(
        api.post("/v2/workflows", json={**workflow_body("x", "extract"), "relationships": {}}),
        400,
        "relationships",
    )
    assert_error(
        api.post("/v2/workflows", json=workflow_body("x", "extract", tags="billing")),
        400,
        "tags",
    )


def test_taken_name_is_409(api: httpx.Client, fns: dict[str, Any]) -> None:
    first = create_workflow(api, workflow_body("taken", "extract"))
    assert_error(api.post("/v2/workflows", json=workflow_body("taken", "shape")), 409)
    assert get_workflow(api, "taken") == first
    assert list_workflows(api)["totalCount"] == 1


def test_deleted_function_cannot_be_used(api: httpx.Client, fns: dict[str, Any]) -> None:
    assert api.delete("/v2/functions/extract-2").status_code == 204
    assert_error(
        api.post("/v2/workflows", json=workflow_body("w", "extract-2")),
        400,
        "mainFunction",
    )
    assert_error(
        api.post(
            "/v2/workflows",
            json=workflow_body("w", fn_id(fns["extract-2"]["functionID"])),
        ),
        400,
        "mainFunction",
    )


def test_functions_of_another_environment_cannot_be_used(tenant: Tenant, fns: dict[str, Any]) -> None:
    sandbox = tenant.sandbox
    assert_error(
        sandbox.post("/v2/workflows", json=workflow_body("w", "extract")),
        400,
        "mainFunction",
    )
    assert_error(
        sandbox.post(
            "/v2/workflows",
            json=workflow_body("w", fn_id(fns["extract"]["functionID"])),
        ),
        400,
        "mainFunction",
    )
    create_function(sandbox, transform("local"))
    body = workflow_body("w", "local", [edge("local", fn_id(fns["shape"]["functionID"]))])
    assert_error(
        sandbox.post("/v2/workflows", json=body),
        400,
        "relationships[0].destinationFunction",
    )


def test_functions_of_another_account_cannot_be_used(server: Server, api: httpx.Client, fns: dict[str, Any]) -> None:
    other = make_tenant(server)
    try:
        body = workflow_body("w", fn_id(fns["extract"]["functionID"]))
        assert_error(other.production.post("/v2/workflows", json=body), 400, "mainFunction")
    finally:
        other.production.close()
        other.sandbox.close()


# === GET /v2/workflows/{name} ================================================================


def test_get_unknown_workflow_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/workflows/nothing-here"), 404)


def test_workflow_named_copy_is_an_ordinary_workflow(api: httpx.Client, fns: dict[str, Any]) -> None:
    """``/v2/workflows/copy`` is the copy endpoint only for POST."""
    wf = create_workflow(api, workflow_body("copy", "extract"))
    assert get_workflow(api, "copy") == wf
    assert patch_workflow(api, "copy", {"displayName": "Copy"})["versionNum"] == 2
    assert api.get("/v2/workflows/copy/versions").json()["totalCount"] == 2
    assert api.delete("/v2/workflows/copy").status_code == 204
    assert_error(api.get("/v2/workflows/copy"), 404)


# === PATCH /v2/workflows/{name} ==============================================================


@pytest.fixture
def chain(api: httpx.Client, fns: dict[str, Any]) -> dict[str, Any]:
    """Workflow ``chain`` (version 1): extract -> shape, display name and tags set."""
    return create_workflow(
        api,
        workflow_body(
            "chain",
            "extract",
            [edge("extract", "shape")],
            displayName="Chain",
            tags=["a", "b"],
        ),
    )


def test_patch_display_name_keeps_graph_and_makes_new_version(
    api: httpx.Client, fns: dict[str, Any], chain: dict[str, Any]
) -> None:
    wf = patch_workflow(api, "chain", {"displayName": "Renamed Chain"})
    assert wf["versionNum"] == 2
    assert wf["id"] == chain["id"]
    assert wf["name"] == "chain"
    assert wf["displayName"] == "Renamed Chain"
    assert sorted(wf["tags"]) == ["a", "b"]
    assert wf["mainFunction"] == out_ref(fns["extract"])
    assert wf["relationships"] == [out_edge(out_ref(fns["extract"]), out_ref(fns["shape"]))]
    assert wf["emailAddress"] == chain["emailAddress"]
    assert wf["createdAt"] == chain["createdAt"]
    assert parse_time(wf["updatedAt"]) > parse_time(chain["updatedAt"])
    assert get_workflow(api, "chain") == wf


def test_patch_with_neither_keeps_pins(api: httpx.Client, fns: dict[str, Any]) -> None:
    update_function(api, "shape", {"displayName": "Shape v2"})
    create_workflow(api, workflow_body("pins", "extract", [edge("extract", fn("shape", 1))]))
    wf = patch_workflow(api, "pins", {"tags": ["x"]})
    assert wf["versionNum"] == 2
    assert wf["relationships"] == [out_edge(out_ref(fns["extract"]), out_ref(fns["shape"], 1))]
    assert wf["tags"] == ["x"]


def test_every_patch_makes_a_new_version_even_an_empty_one(api: httpx.Client, chain: dict[str, Any]) -> None:
    second = patch_workflow(api, "chain", {})
    third = patch_workflow(api, "chain", {})
    assert (second["versionNum"], third["versionNum"]) == (2, 3)
    for wf in (second, third):
        for key in (
            "id",
            "name",
            "displayName",
            "tags",
            "mainFunction",
            "relationships",
            "emailAddress",
            "createdAt",
        ):
            assert wf[key] == chain[key], key
    assert api.get("/v2/workflows/chain/versions").json()["totalCount"] == 3


def test_patch_main_function_without_relationships_clears_them(
    api: httpx.Client, fns: dict[str, Any], chain: dict[str, Any]
) -> None:
    wf = patch_workflow(api, "chain", {"mainFunction": fn("shape")})
    assert wf["versionNum"] == 2
    assert wf["mainFunction"] == out_ref(fns["shape"])
    assert wf["relationships"] == []
    assert wf["displayName"] == "Chain"
    assert sorted(wf["tags"]) == ["a", "b"]


def test_patch_main_function_and_relationships_replaces_graph(
    api: httpx.Client, fns: dict[str, Any], chain: dict[str, Any]
) -> None:
    wf = patch_workflow(
        api,
        "chain",
        {
            "mainFunction": fn("sorter"),
            "relationships": [
                edge("sorter", "extract", "invoice"),
                edge("sorter", "shape", "receipt"),
            ],
        },
    )
    sorter = out_ref(fns["sorter"])
    assert wf["mainFunction"] == sorter
    assert wf["relationships"] == [
        out_edge(sorter, out_ref(fns["extract"]), "invoice"),
        out_edge(sorter, out_ref(fns["shape"]), "receipt"),
    ]


def test_patch_relationships_without_main_function_is_400(api: httpx.Client, chain: dict[str, Any]) -> None:
    response = api.patch("/v2/workflows/chain", json={"relationships": [edge("extract", "extract-2")]})
    assert_error(response, 400, "relationships")
    response = api.patch("/v2/workflows/chain", json={"relationships": []})
    assert_error(response, 400, "relationships")
    response = api.patch("/v2/workflows/chain", json={"mainFunction": None, "relationships": []})
    assert_error(response, 400, "relationships")
    assert get_workflow(api, "chain") == chain
    assert api.get("/v2/workflows/chain/versions").json()["totalCount"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "mainFunction": fn("extract"),
                "relationships": [edge("extract", "shape"), edge("shape", "extract")],
            },
            "relationships",
        ),
        (
            {
                "mainFunction": fn("extract"),
                "relationships": [edge("extract", "shape", "x")],
            },
            "relationships[0].destinationName",
        ),
        ({"mainFunction": fn("ghost")}, "mainFunction"),
        (
            {
                "mainFunction": fn("extract"),
                "relationships": [edge("extract", "shape"), edge("extract", "shape")],
            },
            "relationships[1]",
        ),
        (
            {
                "mainFunction": fn("extract"),
                "relationships": [edge("shape", "extract-2")],
            },
            "relationships",
        ),
        ({"name": "bad name"}, "name"),
        ({"displayName": "x", "nmae": "typo"}, "nmae"),
    ],
    ids=[
        "cycle",
        "label",
        "unknown-function",
        "duplicate",
        "unreachable",
        "bad-name",
        "unknown-field",
    ],
)
def test_invalid_patch_is_400_and_changes_nothing(
    api: httpx.Client, chain: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    assert_error(api.patch("/v2/workflows/chain", json=body), 400, field)
    assert get_workflow(api, "chain") == chain
    assert api.get("/v2/workflows/chain/versions").json()["totalCount"] == 1


def test_patch_rename(api: httpx.Client, chain: dict[str, Any]) -> None:
    wf = patch_workflow(api, "chain", {"name": "pipeline"})
    assert wf["name"] == "pipeline"
    assert wf["id"] == chain["id"]
    assert wf["versionNum"] == 2
    assert wf["emailAddress"] == chain["emailAddress"]
    assert_error(api.get("/v2/workflows/chain"), 404)
    assert get_workflow(api, "pipeline")["id"] == chain["id"]
    assert listed_names(api, {"workflowNames": "chain"}) == []
    assert listed_names(api, {"workflowNames": "pipeline"}) == ["pipeline"]
    # versions are snapshots: version 1 keeps the name it had
    versions = api.get("/v2/workflows/pipeline/versions").json()["versions"]
    assert [(v["versionNum"], v["name"]) for v in versions] == [
        (1, "chain"),
        (2, "pipeline"),
    ]
    # the old name is free again
    create_workflow(api, workflow_body("chain", "extract"))


def test_patch_rename_to_own_name_is_fine(api: httpx.Client, chain: dict[str, Any]) -> None:
    assert patch_workflow(api, "chain", {"name": "chain"})["versionNum"] == 2


def test_patch_rename_to_taken_name_is_409(api: httpx.Client, chain: dict[str, Any]) -> None:
    other = create_workflow(api, workflow_body("other", "extract"))
    assert_error(api.patch("/v2/workflows/chain", json={"name": "other"}), 409)
    assert get_workflow(api, "chain") == chain
    assert get_workflow(api, "other") == other
    assert api.get("/v2/workflows/chain/versions").json()["totalCount"] == 1


def test_patch_tags_replace_the_current_tags(api: httpx.Client, chain: dict[str, Any]) -> None:
    wf = patch_workflow(api, "chain", {"tags": ["c"]})
    assert wf["tags"] == ["c"]
    assert listed_names(api, {"tags": "a"}) == []
    assert listed_names(api, {"tags": "c"}) == ["chain"]
    wf = patch_workflow(api, "chain", {"tags": []})
    assert wf["tags"] == []
    assert listed_names(api, {"tags": "c"}) == []


def test_patch_null_display_name_clears_it(api: httpx.Client, chain: dict[str, Any]) -> None:
    wf = patch_workflow(api, "chain", {"displayName": None})
    assert wf.get("displayName") is None
    assert listed_names(api, {"displayName": "chain"}) == []


def test_patch_unknown_workflow_is_404(api: httpx.Client, fns: dict[str, Any]) -> None:
    assert_error(api.patch("/v2/workflows/ghost", json={"displayName": "x"}), 404)
    assert_error(api.patch("/v2/workflows/ghost", json={"mainFunction": fn("extract")}), 404)


def test_patch_audit_records_the_new_version(api: httpx.Client, chain: dict[str, Any]) -> None:
    wf = patch_workflow(api, "chain", {"displayName": "x"})
    created_by = chain["audit"]["workflowCreatedBy"]
    assert wf["audit"]["workflowCreatedBy"] == created_by
    assert wf["audit"]["versionCreatedBy"]["userActionID"] != created_by["userActionID"]
    assert wf["audit"]["workflowLastUpdatedBy"] == wf["audit"]["versionCreatedBy"]


# === DELETE /v2/workflows/{name} =============================================================


def test_delete_is_204_then_404(api: httpx.Client, chain: dict[str, Any]) -> None:
    response = api.delete("/v2/workflows/chain")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get("/v2/workflows/chain"), 404)
    assert_error(api.delete("/v2/workflows/chain"), 404)
    assert_error(api.patch("/v2/workflows/chain", json={"displayName": "x"}), 404)
    assert_error(api.get("/v2/workflows/chain/versions"), 404)
    assert_error(api.get("/v2/workflows/chain/versions/1"), 404)
    assert list_workflows(api) == {"workflows": [], "totalCount": 0}
    assert list_workflows(api, {"workflowIDs": chain["id"]})["totalCount"] == 0
    assert list_workflows(api, {"tags": "a"})["totalCount"] == 0
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={"sourceWorkflowName": "chain", "targetWorkflowName": "c2"},
        ),
        404,
    )


def test_delete_unknown_workflow_is_404(api: httpx.Client) -> None:
    assert_error(api.delete("/v2/workflows/ghost"), 404)


# === GET /v2/workflows: filters ==============================================================


def test_list_of_empty_environment(api: httpx.Client) -> None:
    assert list_workflows(api) == {"workflows": [], "totalCount": 0}


def test_list_items_have_the_workflow_shape(api: httpx.Client, chain: dict[str, Any]) -> None:
    assert list_workflows(api) == {"workflows": [chain], "totalCount": 1}


@pytest.fixture
def four(api: httpx.Client, fns: dict[str, Any]) -> list[dict[str, Any]]:
    """Workflows w1..w4 created in this order."""
    return [
        create_workflow(
            api,
            workflow_body("w1", "extract", displayName="Invoice Pipeline", tags=["a", "b"]),
        ),
        create_workflow(
            api,
            workflow_body("w2", "extract", displayName="invoice-cleanup", tags=["a"]),
        ),
        create_workflow(
            api,
            workflow_body("w3", "shape", displayName="Receipts 100%", tags=["b", "c"]),
        ),
        create_workflow(api, workflow_body("w4", "shape")),
    ]


def test_filter_by_workflow_ids_comma_separated_and_repeated(api: httpx.Client, four: list[dict[str, Any]]) -> None:
    w1, w2, w3, w4 = (w["id"] for w in four)
    assert listed_names(api, {"workflowIDs": w3}) == ["w3"]
    assert listed_names(api, {"workflowIDs": f"{w4},{w1}"}) == ["w1", "w4"]
    assert listed_names(api, [("workflowIDs", w4), ("workflowIDs", w2)]) == ["w2", "w4"]
    assert listed_names(api, [("workflowIDs", f"{w1},{w2}"), ("workflowIDs", w3)]) == [
        "w1",
        "w2",
        "w3",
    ]
    assert list_workflows(api, {"workflowIDs": "wf_unknown"}) == {
        "workflows": [],
        "totalCount": 0,
    }
    assert list_workflows(api, {"workflowIDs": f"{w1},{w2},{w3}", "limit": 1})["totalCount"] == 3


def test_filter_by_workflow_names(api: httpx.Client, four: list[dict[str, Any]]) -> None:
    assert listed_names(api, {"workflowNames": "w2"}) == ["w2"]
    assert listed_names(api, {"workflowNames": "w4,w2,nope"}) == ["w2", "w4"]
    assert listed_names(api, [("workflowNames", "w3"), ("workflowNames", "w1")]) == [
        "w1",
        "w3",
    ]
    assert listed_names(api, {"workflowNames": "W1"}) == []  # names are case-sensitive


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("invoice", ["w1", "w2"]),
        ("INVOICE", ["w1", "w2"]),
        ("pIPe", ["w1"]),
        ("0%", ["w3"]),
        ("%", ["w3"]),
        ("_", []),
        ("e-c", ["w2"]),
        ("nothing", []),
    ],
)
def test_filter_by_display_name_substring_case_insensitive(
    api: httpx.Client, four: list[dict[str, Any]], query: str, expected: list[str]
) -> None:
    result = list_workflows(api, {"displayName": query})
    assert [w["name"] for w in result["workflows"]] == expected
    assert result["totalCount"] == len(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Été", ["accents"]),  # exact case, non-ASCII
        ("ture É", ["accents"]),
        ("FACTURE", ["accents"]),
        ("\\d", ["backslash"]),  # a literal backslash
        ("\\", ["backslash"]),
        ("c:", ["backslash"]),
    ],
)
def test_display_name_filter_with_non_ascii_and_special_characters(
    api: httpx.Client, fns: dict[str, Any], query: str, expected: list[str]
) -> None:
    create_workflow(api, workflow_body("accents", "extract", displayName="Facture Été"))
    create_workflow(api, workflow_body("backslash", "extract", displayName="C:\\docs"))
    create_workflow(api, workflow_body("plain", "extract", displayName="sd"))
    assert listed_names(api, {"displayName": query}) == expected


def test_display_name_filter_folds_non_ascii_case(
    request: pytest.FixtureRequest,
    server: Server,
    api: httpx.Client,
    fns: dict[str, Any],
) -> None:
    create_workflow(api, workflow_body("accents", "extract", displayName="Facture Été"))
    assert listed_names(api, {"displayName": "été"}) == ["accents"]
    assert listed_names(api, {"displayName": "ÉTÉ"}) == ["accents"]


def test_display_name_filter_uses_the_current_version(api: httpx.Client, four: list[dict[str, Any]]) -> None:
    patch_workflow(api, "w4", {"displayName": "Late Invoice"})
    patch_workflow(api, "w1", {"displayName": "Other"})
    assert listed_names(api, {"displayName": "invoice"}) == ["w2", "w4"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tags": "a"}, ["w1", "w2"]),
        ({"tags": "b"}, ["w1", "w3"]),
        ({"tags": "a,b"}, ["w1"]),
        ([("tags", "b"), ("tags", "a")], ["w1"]),
        ({"tags": "b,c"}, ["w3"]),
        ({"tags": "a,c"}, []),
        ({"tags": "a,a"}, ["w1", "w2"]),
        ({"tags": "A"}, []),
        ({"tags": "z"}, []),
    ],
)
def test_filter_by_tags_must_contain_all(
    api: httpx.Client, four: list[dict[str, Any]], params: Any, expected: list[str]
) -> None:
    result = list_workflows(api, params)
    assert [w["name"] for w in result["workflows"]] == expected
    assert result["totalCount"] == len(expected)


def test_filters_combine_with_and(api: httpx.Client, four: list[dict[str, Any]]) -> None:
    assert listed_names(api, {"tags": "b", "displayName": "invoice"}) == ["w1"]
    assert listed_names(api, {"tags": "a", "workflowNames": "w2,w3"}) == ["w2"]
    assert listed_names(api, {"functionNames": "shape", "tags": "b"}) == ["w3"]
    assert listed_names(api, {"functionNames": "shape", "workflowIDs": four[0]["id"]}) == []


@pytest.mark.parametrize("param", ["workflowIDs", "workflowNames", "tags", "functionIDs", "functionNames"])
def test_empty_array_items_are_400(api: httpx.Client, param: str) -> None:
    assert_error(api.get(f"/v2/workflows?{param}="), 400, param)
    assert_error(api.get(f"/v2/workflows?{param}=a,,b"), 400, param)


@pytest.fixture
def usage(api: httpx.Client, fns: dict[str, Any]) -> dict[str, Any]:
    """
    uses-current:  extract (follows current) -> shape
    pins-v1:       extract pinned to 1
    shape-only:    shape
    used-to:       was extract, now shape (PATCH)
    then extract gets a version 2.
    """
    create_workflow(api, workflow_body("uses-current", "extract", [edge("extract", "shape")]))
    create_workflow(api, workflow_body("pins-v1", fn("extract", 1)))
    create_workflow(api, workflow_body("shape-only", "shape"))
    create_workflow(api, workflow_body("used-to", "extract"))
    patch_workflow(api, "used-to", {"mainFunction": fn("shape")})
    return fns


def test_filter_by_function_before_a_new_function_version(api: httpx.Client, usage: dict[str, Any]) -> None:
    assert listed_names(api, {"functionNames": "extract"}) == [
        "uses-current",
        "pins-v1",
    ]
    assert listed_names(api, {"functionIDs": usage["extract"]["functionID"]}) == [
        "uses-current",
        "pins-v1",
    ]


def test_filter_by_function_uses_current_versions_of_both(api: httpx.Client, usage: dict[str, Any]) -> None:
    update_function(api, "extract", {"displayName": "Extract v2"})
    extract_id, shape_id = usage["extract"]["functionID"], usage["shape"]["functionID"]
    # pins-v1 uses version 1, no longer the current one; used-to's current version does not use it
    assert listed_names(api, {"functionNames": "extract"}) == ["uses-current"]
    assert listed_names(api, {"functionIDs": extract_id}) == ["uses-current"]
    assert listed_names(api, {"functionNames": "shape"}) == [
        "uses-current",
        "shape-only",
        "used-to",
    ]
    both = ["uses-current", "shape-only", "used-to"]
    assert listed_names(api, {"functionNames": "extract,shape"}) == both
    assert listed_names(api, [("functionIDs", shape_id), ("functionIDs", extract_id)]) == both
    assert listed_names(api, {"functionNames": "extract-2"}) == []
    assert listed_names(api, {"functionNames": "no-such-function"}) == []
    assert listed_names(api, {"functionIDs": "f_unknown"}) == []
    assert list_workflows(api, {"functionNames": "shape", "limit": 1})["totalCount"] == 3


def test_filter_by_function_version(api: httpx.Client, usage: dict[str, Any]) -> None:
    update_function(api, "extract", {"displayName": "Extract v2"})
    extract_id, shape_id = usage["extract"]["functionID"], usage["shape"]["functionID"]
    assert listed_names(api, {"functionIDVersionNums": f"{extract_id}.1"}) == ["pins-v1"]
    assert listed_names(api, {"functionIDVersionNums": f"{extract_id}.2"}) == ["uses-current"]
    assert listed_names(api, {"functionIDVersionNums": f"{extract_id}.1,{extract_id}.2"}) == ["uses-current", "pins-v1"]
    assert listed_names(
        api,
        [
            ("functionIDVersionNums", f"{extract_id}.2"),
            ("functionIDVersionNums", f"{extract_id}.1"),
        ],
    ) == [
        "uses-current",
        "pins-v1",
    ]
    assert listed_names(api, {"functionIDVersionNums": f"{extract_id}.3"}) == []
    assert listed_names(api, {"functionIDVersionNums": f"{shape_id}.1"}) == [
        "uses-current",
        "shape-only",
        "used-to",
    ]
    assert listed_names(api, {"functionNameVersionNums": "extract.1"}) == ["pins-v1"]
    assert listed_names(api, {"functionNameVersionNums": "extract.2"}) == ["uses-current"]
    assert listed_names(api, {"functionNameVersionNums": "extract.1,shape.1"}) == [
        "uses-current",
        "pins-v1",
        "shape-only",
        "used-to",
    ]
    assert listed_names(api, {"functionNameVersionNums": "ghost.1"}) == []
    # AND across filters
    assert listed_names(api, {"functionNameVersionNums": "extract.2", "functionNames": "shape"}) == ["uses-current"]
    assert listed_names(api, {"functionNameVersionNums": "extract.1", "functionNames": "shape"}) == []


def test_function_version_filter_looks_at_current_workflow_versions_only(
    api: httpx.Client, fns: dict[str, Any]
) -> None:
    create_workflow(api, workflow_body("moved", fn("extract", 1)))
    assert listed_names(api, {"functionNameVersionNums": "extract.1"}) == ["moved"]
    patch_workflow(api, "moved", {"mainFunction": fn("extract-2", 1)})
    assert listed_names(api, {"functionNameVersionNums": "extract.1"}) == []
    assert listed_names(api, {"functionIDVersionNums": f"{fns['extract']['functionID']}.1"}) == []
    assert listed_names(api, {"functionNameVersionNums": "extract-2.1"}) == ["moved"]


@pytest.mark.parametrize("param", ["functionIDVersionNums", "functionNameVersionNums"])
@pytest.mark.parametrize(
    "value",
    ["x.y", "extract", "extract.", ".2", "extract.0", "extract.-1", "extract.1a"],
)
def test_malformed_function_version_filter_is_400(api: httpx.Client, param: str, value: str) -> None:
    assert_error(api.get("/v2/workflows", params={param: value}), 400, param)


def test_malformed_function_version_filter_is_400_even_beside_valid_ones(
    api: httpx.Client,
) -> None:
    assert_error(
        api.get("/v2/workflows", params={"functionNameVersionNums": "a.1,b.x"}),
        400,
        "functionNameVersionNums",
    )


# === GET /v2/workflows: pagination ===========================================================


def walk_forward(
    api: httpx.Client,
    path: str,
    key: str,
    ident: str,
    params: dict[str, Any],
    total: int,
) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _ in range(total + 2):
        query = dict(params)
        if cursor is not None:
            query["startingAfter"] = cursor
        response = api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["totalCount"] == total
        items = [item[ident] for item in page[key]]
        assert len(items) <= params["limit"]
        if not items:
            return seen
        # every page but the last is full
        assert len(items) == min(params["limit"], total - len(seen))
        seen += items
        cursor = items[-1]
    raise AssertionError("forward pagination did not end")


def walk_backward(
    api: httpx.Client,
    path: str,
    key: str,
    ident: str,
    params: dict[str, Any],
    total: int,
    last: Any,
) -> list[Any]:
    seen: list[Any] = [last]
    cursor = last
    for _ in range(total + 2):
        response = api.get(path, params={**params, "endingBefore": cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["totalCount"] == total
        items = [item[ident] for item in page[key]]
        if not items:
            return seen
        assert len(items) == min(params["limit"], total - len(seen))
        seen = items + seen
        cursor = items[0]
    raise AssertionError("backward pagination did not end")


@pytest.fixture
def seven(api: httpx.Client, fns: dict[str, Any]) -> list[str]:
    """IDs of seven workflows in creation order."""
    return [
        create_workflow(
            api,
            workflow_body(f"p{i}", "extract", tags=["even" if i % 2 == 0 else "odd"]),
        )["id"]
        for i in range(7)
    ]


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 2, 3, 7, 100])
def test_pagination_walks_every_item_once_in_order(
    api: httpx.Client, seven: list[str], sort_order: str, limit: int
) -> None:
    expected = seven if sort_order == "asc" else seven[::-1]
    params = {"limit": limit, "sortOrder": sort_order}
    assert walk_forward(api, "/v2/workflows", "workflows", "id", params, 7) == expected
    assert walk_backward(api, "/v2/workflows", "workflows", "id", params, 7, expected[-1]) == expected


def test_default_sort_order_is_ascending_creation_order(api: httpx.Client, seven: list[str]) -> None:
    assert [w["id"] for w in list_workflows(api)["workflows"]] == seven
    assert [w["id"] for w in list_workflows(api, {"sortOrder": "desc"})["workflows"]] == seven[::-1]


def test_cursor_pages_are_exact(api: httpx.Client, seven: list[str]) -> None:
    page = list_workflows(api, {"limit": 2, "startingAfter": seven[2]})
    assert [w["id"] for w in page["workflows"]] == seven[3:5]
    assert page["totalCount"] == 7
    page = list_workflows(api, {"limit": 2, "endingBefore": seven[2]})
    assert [w["id"] for w in page["workflows"]] == seven[0:2]
    page = list_workflows(api, {"limit": 2, "endingBefore": seven[1]})
    assert [w["id"] for w in page["workflows"]] == seven[0:1]
    page = list_workflows(api, {"limit": 2, "sortOrder": "desc", "startingAfter": seven[2]})
    assert [w["id"] for w in page["workflows"]] == [seven[1], seven[0]]
    page = list_workflows(api, {"limit": 2, "sortOrder": "desc", "endingBefore": seven[2]})
    assert [w["id"] for w in page["workflows"]] == [seven[4], seven[3]]
    assert list_workflows(api, {"startingAfter": seven[-1]}) == {
        "workflows": [],
        "totalCount": 7,
    }
    assert list_workflows(api, {"sortOrder": "desc", "endingBefore": seven[-1]}) == {
        "workflows": [],
        "totalCount": 7,
    }


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
def test_pagination_with_a_filter(api: httpx.Client, seven: list[str], sort_order: str) -> None:
    evens = seven[0::2]
    expected = evens if sort_order == "asc" else evens[::-1]
    params = {"limit": 2, "sortOrder": sort_order, "tags": "even"}
    assert walk_forward(api, "/v2/workflows", "workflows", "id", params, 4) == expected
    assert walk_backward(api, "/v2/workflows", "workflows", "id", params, 4, expected[-1]) == expected
    # a cursor that does not match the filter still marks a place in the list
    page = list_workflows(api, {"tags": "even", "startingAfter": seven[3], "sortOrder": "asc"})
    assert [w["id"] for w in page["workflows"]] == [seven[4], seven[6]]
    assert page["totalCount"] == 4


def test_default_limit_is_50(api: httpx.Client, fns: dict[str, Any]) -> None:
    ids = [create_workflow(api, workflow_body(f"n{i:02d}", "extract"))["id"] for i in range(51)]
    page = list_workflows(api)
    assert [w["id"] for w in page["workflows"]] == ids[:50]
    assert page["totalCount"] == 51
    assert [w["id"] for w in list_workflows(api, {"startingAfter": ids[49]})["workflows"]] == ids[50:]
    assert len(list_workflows(api, {"limit": 100})["workflows"]) == 51


def test_both_cursors_is_400(api: httpx.Client, seven: list[str]) -> None:
    assert_error(
        api.get(
            "/v2/workflows",
            params={"startingAfter": seven[1], "endingBefore": seven[4]},
        ),
        400,
    )


@pytest.mark.parametrize("cursor", ["startingAfter", "endingBefore"])
def test_unknown_cursor_is_400(api: httpx.Client, seven: list[str], cursor: str) -> None:
    assert_error(api.get("/v2/workflows", params={cursor: "wf_doesnotexist"}), 400, cursor)
    assert_error(api.get("/v2/workflows", params={cursor: "w1"}), 400, cursor)  # a name is not a cursor


# === versions ================================================================================


@pytest.fixture
def four_versions(api: httpx.Client, fns: dict[str, Any]) -> dict[str, Any]:
    """Workflow ``versioned`` with versions 1..4 whose displayName is ``D<n>``; version 3 changes the graph."""
    create_workflow(
        api,
        workflow_body("versioned", "extract", [edge("extract", "shape")], displayName="D1"),
    )
    patch_workflow(api, "versioned", {"displayName": "D2"})
    patch_workflow(api, "versioned", {"displayName": "D3", "mainFunction": fn("shape")})
    patch_workflow(api, "versioned", {"displayName": "D4", "tags": ["t"]})
    return fns


def test_versions_list_has_every_version(api: httpx.Client, four_versions: dict[str, Any]) -> None:
    response = api.get("/v2/workflows/versioned/versions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"versions", "totalCount"}
    assert body["totalCount"] == 4
    versions = body["versions"]
    assert [v["versionNum"] for v in versions] == [1, 2, 3, 4]
    assert [v["displayName"] for v in versions] == ["D1", "D2", "D3", "D4"]
    assert [v["tags"] for v in versions] == [[], [], [], ["t"]]
    chain = [out_edge(out_ref(four_versions["extract"]), out_ref(four_versions["shape"]))]
    assert [v["relationships"] for v in versions] == [chain, chain, [], []]
    assert [v["mainFunction"] for v in versions] == [out_ref(four_versions["extract"])] * 2 + [
        out_ref(four_versions["shape"])
    ] * 2
    for v in versions:
        assert set(v) == WORKFLOW_KEYS
        assert v["id"] == versions[0]["id"]
        assert v["name"] == "versioned"
    assert len({v["audit"]["versionCreatedBy"]["userActionID"] for v in versions}) == 4
    updated = [parse_time(v["updatedAt"]) for v in versions]
    assert updated == sorted(updated)
    assert versions[-1] == get_workflow(api, "versioned")


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 3])
def test_version_pagination_walks_every_version_once(
    api: httpx.Client, four_versions: dict[str, Any], sort_order: str, limit: int
) -> None:
    expected = [1, 2, 3, 4] if sort_order == "asc" else [4, 3, 2, 1]
    params = {"limit": limit, "sortOrder": sort_order}
    path = "/v2/workflows/versioned/versions"
    assert walk_forward(api, path, "versions", "versionNum", params, 4) == expected
    assert walk_backward(api, path, "versions", "versionNum", params, 4, expected[-1]) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"startingAfter": 2}, [3, 4]),
        ({"startingAfter": 2, "limit": 1}, [3]),
        ({"startingAfter": 4}, []),
        ({"endingBefore": 3}, [1, 2]),
        ({"endingBefore": 4, "limit": 1}, [3]),
        ({"endingBefore": 1}, []),
        ({"sortOrder": "desc"}, [4, 3, 2, 1]),
        ({"sortOrder": "desc", "startingAfter": 3}, [2, 1]),
        ({"sortOrder": "desc", "endingBefore": 2}, [4, 3]),
        ({"sortOrder": "desc", "endingBefore": 2, "limit": 1}, [3]),
        ({"limit": 2}, [1, 2]),
    ],
)
def test_version_cursors_are_version_numbers(
    api: httpx.Client,
    four_versions: dict[str, Any],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    body = api.get("/v2/workflows/versioned/versions", params=params).json()
    assert [v["versionNum"] for v in body["versions"]] == expected
    assert body["totalCount"] == 4


@pytest.mark.parametrize("cursor", ["startingAfter", "endingBefore"])
@pytest.mark.parametrize("value", ["5", "0", "-1", "abc", "1.5"])
def test_bad_version_cursor_is_400(api: httpx.Client, four_versions: dict[str, Any], cursor: str, value: str) -> None:
    assert_error(api.get("/v2/workflows/versioned/versions", params={cursor: value}), 400, cursor)


@pytest.mark.parametrize(("param", "value"), [("limit", "0"), ("limit", "101"), ("sortOrder", "newest")])
def test_bad_version_page_parameters_are_400(
    api: httpx.Client, four_versions: dict[str, Any], param: str, value: str
) -> None:
    assert_error(api.get("/v2/workflows/versioned/versions", params={param: value}), 400, param)


def test_both_version_cursors_is_400(api: httpx.Client, four_versions: dict[str, Any]) -> None:
    assert_error(
        api.get(
            "/v2/workflows/versioned/versions",
            params={"startingAfter": 1, "endingBefore": 4},
        ),
        400,
    )


def test_versions_of_unknown_workflow_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/v2/workflows/ghost/versions"), 404)
    assert_error(api.get("/v2/workflows/ghost/versions/1"), 404)


def test_get_one_version(api: httpx.Client, four_versions: dict[str, Any]) -> None:
    listed = api.get("/v2/workflows/versioned/versions").json()["versions"]
    for n in (1, 2, 3, 4):
        response = api.get(f"/v2/workflows/versioned/versions/{n}")
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"workflow"}
        wf = response.json()["workflow"]
        assert wf["versionNum"] == n
        assert wf["displayName"] == f"D{n}"
        assert wf == listed[n - 1]


def test_get_missing_version_is_404_and_bad_number_400(api: httpx.Client, four_versions: dict[str, Any]) -> None:
    assert_error(api.get("/v2/workflows/versioned/versions/5"), 404)
    assert_error(api.get("/v2/workflows/versioned/versions/99999"), 404)
    assert_error(api.get("/v2/workflows/versioned/versions/0"), 400)
    assert_error(api.get("/v2/workflows/versioned/versions/abc"), 400)


def test_old_versions_keep_their_pins(api: httpx.Client, fns: dict[str, Any]) -> None:
    create_workflow(api, workflow_body("pinned", fn("extract", 1)))
    update_function(api, "extract", {"displayName": "Extract v2"})
    patch_workflow(api, "pinned", {"mainFunction": fn("extract")})
    v1 = api.get("/v2/workflows/pinned/versions/1").json()["workflow"]
    v2 = api.get("/v2/workflows/pinned/versions/2").json()["workflow"]
    assert v1["mainFunction"] == out_ref(fns["extract"], 1)
    assert v2["mainFunction"] == out_ref(fns["extract"])


# === POST /v2/workflows/copy =================================================================


def copy(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v2/workflows/copy", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"environment", "workflow", "copiedFunctions"}, payload
    return payload


def test_copy_in_same_environment(api: httpx.Client, fns: dict[str, Any], chain: dict[str, Any]) -> None:
    result = copy(api, {"sourceWorkflowName": "chain", "targetWorkflowName": "chain-copy"})
    assert result["environment"] == "production"
    assert result["copiedFunctions"] == []
    wf = result["workflow"]
    assert set(wf) == WORKFLOW_KEYS
    assert wf["name"] == "chain-copy"
    assert wf["id"] != chain["id"]
    assert wf["versionNum"] == 1
    assert wf["displayName"] == "Chain (Copy)"
    assert sorted(wf["tags"]) == ["a", "b"]
    assert wf["emailAddress"] != chain["emailAddress"]
    assert wf["createdAt"] == wf["updatedAt"]
    assert parse_time(wf["createdAt"]) > parse_time(chain["createdAt"])
    assert wf["audit"]["workflowCreatedBy"] == wf["audit"]["versionCreatedBy"]
    # same environment: the copy uses the very same functions
    assert wf["mainFunction"] == out_ref(fns["extract"])
    assert wf["relationships"] == [out_edge(out_ref(fns["extract"]), out_ref(fns["shape"]))]
    assert get_workflow(api, "chain-copy") == wf
    assert get_workflow(api, "chain") == chain
    assert list_workflows(api)["totalCount"] == 2
    assert list_workflows(api, {"functionNames": "shape"})["totalCount"] == 2


def test_copy_with_display_name_tags_and_explicit_same_environment(api: httpx.Client, chain: dict[str, Any]) -> None:
    result = copy(
        api,
        {
            "sourceWorkflowName": "chain",
            "targetWorkflowName": "c2",
            "targetDisplayName": "Second Chain",
            "tags": ["z"],
            "targetEnvironment": "production",
        },
    )
    assert result["environment"] == "production"
    assert result["copiedFunctions"] == []
    assert result["workflow"]["displayName"] == "Second Chain"
    assert result["workflow"]["tags"] == ["z"]
    assert listed_names(api, {"tags": "z"}) == ["c2"]


def test_copy_without_display_name_uses_the_name(api: httpx.Client, fns: dict[str, Any]) -> None:
    create_workflow(api, workflow_body("plain", "extract"))
    result = copy(api, {"sourceWorkflowName": "plain", "targetWorkflowName": "plain-2"})
    assert result["workflow"]["displayName"] == "plain (Copy)"


def test_copy_a_given_source_version(api: httpx.Client, fns: dict[str, Any], chain: dict[str, Any]) -> None:
    patch_workflow(
        api,
        "chain",
        {"displayName": "Second", "mainFunction": fn("sorter"), "tags": ["new"]},
    )
    old = copy(
        api,
        {
            "sourceWorkflowName": "chain",
            "targetWorkflowName": "from-v1",
            "sourceWorkflowVersionNum": 1,
        },
    )
    wf = old["workflow"]
    assert wf["versionNum"] == 1
    assert wf["displayName"] == "Chain (Copy)"
    assert sorted(wf["tags"]) == ["a", "b"]
    assert wf["mainFunction"] == out_ref(fns["extract"])
    assert wf["relationships"] == [out_edge(out_ref(fns["extract"]), out_ref(fns["shape"]))]
    current = copy(api, {"sourceWorkflowName": "chain", "targetWorkflowName": "from-current"})["workflow"]
    assert current["displayName"] == "Second (Copy)"
    assert current["tags"] == ["new"]
    assert current["mainFunction"] == out_ref(fns["sorter"])
    assert current["relationships"] == []
    explicit = copy(
        api,
        {
            "sourceWorkflowName": "chain",
            "targetWorkflowName": "from-v2",
            "sourceWorkflowVersionNum": 2,
        },
    )
    assert explicit["workflow"]["mainFunction"] == out_ref(fns["sorter"])


def test_copy_errors(api: httpx.Client, chain: dict[str, Any]) -> None:
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={"sourceWorkflowName": "ghost", "targetWorkflowName": "x"},
        ),
        404,
    )
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={"sourceWorkflowName": "chain", "targetWorkflowName": "chain"},
        ),
        409,
    )
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={
                "sourceWorkflowName": "chain",
                "targetWorkflowName": "x",
                "sourceWorkflowVersionNum": 2,
            },
        ),
        400,
        "sourceWorkflowVersionNum",
    )
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={
                "sourceWorkflowName": "chain",
                "targetWorkflowName": "x",
                "sourceWorkflowVersionNum": 0,
            },
        ),
        400,
        "sourceWorkflowVersionNum",
    )
    assert_error(
        api.post("/v2/workflows/copy", json={"sourceWorkflowName": "chain"}),
        400,
        "targetWorkflowName",
    )
    assert_error(
        api.post("/v2/workflows/copy", json={"targetWorkflowName": "x"}),
        400,
        "sourceWorkflowName",
    )
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={"sourceWorkflowName": "chain", "targetWorkflowName": "bad name"},
        ),
        400,
        "targetWorkflowName",
    )
    assert_error(
        api.post(
            "/v2/workflows/copy",
            json={
                "sourceWorkflowName": "chain",
                "targetWorkflowName": "x",
                "targetEnvironment": "staging",
            },
        ),
        400,
        "targetEnvironment",
    )
    assert list_workflows(api)["totalCount"] == 1


def test_copy_to_sandbox_copies_the_functions(tenant: Tenant) -> None:
    prod, sandbox = tenant.production, tenant.sandbox
    extract = create_function(prod, transform("extract"))
    shape = create_function(prod, shaping("shape", "{ id: invoiceNumber }"))
    sorter = create_function(prod, route("sorter", ["invoice", "receipt"]))
    update_function(prod, "extract", {"outputSchemaName": "InvoiceV2"})  # extract v2, the workflow pins v1
    update_function(prod, "shape", {"shapingSchema": "{ total: totalAmount }"})  # shape v2, followed
    source = create_workflow(
        prod,
        workflow_body(
            "routing",
            "sorter",
            [
                edge("sorter", fn("extract", 1), "invoice"),
                edge("sorter", "shape", "receipt"),
            ],
            displayName="Routing",
            tags=["x"],
        ),
    )

    result = copy(
        prod,
        {
            "sourceWorkflowName": "routing",
            "targetWorkflowName": "routing",
            "targetEnvironment": "sandbox",
        },
    )

    assert result["environment"] == "sandbox"
    copied = {c["sourceFunctionName"]: c for c in result["copiedFunctions"]}
    assert set(copied) == {"extract", "shape", "sorter"}
    assert len(result["copiedFunctions"]) == 3
    expected_source = {
        "extract": (extract, 1),
        "shape": (shape, 2),
        "sorter": (sorter, 1),
    }
    for name, (function, version) in expected_source.items():
        entry = copied[name]
        assert set(entry) == {
            "sourceFunctionName",
            "sourceFunctionID",
            "sourceVersionNum",
            "targetFunctionName",
            "targetFunctionID",
            "targetVersionNum",
        }
        assert entry["sourceFunctionID"] == function["functionID"]
        assert entry["sourceVersionNum"] == version
        assert entry["targetFunctionName"] == name
        assert entry["targetFunctionID"] != function["functionID"]
        assert entry["targetVersionNum"] == 1
        in_sandbox = sandbox.get(f"/v2/functions/{name}").json()
        assert in_sandbox["functionID"] == entry["targetFunctionID"]
        assert in_sandbox["versionNum"] == 1
    # the copied functions carry the configuration of the version the workflow used
    assert sandbox.get("/v2/functions/extract").json()["outputSchemaName"] == "Invoice"
    assert sandbox.get("/v2/functions/shape").json()["shapingSchema"] == "{ total: totalAmount }"
    assert [r["name"] for r in sandbox.get("/v2/functions/sorter").json()["routes"]] == ["invoice", "receipt"]

    wf = result["workflow"]
    assert wf["name"] == "routing"
    assert wf["id"] != source["id"]
    assert wf["versionNum"] == 1
    assert wf["displayName"] == "Routing (Copy)"
    assert wf["tags"] == ["x"]
    t = {name: {"id": copied[name]["targetFunctionID"], "name": name} for name in copied}
    assert wf["mainFunction"] == t["sorter"]
    assert wf["relationships"] == [
        out_edge(t["sorter"], {**t["extract"], "versionNum": 1}, "invoice"),
        out_edge(t["sorter"], t["shape"], "receipt"),
    ]
    assert get_workflow(sandbox, "routing") == wf
    # production is untouched
    assert get_workflow(prod, "routing") == source
    assert prod.get("/v2/functions").json()["totalCount"] == 3
    assert list_workflows(prod)["totalCount"] == 1
    assert sandbox.get("/v2/functions").json()["totalCount"] == 3


def test_copy_back_from_sandbox_to_production(tenant: Tenant) -> None:
    create_function(tenant.sandbox, transform("only-in-sandbox"))
    create_workflow(tenant.sandbox, workflow_body("draft", "only-in-sandbox"))
    result = copy(
        tenant.sandbox,
        {
            "sourceWorkflowName": "draft",
            "targetWorkflowName": "released",
            "targetEnvironment": "production",
        },
    )
    assert result["environment"] == "production"
    assert [c["targetFunctionName"] for c in result["copiedFunctions"]] == ["only-in-sandbox"]
    assert (
        get_workflow(tenant.production, "released")["mainFunction"]["id"]
        == result["copiedFunctions"][0]["targetFunctionID"]
    )
    assert_error(tenant.sandbox.get("/v2/workflows/released"), 404)


def test_copy_to_sandbox_with_a_function_name_taken_there_is_409_and_copies_nothing(
    tenant: Tenant,
) -> None:
    prod, sandbox = tenant.production, tenant.sandbox
    create_function(prod, transform("extract"))
    create_function(prod, shaping("shape"))
    create_workflow(prod, workflow_body("chain", "extract", [edge("extract", "shape")]))
    create_function(sandbox, shaping("shape"))

    assert_error(
        prod.post(
            "/v2/workflows/copy",
            json={
                "sourceWorkflowName": "chain",
                "targetWorkflowName": "chain",
                "targetEnvironment": "sandbox",
            },
        ),
        409,
    )
    assert_error(sandbox.get("/v2/workflows/chain"), 404)
    assert_error(sandbox.get("/v2/functions/extract"), 404)
    assert sandbox.get("/v2/functions").json()["totalCount"] == 1


def test_copy_to_sandbox_with_workflow_name_taken_there_is_409_and_copies_nothing(
    tenant: Tenant,
) -> None:
    prod, sandbox = tenant.production, tenant.sandbox
    create_function(prod, transform("extract"))
    create_workflow(prod, workflow_body("chain", "extract"))
    create_function(sandbox, transform("other"))
    create_workflow(sandbox, workflow_body("chain", "other"))

    assert_error(
        prod.post(
            "/v2/workflows/copy",
            json={
                "sourceWorkflowName": "chain",
                "targetWorkflowName": "chain",
                "targetEnvironment": "sandbox",
            },
        ),
        409,
    )
    assert_error(sandbox.get("/v2/functions/extract"), 404)
    assert sandbox.get("/v2/functions").json()["totalCount"] == 1
    assert list_workflows(sandbox)["totalCount"] == 1


def test_copy_to_sandbox_leaves_no_reference_into_another_environment(
    tenant: Tenant,
) -> None:
    """Whatever the server does with a route's own targets (copy them too, or refuse), the target
    environment must not end up with functions that name functions it does not have."""
    prod, sandbox = tenant.production, tenant.sandbox
    extract = create_function(prod, transform("extract"))
    routes = [
        {"name": "by-name", "functionName": "extract"},
        {"name": "by-id", "functionID": extract["functionID"]},
    ]
    create_function(prod, {**route("sorter", []), "routes": routes})
    create_workflow(prod, workflow_body("routing", "sorter"))

    response = prod.post(
        "/v2/workflows/copy",
        json={
            "sourceWorkflowName": "routing",
            "targetWorkflowName": "routing",
            "targetEnvironment": "sandbox",
        },
    )
    if response.status_code != 200:
        assert_error(response, response.status_code)
        assert sandbox.get("/v2/functions").json()["totalCount"] == 0
        return
    sandbox_functions = {f["functionName"]: f["functionID"] for f in sandbox.get("/v2/functions").json()["functions"]}
    copied_routes = sandbox.get("/v2/functions/sorter").json()["routes"]
    assert copied_routes[0]["functionName"] in sandbox_functions
    assert copied_routes[1]["functionID"] in sandbox_functions.values()
    # and the copied function stays editable
    assert sandbox.put("/v2/functions/sorter", json={"description": "edited"}).status_code == 200


# === environments ============================================================================


def test_sandbox_never_sees_production_workflows(tenant: Tenant) -> None:
    prod, sandbox = tenant.production, tenant.sandbox
    create_function(prod, transform("extract"))
    wf = create_workflow(prod, workflow_body("shared-name", "extract", tags=["t"], displayName="Shared"))

    assert list_workflows(sandbox) == {"workflows": [], "totalCount": 0}
    for params in (
        {"workflowIDs": wf["id"]},
        {"workflowNames": "shared-name"},
        {"tags": "t"},
        {"displayName": "shared"},
        {"functionNames": "extract"},
        {"functionIDs": wf["mainFunction"]["id"]},
        {"functionNameVersionNums": "extract.1"},
    ):
        assert list_workflows(sandbox, params)["totalCount"] == 0, params
    assert_error(sandbox.get("/v2/workflows/shared-name"), 404)
    assert_error(sandbox.get("/v2/workflows/shared-name/versions"), 404)
    assert_error(sandbox.get("/v2/workflows/shared-name/versions/1"), 404)
    assert_error(sandbox.patch("/v2/workflows/shared-name", json={"displayName": "x"}), 404)
    assert_error(sandbox.delete("/v2/workflows/shared-name"), 404)
    assert_error(
        sandbox.get("/v2/workflows", params={"startingAfter": wf["id"]}),
        400,
        "startingAfter",
    )
    assert_error(
        sandbox.get("/v2/workflows", params={"endingBefore": wf["id"]}),
        400,
        "endingBefore",
    )
    assert_error(
        sandbox.post(
            "/v2/workflows/copy",
            json={"sourceWorkflowName": "shared-name", "targetWorkflowName": "x"},
        ),
        404,
    )

    # names are per environment
    create_function(sandbox, transform("extract"))
    mine = create_workflow(sandbox, workflow_body("shared-name", "extract"))
    assert mine["id"] != wf["id"]
    assert mine["mainFunction"]["id"] != wf["mainFunction"]["id"]
    assert get_workflow(prod, "shared-name") == wf
    assert list_workflows(prod)["totalCount"] == 1
    assert list_workflows(sandbox) == {"workflows": [mine], "totalCount": 1}


def test_other_accounts_never_see_workflows(server: Server, tenant: Tenant) -> None:
    create_function(tenant.production, transform("extract"))
    wf = create_workflow(tenant.production, workflow_body("private", "extract"))
    other = make_tenant(server)
    try:
        for client in (other.production, other.sandbox):
            assert list_workflows(client)["totalCount"] == 0
            assert list_workflows(client, {"workflowIDs": wf["id"]})["totalCount"] == 0
            assert_error(client.get("/v2/workflows/private"), 404)
            assert_error(
                client.get("/v2/workflows", params={"startingAfter": wf["id"]}),
                400,
                "startingAfter",
            )
    finally:
        other.production.close()
        other.sandbox.close()
