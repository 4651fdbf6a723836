"""Who did what: the ``UserActionSummary`` recorded on every version of a function or workflow."""

from __future__ import annotations

from typing import Any

from quarry.ids import new_id
from quarry.storage.base import utcnow
from quarry.tenancy.service import Principal
from quarry.wire import Timestamp, WireModel


class UserActionSummary(WireModel):
    user_action_id: str
    created_at: Timestamp
    user_id: str | None = None
    user_email: str | None = None
    api_key_name: str | None = None
    email_address: str | None = None


def user_action(principal: Principal) -> dict[str, Any]:
    """A new action by the caller, in wire form, ready to store as JSON."""
    return UserActionSummary.model_validate(
        {"userActionID": new_id("ua"), "createdAt": utcnow(), "apiKeyName": principal.api_key_name}
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
