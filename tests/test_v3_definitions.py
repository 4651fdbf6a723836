"""``/v3/functions`` and ``/v3/workflows`` driven through the official bem SDK (strict), as a user would.

Expectations come from what the test sent (names, schemas, labels) and from the create
responses (IDs); v2 is read with plain httpx to check that both surfaces show one core.
"""

from __future__ import annotations

from typing import Any

import bem
import httpx
import pytest

INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"invoiceNumber": {"type": "string"}, "total": {"type": "number"}},
    "required": ["invoiceNumber"],
}


def extract(sdk: bem.Bem, name: str, **fields: Any) -> Any:
    return sdk.functions.create(
        function_name=name,
        type="extract",
        output_schema=INVOICE_SCHEMA,
        output_schema_name="Invoice",
        **fields,
    ).function


def classify(sdk: bem.Bem, name: str) -> Any:
    return sdk.functions.create(
        function_name=name,
        type="classify",
        description="Sorts incoming documents",
        classifications=[
            {"name": "invoice", "description": "An invoice"},
            {"name": "other", "description": "Anything else", "isErrorFallback": True},
        ],
    ).function


def two_node_workflow(sdk: bem.Bem, name: str, classifier: str, extractor: str) -> Any:
    return sdk.workflows.create(
        name=name,
        display_name="Invoices",
        main_node_name="sort",
        nodes=[
            {"name": "sort", "function": {"name": classifier}, "metadata": {"x": 10, "y": 20}},
            {"function": {"name": extractor, "versionNum": 1}},
        ],
        edges=[
            {
                "sourceNodeName": "sort",
                "destinationNodeName": extractor,
                "destinationName": "invoice",
                "metadata": {"color": "blue"},
            }
        ],
        tags=["finance"],
    )


# --- functions ------------------------------------------------------------------------------


def test_extract_function_round_trip(sdk: bem.Bem) -> None:
    created = extract(sdk, "invoice-extract", display_name="Invoice extractor", tags=["finance"])
    assert created.type == "extract"
    assert created.function_name == "invoice-extract"
    assert created.function_id.startswith("f")
    assert created.version_num == 1
    assert created.output_schema == INVOICE_SCHEMA
    assert created.output_schema_name == "Invoice"
    assert created.enable_bounding_boxes is False and created.pre_count is False
    assert created.display_name == "Invoice extractor"
    assert created.tags == ["finance"]

    got = sdk.functions.retrieve("invoice-extract").function
    assert got.function_id == created.function_id and got.type == "extract"
    assert got.output_schema == INVOICE_SCHEMA


def test_pre_count_is_kept_as_set(sdk: bem.Bem, api: httpx.Client) -> None:
    created = sdk.functions.create(
        function_name="counted", type="extract", output_schema=INVOICE_SCHEMA, pre_count=True
    ).function
    assert created.pre_count is True
    assert sdk.functions.retrieve("counted").function.pre_count is True
    assert api.get("/v2/functions/counted").json()["preCount"] is True


def test_extract_defaults_schema_name_to_the_function_name(sdk: bem.Bem) -> None:
    created = sdk.functions.create(function_name="bare", type="extract", output_schema=INVOICE_SCHEMA).function
    assert created.output_schema_name == "bare"


def test_classify_function_reads_as_classify_and_as_a_route_in_v2(sdk: bem.Bem, api: httpx.Client) -> None:
    created = classify(sdk, "sorter")
    assert created.type == "classify"
    assert created.description == "Sorts incoming documents"
    assert [c.name for c in created.classifications] == ["invoice", "other"]
    assert created.classifications[1].is_error_fallback is True
    assert created.email_address.startswith("sorter-")

    v2 = api.get("/v2/functions/sorter")
    assert v2.status_code == 200
    body = v2.json()
    assert body["type"] == "route"
    assert body["functionID"] == created.function_id
    assert [r["name"] for r in body["routes"]] == ["invoice", "other"]


