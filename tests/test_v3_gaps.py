"""The v3 gaps of issue #28, as the official bem SDK (strict) reads them: a transform reads back
as a transform and an extract as an extract; a function a workflow uses can be deleted and the
workflow keeps running it; a join fed by several branches names every one; ``adhoc_function``
filters validate and find nothing. Expected values are what the tests sent."""

from __future__ import annotations

import base64
from typing import Any

import bem
import httpx
import pytest

from tests.calls_client import create_workflow, events_of, invoice, shaping, single, submit, wait_for
from tests.helpers import INVOICE_SCHEMA, assert_error, create_function, transform


def text_input(number: str) -> dict[str, Any]:
    return {"single_file": {"input_content": base64.b64encode(invoice(number)).decode(), "input_type": "text"}}


def direct_call(api: httpx.Client, function_name: str) -> str:
    """A v2 call of one function (v3's ``direct_function``); its ID."""
    text = {"singleFile": {"inputType": "text", "inputContent": base64.b64encode(invoice("D-1")).decode()}}
    made = api.post("/v2/calls", json={"calls": [{"functionName": function_name, "input": text}]})
    assert made.status_code in (200, 202), made.text
    return made.json()["calls"][0]["callID"]


def made_as_transform(sdk: bem.Bem, name: str) -> Any:
    """A v3 ``transform`` (a type the SDK reads but declares no create body for: sent as is)."""
    return sdk.functions.create(
        function_name=name,
        type="transform",  # type: ignore[arg-type]
        output_schema=INVOICE_SCHEMA,
        output_schema_name="Invoice",
    ).function


def made_as_extract(sdk: bem.Bem, name: str) -> Any:
    return sdk.functions.create(
        function_name=name, type="extract", output_schema=INVOICE_SCHEMA, output_schema_name="Invoice"
    ).function


# --- transform and extract ---------------------------------------------------------------------


def test_each_reads_back_under_the_type_it_was_created_as(sdk: bem.Bem, api: httpx.Client) -> None:
    v2_made = create_function(api, transform("v2-made"))
    v3_transform = made_as_transform(sdk, "v3-transform")
    v3_extract = made_as_extract(sdk, "v3-extract")

    seen = sdk.functions.retrieve("v2-made").function
    assert isinstance(seen, bem.types.function.TransformFunction)
    assert (seen.type, seen.function_id) == ("transform", v2_made["functionID"])
    assert seen.email_address == v2_made["emailAddress"]  # v3's transform carries the address
    assert seen.output_schema == INVOICE_SCHEMA and seen.tabular_chunking_enabled is False
    assert isinstance(v3_transform, bem.types.function.TransformFunction) and v3_transform.type == "transform"
    assert sdk.functions.retrieve("v3-transform").function.type == "transform"
    assert isinstance(v3_extract, bem.types.function.ExtractFunction) and v3_extract.type == "extract"
    assert sdk.functions.retrieve("v3-extract").function.type == "extract"
    for name in ("v2-made", "v3-transform", "v3-extract"):  # one core type: v2 has no extract
        assert api.get(f"/v2/functions/{name}").json()["type"] == "transform"

    by_type = {t: [f.function_name for f in sdk.functions.list(types=[t])] for t in ("transform", "extract")}
    assert by_type == {"transform": ["v2-made", "v3-transform"], "extract": ["v3-extract"]}
    both = [f.function_name for f in sdk.functions.list(types=["transform", "extract"])]
    assert both == ["v2-made", "v3-transform", "v3-extract"]


def test_updates_versions_and_copies_keep_the_name(sdk: bem.Bem) -> None:
    made_as_transform(sdk, "kept")
    # the SDK's only update body for this core type is ``extract``: it changes the configuration, not the name
    updated = sdk.functions.update("kept", type="extract", display_name="Kept").function
    assert (updated.type, updated.version_num, updated.display_name) == ("transform", 2, "Kept")
    assert [v.type for v in sdk.functions.versions.list("kept").versions or []] == ["transform", "transform"]
    assert sdk.functions.versions.retrieve(1, function_name="kept").function.type == "transform"
    copied = sdk.functions.copy.create(source_function_name="kept", target_function_name="kept-copy").function
    assert copied.type == "transform"
    made_as_extract(sdk, "other")
    assert sdk.functions.copy.create(source_function_name="other", target_function_name="o2").function.type == "extract"
    with pytest.raises(bem.BadRequestError) as info:
        sdk.functions.update("kept", type="classify", description="x")
    assert "'transform'" in info.value.body["message"]  # type: ignore[index]


