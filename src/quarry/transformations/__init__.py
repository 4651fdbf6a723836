"""Transformations (``/v1-beta/transformations``): the transform and join events seen as the
results of extraction, their corrections (``correctedContent`` and ``metrics``) and their errors."""
