"""Field confidences from the model's own token probabilities.

When the endpoint returns ``logprobs`` (OpenAI, vLLM and llama.cpp's server do on request), each
value of the answer gets the probability the model gave to writing exactly it: the product of the
probabilities of the tokens that overlap the value's text in the answer (for a string, its
characters between the quotes). A value the model hesitated over — two readings of a blurred
digit, a guess — scores low; one it copied without doubt scores near 1. Long free text scores
lower than short values by construction: it is a probability, not a grade.

The tokens must spell the answer exactly (their text joined); when they do not, or when the
answer is not the JSON object the tokens spelled, there are no confidences from them.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from typing import Any

from quarry.pointers import escape

Tokens = list[tuple[str, float]]
"""The answer's tokens in order: ``(text, logprob)``."""


def tokens_of(choice: dict[str, Any]) -> Tokens | None:
    """The ``(token, logprob)`` pairs of a chat completion choice, if it has them."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    tokens = []
    for item in content:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            return None
        logprob = item.get("logprob")
        if not isinstance(logprob, (int, float)) or logprob > 0 or math.isnan(logprob):
            return None
        tokens.append((item["token"], float(logprob)))
    return tokens


def field_confidences(answer: str, tokens: Tokens) -> dict[str, float] | None:
    """Each stated scalar's probability, by JSON Pointer; ``None`` when the tokens do not spell
    ``answer`` or the answer holds no JSON object."""
    if "".join(token for token, _ in tokens) != answer:
        return None
    start = answer.find("{")
    if start < 0:
        return None
    spans: dict[str, tuple[int, int]] = {}
    try:
        _Scanner(answer, spans).value(start, "")
    except (IndexError, ValueError):
        return None
    ends = list(itertools.accumulate(len(token) for token, _ in tokens))
    confidences = {}
    for pointer, (first, last) in spans.items():
        total, index = 0.0, bisect.bisect_right(ends, first)  # the first token that ends inside the value
        while index < len(tokens) and ends[index] - len(tokens[index][0]) < last:
            total += tokens[index][1]
            index += 1
        confidences[pointer] = round(math.exp(total), 4)
    return confidences


class _Scanner:
    """Where each scalar of a JSON text is written: ``spans[pointer] = (start, end)`` (a string's
    characters between its quotes); ``null`` has none (it states nothing)."""

    def __init__(self, text: str, spans: dict[str, tuple[int, int]]) -> None:
        self.text, self.spans = text, spans

    def value(self, at: int, pointer: str) -> int:
        at = self.blank(at)
        char = self.text[at]
        if char == "{":
            return self.object(at, pointer)
        if char == "[":
            return self.array(at, pointer)
        if char == '"':
            end = self.string_end(at)
            self.spans[pointer] = (at + 1, end - 1)
            return end
        end = at
        while end < len(self.text) and self.text[end] not in ",]} \t\r\n":
            end += 1
        if end == at:
            raise ValueError(f"no value at {at}")
        if self.text[at:end] != "null":
            self.spans[pointer] = (at, end)
        return end

    def object(self, at: int, pointer: str) -> int:
        at = self.blank(at + 1)
        if self.text[at] == "}":
            return at + 1
        while True:
            key_end = self.string_end(self.blank(at))
            key = _decode(self.text[self.blank(at) : key_end])
            at = self.blank(key_end)
            if self.text[at] != ":":
                raise ValueError(f"no ':' at {at}")
            at = self.blank(self.value(at + 1, f"{pointer}/{escape(key)}"))
            if self.text[at] == "}":
                return at + 1
            if self.text[at] != ",":
                raise ValueError(f"no ',' at {at}")
            at += 1

    def array(self, at: int, pointer: str) -> int:
        at = self.blank(at + 1)
        if self.text[at] == "]":
            return at + 1
        index = 0
        while True:
            at = self.blank(self.value(at, f"{pointer}/{index}"))
            index += 1
            if self.text[at] == "]":
                return at + 1
            if self.text[at] != ",":
                raise ValueError(f"no ',' at {at}")
            at += 1

    def string_end(self, at: int) -> int:
        """The position after the closing quote of the string that starts at ``at``."""
        if self.text[at] != '"':
            raise ValueError(f"no string at {at}")
        at += 1
        while self.text[at] != '"':
            at += 2 if self.text[at] == "\\" else 1
        return at + 1

    def blank(self, at: int) -> int:
        while self.text[at] in " \t\r\n":
            at += 1
        return at


def _decode(quoted: str) -> str:
    value = json.loads(quoted)
    if not isinstance(value, str):
        raise ValueError(quoted)
    return value