def test_calls_traces_and_events_name_the_function_as_it_was_made(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("as-transform"))
    made_as_extract(sdk, "as-extract")
    for name in ("as-transform", "as-extract"):
        sdk.workflows.create(name=f"run-{name}", main_node_name=name, nodes=[{"function": {"name": name}}])
    outputs = {}
    for name, expected in (("as-transform", "transform"), ("as-extract", "extract")):
        call = sdk.workflows.call(f"run-{name}", input=text_input("N-1"), wait=True).call
        assert call is not None and call.status == "completed", call
        [output] = call.outputs
        assert (output.event_type, output.transformed_content["invoiceNumber"]) == (expected, "N-1")
        outputs[expected] = output.event_id
        trace = sdk.calls.retrieve_trace(call.call_id).trace
        assert trace is not None and [fc.type for fc in trace.function_calls] == [expected]
        assert [e["eventType"] for e in trace.events] == [expected]  # type: ignore[index]
        assert sdk.outputs.retrieve(output.event_id).output.event_type == expected
    for wanted in ("transform", "extract"):
        assert [o.event_id for o in sdk.outputs.list(event_types=[wanted])] == [outputs[wanted]]

    direct_call(api, "as-transform")
    [listed] = sdk.calls.list(call_types=["direct_function"])
    assert (listed.function_name, listed.function_type) == ("as-transform", "transform")


# --- deleting a function a workflow uses ------------------------------------------------------


def test_a_function_a_workflow_uses_can_be_deleted_and_the_workflow_keeps_running_it(
    sdk: bem.Bem, api: httpx.Client
) -> None:
    made_as_extract(sdk, "used")
    sdk.functions.update("used", type="extract", display_name="second version")  # the workflow pins version 1
    shaped = sdk.functions.create(
        function_name="used-shape", type="payload_shaping", shaping_schema='{"number": invoiceNumber}'
    ).function
    workflow = sdk.workflows.create(
        name="keeps-running",
        main_node_name="read",
        nodes=[
            {"name": "read", "function": {"name": "used", "versionNum": 1}},
            {"name": "shape", "function": {"name": "used-shape"}},
        ],
        edges=[{"sourceNodeName": "read", "destinationNodeName": "shape"}],
    )
    assert workflow is not None

    sdk.functions.delete("used")  # 204, although the workflow uses it
    sdk.functions.delete("used-shape")  # a node that follows the current version
    with pytest.raises(bem.NotFoundError):
        sdk.functions.retrieve("used")
    assert [f.function_name for f in sdk.functions.list()] == []

    # reading the workflow still shows both nodes, as pinned
    read = sdk.workflows.retrieve("keeps-running").workflow
    assert read is not None and read.version_num == 1
    nodes = {node.name: node.function for node in read.nodes}
    assert (nodes["read"].name, nodes["read"].version_num) == ("used", 1)
    assert nodes["shape"].id == shaped.function_id

    # and calling it runs the versions it used
    call = sdk.workflows.call("keeps-running", input=text_input("K-7"), wait=True).call
    assert call is not None and call.status == "completed", call
    [output] = call.outputs
    assert (output.function_name, output.transformed_content) == ("used-shape", {"number": "K-7"})
    trace = sdk.calls.retrieve_trace(call.call_id).trace
    assert trace is not None
    assert [(fc.function_name, fc.function_version_num) for fc in trace.function_calls] == [
        ("used", 1),
        ("used-shape", 1),
    ]

    # a new version that keeps the graph keeps them; one that names a deleted function is refused
    kept = sdk.workflows.update("keeps-running", display_name="renamed").workflow
    assert kept is not None and kept.version_num == 2 and {n.name for n in kept.nodes} == {"read", "shape"}
    with pytest.raises(bem.BadRequestError):
        sdk.workflows.update(
            "keeps-running", main_node_name="read", nodes=[{"name": "read", "function": {"name": "used"}}]
        )
    with pytest.raises(bem.BadRequestError):
        sdk.workflows.create(name="new", main_node_name="used", nodes=[{"function": {"name": "used"}}])
    # the name is free again: a new function under it is another function
    again = made_as_extract(sdk, "used")
    assert again.function_id != nodes["read"].id and again.used_in_workflows == []


