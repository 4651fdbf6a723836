"""The dense logic of function accuracy, unit by unit: confusion counts of one output (aligned
arrays, true negatives, classifications), review intervals and the area under the
precision–recall curve against textbook values, and what an evaluation calls relevant."""

from __future__ import annotations

import pytest

from quarry.accuracy import confusion, review
from quarry.accuracy.confusion import Sample
from quarry.accuracy.evaluation import defines, evaluate
from quarry.documents.model import text_document
from quarry.transformations.metrics import align, leaves, origins

SCHEMA = {
    "type": "object",
    "properties": {
        "number": {"type": "string"},
        "total": {"type": "number"},
        "note": {"type": "string"},
        "buyer": {"type": "object", "properties": {"name": {"type": "string"}, "vat": {"type": "string"}}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    },
}


def test_an_extraction_counts_each_leaf_once_per_way_it_is_wrong() -> None:
    extracted = {"number": "A-1", "total": 10, "buyer": {"name": "Acme"}, "lines": [{"sku": "Y"}, {"sku": "X"}]}
    corrected = {"number": "A-1", "total": 12, "buyer": {"name": "Acme", "vat": "DE1"}, "lines": [{"sku": "X"}]}
    confidences = {"/number": 0.9, "/total": 0.8, "/buyer/name": 0.7, "/lines/0/sku": 0.6, "/lines/1/sku": 0.5}
    outcome = confusion.extraction(extracted, corrected, False, SCHEMA, confidences)
    # number, buyer/name and lines/0/sku (X, aligned with the corrected row) right; total wrong
    # (FP and FN); vat missed (FN); the extra row Y (FP); note said by neither (TN)
    assert (outcome.counts.tp, outcome.counts.fp, outcome.counts.fn, outcome.counts.tn) == (3, 2, 2, 1)
    assert outcome.fields["/lines/*/sku"].tp == 1 and outcome.fields["/lines/*/sku"].fp == 1
    assert outcome.fields["/note"].tn == 1 and outcome.fields["/total"].fp == outcome.fields["/total"].fn == 1
    # each sample keeps the confidence of the value as the extraction stated it
    by_confidence = {s.confidence: s.correct for s in outcome.samples}
    assert by_confidence == {0.9: True, 0.8: False, 0.7: True, 0.6: False, 0.5: True}
    assert not outcome.correct


def test_alignment_origins_point_back_at_the_extraction() -> None:
    extracted = {"rows": [{"a": 1, "b": [{"c": "z"}, {"c": "y"}]}, {"a": 2}, {"a": 9}]}
    corrected = {"rows": [{"a": 2}, {"a": 1, "b": [{"c": "y"}]}]}
    aligned = dict(leaves(align(extracted, corrected)))
    where = origins(extracted, corrected)
    assert set(where) == set(aligned)
    flat = dict(leaves(extracted))
    for aligned_pointer, original in where.items():
        assert aligned[aligned_pointer] == flat[original]


def test_a_classification_is_one_versus_rest() -> None:
    right = confusion.classification("invoice", "invoice", ["invoice", "receipt", "other"])
    wrong = confusion.classification("receipt", "invoice", ["invoice", "receipt", "other"])
    assert (right.counts.tp, right.counts.fp, right.counts.fn, right.counts.tn) == (1, 0, 0, 2)
    assert (wrong.counts.tp, wrong.counts.fp, wrong.counts.fn, wrong.counts.tn) == (0, 1, 1, 1)
    assert wrong.confusion == {"invoice": {"receipt": 1}}


def test_rates_without_anything_counted_are_unknown() -> None:
    assert confusion.Counts().rates() == {"accuracy": None, "precision": None, "recall": None, "f1Score": None}
    assert confusion.Counts(tp=0, fp=2, fn=1).rates()["f1Score"] == 0.0


@pytest.mark.parametrize(
    ("method", "lower", "upper"),
    [("wald", 0.552082, 1.0), ("wilson", 0.490162, 0.943318)],  # 8 of 10 at 95 %
)
def test_intervals_have_their_textbook_bounds(method: str, lower: float, upper: float) -> None:
    interval = review.interval(8, 10, 95, method, 0.05)
    assert interval["mid"] == 0.8 and interval["currentSample"] == 10
    assert interval["ciLower"] == pytest.approx(lower, abs=1e-5)
    assert interval["ciUpper"] == pytest.approx(upper, abs=1e-5)
    assert interval["sampleNeeded"] == 246  # 1.96² · 0.8 · 0.2 / 0.05², rounded up


def test_an_interval_without_samples_has_no_bounds_and_plans_for_the_worst() -> None:
    interval = review.interval(0, 0, 95, "wald", 0.05)
    assert (interval["mid"], interval["ciLower"], interval["ciUpper"]) == (None, None, None)
    assert interval["sampleNeeded"] == 385  # 1.96² · 0.25 / 0.05²


def test_precision_recall_auc_is_the_average_precision() -> None:
    samples = [Sample(0.9, True), Sample(0.8, False), Sample(0.7, True), Sample(0.2, False)]
    assert review.precision_recall_auc(samples) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    tied = [Sample(0.5, True), Sample(0.5, False)]
    assert review.precision_recall_auc(tied) == pytest.approx(0.5)
    assert review.precision_recall_auc([Sample(0.9, False)]) is None


def test_thresholds_include_the_last_step() -> None:
    assert review.thresholds(0.5, 0.95, 0.05) == pytest.approx([0.5 + 0.05 * i for i in range(10)])
    assert review.thresholds(0.3, 0.3, 0.1) == [0.3]


def test_relevance_follows_the_schema_through_objects_arrays_and_branches() -> None:
    assert defines(SCHEMA, "/buyer/vat") and defines(SCHEMA, "/lines/3/sku")
    assert not defines(SCHEMA, "/buyer/iban") and not defines(SCHEMA, "/colour")
    either = {"anyOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]}
    assert defines(either, "/b") and not defines(either, "/c")
    assert defines({"properties": {"x": {"$ref": "#/$defs/X"}}}, "/x/anything")


def test_an_evaluation_caps_what_it_finds_wrong() -> None:
    document = text_document("text", "Invoice A-1\nTotal 10.00\n")
    content = {"number": "A-1", "total": 99, "colour": "blue", "note": 5}
    result = evaluate(content, SCHEMA, {"/number": 0.95, "/total": 0.9, "/note": 0.9}, [document])
    fields = result["fields"]
    assert fields["/number"]["grounded"] and fields["/number"]["confidence"] == 0.95
    assert fields["/total"]["hallucinated"] and fields["/total"]["confidence"] == 0.3
    assert not fields["/colour"]["relevant"] and fields["/colour"]["confidence"] <= 0.5
    assert not fields["/note"]["valid"] and fields["/note"]["confidence"] <= 0.4
    assert result["relevance"] == 0.75 and result["validity"] == 0.75


def test_validity_blames_the_keys_an_object_error_is_about() -> None:
    seller = {"type": "object", "properties": {"name": {"type": "string"}, "vat": {"type": "string"}}}
    schema = {
        "type": "object",
        "properties": {"seller": {**seller, "required": ["name", "vat"], "additionalProperties": False}},
    }
    result = evaluate({"seller": {"name": "ACME", "note": "x"}}, schema, {}, [text_document("text", "ACME x")])
    assert result["fields"]["/seller/name"]["valid"] and not result["fields"]["/seller/note"]["valid"]
    assert result["missingRequired"] == ["/seller/vat"]


def test_true_negatives_are_counted_for_typed_scalars_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "n": {"type": ["number", "null"]},
            "ref": {"$ref": "#/$defs/Party"},
            "either": {"anyOf": [{"type": "object"}, {"type": "null"}]},
            "nested": {"type": "object", "properties": {"b": {"type": "boolean"}}},
            "rows": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert confusion.scalar_fields(schema) == ["/a", "/n", "/nested/b"]
