"""The versions of a function an accuracy request names: ones that exist, the current one by
default, and for a comparison or a regression the previous and the current."""

from __future__ import annotations

from sqlalchemy.orm import Session

from quarry.errors import bad_request
from quarry.functions import service as functions
from quarry.functions.models import Function


def existing(session: Session, function: Function, version_num: int | None, field: str) -> int:
    """A version of the function that exists (its current one when none is named); 400 otherwise."""
    if version_num is None:
        return function.current_version_num
    if version_num < 1 or functions.get_version(session, function, version_num) is None:
        raise bad_request(
            f"function {function.name!r} has no version {version_num} (its current version is "
            f"{function.current_version_num})",
            field=field,
        )
    return version_num


def pair(session: Session, function: Function, baseline: int | None, comparison: int | None) -> tuple[int, int]:
    """(baseline, comparison): by default the previous and the current version; both must exist and differ."""
    if baseline is None and function.current_version_num < 2:
        raise bad_request(
            f"function {function.name!r} has one version: there is nothing to compare it with",
            field="baselineVersionNum",
        )
    comparison = existing(session, function, comparison, "comparisonVersionNum")
    default = function.current_version_num - 1
    baseline = existing(session, function, default if baseline is None else baseline, "baselineVersionNum")
    if baseline == comparison:
        raise bad_request("baselineVersionNum and comparisonVersionNum must differ", field="comparisonVersionNum")
    return baseline, comparison
