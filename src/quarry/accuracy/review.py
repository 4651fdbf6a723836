"""What a review threshold would do, from labelled samples: the numbers a person needs to choose
``QUARRY_REVIEW_CONFIDENCE`` (``POST /v3/functions/review``).

A *sample* is one extracted field of a labelled output: its confidence (the evaluation's where the
output was evaluated, else the extraction's own) and whether the correction kept it. A threshold
``t`` accepts a field without review when its confidence is at least ``t``. Then, with "positive"
meaning *accepted* and "true" meaning *right*:

- ``tp``: accepted and right, ``fp``: accepted and wrong (the errors that slip through),
- ``fn``: sent to review although right (the reviewing that was not needed), ``tn``: sent to
  review and wrong (the errors caught).

``precision`` (= ``accuracyAboveThreshold``) is ``tp / (tp + fp)``, ``recall`` ``tp / (tp + fn)``,
``falsePositiveRate`` ``fp / (fp + tn)``, ``falseDiscoveryRate`` ``fp / (tp + fp)``, and Quarry's
``coverage`` ``(tp + fp) / n``, the share of fields that need no review. Each rate comes with an
interval per confidence level (Wald or Wilson) over its own denominator and the sample size that
would bring the interval's half-width to the margin of error:
``n = z² · p(1 − p) / E²`` with the observed ``p`` (0.5, the worst case, when there is no
sample yet or every sample agrees).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

from quarry.accuracy.confusion import Sample

CONFIDENCE_LEVELS = (90, 95, 99)
MARGIN_OF_ERROR = 0.05
THRESHOLDS = (0.5, 0.95, 0.05)  # min, max, step
MAX_THRESHOLDS = 1000
HIGH, MEDIUM = 0.9, 0.5  # the buckets of the confidence distribution: high >= 0.9 > medium >= 0.5 > low


def threshold_count(low: float, high: float, step: float) -> int:
    """How many thresholds ``low, low + step, …`` up to ``high`` makes (counted before any is made:
    a tiny step asks for billions)."""
    return math.floor((high - low) / step + 1e-9) + 1


def thresholds(low: float, high: float, step: float) -> list[float]:
    """``low, low + step, …`` up to ``high`` (included when a step lands on it)."""
    return [round(low + i * step, 6) for i in range(threshold_count(low, high, step))]


def distribution(confidences: list[float]) -> dict[str, int]:
    return {
        "high": sum(1 for c in confidences if c >= HIGH),
        "medium": sum(1 for c in confidences if MEDIUM <= c < HIGH),
        "low": sum(1 for c in confidences if c < MEDIUM),
    }


def threshold_row(
    samples: list[Sample], threshold: float, levels: list[int], method: str, margin: float
) -> dict[str, Any]:
    tp = sum(1 for s in samples if s.confidence >= threshold and s.correct)
    fp = sum(1 for s in samples if s.confidence >= threshold and not s.correct)
    fn = sum(1 for s in samples if s.confidence < threshold and s.correct)
    tn = sum(1 for s in samples if s.confidence < threshold and not s.correct)

    def rate(successes: int, total: int) -> dict[str, dict[str, Any]]:
        return {str(level): interval(successes, total, level, method, margin) for level in levels}

    precision = rate(tp, tp + fp)
    return {
        "threshold": threshold,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "accuracyAboveThreshold": precision,
        "recall": rate(tp, tp + fn),
        "falsePositiveRate": rate(fp, fp + tn),
        "falseDiscoveryRate": rate(fp, tp + fp),
        "coverage": rate(tp + fp, len(samples)),
    }


def interval(successes: int, total: int, level: int, method: str, margin: float) -> dict[str, Any]:
    """A ``RateConfidenceInterval``: bounds ``null`` without a sample."""
    z = NormalDist().inv_cdf(1 - (1 - level / 100) / 2)
    p = successes / total if total else 0.5
    planned = p if 0 < p < 1 else 0.5  # a rate of 0 or 1 says nothing of its spread: plan for the worst
    needed = math.ceil(z * z * planned * (1 - planned) / (margin * margin))
    answer: dict[str, Any] = {
        "currentSample": total,
        "sampleNeeded": needed,
        "mid": None,
        "ciLower": None,
        "ciUpper": None,
    }
    if not total:
        return answer
    if method == "wilson":
        centre = (p + z * z / (2 * total)) / (1 + z * z / total)
        half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    else:
        centre, half = p, z * math.sqrt(p * (1 - p) / total)
    answer |= {
        "mid": round(p, 6),
        "ciLower": round(max(0.0, centre - half), 6),
        "ciUpper": round(min(1.0, centre + half), 6),
    }
    return answer


def precision_recall_auc(samples: list[Sample]) -> float | None:
    """Average precision of ranking fields by confidence to find the right ones (``None`` without
    a right one): the area under the precision–recall curve, tied confidences taken together."""
    positives = sum(1 for s in samples if s.correct)
    if not positives:
        return None
    area, tp, seen, recall_before = 0.0, 0, 0, 0.0
    ordered = sorted(samples, key=lambda s: -s.confidence)
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].confidence == ordered[i].confidence:
            j += 1
        group = ordered[i:j]
        tp += sum(1 for s in group if s.correct)
        seen += len(group)
        recall = tp / positives
        area += (recall - recall_before) * (tp / seen)
        recall_before, i = recall, j
    return round(area, 6)
