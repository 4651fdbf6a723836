"""Strict structured outputs (``providers/llm/strict.py``): the schema in the strict subset, the
answer mapped back, and endpoints that refuse strict schemas asked loose (docs/decisions.md)."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.documents.model import text_document
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.openai import OpenAIProvider
from quarry.providers.llm.strict import allows_null, strict_schema, without_unstated
from tests.harness.fake_model import FakeOpenAI, answer, failure

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "number": {"type": "string", "pattern": "^INV-[0-9]+$", "description": "The invoice number"},
        "currency": {"type": "string", "enum": ["EUR", "NOK"]},
        "total": {"oneOf": [{"type": "number"}, {"type": "string"}]},
        "note": {"type": ["string", "null"]},
        "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/line"}},
    },
    "required": ["number"],
    "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}},
}


def test_the_strict_form_requires_every_property_and_moves_what_it_cannot_say_into_descriptions() -> None:
    strict = strict_schema(SCHEMA)
    assert strict == {  # by hand, from the rules in the module's docstring
        "type": "object",
        "properties": {
            "number": {"type": "string", "description": 'The invoice number (pattern: "^INV-[0-9]+$")'},
            "currency": {"type": ["string", "null"], "enum": ["EUR", "NOK", None]},
            "total": {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]},
            "note": {"type": ["string", "null"]},
            "lines": {"type": ["array", "null"], "items": {"$ref": "#/$defs/line"}, "description": "(minItems: 1)"},
        },
        "required": ["number", "currency", "total", "note", "lines"],
        "additionalProperties": False,
        "$defs": {
            "line": {
                "type": "object",
                "properties": {"sku": {"type": "string"}},
                "required": ["sku"],
                "additionalProperties": False,
            }
        },
    }


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"extra": {"type": "object"}}},  # free-form keys
        {"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "number"}}}},
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"type": "array", "items": {"type": "string"}},  # not an object at the top
    ],
)
def test_what_the_strict_subset_cannot_say_is_sent_loose(schema: dict[str, Any]) -> None:
    assert strict_schema(schema) is None


def test_a_null_for_an_optional_property_that_allows_none_means_not_stated() -> None:
    answer_ = {"number": "INV-1", "currency": None, "total": None, "note": None, "lines": [{"sku": "A"}]}
    assert without_unstated(answer_, SCHEMA) == {"number": "INV-1", "note": None, "lines": [{"sku": "A"}]}
    assert allows_null({"type": ["string", "null"]}) and not allows_null({"type": "string"})


def extract(provider: OpenAIProvider) -> dict[str, Any]:
    request = ExtractionRequest(text_document("text", "Invoice INV-7, 12.50 EUR"), SCHEMA, "Invoice", "transform")
    return provider.extract(request).content


def test_strict_answers_come_back_without_the_nulls_strict_mode_made_the_model_state(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider(base_url=fake.url, model="strict-model", sleep=lambda s: None)
    fake.script(answer({"number": "INV-7", "currency": "EUR", "total": 12.5, "note": None, "lines": None}))
    assert extract(provider) == {"number": "INV-7", "currency": "EUR", "total": 12.5, "note": None}
    [sent] = fake.requests
    assert sent.body["response_format"]["json_schema"]["strict"] is True


def test_an_endpoint_that_refuses_strict_schemas_is_asked_loose_from_then_on(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider(base_url=fake.url, model="loose-only-model", sleep=lambda s: None)
    refused = failure(400, "response_format.json_schema.strict is not supported")
    fake.script(refused, answer({"number": "INV-7"}))
    assert extract(provider) == {"number": "INV-7"}
    strict, loose = fake.requests
    assert strict.body["response_format"]["json_schema"]["strict"] is True
    assert loose.body["response_format"]["json_schema"] == {"name": "Invoice", "schema": SCHEMA, "strict": False}
    fake.script(answer({"number": "INV-8"}))  # the same endpoint again: loose at once, one request
    assert extract(OpenAIProvider(base_url=fake.url, model="loose-only-model", sleep=lambda s: None)) == {
        "number": "INV-8"
    }
    [again] = fake.requests
    assert again.body["response_format"]["json_schema"]["strict"] is False


def test_strict_output_can_be_switched_off(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider(base_url=fake.url, model="m", strict=False, sleep=lambda s: None)
    fake.script(answer({"number": "INV-9"}))
    extract(provider)
    assert fake.requests[0].body["response_format"]["json_schema"]["strict"] is False
