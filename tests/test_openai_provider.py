"""The ``openai`` extraction provider against a real local HTTP server speaking the OpenAI wire format.

``FakeOpenAI`` (``tests/harness/fake_model.py``) is an HTTP server on 127.0.0.1 that records every
request it receives and answers from a scripted queue (an unscripted request gets a 418, which
fails the call and the test). End-to-end tests run a Quarry server as a separate process (the
engine is one per process, and the suite's in-process server is not configured for a model) with
``QUARRY_LLM_*`` pointing at the fake, once per database backend, and go through the public API.
Unit tests drive ``OpenAIProvider`` directly for the finer cases (backoff delays, timeouts,
images of an image input); long documents have tests/test_long_documents.py.

Expected values come from what the tests sent and scripted: the schema given to the function,
the answers put in the queue, hand-written schema names, pointers and validation messages.
"""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest
from fpdf import FPDF
from PIL import Image

from quarry.config import Settings
from quarry.documents.model import text_document
from quarry.documents.parse import parse
from quarry.providers.llm import ExtractionRequest, ProviderError, provider_for
from quarry.providers.llm.openai import OpenAIProvider
from tests.calls_client import events_of, single, submit, wait_for, wait_for_function_call
from tests.conftest import BACKENDS
from tests.harness.endpoints import Reply
from tests.harness.fake_model import FakeOpenAI, answer, chat_completion, failure
from tests.harness.ports import free_port
from tests.harness.processes import quarry_client
from tests.helpers import create_function, transform

MODEL = "fake-gpt-test"
LLM_KEY = "sk-test-7f3a9c"
QUARRY_KEY = "openai-provider-test-key"
MAX_ATTEMPTS = 3

SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "totalAmount": {"type": "number"},
        "vendor": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
            "required": ["name"],
        },
        "lineItems": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}},
        },
    },
    "required": ["invoiceNumber"],
}
STRICT_SCHEMA = {  # SCHEMA in the strict subset, by hand: all required, the optional ones nullable, no others
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "totalAmount": {"type": ["number", "null"]},
        "vendor": {
            "type": ["object", "null"],
            "properties": {"name": {"type": "string"}, "country": {"type": ["string", "null"]}},
            "required": ["name", "country"],
            "additionalProperties": False,
        },
        "lineItems": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "properties": {"sku": {"type": ["string", "null"]}, "qty": {"type": ["integer", "null"]}},
                "required": ["sku", "qty"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["invoiceNumber", "totalAmount", "vendor", "lineItems"],
    "additionalProperties": False,
}
SCHEMA_NAME = "Invoice (v2)/ÄÜ"
SANITIZED_NAME = "Invoice__v2____"  # by hand: each character outside [a-zA-Z0-9_-] becomes "_"

ANSWER = {
    "invoiceNumber": "INV-8842",
    "totalAmount": 1234.5,
    "vendor": {"name": "Zebulon Quarries", "country": "NO"},
    "lineItems": [{"sku": "GRN-01", "qty": 3}, {"sku": "GRN-02", "qty": 1}],
}
ANSWER_POINTERS = {
    "/invoiceNumber",
    "/totalAmount",
    "/vendor/name",
    "/vendor/country",
    "/lineItems/0/sku",
    "/lineItems/0/qty",
    "/lineItems/1/sku",
    "/lineItems/1/qty",
}
MARKER = "QUOKKA-5513-ZEBULON"
PRICE_INPUT, PRICE_OUTPUT = 2.5, 10.0  # per million tokens  # a string only the test's documents contain


# --- documents --------------------------------------------------------------------------------


def text_invoice() -> bytes:
    return f"Zebulon Quarries AS\nInvoice {MARKER}\nInvoice number: INV-8842\nTotal: 1,234.50 NOK\n".encode()


def pdf(*pages: str) -> bytes:
    document = FPDF()
    document.set_font("Helvetica", size=14)
    for text in pages:
        document.add_page()
        document.cell(text=text)
    return bytes(document.output())


def with_sorted_required(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sorted(v) if k == "required" else with_sorted_required(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_sorted_required(item) for item in value]
    return value


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


def decoded_png(url: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:60]
    data = base64.b64decode(url[len(prefix) :], validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data))


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module", params=BACKENDS)
def quarry(
    request: pytest.FixtureRequest, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A client of a Quarry process whose model endpoint is the fake (with a trailing slash on the URL)."""
    settings = {
        "QUARRY_LLM_BASE_URL": fake.url + "/v1/",
        "QUARRY_LLM_MODEL": MODEL,
        "QUARRY_LLM_API_KEY": LLM_KEY,
        "QUARRY_LLM_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "QUARRY_LLM_TIMEOUT_SECONDS": "10",
        "QUARRY_TRANSCRIPTION_BASE_URL": fake.url + "/v1",
        "QUARRY_TRANSCRIPTION_MODEL": "whisper-test",
        "QUARRY_LLM_PRICE_INPUT": str(PRICE_INPUT),
        "QUARRY_LLM_PRICE_OUTPUT": str(PRICE_OUTPUT),
    }
    data_dir = tmp_path_factory.mktemp(f"quarry-openai-{request.param}")
    with quarry_client(request.param, data_dir, "quarry_openai", QUARRY_KEY, **settings) as client:
        yield client


def openai_function(api: httpx.Client, function_type: str = "transform", **extra: Any) -> str:
    name = f"llm-{function_type}-{uuid.uuid4().hex[:8]}"
    body = {
        "functionName": name,
        "type": function_type,
        "outputSchemaName": SCHEMA_NAME,
        "outputSchema": SCHEMA,
        "provider": "openai",
        **extra,
    }
    create_function(api, body)
    return name


def run(api: httpx.Client, name: str, data: bytes, input_type: str = "text") -> tuple[dict[str, Any], str]:
    """Call ``name`` on one file and wait for the end: the finished call and its ID."""
    [created] = submit(api, {"functionName": name, "input": single(data, input_type)})
    return wait_for(api, created["callID"]), created["callID"]


def only_error(api: httpx.Client, call: dict[str, Any], call_id: str) -> str:
    assert call["status"] == "failed", call
    assert [fc["status"] for fc in call["functionCalls"]] == ["failed"]
    [error] = events_of(api, call_id, "error")
    assert error["functionCallID"] == call["functionCalls"][0]["functionCallID"]
    assert events_of(api, call_id, "transform") == []
    return error["message"]


def extraction_request(
    text: str = f"Invoice {MARKER}", function_type: str = "transform", **kwargs: Any
) -> ExtractionRequest:
    document = parse("text", text.encode())
    return ExtractionRequest(document, SCHEMA, SCHEMA_NAME, function_type, **kwargs)


def provider(fake: FakeOpenAI, sleeps: list[float] | None = None, **kwargs: Any) -> OpenAIProvider:
    """The provider against the fake, asking plainly (no strict schema, no logprobs) unless a test
    asks: those have tests of their own."""
    kwargs.setdefault("strict", False)
    kwargs.setdefault("logprobs", False)
    return OpenAIProvider(
        base_url=fake.url, model=MODEL, sleep=(sleeps.append if sleeps is not None else lambda s: None), **kwargs
    )


# === end to end, through the public API =======================================================


def answer_using(content: dict[str, Any], prompt_tokens: int, completion_tokens: int) -> Reply:
    """A chat completion that states its usage, answered by a model named otherwise than asked."""
    body = chat_completion(content, model="served-model-7")
    return Reply(body=body | {"usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})


def test_tokens_and_estimated_cost_are_shown_per_function_call_and_per_call(
    quarry: httpx.Client, fake: FakeOpenAI
) -> None:
    name = openai_function(quarry)
    # the first answer misses the required invoiceNumber: a repair round, a second request
    fake.script(answer_using({"totalAmount": 5}, 1_000, 50), answer_using(ANSWER, 1_200, 40))
    call, call_id = run(quarry, name, text_invoice())
    assert call["status"] == "completed"
    [fc] = call["functionCalls"]
    cost = round((2_200 * PRICE_INPUT + 90 * PRICE_OUTPUT) / 1_000_000, 6)
    expected = {
        "requests": 2,
        "promptTokens": 2_200,
        "completionTokens": 90,
        "models": ["served-model-7"],
        "estimatedCost": cost,
    }
    assert fc["usage"] == expected
    assert call["usage"] == expected  # one function call: the call's sum is its
    trace = quarry.get(f"/v3/calls/{call_id}/trace").json()["trace"]
    assert trace["functionCalls"][0]["usage"] == expected
    listed = quarry.get("/v2/calls", params={"callIDs": call_id}).json()["calls"]
    assert listed[0]["usage"] == expected
    assert quarry.get(f"/v3/calls/{call_id}").json()["call"]["usage"] == expected
    [v3_listed] = quarry.get("/v3/calls", params={"callIDs": call_id}).json()["calls"]
    assert v3_listed["usage"] == expected


def test_a_function_call_that_asks_no_model_states_no_usage(quarry: httpx.Client) -> None:
    create_function(
        quarry, {"functionName": f"shape-{uuid.uuid4().hex[:6]}", "type": "payload_shaping", "shapingSchema": "@"}
    )
    name = quarry.get("/v2/functions", params={"types": "payload_shaping"}).json()["functions"][-1]["functionName"]
    call, call_id = run(quarry, name, b'{"a": 1}', "json")
    assert call["status"] == "completed"
    assert "usage" not in call and "usage" not in call["functionCalls"][0]
    assert "usage" not in quarry.get(f"/v3/calls/{call_id}").json()["call"]


def test_request_on_the_wire_and_answer_become_the_transform_event(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(answer(ANSWER))
    call, call_id = run(quarry, name, text_invoice())

    assert call["status"] == "completed", events_of(quarry, call_id)
    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {LLM_KEY}"
    assert sent.headers["content-type"].startswith("application/json")
    assert set(sent.body) == {"model", "temperature", "messages", "response_format", "logprobs"}
    assert sent.body["logprobs"] is True
    assert sent.body["model"] == MODEL
    assert sent.body["temperature"] == 0
    assert with_sorted_required(sent.body["response_format"]) == {  # PostgreSQL's JSONB keeps keys in its own order
        "type": "json_schema",
        "json_schema": {"name": SANITIZED_NAME, "schema": with_sorted_required(STRICT_SCHEMA), "strict": True},
    }
    assert [m["role"] for m in sent.messages] == ["system", "user"]
    assert isinstance(sent.messages[0]["content"], str) and "JSON" in sent.messages[0]["content"]
    assert MARKER not in sent.messages[0]["content"]
    assert isinstance(sent.user_content, str)  # a transform sends no images
    assert f"Invoice {MARKER}" in sent.user_content
    assert "Total: 1,234.50 NOK" in sent.user_content

    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == ANSWER
    assert event["invalidProperties"] == []
    confidences = event["fieldConfidences"]
    assert set(confidences) == ANSWER_POINTERS
    assert all(0 < value <= 1 for value in confidences.values()), confidences
    assert event["avgConfidence"] == pytest.approx(sum(confidences.values()) / len(confidences), abs=0.001)
    assert events_of(quarry, call_id, "error") == []


def test_values_the_document_does_not_contain_are_ungrounded_and_need_review(
    quarry: httpx.Client, fake: FakeOpenAI
) -> None:
    name = openai_function(quarry, enableBoundingBoxes=True)
    fake.script(answer(ANSWER))  # the line items and the country are not in the document: invented
    call, call_id = run(quarry, name, text_invoice())
    assert call["status"] == "completed", events_of(quarry, call_id)
    [event] = events_of(quarry, call_id, "transform")
    invented = {"/vendor/country", "/lineItems/0/sku", "/lineItems/0/qty", "/lineItems/1/sku", "/lineItems/1/qty"}
    assert set(event["ungroundedFields"]) == invented
    assert invented <= set(event["fieldsNeedingReview"]) and event["needsReview"]
    assert all(event["fieldConfidences"][pointer] <= 0.3 for pointer in invented)
    text = text_invoice().decode()
    spans = event["fieldTextSpans"]
    assert set(spans) == ANSWER_POINTERS - invented
    for pointer, written in (
        ("/invoiceNumber", "INV-8842"),
        ("/totalAmount", "1,234.50"),
        ("/vendor/name", "Zebulon Quarries"),
    ):
        assert text[spans[pointer][0]["start"] : spans[pointer][0]["end"]] == written


def test_an_evaluation_flags_the_values_the_document_does_not_contain(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    """Without citations on the function, the extraction marks nothing; an evaluation asked later
    through the official SDK reads the document again and finds the invented values."""
    name = openai_function(quarry)
    fake.script(answer(ANSWER))  # the line items and the country are not in the document: invented
    call, call_id = run(quarry, name, text_invoice())
    assert call["status"] == "completed", events_of(quarry, call_id)
    [event] = events_of(quarry, call_id, "transform")
    assert "ungroundedFields" not in event
    with bem.Bem(api_key=QUARRY_KEY, base_url=str(quarry.base_url), _strict_response_validation=True) as sdk:
        assert sdk.eval.trigger_evaluation(transformation_ids=[event["transformationID"]]).queued == 1
        deadline = time.monotonic() + 60
        while (results := sdk.eval.results.retrieve_results(event_ids=event["eventID"])).pending:
            assert time.monotonic() < deadline, results
            time.sleep(0.2)
    result = results.results[event["eventID"]]  # type: ignore[index]
    invented = {"/vendor/country", "/lineItems/0/sku", "/lineItems/0/qty", "/lineItems/1/sku", "/lineItems/1/qty"}
    assert result["hallucination"]["detected"] and set(result["hallucination"]["fields"]) == invented
    for pointer, field in result["fields"].items():
        assert field["hallucinated"] == (pointer in invented), pointer
        if pointer in invented:
            assert field["confidence"] <= 0.3 < field["extractionConfidence"]


def test_pdf_upload_sends_the_pdf_text(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(answer({"invoiceNumber": "PDF-1"}))
    document = pdf(f"Delivery note {MARKER} page one")
    response = quarry.post(
        f"/v2/functions/{name}/call",
        data={"referenceID": "pdf-upload"},
        files={"file": ("note.pdf", document, "application/pdf")},
    )
    assert response.status_code == 200, response.text
    [fc] = response.json()["functionCalls"]
    assert wait_for_function_call(quarry, fc["functionCallID"])["status"] == "completed"

    [sent] = fake.requests
    assert isinstance(sent.user_content, str)
    assert f"Delivery note {MARKER} page one" in sent.user_content
    [event] = events_of(quarry, fc["workflowCallID"], "transform")
    assert event["transformedContent"] == {"invoiceNumber": "PDF-1"}
    assert set(event["fieldConfidences"]) == {"/invoiceNumber"}


def test_rate_limit_and_server_errors_are_retried(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(failure(429, "slow down"), failure(503, "overloaded"), answer(ANSWER))
    call, call_id = run(quarry, name, text_invoice())

    assert call["status"] == "completed", events_of(quarry, call_id)
    assert len(fake.requests) == 3
    assert all(r.body == fake.requests[0].body for r in fake.requests)  # the same request, again
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == ANSWER


def test_every_attempt_failing_fails_the_call_naming_the_problem(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(*[failure(500, "upstream exploded")] * MAX_ATTEMPTS, answer(ANSWER))
    call, call_id = run(quarry, name, text_invoice())

    message = only_error(quarry, call, call_id)
    assert len(fake.requests) == MAX_ATTEMPTS
    assert fake.unanswered == 1  # the answer after the last attempt was never asked for
    assert f"{MAX_ATTEMPTS} attempts" in message
    assert "HTTP 500" in message and "upstream exploded" in message


def test_unauthorized_fails_at_once(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(failure(401, "Incorrect API key provided"), answer(ANSWER))
    call, call_id = run(quarry, name, text_invoice())

    message = only_error(quarry, call, call_id)
    assert len(fake.requests) == 1
    assert "401" in message and "Incorrect API key provided" in message


def test_invalid_answer_gets_one_repair_round(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    first = json.dumps({"invoiceNumber": 4711, "totalAmount": 12.5})
    fake.script(answer(first), answer(ANSWER), answer({"invoiceNumber": "not asked for"}))
    call, call_id = run(quarry, name, text_invoice())

    assert call["status"] == "completed", events_of(quarry, call_id)
    assert len(fake.requests) == 2
    initial, repair = fake.requests
    assert repair.body["response_format"] == initial.body["response_format"]
    assert repair.messages[:2] == initial.messages
    assert [m["role"] for m in repair.messages] == ["system", "user", "assistant", "user"]
    assert repair.messages[2]["content"] == first
    prompt = repair.messages[3]["content"]
    assert "invoiceNumber" in prompt and "4711 is not of type 'string'" in prompt
    assert "totalAmount" not in prompt  # only what did not validate
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == ANSWER
    assert event["invalidProperties"] == []


def test_answer_still_breaking_the_schema_after_repair_is_flagged(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    still_wrong = {"invoiceNumber": "INV-8842", "totalAmount": "about twelve"}
    fake.script(answer({"totalAmount": 12.5}), answer(still_wrong))
    call, call_id = run(quarry, name, text_invoice())

    assert call["status"] == "completed", events_of(quarry, call_id)
    assert len(fake.requests) == 2
    assert "'invoiceNumber' is a required property" in fake.requests[1].messages[3]["content"]
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == still_wrong
    assert event["invalidProperties"] == ["totalAmount"]
    confidences = event["fieldConfidences"]
    assert set(confidences) == {"/invoiceNumber", "/totalAmount"}
    assert confidences["/totalAmount"] < confidences["/invoiceNumber"]


def test_answer_that_never_is_a_json_object_fails_the_call(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = openai_function(quarry)
    fake.script(answer("Sorry, I cannot read this invoice."), answer('["INV-8842", 1234.5]'))
    call, call_id = run(quarry, name, text_invoice())

    message = only_error(quarry, call, call_id)
    assert len(fake.requests) == 2
    repair = fake.requests[1]
    assert repair.messages[2] == {"role": "assistant", "content": "Sorry, I cannot read this invoice."}
    assert "not a JSON object" in repair.messages[3]["content"]
    assert "not a JSON object" in message and "repair" in message


def test_analyze_pdf_sends_page_images_and_falls_back_to_text_when_refused(
    quarry: httpx.Client, fake: FakeOpenAI
) -> None:
    name = openai_function(quarry, "analyze")
    document = pdf(f"First page {MARKER}", "Second page of the scan")

    fake.script(answer(ANSWER))
    call, call_id = run(quarry, name, document, "pdf")
    assert call["status"] == "completed", events_of(quarry, call_id)
    [sent] = fake.requests
    content = sent.user_content
    assert isinstance(content, list)
    assert content[0]["type"] == "text" and f"First page {MARKER}" in content[0]["text"]
    urls = image_urls(content)
    assert len(urls) == 2 and len(content) == 3  # one image per page, after the text
    for url in urls:
        width, height = decoded_png(url).size
        assert height > width > 100  # an A4 page, portrait
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == ANSWER

    refused = failure(400, "this model does not take image input")
    fake.script(refused, refused, answer({"invoiceNumber": "TEXT-ONLY"}))  # strict, loose, loose without images
    call, call_id = run(quarry, name, document, "pdf")
    assert call["status"] == "completed", events_of(quarry, call_id)
    assert len(fake.requests) == 3
    strict, with_images, text_only = fake.requests
    assert strict.body["response_format"]["json_schema"]["strict"] is True
    assert with_images.body["response_format"]["json_schema"]["strict"] is False
    assert len(image_urls(strict.user_content)) == len(image_urls(with_images.user_content)) == 2
    assert "image_url" not in json.dumps(text_only.body)
    assert isinstance(text_only.user_content, str) and f"First page {MARKER}" in text_only.user_content
    assert text_only.messages[0] == with_images.messages[0]
    assert {k: v for k, v in text_only.body.items() if k != "messages"} == {
        k: v for k, v in with_images.body.items() if k != "messages"
    }
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == {"invoiceNumber": "TEXT-ONLY"}


def test_function_without_provider_does_not_ask_the_model(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    builtin = create_function(quarry, transform(f"builtin-{uuid.uuid4().hex[:8]}"))
    fake.script()
    call, call_id = run(quarry, builtin["functionName"], text_invoice())
    assert call["status"] == "completed", events_of(quarry, call_id)
    assert fake.requests == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_openai_function_on_a_server_without_a_model_fails_saying_what_to_set(backend: str, tmp_path: Path) -> None:
    with quarry_client(backend, tmp_path, "quarry_no_model", QUARRY_KEY) as api:  # no QUARRY_LLM_* settings
        _fails_saying_what_to_set(api)


def _fails_saying_what_to_set(api: httpx.Client) -> None:
    name = openai_function(api)
    call, call_id = run(api, name, text_invoice())
    message = only_error(api, call, call_id)
    assert "QUARRY_LLM_BASE_URL" in message and "QUARRY_LLM_MODEL" in message
    assert not message.startswith("internal error")

    # the server goes on working
    builtin = create_function(api, transform(f"builtin-{uuid.uuid4().hex[:8]}"))
    call, _ = run(api, builtin["functionName"], text_invoice())
    assert call["status"] == "completed"


# === the provider on its own ==================================================================


def test_settings_configure_the_provider_and_no_key_sends_no_authorization(fake: FakeOpenAI) -> None:
    settings = Settings.from_env({"QUARRY_LLM_BASE_URL": fake.url + "/", "QUARRY_LLM_MODEL": "local-model"})
    chosen = provider_for("openai", settings)
    fake.script(answer({"invoiceNumber": "A-1"}))
    extraction = chosen.extract(extraction_request())
    assert extraction.content == {"invoiceNumber": "A-1"}
    [sent] = fake.requests
    assert sent.path == "/chat/completions"
    assert "authorization" not in sent.headers
    assert sent.body["model"] == "local-model"


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({}, "no base URL"),
        ({"QUARRY_LLM_MODEL": "m"}, "no base URL"),
        ({"QUARRY_LLM_BASE_URL": "http://127.0.0.1:9"}, "no model"),
    ],
)
def test_missing_settings_are_named(environ: dict[str, str], missing: str) -> None:
    settings = Settings.from_env({"QUARRY_LLM_PROVIDER": "OpenAI", **environ})
    with pytest.raises(ProviderError) as raised:
        provider_for(None, settings)  # the deployment's default provider
    message = str(raised.value)
    assert "QUARRY_LLM_BASE_URL" in message and "QUARRY_LLM_MODEL" in message and missing in message


def test_backoff_honours_retry_after_capped_and_doubles_without_it(fake: FakeOpenAI) -> None:
    sleeps: list[float] = []
    fake.script(
        failure(500, "a", retry_after=None),
        failure(502, "b", retry_after=None),
        failure(503, "c", retry_after="7"),
        failure(429, "d", retry_after="3600"),
        failure(429, "e", retry_after="soon"),  # not a number of seconds: backoff as without one
        answer({"invoiceNumber": "B-1"}),
    )
    extraction = provider(fake, sleeps, max_attempts=6).extract(extraction_request())
    assert extraction.content == {"invoiceNumber": "B-1"}
    assert len(fake.requests) == 6
    assert sleeps == [1.0, 2.0, 7.0, 60.0, 16.0]


def test_no_sleep_after_the_last_attempt(fake: FakeOpenAI) -> None:
    sleeps: list[float] = []
    fake.script(*[failure(503, "busy", retry_after=None)] * 3)
    with pytest.raises(ProviderError, match=r"3 attempts: HTTP 503: busy"):
        provider(fake, sleeps, max_attempts=3).extract(extraction_request())
    assert len(fake.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_unreachable_endpoint_is_retried_then_named() -> None:
    sleeps: list[float] = []
    closed = OpenAIProvider(
        base_url=f"http://127.0.0.1:{free_port()}", model=MODEL, max_attempts=2, sleep=sleeps.append
    )
    with pytest.raises(ProviderError, match=r"2 attempts: ConnectError"):
        closed.extract(extraction_request())
    assert sleeps == [1.0]


def test_a_timeout_is_retried(fake: FakeOpenAI) -> None:
    fake.script(Reply(delay=1.0, body={}), answer({"invoiceNumber": "T-1"}))
    extraction = provider(fake, max_attempts=2, timeout_seconds=0.3).extract(extraction_request())
    assert extraction.content == {"invoiceNumber": "T-1"}
    assert len(fake.requests) == 2


def test_a_bad_request_without_images_is_not_retried(fake: FakeOpenAI) -> None:
    fake.script(failure(400, "context length exceeded"), answer({"invoiceNumber": "X"}))
    with pytest.raises(ProviderError, match="HTTP 400: context length exceeded"):
        provider(fake).extract(extraction_request())
    assert len(fake.requests) == 1


def test_an_answer_that_is_no_chat_completion_is_named(fake: FakeOpenAI) -> None:
    fake.script(Reply(body={"result": "ok"}))
    with pytest.raises(ProviderError, match="not a chat completion"):
        provider(fake).extract(extraction_request())
    assert len(fake.requests) == 1


def test_fenced_json_is_accepted_without_repair(fake: FakeOpenAI) -> None:
    fake.script(answer("```json\n" + json.dumps(ANSWER, indent=2) + "\n```"))
    assert provider(fake).extract(extraction_request()).content == ANSWER
    assert len(fake.requests) == 1


def test_repaired_answer_still_no_object_raises(fake: FakeOpenAI) -> None:
    fake.script(answer("null"), answer("{not json"))
    with pytest.raises(ProviderError, match="not a JSON object"):
        provider(fake).extract(extraction_request())
    assert len(fake.requests) == 2
    assert fake.requests[1].messages[2]["content"] == "null"


def test_analyze_image_input_sends_the_image(fake: FakeOpenAI) -> None:
    document = text_document("png", f"Receipt {MARKER}")
    fake.script(answer({"invoiceNumber": "IMG-1"}))
    extraction = provider(fake).extract(ExtractionRequest(document, SCHEMA, SCHEMA_NAME, "analyze", data=png(64, 48)))
    assert extraction.content == {"invoiceNumber": "IMG-1"}
    [sent] = fake.requests
    [url] = image_urls(sent.user_content)
    assert decoded_png(url).size == (64, 48)
    assert f"Receipt {MARKER}" in sent.user_content[0]["text"]


def test_images_refused_twice_fails(fake: FakeOpenAI) -> None:
    document = text_document("png", f"Receipt {MARKER}")
    fake.script(failure(400, "no images"), failure(400, "still refused"), answer({"invoiceNumber": "X"}))
    with pytest.raises(ProviderError, match="HTTP 400: still refused"):
        provider(fake).extract(ExtractionRequest(document, SCHEMA, SCHEMA_NAME, "analyze", data=png(8, 8)))
    assert len(fake.requests) == 2
    assert image_urls(fake.requests[0].user_content) and isinstance(fake.requests[1].user_content, str)


def test_images_can_be_switched_off(fake: FakeOpenAI) -> None:
    settings = Settings.from_env(
        {"QUARRY_LLM_BASE_URL": fake.url, "QUARRY_LLM_MODEL": MODEL, "QUARRY_LLM_SEND_IMAGES": "false"}
    )
    fake.script(answer({"invoiceNumber": "NI-1"}))
    document = text_document("png", f"Receipt {MARKER}")
    provider_for("openai", settings).extract(
        ExtractionRequest(document, SCHEMA, SCHEMA_NAME, "analyze", data=png(8, 8))
    )
    [sent] = fake.requests
    assert isinstance(sent.user_content, str) and MARKER in sent.user_content


def test_long_schema_names_are_cut_to_64_characters(fake: FakeOpenAI) -> None:
    fake.script(answer({"invoiceNumber": "N-1"}))
    document = parse("text", b"x")
    provider(fake).extract(ExtractionRequest(document, SCHEMA, "Lieferschein-" + "x" * 100, "transform"))
    [sent] = fake.requests
    assert sent.body["response_format"]["json_schema"]["name"] == "Lieferschein-" + "x" * 51


def test_confidence_pointers_escape_keys_and_flag_invalid_properties(fake: FakeOpenAI) -> None:
    content = {
        "invoiceNumber": "E-1",
        "vendor": {"country": "SE"},  # breaks the schema: vendor needs a name
        "lineItems": [{"sku": "A", "qty": 2}],
        "a/b": {"c~d": "x"},
        "note": None,  # states nothing: no confidence, as the builtin provider leaves out what it did not find
    }
    fake.script(answer(content), answer(content))  # the repair changes nothing
    extraction = provider(fake).extract(extraction_request())
    assert extraction.content == content
    assert "vendor: 'name' is a required property" in fake.requests[1].messages[3]["content"]
    # docs/decisions.md: 0.9 for each leaf of a property that validates, 0.4 for one that does not
    assert extraction.confidences == {
        "/invoiceNumber": 0.9,
        "/vendor/country": 0.4,
        "/lineItems/0/sku": 0.9,
        "/lineItems/0/qty": 0.9,
        "/a~1b/c~0d": 0.9,
    }


def test_analyze_sends_at_most_eight_pages(fake: FakeOpenAI) -> None:
    data = pdf(*[f"Page {n} of the long scan" for n in range(1, 10)])
    fake.script(answer({"invoiceNumber": "P-9"}))
    provider(fake).extract(ExtractionRequest(parse("pdf", data), SCHEMA, SCHEMA_NAME, "analyze", data=data))
    [sent] = fake.requests
    assert len(image_urls(sent.user_content)) == 8
    assert "Page 9 of the long scan" in sent.user_content[0]["text"]  # the text is all there


# --- transcription of audio inputs ------------------------------------------------------------


def transcript(text: str) -> Reply:
    return Reply(body={"text": text})


def test_audio_is_transcribed_then_extracted_by_the_builtin_provider(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = f"voicemail-{uuid.uuid4().hex[:8]}"
    create_function(quarry, transform(name))
    audio = b"ID3\x04\x00" + bytes(range(256)) * 8  # opaque bytes: only the endpoint reads them
    fake.script(transcript(f"Hello, this is {MARKER}. Invoice number: VM-3021. Total amount: 88.40 EUR."))
    call, call_id = run(quarry, name, audio, "mp3")
    assert call["status"] == "completed", only_error(quarry, call, call_id)
    [sent] = fake.requests
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.headers["authorization"] == f"Bearer {LLM_KEY}"  # the LLM key, as no transcription key is set
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert isinstance(sent.body, bytes) and audio in sent.body
    assert b'name="model"\r\n\r\nwhisper-test' in sent.body
    assert b'filename="audio.mp3"' in sent.body and b"Content-Type: audio/mpeg" in sent.body
    [event] = events_of(quarry, call_id, "transform")
    assert event["transformedContent"] == {"invoiceNumber": "VM-3021", "totalAmount": 88.4}
    assert event["inputType"] == "mp3"


def test_a_refused_transcription_fails_the_call_with_the_endpoint_message(
    quarry: httpx.Client, fake: FakeOpenAI
) -> None:
    name = f"voicemail-{uuid.uuid4().hex[:8]}"
    create_function(quarry, transform(name))
    fake.script(failure(400, "audio file is corrupt"))
    call, call_id = run(quarry, name, b"RIFF\x00\x00\x00\x00WAVE", "wav")
    assert call["status"] == "failed"
    message = only_error(quarry, call, call_id)
    assert "transcription endpoint refused" in message and "audio file is corrupt" in message
    assert len(fake.requests) == 1


# --- classification (route, semantic split) ---------------------------------------------------


def test_route_asks_the_model_to_pick_among_the_routes(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = f"triage-{uuid.uuid4().hex[:8]}"
    routes = [
        {"name": "billing", "description": "invoices and payments"},
        {"name": "legal", "description": "contracts"},
        {"name": "other", "isErrorFallback": True},
    ]
    body = {
        "functionName": name,
        "type": "route",
        "description": "Sort the mail",
        "routes": routes,
        "provider": "openai",
    }
    create_function(quarry, body)
    fake.script(answer({"choice": "legal"}))
    call, call_id = run(quarry, name, f"Dear {MARKER}, please sign the attached paper.".encode())
    assert call["status"] == "completed", call
    [routed] = events_of(quarry, call_id, "route")
    assert routed["choice"] == "legal"
    [sent] = fake.requests
    schema = sent.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["choice"]["enum"] == ["billing", "legal", "none"]  # the fallback is not a class
    assert MARKER in sent.user_content and "Sort the mail" in sent.user_content
    assert "- billing: invoices and payments" in sent.user_content


def test_a_model_answer_of_none_takes_the_error_fallback(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    name = f"triage-{uuid.uuid4().hex[:8]}"
    routes = [{"name": "billing"}, {"name": "other", "isErrorFallback": True}]
    body = {"functionName": name, "type": "route", "description": "Sort", "routes": routes, "provider": "openai"}
    create_function(quarry, body)
    fake.script(answer({"choice": "none"}))
    call, call_id = run(quarry, name, b"A poem about the sea.")
    assert call["status"] == "completed"
    [routed] = events_of(quarry, call_id, "route")
    assert routed["choice"] == "other"
