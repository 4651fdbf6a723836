"""What an extraction's confidences say to the people who use it: their mean, each field's, and which
fields a person should check before trusting them.

A field needs review when its confidence is under ``QUARRY_REVIEW_CONFIDENCE`` (default 0.9). The
builtin provider's confidences are calibrated so that fields at 0.9 or more were right at least 95 %
of the time on real receipts and invoices (docs/benchmarks.md); below it, about one in four is wrong.
"""

from __future__ import annotations

from typing import Any


def confidence_fields(confidences: dict[str, float], review_below: float) -> dict[str, Any]:
    """``avgConfidence``, ``fieldConfidences`` and Quarry's review marks for a transform or join event."""
    doubtful = sorted(pointer for pointer, confidence in confidences.items() if confidence < review_below)
    return {
        "avgConfidence": round(sum(confidences.values()) / len(confidences), 3) if confidences else 0.0,
        "fieldConfidences": confidences,
        "needsReview": bool(doubtful),
        "fieldsNeedingReview": doubtful,
    }
