"""Score runs (``/v3/eval/score``): a function run over (input, expected) pairs, one call per pair
(``Call.origin = score``), and compared with what was expected at every read.

Nothing is computed when the run is made: each read looks at the pairs' calls, and compares each
finished one's output with its expected JSON leaf by leaf — arrays aligned and values equal as a
correction's metrics say (``transformations.metrics``), so that a score and a correction never
disagree about one value. ``delta`` (numbers) and ``similarity`` (strings, the normalised
Levenshtein similarity) say how far off a wrong value was; they never make it right.

A run is ``running`` while any of its calls is, then ``completed`` (or ``error`` when every pair
failed); ``cancelled`` once cancelled — calls already submitted still finish (Quarry does not stop
a call midway), and what they produce still shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rapidfuzz.distance import Levenshtein
from sqlalchemy.orm import Session

from quarry.accuracy.models import ScoreRun
from quarry.calls.models import SCORE, TERMINAL_STATUSES, Call
from quarry.calls.service import NewCall, check_input_types, decode_file, with_targets
from quarry.errors import bad_request, not_found
from quarry.events.models import TRANSFORMATION_TYPES, Event, without_metadata
from quarry.functions import service as functions
from quarry.functions.models import Function
from quarry.ids import new_id
from quarry.storage.base import utcnow
from quarry.transformations.metrics import align, equal, leaves

SCORED_TYPES = ("transform", "analyze")
MAX_PAIRS = 1000


@dataclass
class ScorePlan:
    """A score run about to be made: its calls (not stored yet) and what each pair expects."""

    run_id: str
    function: Function
    version: int
    calls: list[NewCall]
    expected: list[Any]

    def record(self, session: Session, environment_id: str, call_ids: list[str]) -> None:
        """Store the run, beside its calls (``Call.origin = score``)."""
        pairs = [{"callID": call_id, "expected": value} for call_id, value in zip(call_ids, self.expected, strict=True)]
        session.add(
            ScoreRun(
                id=self.run_id,
                environment_id=environment_id,
                function_id=self.function.id,
                function_name=self.function.name,
                function_version_num=self.version,
                pairs=pairs,
            )
        )


def plan_run(session: Session, environment_id: str, body: Any, max_bytes: int) -> ScorePlan:
    """The run a ``POST /v3/eval/score`` asks for, validated: one call of the function per pair."""
    if body.dataset_id is not None:
        raise not_found("dataset", body.dataset_id)  # Quarry stores no golden data sets: pairs only
    if not body.pairs:
        raise bad_request("pairs: give between 1 and 1000 (input, expected) pairs", field="pairs")
    if len(body.pairs) > MAX_PAIRS:
        raise bad_request(f"pairs: at most {MAX_PAIRS} pairs per run", field="pairs")
    function = functions.get_live(session, environment_id, body.function_name)
    if function.type not in SCORED_TYPES:
        raise bad_request(
            f"function {function.name!r} is a {function.type} function: score runs are for extract and analyze",
            field="functionName",
        )
    version = body.function_version_num or function.current_version_num
    if functions.get_version(session, function, version) is None:
        raise bad_request(f"function {function.name!r} has no version {version}", field="functionVersionNum")
    plan, run_id = with_targets(session, function.id, {function.id: version}, []), new_id("scr")
    calls = []
    for index, pair in enumerate(body.pairs):
        file = decode_file(pair.input, f"pairs[{index}].input", max_bytes)
        check_input_types(function, [file])
        calls.append(NewCall("function", None, [file], False, function, plan, origin=SCORE, origin_id=run_id))
    return ScorePlan(run_id, function, version, calls, [pair.expected for pair in body.pairs])


def find_run(session: Session, environment_id: str, run_id: str, *, for_update: bool = False) -> ScoreRun:
    stmt = sa.select(ScoreRun).where(ScoreRun.environment_id == environment_id, ScoreRun.id == run_id)
    run = session.scalars(stmt.with_for_update() if for_update else stmt).one_or_none()
    if run is None:
        raise not_found("score run", run_id)
    return run


def cancel(session: Session, environment_id: str, run_id: str) -> None:
    run = find_run(session, environment_id, run_id, for_update=True)
    if run.cancelled_at is None:
        run.cancelled_at = utcnow()


def render(session: Session, run: ScoreRun) -> dict[str, Any]:
    """bem's ``EvalScoreRun``, compared now."""
    call_ids = [pair["callID"] for pair in run.pairs]
    statuses = dict(session.execute(sa.select(Call.id, Call.status).where(Call.id.in_(call_ids))).all())
    outputs, errors = _results(session, call_ids)
    per_pair, totals = [], _Totals()
    for index, pair in enumerate(run.pairs):
        call_id = pair["callID"]
        status = _pair_status(statuses.get(call_id, "failed"))
        entry: dict[str, Any] = {"pairIndex": index, "status": status, "callID": call_id}
        if status == "completed":
            entry["fieldResults"] = field_results(outputs.get(call_id), pair["expected"])
            totals.add(entry["fieldResults"])
        elif call_id not in statuses:
            entry["errorMessage"] = "the call was removed (QUARRY_RETENTION): its output can no longer be compared"
        elif status == "failed":
            entry["errorMessage"] = errors.get(call_id, "the call failed")
        per_pair.append(entry)
    done = sum(1 for p in per_pair if p["status"] == "completed")
    failed = sum(1 for p in per_pair if p["status"] == "failed")
    if run.cancelled_at is not None:
        status = "cancelled"
    elif done + failed < len(per_pair):
        status = "running" if any(p["status"] != "pending" for p in per_pair) else "pending"
    else:
        status = "completed" if done else "error"
    answer: dict[str, Any] = {
        "scoreRunID": run.id,
        "functionName": run.function_name,
        "functionVersionNum": run.function_version_num,
        "status": status,
        "progress": {"completed": done, "failed": failed, "total": len(per_pair)},
        "perPair": per_pair,
    }
    if status in ("completed", "error"):
        answer["aggregate"] = totals.as_wire()
    return answer


