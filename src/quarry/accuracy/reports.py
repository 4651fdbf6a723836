"""The answers of ``GET /v3/functions/metrics``, ``POST /v3/functions/review`` and
``POST /v3/functions/compare``, in bem's shapes, from the tallies of labelled outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from quarry.accuracy import review, versions
from quarry.accuracy.evaluations import evaluation_version
from quarry.accuracy.tally import Selection, Tally, merged, tally
from quarry.catalog import functions as catalog
from quarry.errors import bad_request
from quarry.functions import service as functions

EXTRACTION_TYPES = ("transform", "analyze", "join")
"""Function types whose outputs have fields and confidences: those a review estimate is made for."""
LIFT_REPORTED = 1.0  # percent: a field's change is listed when one of its metrics moved by more
METRIC_NAMES = ("accuracy", "precision", "recall", "f1Score")


def metrics_page(session: Session, environment_id: str, query: Any, where: list[Any] | None = None) -> dict[str, Any]:
    """A page of the environment's functions (the filters and cursors of ``GET /v3/functions``,
    ``where`` as in ``catalog.functions.list_functions``) with what their labelled outputs add up
    to: all versions together, and (Quarry's additions) per version and per field, and a route
    function's confusion matrix."""
    page = catalog.list_functions(session, environment_id, query, where)
    answers = []
    for item in page.items:
        function = item.function
        by_version = tally(session, environment_id, function.id, Selection())
        total = merged(by_version)
        entry: dict[str, Any] = {
            "functionID": function.id,
            "functionName": function.name,
            "functionType": function.type,
            "metrics": total.counts.as_wire(),
            "totalResults": total.results,
            "totalLabeledResults": total.labelled,
            "fieldMetrics": total.field_metrics(),
            "versions": [
                {
                    "versionNum": version,
                    "metrics": one.counts.as_wire(),
                    "totalResults": one.results,
                    "totalLabeledResults": one.labelled,
                }
                for version, one in sorted(by_version.items())
            ],
        }
        if function.type == "route":
            entry["routeConfusion"] = total.confusion
        answers.append(entry)
    return {"functions": answers, "totalCount": page.total_count}


@dataclass
class ReviewRequest:
    function_name: str
    function_version_num: int | None = None
    evaluation_version: str | None = None
    is_regression: bool = False
    confidence_levels: list[int] | None = None
    confidence_method: str = "wald"
    margin_of_error: float = review.MARGIN_OF_ERROR
    threshold_min: float = review.THRESHOLDS[0]
    threshold_max: float = review.THRESHOLDS[1]
    threshold_step: float = review.THRESHOLDS[2]


def review_estimate(session: Session, environment_id: str, request: ReviewRequest) -> dict[str, Any]:
    """bem's review estimate of one version of an extraction function (see ``review.py``)."""
    function = functions.get_live(session, environment_id, request.function_name)
    if function.type not in EXTRACTION_TYPES:
        raise bad_request(
            f"function {function.name!r} is a {function.type} function: review estimates are made for "
            "extract, analyze and join functions, whose fields carry confidences",
            field="functionName",
        )
    version = versions.existing(session, function, request.function_version_num, "functionVersionNum")
    levels = request.confidence_levels or list(review.CONFIDENCE_LEVELS)
    if not request.threshold_min <= request.threshold_max:
        raise bad_request("thresholdMin must not be above thresholdMax", field="thresholdMin")
    span = request.threshold_min, request.threshold_max, request.threshold_step
    if review.threshold_count(*span) > review.MAX_THRESHOLDS:
        raise bad_request(f"at most {review.MAX_THRESHOLDS} thresholds: raise thresholdStep", field="thresholdStep")
    cuts = review.thresholds(*span)
    selection = Selection(
        versions=[version],
        regression=request.is_regression,
        evaluation_version=evaluation_version(request.evaluation_version),
    )
    counted = tally(session, environment_id, function.id, selection).get(version, Tally())
    margin, method = request.margin_of_error, request.confidence_method
    return {
        "functionName": function.name,
        "functionVersionNum": version,
        "estimate": {
            "totalTransformations": counted.results,
            "labeledTransformations": counted.labelled,
            "unlabeledTransformations": counted.results - counted.labelled,
            "missingEvaluations": counted.results - counted.evaluated,
            "confidenceDistribution": review.distribution(counted.confidences),
            "thresholdMatrix": [review.threshold_row(counted.samples, t, levels, method, margin) for t in cuts],
            "labeledFields": len(counted.samples),
        },
        "metrics": counted.details(),
    }


def _comparison(baseline: float | None, comparison: float | None) -> dict[str, float | None]:
    """bem's ``MetricComparison``: the lift is ``None`` where the baseline is missing or 0."""
    both = baseline is not None and comparison is not None
    difference = round(comparison - baseline, 6) if both else None  # type: ignore[operator]
    lift = round(difference / baseline * 100, 4) if both and baseline else None  # type: ignore[operator]
    return {"baselineValue": baseline, "comparisonValue": comparison, "difference": difference, "liftPercent": lift}


def _metrics_comparison(baseline: dict[str, Any], comparison: dict[str, Any]) -> dict[str, Any]:
    return {name: _comparison(baseline.get(name), comparison.get(name)) for name in METRIC_NAMES}


def _changed(change: dict[str, Any]) -> bool:
    """A field's change worth listing: a metric that moved by more than ``LIFT_REPORTED`` percent,
    or one that appeared or vanished."""
    for metric in change.values():
        if (metric["baselineValue"] is None) != (metric["comparisonValue"] is None):
            return True
        if metric["liftPercent"] is not None and abs(metric["liftPercent"]) > LIFT_REPORTED:
            return True
        if metric["liftPercent"] is None and metric["difference"]:  # from a baseline of 0
            return True
    return False


@dataclass
class CompareRequest:
    function_name: str
    baseline_version_num: int | None = None
    comparison_version_num: int | None = None
    is_regression: bool = False


def compare(session: Session, environment_id: str, request: CompareRequest) -> dict[str, Any]:
    """Two versions' metrics side by side, with the lift of each metric overall and per field.

    With ``isRegression`` the comparison version's regression outputs are compared with the
    baseline outputs they replayed (the same inputs, both labelled); without it, each version's
    own labelled outputs."""
    function = functions.get_live(session, environment_id, request.function_name)
    versions_asked = request.baseline_version_num, request.comparison_version_num
    baseline_version, comparison_version = versions.pair(session, function, *versions_asked)
    if request.is_regression:  # the same inputs on both sides: the replays of the baseline's outputs, and those
        replays = Selection([comparison_version], regression=True, replaying=baseline_version)
        replayed = Selection([baseline_version], replayed_by=comparison_version)
        compared = tally(session, environment_id, function.id, replays)
        base = tally(session, environment_id, function.id, replayed)
    else:
        compared = tally(session, environment_id, function.id, Selection([comparison_version]))
        base = tally(session, environment_id, function.id, Selection([baseline_version]))
    before, after = base.get(baseline_version, Tally()), compared.get(comparison_version, Tally())
    before_details, after_details = before.details(), after.details()
    answer: dict[str, Any] = {
        "functionName": function.name,
        "baselineVersionNum": baseline_version,
        "comparisonVersionNum": comparison_version,
        "baselineMetrics": before_details,
        "comparisonMetrics": after_details,
        "baselineTransformationCount": before.labelled,
        "comparisonTransformationCount": after.labelled,
        "aggregateComparison": _metrics_comparison(before.counts.rates(), after.counts.rates()),
        "fieldMetricsChanges": _field_changes(before, after),
    }
    if not before.labelled or not after.labelled:
        empty = [f"version {v}" for v, t in ((baseline_version, before), (comparison_version, after)) if not t.labelled]
        scope = " regression" if request.is_regression else ""
        answer["message"] = f"no labelled{scope} outputs for {' and '.join(empty)}: send corrections first"
    return answer


def _field_changes(before: Tally, after: Tally) -> list[dict[str, Any]]:
    changes = []
    for path in sorted(set(before.fields) | set(after.fields)):
        old = before.fields[path].rates() if path in before.fields else {}
        new = after.fields[path].rates() if path in after.fields else {}
        change = _metrics_comparison(old, new)
        if _changed(change):
            changes.append({"fieldPath": path, "comparison": change})
    return changes
