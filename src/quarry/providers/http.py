"""HTTP to model endpoints: retries with backoff on rate limits, server errors and network failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from quarry.providers import ProviderError

MAX_RETRY_AFTER_SECONDS = 60.0


def post_with_retries(
    client: httpx.Client,
    url: str,
    *,
    api_key: str | None,
    max_attempts: int,
    sleep: Callable[[float], None] = time.sleep,
    **request: Any,
) -> httpx.Response:
    """POST, retrying 429, 5xx and network errors (1, 2, 4… s, or ``Retry-After``, at most 60 s);
    any other answer is returned as it is."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    last_error = ""
    for attempt in range(max_attempts):
        try:
            response = client.post(url, headers=headers, **request)
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
            delay = 2.0**attempt
        else:
            if response.status_code != 429 and response.status_code < 500:
                return response
            last_error = f"HTTP {response.status_code}: {error_detail(response)}"
            retry_after = _retry_after(response)
            delay = retry_after if retry_after is not None else 2.0**attempt
        if attempt + 1 < max_attempts:
            sleep(min(delay, MAX_RETRY_AFTER_SECONDS))
    raise ProviderError(f"the model endpoint did not answer after {max_attempts} attempts: {last_error}")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def error_detail(response: httpx.Response) -> str:
    """The endpoint's own error message (OpenAI's ``{"error": {"message"}}``), else the start of the body."""
    try:
        error = response.json().get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    except (ValueError, AttributeError):
        pass
    return response.text[:300]
