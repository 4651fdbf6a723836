"""HTTP to model endpoints: retries with backoff on rate limits, server errors and network failures."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from quarry import tracing
from quarry.metrics import MODEL_DURATION, MODEL_REQUESTS
from quarry.providers import ProviderError, usage

if TYPE_CHECKING:
    from quarry.config import Settings

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


@dataclass
class ModelEndpoint:
    """An OpenAI-compatible endpoint (chat completions, transcriptions, embeddings): where it is,
    which model to ask, and how hard to try. The clients of each API extend it."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_seconds: float = 120.0
    max_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep

    def post(self, client: httpx.Client, path: str, **request: Any) -> httpx.Response:
        """POST ``request`` to ``path`` under the base URL, with retries (:func:`post_with_retries`)."""
        url, began = self.url(path), time.perf_counter()
        try:
            with tracing.span("quarry.model.request", {"quarry.model": self.model}):
                response = post_with_retries(
                    client, url, api_key=self.api_key, max_attempts=self.max_attempts, sleep=self.wait, **request
                )
        except ProviderError:
            MODEL_REQUESTS.labels(self.model, "failed").inc()
            raise
        finally:
            MODEL_DURATION.labels(self.model).observe(time.perf_counter() - began)
        MODEL_REQUESTS.labels(self.model, "answered" if response.status_code < 400 else "refused").inc()
        usage.record(self.model, response)  # the function call's tokens (``providers.usage``), and the metrics'
        return response

    def wait(self, seconds: float) -> None:
        self.sleep(seconds)

    def url(self, path: str) -> str:
        """The endpoint's URL; a base URL that is no http(s) URL fails at once — retrying it cannot help."""
        url = f"{self.base_url}{path}"
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise ProviderError(f"the model endpoint URL {url!r} is not valid: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ProviderError(f"the model endpoint URL {url!r} is not an http(s) URL")
        return url


def endpoint_settings(settings: Settings, base_url: str, api_key: str | None) -> dict[str, Any]:
    """The keyword arguments every ``ModelEndpoint`` of the deployment shares."""
    return {
        "base_url": base_url.rstrip("/"),
        "api_key": api_key,
        "timeout_seconds": settings.llm_timeout_seconds,
        "max_attempts": max(1, settings.llm_max_attempts),
    }