def _pair_status(call_status: str) -> str:
    if call_status in TERMINAL_STATUSES:
        return "completed" if call_status == "completed" else "failed"
    return "running" if call_status == "running" else "pending"


def _results(session: Session, call_ids: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each call's first extraction, and each failed call's first error message."""
    outputs: dict[str, Any] = {}
    errors: dict[str, str] = {}
    rows = session.execute(
        sa.select(Event.call_id, Event.event_type, Event.body)
        .where(Event.call_id.in_(call_ids), Event.event_type.in_([*TRANSFORMATION_TYPES, "error"]))
        .order_by(Event.created_at, Event.id)
    )
    for call_id, event_type, body in rows:
        if event_type == "error":
            errors.setdefault(call_id, str(body.get("message", "")))
        else:
            outputs.setdefault(call_id, body.get("transformedContent"))
    return outputs, errors


def field_results(actual: Any, expected: Any) -> list[dict[str, Any]]:
    """One entry per leaf of ``expected ∪ actual``: expected leaves in order, then the extra ones."""
    aligned = dict(leaves(align(without_metadata(actual), expected)))
    wanted = dict(leaves(expected))
    results = []
    for path, value in wanted.items():
        if path not in aligned:
            results.append({"path": path, "match": "missing", "expected": value})
            continue
        got = aligned[path]
        entry = {"path": path, "match": "match" if equal(got, value) else "mismatch", "expected": value, "actual": got}
        if entry["match"] == "mismatch":
            entry |= _evidence(got, value)
        results.append(entry)
    results += [{"path": p, "match": "extra", "actual": v} for p, v in aligned.items() if p not in wanted]
    return results


def _evidence(actual: Any, expected: Any) -> dict[str, float]:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (actual, expected))
    if numbers:
        return {"delta": actual - expected}
    if isinstance(actual, str) and isinstance(expected, str):
        return {"similarity": round(Levenshtein.normalized_similarity(actual, expected), 6)}
    return {}


class _Totals:
    def __init__(self) -> None:
        self.counts = {"match": 0, "mismatch": 0, "missing": 0, "extra": 0}

    def add(self, results: list[dict[str, Any]]) -> None:
        for result in results:
            self.counts[result["match"]] += 1

    def as_wire(self) -> dict[str, Any]:
        c = self.counts
        actual, expected = c["match"] + c["mismatch"] + c["extra"], c["match"] + c["mismatch"] + c["missing"]
        precision = c["match"] / actual if actual else 0.0
        recall = c["match"] / expected if expected else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "matches": c["match"],
            "mismatches": c["mismatch"],
            "missing": c["missing"],
            "extras": c["extra"],
            "totalFieldsActual": actual,
            "totalFieldsExpected": expected,
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
        }