def test_v2_deletes_a_function_a_workflow_uses_too(api: httpx.Client) -> None:
    create_function(api, transform("v2-used"))
    create_workflow(api, "v2-flow", "v2-used")
    assert api.delete("/v2/functions/v2-used").status_code == 204
    assert_error(api.get("/v2/functions/v2-used"), 404)
    workflow = api.get("/v2/workflows/v2-flow")
    assert workflow.status_code == 200, workflow.text
    assert workflow.json()["workflow"]["mainFunction"]["name"] == "v2-used"
    [call] = submit(api, {"workflowName": "v2-flow", "input": single(invoice("V-2"))})
    done = wait_for(api, call["callID"])
    assert done["status"] == "completed", done
    [extracted] = events_of(api, call["callID"], "transform")
    assert extracted["transformedContent"]["invoiceNumber"] == "V-2"


# --- a join fed by several branches -----------------------------------------------------------


def test_a_join_names_every_branch_that_fed_it(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("fan-read"))
    create_function(api, shaping("fan-left", '{"invoiceNumber": invoiceNumber, "side": "left"}'))
    create_function(api, shaping("fan-right", '{"invoiceNumber": invoiceNumber, "side": "right"}'))
    sdk.functions.create(
        function_name="fan-join",
        type="join",
        output_schema={"type": "object", "properties": {"invoiceNumber": {"type": "string"}}},
    )
    sdk.workflows.create(
        name="fan",
        main_node_name="fan-read",
        nodes=[{"function": {"name": n}} for n in ("fan-read", "fan-left", "fan-right", "fan-join")],
        edges=[
            {"sourceNodeName": "fan-read", "destinationNodeName": "fan-left"},
            {"sourceNodeName": "fan-read", "destinationNodeName": "fan-right"},
            {"sourceNodeName": "fan-left", "destinationNodeName": "fan-join"},
            {"sourceNodeName": "fan-right", "destinationNodeName": "fan-join"},
        ],
    )
    call = sdk.workflows.call("fan", input=text_input("F-3"), wait=True).call
    assert call is not None and call.status == "completed", call

    # the join is the one output: what the branches handed it is intermediate
    [joined] = call.outputs
    assert (joined.event_type, joined.function_name) == ("join", "fan-join")
    assert joined.transformed_content["invoiceNumber"] == "F-3"
    assert [o.event_id for o in sdk.outputs.list(call_ids=[call.call_id])] == [joined.event_id]

    trace = sdk.calls.retrieve_trace(call.call_id).trace
    assert trace is not None
    by_name = {fc.function_name: fc for fc in trace.function_calls}
    events_by_call = {e["functionCallID"]: e["eventID"] for e in trace.events}  # type: ignore[index]
    branches = [by_name["fan-left"].function_call_id, by_name["fan-right"].function_call_id]
    join = by_name["fan-join"]
    extras = join.model_extra or {}
    assert sorted(extras["sourceFunctionCallIDs"]) == sorted(branches)
    assert sorted(extras["sourceEventIDs"]) == sorted(events_by_call[b] for b in branches)
    # the SDK's own fields name the first of them
    assert join.source_function_call_id == extras["sourceFunctionCallIDs"][0]
    assert join.source_event_id == extras["sourceEventIDs"][0]
    everything = {o.event_id for o in sdk.outputs.list(call_ids=[call.call_id], include_intermediate=True)}
    assert everything == set(events_by_call.values())


# --- adhoc_function -------------------------------------------------------------------------


def test_adhoc_function_filters_validate_and_find_nothing(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("direct"))
    direct_id = direct_call(api, "direct")
    assert list(sdk.calls.list(call_types=["adhoc_function"])) == []
    assert [c.call_id for c in sdk.calls.list(call_types=["adhoc_function", "direct_function"])] == [direct_id]
    assert_error(api.get("/v3/calls", params={"callTypes": "adhoc"}), 400, "callTypes[0]")
    assert_error(api.get("/v2/calls", params={"callTypes": "adhoc_function"}), 400, "callTypes[0]")