def test_v2_sees_a_v3_extract_as_a_transform_and_v3_sees_a_v2_route_as_classify(
    sdk: bem.Bem, api: httpx.Client
) -> None:
    created = extract(sdk, "both-views")
    v2 = api.get("/v2/functions/both-views").json()
    assert v2["type"] == "transform"
    assert v2["functionID"] == created.function_id
    assert v2["outputSchema"] == INVOICE_SCHEMA

    made = api.post(
        "/v2/functions",
        json={"functionName": "v2-router", "type": "route", "description": "d", "routes": [{"name": "a"}]},
    )
    assert made.status_code == 200, made.text
    seen = sdk.functions.retrieve("v2-router").function
    assert seen.type == "classify"
    assert seen.function_id == made.json()["functionID"]
    assert [c.name for c in seen.classifications] == ["a"]


def test_other_types(sdk: bem.Bem) -> None:
    shaping = sdk.functions.create(
        function_name="shape", type="payload_shaping", shaping_schema="{ id: invoiceNumber }"
    ).function
    assert shaping.type == "payload_shaping" and shaping.shaping_schema == "{ id: invoiceNumber }"

    join = sdk.functions.create(function_name="joiner", type="join", output_schema=INVOICE_SCHEMA).function
    assert (join.type, join.join_type, join.description, join.output_schema_name) == ("join", "standard", "", "joiner")

    split = sdk.functions.create(
        function_name="pages", type="split", split_type="print_page", print_page_split_config={}
    ).function
    assert split.type == "split" and split.split_type == "print_page"

    enrich = sdk.functions.create(
        function_name="enricher",
        type="enrich",
        config={"steps": [{"collectionName": "vendors", "sourceField": "vendor", "targetField": "match"}]},
    ).function
    step = enrich.config.steps[0]
    assert (enrich.type, step.collection_name, step.source, step.include_score) == (
        "enrich",
        "vendors",
        "collection",
        False,
    )


@pytest.mark.parametrize("type_", ["render"])
def test_types_quarry_cannot_run_are_refused(sdk: bem.Bem, type_: str) -> None:
    with pytest.raises(bem.BadRequestError) as info:
        sdk.functions.create(function_name="nope", type=type_)  # type: ignore[call-overload]
    assert info.value.body["details"]["field"] == "type"  # type: ignore[index]
    assert type_ in info.value.body["message"]  # type: ignore[index]


def test_a_bad_body_is_a_bad_request_naming_the_v3_field(sdk: bem.Bem) -> None:
    with pytest.raises(bem.BadRequestError) as info:
        sdk.functions.create(
            function_name="bad-classes", type="classify", classifications=[{"name": "a"}, {"name": "a"}]
        )
    assert info.value.body["details"]["field"] == "classifications"  # type: ignore[index]
    with pytest.raises(bem.BadRequestError):
        sdk.functions.create(function_name="has space", type="extract", output_schema=INVOICE_SCHEMA)


