"""Function accuracy through the official SDK (strict), on both databases: extractions of real
documents corrected by feedback, then metrics, a review estimate, a regression of version 2
against version 1 and the comparison of the two, evaluations and score runs — each checked
against a count this test makes itself from the events."""

from __future__ import annotations

import time
from typing import Any

import bem
import httpx
import pytest

from quarry.events.models import Event
from quarry.storage.blobs import open_blob_store
from tests import documents
from tests.calls_client import b64, batch, events_of, single, submit, wait_for
from tests.conftest import Server
from tests.helpers import assert_error, create_function, route

V1_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "issuer": {"type": "string", "description": "the seller's company name"},
        "totalAmount": {"type": "number"},
        "poNumber": {"type": "string", "description": "purchase order number"},
    },
}
V2_SCHEMA = {**V1_SCHEMA, "properties": {**V1_SCHEMA["properties"], "currency": {"type": "string"}}}
WAIT_SECONDS = 60
HOOK = "http://127.0.0.1:9/hooks/quarry"  # nobody listens: deliveries are recorded, and fail


def text_invoice(number: str, day: int, total: str) -> bytes:
    lines = ["Northwind Traders GmbH", f"Invoice Number: {number}", f"Invoice Date: 2024-03-{day:02d}"]
    lines.append(f"Total: {total} EUR")
    return "\n".join(lines).encode()


def samples() -> list[tuple[bytes, str]]:
    """Real documents: the same invoice as PDF, DOCX and text, and small text invoices."""
    return [
        (documents.pdf(), "pdf"),
        (documents.docx(), "docx"),
        (documents.text(), "text"),
        (text_invoice("N-101", 4, "99.10"), "text"),
        (text_invoice("N-102", 5, "250.00"), "text"),
    ]


