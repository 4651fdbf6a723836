"""Function accuracy: ``/v3/eval`` (evaluations and score runs) and
``/v3/functions/{metrics,review,regression,compare}`` (see ``quarry.accuracy``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, Field
from sqlalchemy.orm import Session

from quarry.accuracy import evaluations, regression, reports, scoring
from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Blobs, Db, EvaluationQueue
from quarry.api.idempotency import Idempotency
from quarry.api.responses import wire_response
from quarry.api.submission import Submit
from quarry.calls.schemas import FileInput
from quarry.calls.submission import Created
from quarry.errors import bad_request
from quarry.functions.models import reading_in_v3_as
from quarry.v3.functions import FunctionListQuery
from quarry.wire import CsvList, VersionNum, WireModel

router = APIRouter(prefix="/v3", tags=["v3 function accuracy"])

IDs = Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)]


# --- evaluations ------------------------------------------------------------------------------


class EvaluationBody(WireModel):
    transformation_ids: IDs = Field(description="Transformation IDs to evaluate, up to 100.")
    evaluation_version: str | None = Field(None, description="quarry-1 (the default); 0.1.0-gemini reads as it.")


class EvaluationTriggered(WireModel):
    queued: int
    skipped: int
    errors: dict[str, str] | None = None


@router.post("/eval", response_model=EvaluationTriggered)
def trigger_evaluation(
    principal: CurrentPrincipal, body: EvaluationBody, db: Db, enqueue: EvaluationQueue
) -> dict[str, Any]:
    """Queue an evaluation of each transformation (extract, analyze or join output) not evaluated
    yet; poll ``GET /v3/eval/results``."""
    version = evaluations.evaluation_version(body.evaluation_version)
    with db.write() as session:
        triggered = evaluations.trigger(session, principal.environment_id, body.transformation_ids, version)
    enqueue(triggered.queued)
    answer: dict[str, Any] = {"queued": len(triggered.queued), "skipped": triggered.skipped}
    if triggered.errors:
        answer["errors"] = triggered.errors
    return answer


class ResultsQuery(WireModel):
    event_ids: CsvList = None
    transformation_ids: CsvList = None
    evaluation_version: str | None = None


class Pending(WireModel):
    event_id: str
    created_at: AwareDatetime


class Failed(Pending):
    error_message: str


class EvaluationResults(WireModel):
    results: dict[str, Any]
    pending: list[Pending]
    failed: list[Failed]


@router.get("/eval/results", response_model=EvaluationResults)
def evaluation_results(principal: CurrentPrincipal, query: Annotated[ResultsQuery, Query()], db: Db) -> Any:
    """The state of each named event's evaluation, keyed by event ID: ``results``, ``pending``, ``failed``."""
    if (query.event_ids is None) == (query.transformation_ids is None):
        raise bad_request("give eventIDs or transformationIDs (one of them)", field="eventIDs")
    ids = query.event_ids or query.transformation_ids or []
    if len(ids) > evaluations.MAX_IDS:
        raise bad_request(f"at most {evaluations.MAX_IDS} IDs per request", field="eventIDs")
    version = evaluations.evaluation_version(query.evaluation_version)
    with db.read() as session:
        found = evaluations.results(session, principal.environment_id, ids, query.event_ids is not None, version)
    return wire_response(
        EvaluationResults, {"results": found.results, "pending": found.pending, "failed": found.failed}
    )


# --- score runs -------------------------------------------------------------------------------


class Pair(WireModel):
    expected: Any
    input: FileInput


class ScoreBody(WireModel):
    function_name: str
    dataset_id: str | None = None
    function_version_num: VersionNum | None = None
    pairs: list[Pair] | None = None


class ScoreCreated(WireModel):
    score_run_id: str
    status: str


@router.post("/eval/score", response_model=ScoreCreated, status_code=202)
def create_score_run(
    principal: CurrentPrincipal, body: ScoreBody, db: Db, settings: AppSettings, submit: Submit, idem: Idempotency
) -> Any:
    """Run a function over (input, expected) pairs, one call each; read the comparison with
    ``GET /v3/eval/score/{scoreRunID}``."""
    if body.dataset_id is not None and body.pairs is not None:
        raise bad_request("give pairs or datasetID, not both", field="pairs")
    with db.read() as session:
        plan = scoring.plan_run(session, principal.environment_id, body, settings.max_input_bytes)

    def record(session: Session, created: Created) -> None:
        plan.record(session, principal.environment_id, [call.id for call, _ in created])

    answer = {"scoreRunID": plan.run_id, "status": "pending"}
    _, response = submit(principal, plan.calls, idem, lambda _: answer, also=record)
    return response


