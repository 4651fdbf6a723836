"""Field confidences from the model's token log-probabilities (``providers/llm/logprobs.py``).

Expected values come from what the tests script: each value's probability is the product of the
probabilities of the tokens written over it (docs/decisions.md, "Confidence from the model")."""

from __future__ import annotations

import math
from typing import Any

from quarry.documents.model import text_document
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.logprobs import field_confidences
from quarry.providers.llm.openai import OpenAIProvider
from tests.harness.endpoints import Reply
from tests.harness.fake_model import FakeOpenAI, answer_with_logprobs, chat_completion, failure

# an answer cut into tokens by hand, each with the log-probability the "model" gave it
TOKENS = [
    ('{"', 0.0), ("invoice", 0.0), ("Number", 0.0), ('":', 0.0), (' "', -0.3),
    ("INV", -0.01), ("-", -0.01), ("884", -0.01), ("2", -0.01), ('",', -0.2),
    (' "', 0.0), ("total", 0.0), ("Amount", 0.0), ('":', 0.0), (" ", 0.0),
    ("123", -0.5), ("4", -0.1), (".", 0.0), ("5", -0.2), (', "note": null', -2.0), ("}", 0.0),
]  # fmt: skip
ANSWER_TEXT = "".join(token for token, _ in TOKENS)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "totalAmount": {"type": "number", "maximum": 1000},
        "note": {"type": ["string", "null"]},
    },
}


def test_a_value_s_confidence_is_the_probability_of_the_tokens_written_over_it() -> None:
    assert field_confidences(ANSWER_TEXT, TOKENS) == {
        "/invoiceNumber": round(math.exp(-0.04), 4),  # INV, -, 884, 2: not the quotes around them
        "/totalAmount": round(math.exp(-0.8), 4),
    }  # null states nothing: no confidence


def test_tokens_that_do_not_spell_the_answer_give_no_confidences() -> None:
    assert field_confidences(ANSWER_TEXT + " ", TOKENS) is None
    assert field_confidences("no JSON here", [("no JSON here", -0.1)]) is None


def test_nested_values_and_escaped_keys_have_their_pointers() -> None:
    text = '{"a/b": {"c~d": ["x", 2]}}'
    tokens = [('{"a/b": {"c~d": ["', 0.0), ("x", -0.7), ('", ', 0.0), ("2", -0.1), ("]}}", 0.0)]
    assert field_confidences(text, tokens) == {"/a~1b/c~0d/0": round(math.exp(-0.7), 4), "/a~1b/c~0d/1": 0.9048}


def extract(fake: FakeOpenAI) -> dict[str, float]:
    provider = OpenAIProvider(base_url=fake.url, model="m", strict=False, sleep=lambda s: None)
    request = ExtractionRequest(text_document("text", "Invoice INV-8842, 1234.50"), SCHEMA, "Invoice", "transform")
    return provider.extract(request).confidences


def test_the_provider_asks_for_logprobs_and_grades_each_field_with_them(fake: FakeOpenAI) -> None:
    # totalAmount breaks the schema (maximum 1000): the repair answer is the same, and stands
    fake.script(answer_with_logprobs(TOKENS), answer_with_logprobs(TOKENS))
    confidences = extract(fake)
    assert fake.requests[0].body["logprobs"] is True
    assert confidences == {"/invoiceNumber": round(math.exp(-0.04), 4), "/totalAmount": 0.4}  # invalid: at most 0.4


def test_without_logprobs_in_the_answer_the_schema_rule_stands(fake: FakeOpenAI) -> None:
    fake.script(Reply(body=chat_completion({"invoiceNumber": "INV-8842"})))
    assert extract(fake) == {"/invoiceNumber": 0.9}


def test_an_endpoint_that_refuses_logprobs_is_asked_plainly(fake: FakeOpenAI) -> None:
    fake.script(
        failure(400, "logprobs are not supported by this model"), Reply(body=chat_completion({"invoiceNumber": "A"}))
    )
    provider = OpenAIProvider(base_url=fake.url, model="no-logprobs-model", strict=False, sleep=lambda s: None)
    request = ExtractionRequest(text_document("text", "A"), SCHEMA, "Invoice", "transform")
    assert provider.extract(request).content == {"invoiceNumber": "A"}
    asked, plain = fake.requests
    assert asked.body["logprobs"] is True and "logprobs" not in plain.body
