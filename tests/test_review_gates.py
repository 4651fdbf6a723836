"""Review gates: a workflow node whose outputs wait for a person's approval or correction.

Through the public API (the official SDK for v3, plain HTTP for v2), on both databases. The
deadline is checked by the engine's sweeper every 30 s; the tests run one sweep themselves
(``Engine.sweep``, as the sweeper does) instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest

from tests.calls_client import (
    create_workflow,
    events_of,
    get_call,
    invoice,
    parse_time,
    shaping,
    single,
    submit,
    wait_for,
)
from tests.conftest import BACKENDS, Server
from tests.harness.fake_model import SlowModel
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import assert_error, create_function, route, transform

AWAITING = "Awaiting review"


def _gated_workflow(sdk: bem.Bem, api: httpx.Client, name: str, review: dict[str, Any]) -> None:
    """extract (gated) -> shape: the shaping function hands on the number it was given."""
    create_function(api, transform(f"{name}-x"))
    create_function(api, shaping(f"{name}-s", "{number: invoiceNumber, total: totalAmount}"))
    sdk.workflows.create(
        name=name,
        main_node_name="extract",
        nodes=[
            {"name": "extract", "function": {"name": f"{name}-x"}, "review": review},  # type: ignore[typeddict-unknown-key]
            {"name": "shape", "function": {"name": f"{name}-s"}},
        ],
        edges=[{"source_node_name": "extract", "destination_node_name": "shape"}],
    )


def _call(api: httpx.Client, workflow: str, number: str = "INV-7") -> str:
    [created] = submit(api, {"workflowName": workflow, "input": single(invoice(number, "70.00"))})
    return created["callID"]  # type: ignore[no-any-return]


def _held(api: httpx.Client, call_id: str) -> dict[str, Any]:
    """The call once its first function call waits for review (fails the test after 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        call = get_call(api, call_id)
        activities = [step["displayName"] for fc in call["functionCalls"] for step in fc["activity"]]
        if AWAITING in activities:
            return call
        assert call["status"] in ("pending", "running"), call
        if time.monotonic() > deadline:
            pytest.fail(f"call {call_id} never waited for review: {call}")
        time.sleep(0.1)


def _review_queue(sdk: bem.Bem) -> list[str]:
    """The events the dashboard's review queue lists (``needsReview`` is a Quarry filter)."""
    outputs = sdk.outputs.list(is_labelled=False, extra_query={"needsReview": "true"})
    return [output.event_id for output in outputs]


def _held_event(api: httpx.Client, call_id: str) -> dict[str, Any]:
    [event] = events_of(api, call_id, "transform")
    return event


def test_a_gated_call_waits_and_goes_on_with_the_correction(sdk: bem.Bem, api: httpx.Client) -> None:
    _gated_workflow(sdk, api, "gated", {"when": "always"})
    workflow = sdk.workflows.retrieve("gated").workflow
    assert workflow.to_dict()["nodes"][0]["review"] == {"when": "always", "onDeadline": "fail"}

    call_id = _call(api, "gated")
    held = _held(api, call_id)
    assert held["status"] == "running"
    assert [fc["functionName"] for fc in held["functionCalls"]] == ["gated-x"]  # nothing went on
    assert held["functionCalls"][0]["status"] == "running"
    event = _held_event(api, call_id)
    assert event["needsReview"] is True  # so the review queue lists it
    assert event["eventID"] in _review_queue(sdk)
    long_ago = sdk.outputs.list(extra_query={"needsReview": "true", "createdBefore": "2020-01-01T00:00:00Z"})
    assert list(long_ago) == []  # the queue's age filter
    soon = sdk.outputs.list(extra_query={"needsReview": "true", "createdBefore": "2099-01-01T00:00:00+02:00"})
    assert event["eventID"] in [output.event_id for output in soon]
    assert_error(api.get("/v3/outputs", params={"createdBefore": "2020-01-01T00:00:00"}), 400, "createdBefore")
    time.sleep(1)  # the engine keeps nothing of the call running meanwhile: it is still waiting
    assert get_call(api, call_id)["status"] == "running"

    corrected = {"invoiceNumber": "INV-7B", "totalAmount": 71.0}
    sdk.events.submit_feedback(event["eventID"], correction=corrected)
    call = wait_for(api, call_id)
    assert call["status"] == "completed"
    assert [fc["functionName"] for fc in call["functionCalls"]] == ["gated-x", "gated-s"]
    [shaped] = events_of(api, call_id, "payload_shaping")
    assert shaped["transformedContent"] == {"number": "INV-7B", "total": 71.0}  # the corrected output went on
    assert len(events_of(api, call_id, "transform")) == 1  # the extraction did not run again
    assert call["functionCalls"][0]["activity"] == [{"displayName": "Extract", "status": "completed"}]
    assert event["eventID"] not in _review_queue(sdk)


def test_approval_through_a_v2_correction_lets_the_output_go_on_unchanged(sdk: bem.Bem, api: httpx.Client) -> None:
    _gated_workflow(sdk, api, "approved", {"when": "always"})
    call_id = _call(api, "approved", "INV-8")
    _held(api, call_id)
    event = _held_event(api, call_id)
    as_extracted = event["transformedContent"]
    response = api.put(
        "/v1-beta/transformations",
        json={"transformations": [{"transformationID": event["transformationID"], "correctedJSON": as_extracted}]},
    )
    assert response.status_code == 200, response.text
    assert wait_for(api, call_id)["status"] == "completed"
    [shaped] = events_of(api, call_id, "payload_shaping")
    assert shaped["transformedContent"] == {
        "number": as_extracted["invoiceNumber"],
        "total": as_extracted["totalAmount"],
    }


def test_a_gate_for_doubtful_events_holds_only_those(sdk: bem.Bem, api: httpx.Client) -> None:
    """route (gated if doubtful) -> extract (gated if doubtful): a classification is never doubtful
    and goes straight on; the extraction waits exactly when its event needs review."""
    create_function(api, route("doubt-sorter", ["invoice", "other"]))
    create_function(api, transform("doubt-x"))
    doubtful = {"when": "needsReview"}
    sdk.workflows.create(
        name="doubtful",
        main_node_name="sorter",
        nodes=[
            {"name": "sorter", "function": {"name": "doubt-sorter"}, "review": doubtful},  # type: ignore[typeddict-unknown-key]
            {"name": "extract", "function": {"name": "doubt-x"}, "review": doubtful},  # type: ignore[typeddict-unknown-key]
        ],
        edges=[{"source_node_name": "sorter", "destination_node_name": "extract", "destination_name": "invoice"}],
    )
    call_id = _call(api, "doubtful")
    deadline = time.monotonic() + 30
    while not (extracted := events_of(api, call_id, "transform")):
        assert time.monotonic() < deadline, get_call(api, call_id)
        time.sleep(0.1)
    [event] = extracted
    [routed] = events_of(api, call_id, "route")
    assert not routed.get("needsReview")
    if event.get("needsReview"):  # the builtin extractor's confidences sit under the default 0.9
        assert _held(api, call_id)["status"] == "running"
        sdk.events.submit_feedback(event["eventID"], correction=event["transformedContent"])
    call = wait_for(api, call_id)
    assert call["status"] == "completed"
    assert [fc["functionName"] for fc in call["functionCalls"]] == ["doubt-sorter", "doubt-x"]


def test_deleting_a_held_transformation_lets_the_call_go_on_as_it_was(sdk: bem.Bem, api: httpx.Client) -> None:
    _gated_workflow(sdk, api, "deleted", {"when": "always"})
    call_id = _call(api, "deleted", "INV-D")
    _held(api, call_id)
    event = _held_event(api, call_id)
    response = api.delete("/v1-beta/transformations", params={"transformationIDs": event["transformationID"]})
    assert response.json() == {"deleteCount": 1}
    call = wait_for(api, call_id)
    assert call["status"] == "completed"
    [shaped] = events_of(api, call_id, "payload_shaping")
    assert shaped["transformedContent"]["number"] == event["transformedContent"]["invoiceNumber"]


def test_a_classification_corrected_at_the_gate_takes_the_corrected_route(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, route("sorter", ["invoice", "other"]))
    create_function(api, shaping("on-invoice", "{went: 'invoice'}"))
    create_function(api, shaping("on-other", "{went: 'other'}"))
    sdk.workflows.create(
        name="sorting",
        main_node_name="sorter",
        nodes=[
            {"name": "sorter", "function": {"name": "sorter"}, "review": {"when": "always"}},  # type: ignore[typeddict-unknown-key]
            {"name": "on-invoice", "function": {"name": "on-invoice"}},
            {"name": "on-other", "function": {"name": "on-other"}},
        ],
        edges=[
            {"source_node_name": "sorter", "destination_node_name": "on-invoice", "destination_name": "invoice"},
            {"source_node_name": "sorter", "destination_node_name": "on-other", "destination_name": "other"},
        ],
    )
    [created] = submit(api, {"workflowName": "sorting", "input": single(invoice("INV-1"))})
    _held(api, created["callID"])
    [event] = events_of(api, created["callID"], "route")
    assert event["choice"] == "invoice"
    sdk.events.submit_feedback(event["eventID"], correction="other")
    call = wait_for(api, created["callID"])
    assert [fc["functionName"] for fc in call["functionCalls"]] == ["sorter", "on-other"]


@pytest.mark.parametrize("on_deadline", ["fail", "continue"])
def test_the_deadline_decides_for_no_one(sdk: bem.Bem, api: httpx.Client, server: Server, on_deadline: str) -> None:
    name = f"deadline-{on_deadline}"
    _gated_workflow(sdk, api, name, {"when": "always", "deadlineSeconds": 1, "onDeadline": on_deadline})
    call_id = _call(api, name)
    _held(api, call_id)
    time.sleep(1.2)
    event = _held_event(api, call_id)
    server.engine.sweep(timedelta(minutes=1))  # what the engine's sweeper does every 30 s
    call = wait_for(api, call_id)
    # no gate waits on it any more: it stays in the queue only if it is doubtful of its own accord
    # (and still an output: continued, it was handed on)
    doubtful = bool(event["fieldsNeedingReview"]) and on_deadline == "fail"
    assert (event["eventID"] in _review_queue(sdk)) == doubtful
    if on_deadline == "fail":
        assert call["status"] == "failed"
        assert [fc["functionName"] for fc in call["functionCalls"]] == [f"{name}-x"]
        [error] = events_of(api, call_id, "error")
        assert "deadline" in error["message"]
    else:
        assert call["status"] == "completed"
        assert [fc["functionName"] for fc in call["functionCalls"]] == [f"{name}-x", f"{name}-s"]
    assert len(events_of(api, call_id, "transform")) == 1


def test_a_gate_closed_at_its_deadline_takes_its_mark_off_the_queue(
    sdk: bem.Bem, api: httpx.Client, server: Server
) -> None:
    """A classification is never doubtful: it is in the review queue only because the gate holds it."""
    create_function(api, route("timed-sorter", ["invoice", "other"]))
    sdk.workflows.create(
        name="timed",
        main_node_name="sorter",
        nodes=[{"name": "sorter", "function": {"name": "timed-sorter"}, "review": {"deadlineSeconds": 1}}],  # type: ignore[typeddict-unknown-key]
    )
    [created] = submit(api, {"workflowName": "timed", "input": single(invoice("INV-T"))})
    _held(api, created["callID"])
    [event] = events_of(api, created["callID"], "route")
    assert event["eventID"] in _review_queue(sdk)
    time.sleep(1.2)
    server.engine.sweep(timedelta(minutes=1))
    assert wait_for(api, created["callID"])["status"] == "failed"  # onDeadline: fail by default
    assert event["eventID"] not in _review_queue(sdk)
    assert "needsReview" not in api.get(f"/v1-alpha/events/{event['eventID']}").json()


def test_a_gate_on_one_branch_holds_the_join_until_it_is_decided(sdk: bem.Bem, api: httpx.Client) -> None:
    """A split's items each go through a gated extraction into a join: the join runs once, after
    every item was approved."""
    _paged_functions(api)
    sdk.workflows.create(
        name="paged",
        main_node_name="pages",
        nodes=[
            {"name": "pages", "function": {"name": "pages"}},
            {"name": "page-x", "function": {"name": "page-x"}, "review": {"when": "always"}},  # type: ignore[typeddict-unknown-key]
            {"name": "all-pages", "function": {"name": "all-pages"}},
        ],
        edges=[
            {"source_node_name": "pages", "destination_node_name": "page-x"},
            {"source_node_name": "page-x", "destination_node_name": "all-pages"},
        ],
    )
    pdf = _two_page_pdf()
    [created] = submit(api, {"workflowName": "paged", "input": single(pdf, "pdf")})
    call_id = created["callID"]
    deadline = time.monotonic() + 30
    while len(held := events_of(api, call_id, "transform")) < 2:
        assert time.monotonic() < deadline, get_call(api, call_id)
        time.sleep(0.1)
    first, second = held
    sdk.events.submit_feedback(first["eventID"], correction=first["transformedContent"])
    time.sleep(1)
    call = get_call(api, call_id)
    assert call["status"] == "running"
    joins = [fc["status"] for fc in call["functionCalls"] if fc["functionName"] == "all-pages"]
    assert joins in ([], ["pending"]), call  # the first item fed the join; it waits for the second
    sdk.events.submit_feedback(second["eventID"], correction=second["transformedContent"])
    call = wait_for(api, call_id)
    assert call["status"] == "completed", call
    assert [fc["functionName"] for fc in call["functionCalls"]].count("all-pages") == 1
    assert len(events_of(api, call_id, "transform")) == 2


def _paged_functions(api: httpx.Client) -> None:
    """A page split, an extraction of a page (``page-x``) and a join of the pages (``all-pages``)."""
    split = {"functionName": "pages", "type": "split", "splitType": "print_page", "printPageSplitConfig": {}}
    create_function(api, split)
    create_function(api, transform("page-x"))
    create_function(api, transform("all-pages", type="join", joinType="standard", description="Both pages"))


def _two_page_pdf() -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.set_font("Helvetica", size=12)
    for number in ("INV-P1", "INV-P2"):
        document.add_page()
        for line in invoice(number).decode().splitlines():
            document.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


# --- configuring gates ----------------------------------------------------------------------------


def test_v2_review_gates_are_set_read_and_checked(api: httpx.Client) -> None:
    create_function(api, transform("v2-x"))
    create_function(api, shaping("v2-s", "@"))
    body = {
        "name": "v2-gated",
        "mainFunction": {"name": "v2-x"},
        "relationships": [{"sourceFunction": {"name": "v2-x"}, "destinationFunction": {"name": "v2-s"}}],
        "reviewGates": [{"function": {"name": "v2-x"}, "when": "needsReview", "deadlineSeconds": 3600}],
    }
    created = api.post("/v2/workflows", json=body)
    assert created.status_code == 200, created.text
    [gate] = created.json()["workflow"]["reviewGates"]
    assert (gate["function"]["name"], gate["when"], gate["deadlineSeconds"], gate["onDeadline"]) == (
        "v2-x", "needsReview", 3600, "fail",
    )  # fmt: skip
    plain = create_workflow(api, "v2-plain", "v2-s")
    assert "reviewGates" not in plain

    shaped = body | {"name": "v2-bad", "reviewGates": [{"function": {"name": "v2-s"}}]}
    error = assert_error(api.post("/v2/workflows", json=shaped), 400, "reviewGates[0].function")
    assert "payload_shaping" in error["message"] + str(error["details"])
    stranger = body | {"name": "v2-bad", "reviewGates": [{"function": {"name": "nowhere"}}]}
    assert_error(api.post("/v2/workflows", json=stranger), 400, "reviewGates[0].function")
    twice = body | {"name": "v2-bad", "reviewGates": [{"function": {"name": "v2-x"}}] * 2}
    assert_error(api.post("/v2/workflows", json=twice), 400, "reviewGates[1].function")
    pinned = body | {"name": "v2-bad", "reviewGates": [{"function": {"name": "v2-x", "versionNum": 1}}]}
    assert_error(api.post("/v2/workflows", json=pinned), 400, "reviewGates[0].function.versionNum")
    for bad in ({"when": "sometimes"}, {"deadlineSeconds": 0}, {"onDeadline": "retry"}, {"who": "me"}):
        gate = {"function": {"name": "v2-x"}} | bad
        assert api.post("/v2/workflows", json=body | {"name": "v2-bad", "reviewGates": [gate]}).status_code == 400
    alone = api.patch("/v2/workflows/v2-gated", json={"reviewGates": []})
    assert_error(alone, 400, "reviewGates")
    ungated = api.patch(
        "/v2/workflows/v2-gated", json={"mainFunction": {"name": "v2-x"}, "relationships": body["relationships"]}
    )
    assert "reviewGates" not in ungated.json()["workflow"]  # the graph changes as a whole


def test_v3_review_only_on_nodes_a_person_can_correct(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, shaping("v3-s", "@"))
    with pytest.raises(bem.BadRequestError) as refused:
        sdk.workflows.create(
            name="v3-bad",
            main_node_name="s",
            nodes=[{"name": "s", "function": {"name": "v3-s"}, "review": {"when": "always"}}],  # type: ignore[typeddict-unknown-key]
        )
    assert refused.value.body["details"]["field"] == "nodes[0].review"  # type: ignore[index]


# --- durability -----------------------------------------------------------------------------------

KEY = "review-gate-test-key"


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    with quarry_env(request.param, tmp_path / "data", "quarry_review_gates", QUARRY_API_KEY=KEY) as env:
        yield env


def test_a_gated_call_survives_kill_9_while_waiting_and_after_the_decision(served: dict[str, str]) -> None:
    """Killed while the call waits, and again right after the approval: the call completes with the
    corrected value, and nothing ran twice."""
    server = ServerProcess(served)
    try:
        with _clients(server) as (api, sdk):
            _gated_workflow(sdk, api, "durable", {"when": "always"})
            call_id = _call(api, "durable", "INV-K")
            _held(api, call_id)
    finally:
        server.kill()

    server = ServerProcess(served)
    try:
        with _clients(server) as (api, sdk):
            held = _held(api, call_id)  # still waiting after the restart, and not run again
            assert [fc["functionName"] for fc in held["functionCalls"]] == ["durable-x"]
            event = _held_event(api, call_id)
            sdk.events.submit_feedback(event["eventID"], correction={"invoiceNumber": "INV-K2", "totalAmount": 1.0})
    finally:
        server.kill()  # at once: the review job may not have run yet

    server = ServerProcess(served)
    try:
        with _clients(server) as (api, _):
            call = wait_for(api, call_id)
            assert call["status"] == "completed"
            assert [fc["functionName"] for fc in call["functionCalls"]] == ["durable-x", "durable-s"]
            [shaped] = events_of(api, call_id, "payload_shaping")
            assert shaped["transformedContent"] == {"number": "INV-K2", "total": 1.0}
            assert len(events_of(api, call_id, "transform")) == 1
    finally:
        server.stop()


@contextmanager
def _clients(server: ServerProcess) -> Iterator[tuple[httpx.Client, bem.Bem]]:
    with (
        httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api,
        bem.Bem(api_key=KEY, base_url=server.url, _strict_response_validation=True, max_retries=0) as sdk,
    ):
        yield api, sdk


def test_a_decision_while_a_sibling_branch_runs_leaves_the_join_to_the_last_branch(
    served: dict[str, str],
) -> None:
    """split -> {page-x (gated), slow-x (a model that answers after seconds)} -> join: the pages are
    approved while the model still works; the join then runs once, after the model's branches,
    and nothing runs twice."""
    model = SlowModel({"invoiceNumber": "SLOW"}, delay=8)
    llm = {"QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "patient", "QUARRY_LLM_TIMEOUT_SECONDS": "60"}
    server = ServerProcess(served | llm)
    try:
        with _clients(server) as (api, sdk):
            _paged_functions(api)
            create_function(api, transform("slow-x", provider="openai"))
            sdk.workflows.create(
                name="raced",
                main_node_name="pages",
                nodes=[
                    {"name": "pages", "function": {"name": "pages"}},
                    {"name": "page-x", "function": {"name": "page-x"}, "review": {"when": "always"}},  # type: ignore[typeddict-unknown-key]
                    {"name": "slow-x", "function": {"name": "slow-x"}},
                    {"name": "all-pages", "function": {"name": "all-pages"}},
                ],
                edges=[
                    {"source_node_name": "pages", "destination_node_name": "page-x"},
                    {"source_node_name": "pages", "destination_node_name": "slow-x"},
                    {"source_node_name": "page-x", "destination_node_name": "all-pages"},
                    {"source_node_name": "slow-x", "destination_node_name": "all-pages"},
                ],
            )
            [created] = submit(api, {"workflowName": "raced", "input": single(_two_page_pdf(), "pdf")})
            call_id = created["callID"]
            deadline = time.monotonic() + 60
            while len(held := events_of(api, call_id, "transform")) < 2:
                assert time.monotonic() < deadline, get_call(api, call_id)
                time.sleep(0.1)
            for event in held:
                sdk.events.submit_feedback(event["eventID"], correction=event["transformedContent"])
            slow = [fc for fc in get_call(api, call_id)["functionCalls"] if fc["functionName"] == "slow-x"]
            assert {fc["status"] for fc in slow} <= {"pending", "running"}, (
                "the model answered first: this proves nothing"
            )

            call = wait_for(api, call_id, seconds=120)
            assert call["status"] == "completed", call
            fcs = call["functionCalls"]
            names = sorted(fc["functionName"] for fc in fcs)
            assert names == ["all-pages", "page-x", "page-x", "pages", "slow-x", "slow-x"]
            [join] = [fc for fc in fcs if fc["functionName"] == "all-pages"]
            last_branch = max(parse_time(fc["finishedAt"]) for fc in fcs if fc["functionName"] in ("page-x", "slow-x"))
            assert parse_time(join["startedAt"]) >= last_branch  # it waited for every branch
            assert len(events_of(api, call_id, "transform")) == 4  # two pages, two branches each: no rerun
            assert model.requests == 2
    finally:
        server.stop()
        model.close()