def extract_all(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    """Call ``name`` on every sample; each call's transform event."""
    created = submit(api, *({"functionName": name, "input": single(data, kind)} for data, kind in samples()))
    found = []
    for call in created:
        finished = wait_for(api, call["callID"])
        assert finished["status"] == "completed", finished
        [event] = events_of(api, call["callID"], "transform")
        found.append(event)
    return found


def correction_of(event: dict[str, Any], index: int) -> dict[str, Any]:
    """What a person would send: the output as it is for some, a changed value, a removed value,
    an added value for others — and the currency, which version 1 cannot extract."""
    corrected = dict(event["transformedContent"])
    if index == 1:
        corrected["issuer"] = "Somebody Else AG"
    if index == 2:
        corrected.pop("invoiceDate", None)
    if index == 3:
        corrected["poNumber"] = "PO-77"
    corrected["currency"] = "EUR"
    return corrected


def count(extracted: dict[str, Any], corrected: dict[str, Any], schema: dict[str, Any]) -> dict[str, int]:
    """This test's own confusion count of a flat extraction (every property a scalar)."""
    tally = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    stated = {k: v for k, v in extracted.items() if v is not None}
    right = {k: v for k, v in corrected.items() if v is not None}
    for key in set(stated) | set(right):
        if key in stated and key in right:
            if stated[key] == right[key]:
                tally["tp"] += 1
            else:
                tally["fp"] += 1
                tally["fn"] += 1
        elif key in stated:
            tally["fp"] += 1
        else:
            tally["fn"] += 1
    tally["tn"] += sum(1 for key in schema["properties"] if key not in stated and key not in right)
    return tally


def add(total: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        total[key] += value


def wait_call(sdk: bem.Bem, call_id: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        call = sdk.calls.retrieve(call_id).call
        if call.status in ("completed", "failed") or time.monotonic() > deadline:
            return call
        time.sleep(0.1)


@pytest.fixture
def labelled(sdk: bem.Bem, api: httpx.Client) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """A function whose version 1 extracted every sample, each output corrected through feedback."""
    name = f"acc-{time.monotonic_ns()}"
    sdk.functions.create(function_name=name, type="extract", output_schema_name="Invoice", output_schema=V1_SCHEMA)
    events = extract_all(api, name)
    corrections = []
    for index, event in enumerate(events):
        corrected = correction_of(event, index)
        sdk.events.submit_feedback(event["eventID"], correction=corrected)
        corrections.append(corrected)
    return name, events, corrections


def test_metrics_match_an_independent_count_of_the_corrections(
    sdk: bem.Bem, labelled: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    name, events, corrections = labelled
    expected = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for event, corrected in zip(events, corrections, strict=True):
        add(expected, count(event["transformedContent"], corrected, V1_SCHEMA))
    assert expected["fp"] and expected["fn"] and expected["tn"]  # the corrections exercise every count

    answer = sdk.functions.get_metrics(function_names=[name])
    assert answer.total_count == 1
    [function] = answer.functions
    metrics = function.metrics
    assert (metrics.tp, metrics.fp, metrics.fn, metrics.tn) == tuple(expected[k] for k in ("tp", "fp", "fn", "tn"))
    assert function.total_results == function.total_labeled_results == len(events)
    tp, fp, fn, tn = (expected[k] for k in ("tp", "fp", "fn", "tn"))
    assert metrics.precision == pytest.approx(tp / (tp + fp), abs=1e-6)
    assert metrics.recall == pytest.approx(tp / (tp + fn), abs=1e-6)
    assert metrics.accuracy == pytest.approx((tp + tn) / (tp + tn + fp + fn), abs=1e-6)
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert metrics.f1_score == pytest.approx(2 * p * r / (p + r), abs=1e-6)
    # Quarry's additions: per version, and per field (the issuer was corrected once)
    extra = function.model_extra or {}
    assert [v["versionNum"] for v in extra["versions"]] == [1]
    issuer = next(f for f in extra["fieldMetrics"] if f["fieldPath"] == "/issuer")["metrics"]
    pairs = zip(events, corrections, strict=True)
    wrong_issuers = sum(1 for event, right in pairs if event["transformedContent"].get("issuer") != right["issuer"])
    assert issuer["fp"] == wrong_issuers >= 1


def test_review_estimate_thresholds_agree_with_the_events(
    sdk: bem.Bem, labelled: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    name, events, corrections = labelled
    estimate = sdk.functions.estimate_review_requirements(
        function_name=name, threshold_min=0.5, threshold_max=0.9, threshold_step=0.1, confidence_method="wilson",
        confidence_levels=[95],
    )  # fmt: skip
    assert estimate.function_version_num == 1
    assert estimate.estimate.total_transformations == estimate.estimate.labeled_transformations == len(events)
    assert estimate.estimate.unlabeled_transformations == 0
    assert estimate.estimate.missing_evaluations == len(events)  # none evaluated yet
    fields = [
        (event["fieldConfidences"][f"/{key}"], corrected.get(key) == value)
        for event, corrected in zip(events, corrections, strict=True)
        for key, value in event["transformedContent"].items()
        if value is not None
    ]
    assert [row.threshold for row in estimate.estimate.threshold_matrix] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    for row in estimate.estimate.threshold_matrix:
        tp = sum(1 for c, right in fields if c >= row.threshold and right)
        fp = sum(1 for c, right in fields if c >= row.threshold and not right)
        fn = sum(1 for c, right in fields if c < row.threshold and right)
        tn = sum(1 for c, right in fields if c < row.threshold and not right)
        assert (row.tp, row.fp, row.fn, row.tn) == (tp, fp, fn, tn), row.threshold
        precision = row.precision["95"]
        assert precision.current_sample == tp + fp
        if tp + fp:
            assert precision.mid == pytest.approx(tp / (tp + fp), abs=1e-6)
            assert precision.ci_lower <= precision.mid <= precision.ci_upper
        assert precision.sample_needed > 0
    distribution = estimate.estimate.confidence_distribution
    assert distribution.high + distribution.medium + distribution.low == len(fields)
    assert estimate.metrics.aggregate_metrics.tp is not None


def test_a_regression_of_version_2_against_version_1_shows_the_lift(
    sdk: bem.Bem, api: httpx.Client, labelled: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    name, events, corrections = labelled
    sdk.functions.update(name, type="extract", output_schema_name="Invoice", output_schema=V2_SCHEMA)
    run = sdk.functions.regression.run(function_name=name, extra_headers={"Idempotency-Key": f"{name}-run"})
    assert run.result.total_samples == len(events)
    replayed = sdk.functions.regression.run(function_name=name, extra_headers={"Idempotency-Key": f"{name}-run"})
    assert replayed.result.calls == run.result.calls  # the same request again makes no second run
    by_reference = {e["referenceID"] if "referenceID" in e else "" for e in events}
    assert {c.original_reference_id for c in run.result.calls or []} <= by_reference | {""}
    for replay in run.result.calls or []:
        assert wait_call(sdk, replay.call_id).status == "completed"

    regression_outputs = list(sdk.outputs.list(function_names=[name], is_regression=True))
    assert len(regression_outputs) == len(events)
    assert all(o.to_dict()["isRegression"] for o in regression_outputs)
    assert list(sdk.outputs.list(function_names=[name], is_regression=False, limit=100))  # the originals

    applied = sdk.functions.regression.apply_corrections(
        function_name=name, baseline_version_num=1, comparison_version_num=2
    )
    assert applied.applied == len(events) and applied.skipped == 0 and not applied.errors
    again = sdk.functions.regression.apply_corrections(
        function_name=name, baseline_version_num=1, comparison_version_num=2
    )
    assert (again.applied, again.skipped) == (0, len(events))  # already carried over

    baseline = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for event, corrected in zip(events, corrections, strict=True):
        add(baseline, count(event["transformedContent"], corrected, V1_SCHEMA))
    by_event = {e["eventID"]: c for e, c in zip(events, corrections, strict=True)}
    compared = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for output in regression_outputs:
        event = api.get(f"/v1-alpha/events/{output.event_id}").json()
        add(compared, count(event["transformedContent"], by_event[event["regressionOf"]], V2_SCHEMA))

    comparison = sdk.functions.compare_metrics(function_name=name, is_regression=True)
    assert (comparison.baseline_version_num, comparison.comparison_version_num) == (1, 2)
    assert comparison.baseline_transformation_count == comparison.comparison_transformation_count == len(events)
    recall = comparison.aggregate_comparison.recall  # type: ignore[union-attr]
    assert recall.baseline_value == pytest.approx(baseline["tp"] / (baseline["tp"] + baseline["fn"]), abs=1e-6)
    assert recall.comparison_value == pytest.approx(compared["tp"] / (compared["tp"] + compared["fn"]), abs=1e-6)
    assert recall.comparison_value > recall.baseline_value  # version 2 extracts the currency
    assert recall.lift_percent == pytest.approx((recall.comparison_value / recall.baseline_value - 1) * 100, abs=1e-3)
    currency = next(c for c in comparison.field_metrics_changes or [] if c.field_path == "/currency")
    assert currency.comparison.recall.baseline_value == 0 and currency.comparison.recall.comparison_value == 1  # type: ignore[union-attr]

    # the function's own metrics leave the regression outputs out
    [function] = sdk.functions.get_metrics(function_names=[name]).functions
    assert function.total_results == len(events)


def test_evaluations_score_every_field_of_an_extraction(
    sdk: bem.Bem, labelled: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    _, events, _ = labelled
    ids = [e["transformationID"] for e in events]
    triggered = sdk.eval.trigger_evaluation(transformation_ids=[*ids, "tr_nope"])
    assert (triggered.queued, triggered.skipped) == (len(ids), 0)
    assert set(triggered.errors) == {"tr_nope"}  # type: ignore[arg-type]
    assert sdk.eval.trigger_evaluation(transformation_ids=ids).skipped == len(ids)  # asked again: skipped

    event_ids = ",".join(e["eventID"] for e in events)
    deadline = time.monotonic() + WAIT_SECONDS
    while (results := sdk.eval.results.retrieve_results(event_ids=event_ids)).pending and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not results.pending and not results.failed
    by_event: dict[str, Any] = results.results  # type: ignore[assignment]
    for event in events:
        result = by_event[event["eventID"]]
        stated = {f"/{k}" for k, v in event["transformedContent"].items() if v is not None}
        assert set(result["fields"]) == stated
        assert not result["hallucination"]["detected"], result  # the builtin extractor reads what is written
        for pointer, field in result["fields"].items():
            assert field["valid"] and field["relevant"]
            assert field["confidence"] == pytest.approx(event["fieldConfidences"][pointer], abs=1e-3)
    by_transformation = sdk.eval.results.retrieve_results(transformation_ids=",".join(ids))
    assert set(by_transformation.results) == set(by_event)  # type: ignore[arg-type]

    name = events[0]["functionName"]
    estimate = sdk.functions.estimate_review_requirements(function_name=name, evaluation_version="0.1.0-gemini")
    assert estimate.estimate.missing_evaluations == 0


def test_a_score_run_compares_outputs_with_what_was_expected(sdk: bem.Bem) -> None:
    name = f"score-{time.monotonic_ns()}"
    sdk.functions.create(function_name=name, type="extract", output_schema_name="Invoice", output_schema=V1_SCHEMA)
    right = {"invoiceNumber": "N-7", "totalAmount": 10.5}
    wrong = {"invoiceNumber": "N-8", "totalAmount": 11.0, "poNumber": "PO-1"}
    pairs = [
        {"input": {"input_content": b64(text_invoice("N-7", 1, "10.50")), "input_type": "text"}, "expected": right},
        {"input": {"input_content": b64(text_invoice("N-9", 2, "12.00")), "input_type": "text"}, "expected": wrong},
    ]
    created = sdk.eval.score.create(function_name=name, pairs=pairs)
    deadline = time.monotonic() + WAIT_SECONDS
    while (run := sdk.eval.score.retrieve(created.score_run_id)).status not in ("completed", "error"):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run.status == "completed" and run.progress.completed == 2 and run.progress.total == 2
    first, second = run.per_pair
    assert {r.path: r.match for r in first.field_results or [] if r.path in ("/invoiceNumber", "/totalAmount")} == {
        "/invoiceNumber": "match",
        "/totalAmount": "match",
    }
    results = {r.path: r for r in second.field_results or []}
    assert results["/invoiceNumber"].match == "mismatch" and results["/invoiceNumber"].similarity is not None
    assert results["/totalAmount"].match == "mismatch" and results["/totalAmount"].delta == pytest.approx(1.0)
    assert results["/poNumber"].match == "missing"
    extras = [r for r in second.field_results or [] if r.match == "extra"]
    matches = sum(1 for pair in run.per_pair for r in pair.field_results or [] if r.match == "match")
    aggregate = run.aggregate
    assert (
        aggregate is not None
        and aggregate.matches == matches
        and aggregate.extras == len(extras) + sum(1 for r in first.field_results or [] if r.match == "extra")
    )
    assert aggregate.recall == pytest.approx(matches / aggregate.total_fields_expected)
    cancelled = sdk.eval.score.cancel(created.score_run_id)
    assert cancelled.status == "cancelled"


def test_accuracy_requests_that_cannot_be_served_are_clear_errors(api: httpx.Client) -> None:
    assert_error(api.get("/v3/eval/results"), 400, "eventIDs")
    assert_error(api.get("/v3/eval/results", params={"eventIDs": "a", "transformationIDs": "b"}), 400, "eventIDs")
    assert_error(api.post("/v3/eval", json={"transformationIDs": []}), 400)
    assert_error(api.post("/v3/eval", json={"transformationIDs": ["x"], "evaluationVersion": "9"}), 400)
    assert_error(api.get("/v3/eval/score/scr_nope"), 404)
    assert_error(api.post("/v3/functions/review", json={"functionName": "nope"}), 404)
    assert_error(api.post("/v3/functions/compare", json={"functionName": "nope"}), 404)
    create_function(api, route("acc-router", ["a", "b"]))
    assert_error(api.post("/v3/functions/review", json={"functionName": "acc-router"}), 400, "functionName")
    assert_error(api.post("/v3/functions/compare", json={"functionName": "acc-router"}), 400, "baselineVersionNum")
    assert_error(api.post("/v3/functions/regression", json={"functionName": "acc-router"}), 400)
    assert_error(api.post("/v3/functions/review", json={"functionName": "x", "confidenceLevels": [0.95]}), 400)
    pair = {"input": {"inputType": "text", "inputContent": "eA=="}, "expected": {}}
    body = {"functionName": "acc-router", "pairs": [pair]}
    assert_error(api.post("/v3/eval/score", json=body), 400, "functionName")
    assert_error(api.post("/v3/eval/score", json={"functionName": "acc-router", "datasetID": "gds_1"}), 404)


def test_a_route_functions_metrics_have_a_confusion_matrix(sdk: bem.Bem, api: httpx.Client) -> None:
    name = f"acc-route-{time.monotonic_ns()}"
    create_function(api, route(name, ["invoice", "receipt", "other"]))
    created = submit(api, *({"functionName": name, "input": single(data, kind)} for data, kind in samples()[:3]))
    chosen = []
    for call in created:
        assert wait_for(api, call["callID"])["status"] == "completed"
        [event] = events_of(api, call["callID"], "route")
        chosen.append(event)
    corrected = ["receipt", chosen[1]["choice"], "other"]
    for event, right in zip(chosen, corrected, strict=True):
        assert sdk.events.submit_feedback(event["eventID"], correction=right).function_type == "classify"
    [function] = sdk.functions.get_metrics(function_names=[name], types=["classify"]).functions
    right = sum(1 for event, c in zip(chosen, corrected, strict=True) if event["choice"] == c)
    wrong = len(chosen) - right
    metrics = function.metrics
    assert (metrics.tp, metrics.fp, metrics.fn) == (right, wrong, wrong)
    matrix: dict[str, dict[str, int]] = {}
    for event, c in zip(chosen, corrected, strict=True):
        matrix.setdefault(c, {}).setdefault(event["choice"], 0)
        matrix[c][event["choice"]] += 1
    assert (function.model_extra or {})["routeConfusion"] == matrix


def test_a_regression_replays_each_item_of_a_batch_on_its_own(sdk: bem.Bem, api: httpx.Client) -> None:
    name = f"acc-batch-{time.monotonic_ns()}"
    sdk.functions.create(function_name=name, type="extract", output_schema_name="Invoice", output_schema=V1_SCHEMA)
    files = [(text_invoice("B-1", 1, "1.00"), "text"), (text_invoice("B-2", 2, "2.00"), "text")]
    [call] = submit(api, {"functionName": name, "input": batch(*((data, None, kind) for data, kind in files))})
    assert wait_for(api, call["callID"])["status"] == "completed"
    events = events_of(api, call["callID"], "transform")
    for event in events:
        sdk.events.submit_feedback(event["eventID"], correction=event["transformedContent"])  # approved
    sdk.functions.update(name, type="extract", output_schema_name="Invoice", output_schema=V2_SCHEMA)
    run = sdk.functions.regression.run(function_name=name, sample_size=10)
    assert run.result.total_samples == 2
    numbers = set()
    for replay in run.result.calls or []:
        assert wait_call(sdk, replay.call_id).status == "completed"
        [output] = events_of(api, replay.call_id, "transform")
        assert output["itemCount"] == 1  # one file, not the whole batch again
        numbers.add(output["transformedContent"]["invoiceNumber"])
    assert numbers == {"B-1", "B-2"}
    applied = sdk.functions.regression.apply_corrections(
        function_name=name, baseline_version_num=1, comparison_version_num=2
    )
    assert applied.applied == 2
    comparison = sdk.functions.compare_metrics(function_name=name, is_regression=True)
    assert comparison.baseline_transformation_count == comparison.comparison_transformation_count == 2


def test_an_evaluation_whose_document_is_gone_fails_and_can_be_tried_again(
    sdk: bem.Bem, api: httpx.Client, server: Server
) -> None:
    name = f"acc-gone-{time.monotonic_ns()}"
    sdk.functions.create(function_name=name, type="extract", output_schema_name="Invoice", output_schema=V1_SCHEMA)
    [call] = submit(api, {"functionName": name, "input": single(text_invoice("G-1", 3, "3.00"))})
    assert wait_for(api, call["callID"])["status"] == "completed"
    [event] = events_of(api, call["callID"], "transform")
    blobs = open_blob_store(server.settings)
    with server.db.read() as session:  # where Quarry keeps the file (the API shows a signed URL of it)
        key = session.get_one(Event, event["eventID"]).body["s3BlobKey"]
    kept = blobs.get(key)
    blobs.delete_under(key.rsplit("/", 1)[0])  # as retention removes a call's files

    def evaluated() -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        while (results := sdk.eval.results.retrieve_results(event_ids=event["eventID"])).pending:
            assert time.monotonic() < deadline, results
            time.sleep(0.2)
        return results

    assert sdk.eval.trigger_evaluation(transformation_ids=[event["transformationID"]]).queued == 1
    [failed] = evaluated().failed or []
    assert failed.event_id == event["eventID"] and "no longer stored" in failed.error_message
    blobs.put(key, kept)
    assert sdk.eval.trigger_evaluation(transformation_ids=[event["transformationID"]]).queued == 1  # again
    assert event["eventID"] in evaluated().results  # type: ignore[operator]


def test_trial_outputs_reach_no_webhook_and_no_review_queue(
    sdk: bem.Bem, api: httpx.Client, labelled: tuple[str, list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    name, events, _ = labelled
    hook = sdk.subscriptions.create(name=f"{name}-hook", type="transform", function_name=name, webhook_url=HOOK)
    sdk.functions.update(name, type="extract", output_schema_name="Invoice", output_schema=V2_SCHEMA)
    originals = extract_all(api, name)  # version 2's own outputs: delivered
    run = sdk.functions.regression.run(function_name=name)
    for replay in run.result.calls or []:
        assert wait_call(sdk, replay.call_id).status == "completed"
    regression_ids = {o.event_id for o in sdk.outputs.list(function_names=[name], is_regression=True)}
    assert len(regression_ids) == len(events)
    delivered = api.get(f"/v1-alpha/subscriptions/{hook.subscription_id}/deliveries", params={"limit": 100}).json()
    assert {d["eventID"] for d in delivered["deliveries"]} == {e["eventID"] for e in originals}
    listed = sdk.outputs.list(function_names=[name], limit=100, extra_query={"needsReview": "true"})
    queue = {o.event_id for o in listed}
    assert queue and not queue & regression_ids