def test_malformed_json_body(api: httpx.Client) -> None:
    answer = api.post("/v3/functions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert set(answer.json()) >= {"message", "code"}


def test_taken_name_is_a_conflict(sdk: bem.Bem) -> None:
    extract(sdk, "taken")
    with pytest.raises(bem.ConflictError):
        extract(sdk, "taken")


def test_update_makes_a_new_version_and_versions_are_listed(sdk: bem.Bem) -> None:
    created = extract(sdk, "evolving")
    new_schema = {**INVOICE_SCHEMA, "properties": {**INVOICE_SCHEMA["properties"], "vendor": {"type": "string"}}}
    updated = sdk.functions.update("evolving", type="extract", output_schema=new_schema, display_name="v2").function
    assert updated.version_num == 2
    assert updated.function_id == created.function_id
    assert updated.output_schema == new_schema
    assert updated.output_schema_name == "Invoice"  # kept from version 1

    versions = sdk.functions.versions.list("evolving")
    assert versions.total_count == 2
    assert [v.version_num for v in versions.versions or []] == [2, 1]  # newest first
    first = sdk.functions.versions.retrieve(1, function_name="evolving").function
    assert first.version_num == 1 and first.output_schema == INVOICE_SCHEMA
    assert first.created_at is not None


def test_update_cannot_change_the_type(sdk: bem.Bem) -> None:
    extract(sdk, "fixed-type")
    with pytest.raises(bem.BadRequestError) as info:
        sdk.functions.update("fixed-type", type="classify", description="x")
    assert "'extract'" in info.value.body["message"]  # type: ignore[index]


def test_list_auto_paginates_with_filters(sdk: bem.Bem) -> None:
    made = [extract(sdk, f"page-{i}").function_id for i in range(5)]
    classify(sdk, "not-an-extract")
    page = sdk.functions.list(limit=2, types=["extract"])
    assert len(page.functions) == 2
    assert [f.function_id for f in page] == made  # every page, in creation order, only extracts
    assert [f.function_name for f in sdk.functions.list(types=["classify"])] == ["not-an-extract"]
    assert [f.function_name for f in sdk.functions.list(function_names=["page-1", "page-3"])] == ["page-1", "page-3"]


def test_copy_and_delete(sdk: bem.Bem) -> None:
    source = extract(sdk, "original", tags=["a"])
    copy = sdk.functions.copy.create(source_function_name="original", target_function_name="duplicate").function
    assert copy.function_name == "duplicate"
    assert copy.function_id != source.function_id
    assert copy.type == "extract" and copy.output_schema == INVOICE_SCHEMA
    assert copy.tags == ["a"]

    sdk.functions.delete("duplicate")
    with pytest.raises(bem.NotFoundError):
        sdk.functions.retrieve("duplicate")


def test_unknown_query_parameter_is_refused(api: httpx.Client) -> None:
    assert api.get("/v3/functions", params={"colour": "red"}).status_code == 400
    assert api.get("/v3/functions", params={"includeExtraSettings": "true"}).status_code == 200


# --- workflows ------------------------------------------------------------------------------


def test_two_node_workflow(sdk: bem.Bem, api: httpx.Client) -> None:
    sorter = classify(sdk, "wf-sorter")
    extractor = extract(sdk, "wf-extract")
    workflow = two_node_workflow(sdk, "invoices", "wf-sorter", "wf-extract")
    assert workflow is not None
    assert workflow.name == "invoices" and workflow.version_num == 1
    assert workflow.main_node_name == "sort"
    assert workflow.connectors == [] and workflow.restricted is False
    nodes = {n.name: n for n in workflow.nodes}
    assert set(nodes) == {"sort", "wf-extract"}
    assert nodes["sort"].function.id == sorter.function_id
    assert nodes["sort"].metadata == {"x": 10, "y": 20}
    assert nodes["wf-extract"].function.id == extractor.function_id
    assert nodes["wf-extract"].function.version_num == 1
    [edge] = workflow.edges
    assert (edge.source_node_name, edge.destination_node_name, edge.destination_name) == (
        "sort",
        "wf-extract",
        "invoice",
    )
    assert edge.metadata == {"color": "blue"}
    assert workflow.display_name == "Invoices" and workflow.tags == ["finance"]

    got = sdk.workflows.retrieve("invoices").workflow
    assert got is not None and got.id == workflow.id and got.main_node_name == "sort"

    v2 = api.get("/v2/workflows/invoices").json()["workflow"]
    assert v2["id"] == workflow.id
    assert v2["mainFunction"]["id"] == sorter.function_id
    assert v2["relationships"][0]["destinationFunction"]["id"] == extractor.function_id
    assert v2["relationships"][0]["destinationName"] == "invoice"

    usage = sdk.functions.retrieve("wf-extract").function.used_in_workflows
    assert usage is not None and [u.workflow_name for u in usage] == ["invoices"]


def test_workflow_graph_errors_name_v3_fields(sdk: bem.Bem) -> None:
    classify(sdk, "g-sorter")
    extract(sdk, "g-extract")
    with pytest.raises(bem.BadRequestError) as info:
        sdk.workflows.create(
            name="bad-label",
            main_node_name="g-sorter",
            nodes=[{"function": {"name": "g-sorter"}}, {"function": {"name": "g-extract"}}],
            edges=[{"sourceNodeName": "g-sorter", "destinationNodeName": "g-extract", "destinationName": "nope"}],
        )
    assert info.value.body["details"]["field"] == "edges[0].destinationName"  # type: ignore[index]
    with pytest.raises(bem.BadRequestError) as info:
        sdk.workflows.create(name="no-main", main_node_name="ghost", nodes=[{"function": {"name": "g-sorter"}}])
    assert info.value.body["details"]["field"] == "mainNodeName"  # type: ignore[index]
    with pytest.raises(bem.BadRequestError) as info:
        sdk.workflows.create(
            name="with-connector",
            main_node_name="g-extract",
            nodes=[{"function": {"name": "g-extract"}}],
            connectors=[{"name": "drive", "type": "paragon"}],
        )
    assert "connectors" in info.value.body["details"]["field"]  # type: ignore[index]


def test_workflow_update_versions_copy_delete(sdk: bem.Bem) -> None:
    classify(sdk, "u-sorter")
    extract(sdk, "u-extract")
    shaping = sdk.functions.create(function_name="u-shape", type="payload_shaping", shaping_schema="@").function
    two_node_workflow(sdk, "flow", "u-sorter", "u-extract")

    renamed = sdk.workflows.update("flow", display_name="Renamed").workflow
    assert renamed is not None and renamed.version_num == 2
    assert renamed.display_name == "Renamed" and renamed.main_node_name == "sort"  # graph kept
    assert {n.name for n in renamed.nodes} == {"sort", "u-extract"}

    regraphed = sdk.workflows.update(
        "flow",
        main_node_name="extract",
        nodes=[
            {"name": "extract", "function": {"name": "u-extract"}},
            {"name": "shape", "function": {"id": shaping.function_id}},
        ],
        edges=[{"sourceNodeName": "extract", "destinationNodeName": "shape"}],
    ).workflow
    assert regraphed is not None and regraphed.version_num == 3
    assert [(e.source_node_name, e.destination_node_name) for e in regraphed.edges] == [("extract", "shape")]

    with pytest.raises(bem.BadRequestError):
        sdk.workflows.update("flow", nodes=[{"function": {"name": "u-extract"}}])  # without mainNodeName

    versions = list(sdk.workflows.versions.list("flow", limit=2))
    assert [v.version_num for v in versions] == [3, 2, 1]
    first = sdk.workflows.versions.retrieve(1, workflow_name="flow").workflow
    assert first is not None and first.main_node_name == "sort"

    copied = sdk.workflows.copy(source_workflow_name="flow", target_workflow_name="flow-copy")
    assert copied.workflow is not None and copied.workflow.name == "flow-copy"
    assert copied.workflow.version_num == 1 and copied.workflow.main_node_name == "extract"
    assert copied.copied_functions == []

    with pytest.raises(bem.ConflictError):
        sdk.workflows.copy(source_workflow_name="flow", target_workflow_name="flow-copy")

    deleted = sdk.workflows.delete("flow")
    assert deleted.workflow is not None
    assert (deleted.workflow.name, deleted.workflow.version_num) == ("flow", 3)
    with pytest.raises(bem.NotFoundError):
        sdk.workflows.retrieve("flow")


def test_workflow_copy_into_another_environment_copies_functions(sdk: bem.Bem) -> None:
    classify(sdk, "e-sorter")
    extract(sdk, "e-extract")
    two_node_workflow(sdk, "cross", "e-sorter", "e-extract")
    copied = sdk.workflows.copy(
        source_workflow_name="cross", target_workflow_name="cross", target_environment="sandbox"
    )
    assert copied.environment == "sandbox"
    assert sorted(c.source_function_name for c in copied.copied_functions or []) == ["e-extract", "e-sorter"]
    assert copied.workflow is not None and copied.workflow.main_node_name == "sort"


def test_workflow_list_auto_paginates(sdk: bem.Bem) -> None:
    extract(sdk, "l-extract")
    made = [
        sdk.workflows.create(
            name=f"wf-{i}", main_node_name="n", nodes=[{"name": "n", "function": {"name": "l-extract"}}]
        )
        for i in range(5)
    ]
    ids = [w.id for w in made if w is not None]
    assert [w.id for w in sdk.workflows.list(limit=2)] == ids
    assert [w.name for w in sdk.workflows.list(function_names=["l-extract"], workflow_names=["wf-1"])] == ["wf-1"]


def test_taken_workflow_name_is_a_conflict(sdk: bem.Bem) -> None:
    extract(sdk, "c-extract")
    spec: dict[str, Any] = {"main_node_name": "c-extract", "nodes": [{"function": {"name": "c-extract"}}]}
    sdk.workflows.create(name="same", **spec)
    with pytest.raises(bem.ConflictError):
        sdk.workflows.create(name="same", **spec)
