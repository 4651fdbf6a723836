"""What a function call's model requests used: requests, prompt and completion tokens, the models
that answered, and an estimated cost at the configured prices.

A meter runs for the run of one function call (``metering``: a context variable, since the
runner and its providers work in that one thread); every answer of a model endpoint
(``ModelEndpoint.post``) adds its ``usage`` to it. Prices are per million tokens
(``QUARRY_LLM_PRICE_INPUT`` / ``_OUTPUT``, in whatever currency the operator reads them in); the
cost is estimated when the function call ends, at the prices of that moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from quarry.metrics import MODEL_TOKENS


@dataclass(frozen=True)
class Answer:
    """What one model answer says it used (``usage``), and which model gave it."""

    model: str
    prompt_tokens: int
    completion_tokens: int

    @classmethod
    def of(cls, model: str, response: httpx.Response) -> Answer:
        """``model``: the one asked, when the answer does not name the one that answered."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        stated = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        answered_by = body.get("model") if isinstance(body.get("model"), str) else model
        return cls(answered_by, _tokens(stated.get("prompt_tokens")), _tokens(stated.get("completion_tokens")))


@dataclass
class Usage:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    models: list[str] = field(default_factory=list)

    def add(self, answer: Answer) -> None:
        self.requests += 1
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        if answer.model not in self.models:
            self.models.append(answer.model)

    def merge(self, other: Usage) -> None:
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.models.extend(model for model in other.models if model not in self.models)

    def wire(self, price_input: float | None, price_output: float | None) -> dict[str, Any] | None:
        """The ``usage`` of a function call: ``None`` when it asked no model."""
        if not self.requests:
            return None
        wire: dict[str, Any] = {
            "requests": self.requests,
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "models": self.models,
        }
        if price_input is not None or price_output is not None:
            cost = self.prompt_tokens * (price_input or 0) + self.completion_tokens * (price_output or 0)
            wire["estimatedCost"] = round(cost / 1_000_000, 6)
        return wire


def _tokens(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


_METER: ContextVar[Usage | None] = ContextVar("quarry_usage_meter", default=None)


@contextmanager
def metering() -> Iterator[Usage]:
    """Count the model answers received in this context (one function call's run)."""
    meter = Usage()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def record(model: str, response: httpx.Response) -> None:
    """Count an answer of a model endpoint: in the function call's meter, and in the metrics."""
    if response.status_code >= 400:
        return
    answer = Answer.of(model, response)
    MODEL_TOKENS.labels(model, "prompt").inc(answer.prompt_tokens)  # by the model asked, as its requests
    MODEL_TOKENS.labels(model, "completion").inc(answer.completion_tokens)
    meter = _METER.get()
    if meter is not None:
        meter.add(answer)


def absorb(spent: Usage) -> None:
    """Count here what was used elsewhere: in a nested meter, or by another process asking a
    part of the same document (``calls.parts``)."""
    meter = _METER.get()
    if meter is not None:
        meter.merge(spent)


def total(usages: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """A call's ``usage``: its function calls' summed (``None`` when none asked a model)."""
    stated = [u for u in usages if u]
    if not stated:
        return None
    summed: dict[str, Any] = {
        "requests": sum(u["requests"] for u in stated),
        "promptTokens": sum(u["promptTokens"] for u in stated),
        "completionTokens": sum(u["completionTokens"] for u in stated),
        "models": list(dict.fromkeys(m for u in stated for m in u["models"])),
    }
    costs = [u["estimatedCost"] for u in stated if "estimatedCost" in u]
    if costs:
        summed["estimatedCost"] = round(sum(costs), 6)
    return summed