@router.get("/eval/score/{scoreRunID}")
def get_score_run(principal: CurrentPrincipal, scoreRunID: Annotated[str, Path()], db: Db) -> dict[str, Any]:
    """The run's status and each pair's comparison, worked out now from the stored outputs."""
    with db.read() as session:
        return scoring.render(session, scoring.find_run(session, principal.environment_id, scoreRunID))


@router.post("/eval/score/{scoreRunID}/cancel")
def cancel_score_run(principal: CurrentPrincipal, scoreRunID: Annotated[str, Path()], db: Db) -> dict[str, Any]:
    """Mark the run cancelled; calls already submitted still finish."""
    with db.write() as session:
        scoring.cancel(session, principal.environment_id, scoreRunID)
    with db.read() as session:  # compared after the write: no lock held meanwhile
        return scoring.render(session, scoring.find_run(session, principal.environment_id, scoreRunID))


# --- functions: metrics, review, compare, regression -----------------------------------------


class MetricsQuery(FunctionListQuery):
    pass


@router.get("/functions/metrics")
def function_metrics(principal: CurrentPrincipal, query: Annotated[MetricsQuery, Query()], db: Db) -> dict[str, Any]:
    """Accuracy, precision, recall, F1 and confusion counts of each function from its corrected
    outputs (the filters and cursors of ``GET /v3/functions``)."""
    where = [reading_in_v3_as(query.types)] if query.types is not None else []
    with db.read() as session:
        return reports.metrics_page(session, principal.environment_id, query.model_copy(update={"types": None}), where)


class ReviewBody(WireModel):
    function_name: str
    confidence_levels: list[Annotated[int, Field(ge=1, le=99, strict=True)]] | None = Field(None, max_length=10)
    confidence_method: Literal["wald", "wilson"] = "wald"
    evaluation_version: str | None = None
    function_version_num: VersionNum | None = None
    is_regression: bool = False
    margin_of_error: float = Field(reports.review.MARGIN_OF_ERROR, ge=0.001, lt=1)
    threshold_max: float = Field(reports.review.THRESHOLDS[1], ge=0, le=1)
    threshold_min: float = Field(reports.review.THRESHOLDS[0], ge=0, le=1)
    threshold_step: float = Field(reports.review.THRESHOLDS[2], ge=0.001, le=1)


@router.post("/functions/review")
def estimate_review(principal: CurrentPrincipal, body: ReviewBody, db: Db) -> dict[str, Any]:
    """What each confidence threshold would send to review and let through, with intervals."""
    request = reports.ReviewRequest(**body.model_dump())
    with db.read() as session:
        return reports.review_estimate(session, principal.environment_id, request)


class CompareBody(WireModel):
    function_name: str
    baseline_version_num: VersionNum | None = None
    comparison_version_num: VersionNum | None = None
    is_regression: bool = False


@router.post("/functions/compare")
def compare_versions(principal: CurrentPrincipal, body: CompareBody, db: Db) -> dict[str, Any]:
    """Two versions' metrics and the lift between them, overall and per field."""
    with db.read() as session:
        return reports.compare(session, principal.environment_id, reports.CompareRequest(**body.model_dump()))


class RegressionBody(WireModel):
    function_name: str
    baseline_version_num: VersionNum | None = None
    comparison_version_num: VersionNum | None = None
    only_corrected_data: bool = True
    sample_size: int = regression.DEFAULT_SAMPLE


@router.post("/functions/regression")
def run_regression(
    principal: CurrentPrincipal, body: RegressionBody, db: Db, blobs: Blobs, submit: Submit, idem: Idempotency
) -> Any:
    """Replay the baseline version's corrected inputs against the comparison version, one call each."""
    with db.read() as session:
        function, calls, events = regression.plan_run(
            session, principal.environment_id, regression.RunRequest(**body.model_dump()), blobs
        )
    if not calls:
        return regression.run_answer(function, [], [])
    _, response = submit(principal, calls, idem, lambda created: regression.run_answer(function, events, created))
    return response


class CorrectionsBody(WireModel):
    baseline_version_num: VersionNum
    comparison_version_num: VersionNum
    function_name: str


@router.post("/functions/regression/corrections")
def apply_regression_corrections(principal: CurrentPrincipal, body: CorrectionsBody, db: Db) -> dict[str, Any]:
    """Copy the baseline outputs' corrections onto the regression outputs that replayed them."""
    with db.write() as session:
        versions = body.baseline_version_num, body.comparison_version_num
        applied = regression.apply_corrections(session, principal.environment_id, body.function_name, *versions)
    return {
        "applied": len(applied.applied),
        "appliedEventIDs": applied.applied,
        "errors": applied.errors,
        "skipped": applied.skipped,
    }
