"""Documents longer than the model's context: read in page-aligned chunks, nothing dropped, the
answers merged (``providers.llm.chunks``, docs/decisions.md "Long documents").

Unit tests of the chunking and the merge; the provider against ``FakeOpenAI`` (what each request
carried); and end to end through the public API with ``ReadingModel``, a fake model that answers
what the text it was sent states — so a field only reaches the result if its page was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fpdf import FPDF

from quarry.documents.model import Document, Page, text_document
from quarry.documents.parse import parse
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.chunks import CONFLICT_CONFIDENCE, Chunk, chunk_document, estimate_tokens, merge
from quarry.providers.llm.openai import OpenAIProvider
from quarry.providers.llm.strict import allows_null
from tests.calls_client import events_of, single, submit, wait_for
from tests.conftest import BACKENDS
from tests.harness.fake_model import FakeOpenAI, ReadingModel, answer
from tests.harness.processes import quarry_client
from tests.helpers import create_function

QUARRY_KEY = "long-documents-test-key"
SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "totalDue": {"type": "string"},
        "lineItems": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["invoiceNumber", "totalDue"],
}


def paged(*texts: str) -> Document:
    return Document("pdf", pages=[Page(n, text) for n, text in enumerate(texts, start=1)])


# --- chunking ---------------------------------------------------------------------------------


def test_whole_pages_go_together_while_they_fit() -> None:
    pages = [f"page {n} " + "x" * 290 for n in range(1, 11)]  # about 100 tokens each
    chunks = chunk_document(paged(*pages), budget_tokens=350)
    assert [chunk.pages for chunk in chunks] == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
    for chunk in chunks:
        assert estimate_tokens(chunk.text) <= 350
        assert chunk.text == "\n\n".join(pages[n - 1] for n in chunk.pages)


def test_a_page_longer_than_a_chunk_is_cut_at_line_ends_and_nothing_is_lost() -> None:
    lines = [f"line {n:03d} of the long page" for n in range(200)]  # 25 bytes a line
    long_page = "\n".join(lines)
    chunks = chunk_document(paged("first", long_page, "last"), budget_tokens=100)
    assert len(chunks) > 3
    assert all(estimate_tokens(chunk.text) <= 100 for chunk in chunks)
    sent = [line for chunk in chunks for line in chunk.text.split("\n") if line]
    assert sent == ["first", *lines, "last"]  # every line once, in order, none cut
    assert chunks[0].pages == [1, 2] and chunks[-1].pages == [2, 3]


def test_a_line_longer_than_a_chunk_is_cut_at_the_budget_by_whole_characters() -> None:
    line = "ä" * 1000  # 2 bytes each
    chunks = chunk_document(text_document("text", line), budget_tokens=100)
    assert "".join(chunk.text for chunk in chunks) == line
    assert all(estimate_tokens(chunk.text) <= 100 for chunk in chunks)


def test_a_page_image_counts_against_the_budget() -> None:
    chunks = chunk_document(paged("a", "b", "", "d", "e"), budget_tokens=250, page_tokens={1: 100, 2: 100, 3: 100})
    assert [chunk.pages for chunk in chunks] == [[1, 2], [3, 4, 5]]  # a page without text still has its image


# --- merging ----------------------------------------------------------------------------------


def chunks_of(*page_ranges: tuple[int, int]) -> list[Chunk]:
    return [Chunk("", list(range(first, last + 1))) for first, last in page_ranges]


def test_arrays_are_concatenated_in_page_order_and_repeats_kept_once() -> None:
    answers = [
        ({"items": [{"sku": "A"}, {"sku": "B"}]}, {"/items/0/sku": 0.9, "/items/1/sku": 0.8}),
        ({"items": [{"sku": "B"}, {"sku": "C"}]}, {"/items/0/sku": 0.7, "/items/1/sku": 0.6}),
    ]
    content, confidences, conflicts = merge(answers, chunks_of((1, 2), (3, 4)))
    assert content == {"items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]}
    assert confidences == {"/items/0/sku": 0.9, "/items/1/sku": 0.8, "/items/2/sku": 0.6}
    assert conflicts == []


def test_a_scalar_comes_from_the_most_confident_chunk_and_a_disagreement_is_listed() -> None:
    answers = [
        ({"total": "10.00", "vendor": {"name": "Acme"}}, {"/total": 0.6, "/vendor/name": 0.9}),
        ({"total": "12.00", "vendor": {"country": "NO"}}, {"/total": 0.8, "/vendor/country": 0.9}),
        ({"total": None}, {}),
    ]
    content, confidences, conflicts = merge(answers, chunks_of((1, 1), (2, 5), (6, 6)))
    assert content == {"total": "12.00", "vendor": {"name": "Acme", "country": "NO"}}
    assert confidences == {"/total": CONFLICT_CONFIDENCE, "/vendor/name": 0.9, "/vendor/country": 0.9}
    assert conflicts == [
        {
            "field": "/total",
            "values": [
                {"value": "10.00", "pages": [1, 1], "confidence": 0.6},
                {"value": "12.00", "pages": [2, 5], "confidence": 0.8},
            ],
        }
    ]


def test_agreeing_chunks_make_no_conflict_and_the_earliest_of_equals_wins() -> None:
    answers = [({"n": "A-1"}, {"/n": 0.9}), ({"n": "A-1"}, {"/n": 0.9}), ({}, {})]
    content, confidences, conflicts = merge(answers, chunks_of((1, 1), (2, 2), (3, 3)))
    assert (content, confidences, conflicts) == ({"n": "A-1"}, {"/n": 0.9}, [])


# --- the provider: what each request carries ---------------------------------------------------


def request_tokens(body: dict[str, Any]) -> int:
    """A request's size in the estimate's units: its messages and its schema."""
    return estimate_tokens(json.dumps(body["messages"], ensure_ascii=False)) + estimate_tokens(
        json.dumps(body["response_format"])
    )


def test_a_long_text_is_sent_whole_in_parts_each_within_the_context(fake: FakeOpenAI) -> None:
    text = "HEAD-OF-DOCUMENT\n" + "lorem ipsum dolor\n" * 14_000 + "TAIL-OF-DOCUMENT"  # ~250,000 characters
    fake.script(*[answer({}) for _ in range(40)])
    provider = OpenAIProvider(base_url=fake.url, model="m", context_tokens=8_000, sleep=lambda s: None)
    document = text_document("text", text)
    extraction = provider.extract(ExtractionRequest(document, SCHEMA, "Invoice", "transform"))
    sent = [r.user_content for r in fake.requests]
    assert len(sent) == len(extraction.chunks) > 10
    assert "HEAD-OF-DOCUMENT" in sent[0] and "TAIL-OF-DOCUMENT" in sent[-1]
    assert sum(s.count("lorem ipsum dolor") for s in sent) == 14_000  # every line sent, once
    assert all(request_tokens(r.body) <= 8_000 for r in fake.requests)
    for request in fake.requests:  # a part need not hold what the whole must: every property may be null
        schema = request.body["response_format"]["json_schema"]["schema"]
        assert all(allows_null(item) for item in schema["properties"].values())
        assert "minItems" not in json.dumps(schema)


def test_a_schema_that_fills_the_context_is_a_clear_error(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider(base_url=fake.url, model="m", context_tokens=300, sleep=lambda s: None)
    with pytest.raises(Exception, match="QUARRY_LLM_CONTEXT_TOKENS"):
        provider.extract(ExtractionRequest(text_document("text", "x"), SCHEMA, "Invoice", "transform"))
    assert fake.requests == []


# --- end to end: a 400-page PDF, fields on pages 1 and 380 -----------------------------------

PAGES = 400
CONTEXT = 4_000


def long_pdf(pages: int = PAGES) -> bytes:
    document = FPDF()
    document.set_font("Helvetica", size=10)
    for number in range(1, pages + 1):
        document.add_page()
        document.multi_cell(
            0,
            5,
            f"Page {number} of the delivery records.\n" + "Pallet checked and signed. " * 12,
            new_x="LMARGIN",
            new_y="NEXT",
        )
        if number == 1:
            document.multi_cell(0, 5, "Invoice number: INV-20931", new_x="LMARGIN", new_y="NEXT")
        if number == min(380, pages):
            document.multi_cell(0, 5, "Total due: 48,112.70 EUR", new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


@pytest.fixture(scope="module")
def reader() -> Iterator[ReadingModel]:
    server = ReadingModel({"invoiceNumber": r"Invoice number: (\S+)", "totalDue": r"Total due: ([\d,.]+ EUR)"})
    yield server
    server.close()


@pytest.fixture(scope="module", params=BACKENDS)
def quarry(
    request: pytest.FixtureRequest, reader: ReadingModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp(f"quarry-long-{request.param}")
    settings = {"QUARRY_LLM_BASE_URL": reader.url + "/v1", "QUARRY_LLM_MODEL": "reading-model"}
    with quarry_client(
        request.param, data_dir, "quarry_long", QUARRY_KEY, **settings, QUARRY_LLM_CONTEXT_TOKENS=str(CONTEXT)
    ) as client:
        yield client


def test_a_400_page_pdf_is_extracted_whole_through_a_small_context(quarry: httpx.Client, reader: ReadingModel) -> None:
    body = {
        "functionName": "records",
        "type": "transform",
        "outputSchemaName": "Invoice",
        "outputSchema": SCHEMA,
        "provider": "openai",
    }
    create_function(quarry, body)
    reader.requests.clear()
    [created] = submit(quarry, {"functionName": "records", "input": single(long_pdf(), "pdf")})
    call = wait_for(quarry, created["callID"], seconds=180)
    assert call["status"] == "completed", call
    [event] = events_of(quarry, created["callID"], "transform")
    assert event["transformedContent"] == {"invoiceNumber": "INV-20931", "totalDue": "48,112.70 EUR"}
    assert event["invalidProperties"] == []
    chunks = [chunk["pages"] for chunk in event["documentChunks"]]
    assert chunks[0][0] == 1 and chunks[-1][1] == PAGES
    assert all(later[0] in (earlier[1], earlier[1] + 1) for earlier, later in zip(chunks, chunks[1:]))  # no gap
    assert event["chunkConflicts"] == []
    assert len(reader.requests) == len(chunks)
    assert all(request_tokens(r.body) <= CONTEXT for r in reader.requests)
    pages_sent = [int(n) for r in reader.requests for n in re.findall(r"Page (\d+) of the delivery", r.user_content)]
    assert sorted(set(pages_sent)) == list(range(1, PAGES + 1))  # every page reached the model


def test_pre_count_reads_a_long_document_in_parts_half_as_long(quarry: httpx.Client, reader: ReadingModel) -> None:
    """bem's ``preCount`` (v3; a Quarry extension on v2): the same document, more and smaller parts,
    the same whole answer."""
    parts = {}
    for pre_count in (False, True):
        name = f"records-pre-count-{pre_count}".lower()
        body = {"functionName": name, "type": "transform", "outputSchemaName": "Invoice", "outputSchema": SCHEMA,
                "provider": "openai", "preCount": pre_count}  # fmt: skip
        assert create_function(quarry, body).get("preCount", False) is pre_count
        reader.requests.clear()
        [created] = submit(quarry, {"functionName": name, "input": single(long_pdf(60), "pdf")})
        assert wait_for(quarry, created["callID"], seconds=120)["status"] == "completed"
        [event] = events_of(quarry, created["callID"], "transform")
        assert event["transformedContent"] == {"invoiceNumber": "INV-20931", "totalDue": "48,112.70 EUR"}
        parts[pre_count] = len(event["documentChunks"])
        assert len(reader.requests) == parts[pre_count]
    assert parts[True] >= 2 * parts[False] - 1 > 1, parts


def test_analyze_sends_each_part_the_images_of_its_own_pages(fake: FakeOpenAI) -> None:
    document = FPDF()
    document.set_font("Helvetica", size=10)
    for number in range(1, 4):
        document.add_page()
        document.multi_cell(0, 5, f"Sheet {number}. " + "Signed and stamped. " * 150, new_x="LMARGIN", new_y="NEXT")
    data = bytes(document.output())
    fake.script(*[answer({"lineItems": [f"item of part {n}"]}) for n in range(1, 10)])
    provider = OpenAIProvider(base_url=fake.url, model="m", context_tokens=4_000, sleep=lambda s: None)
    parsed = parse("pdf", data)
    extraction = provider.extract(ExtractionRequest(parsed, SCHEMA, "Invoice", "analyze", data))
    assert len(fake.requests) == len(extraction.chunks) > 1
    for request, chunk in zip(fake.requests, extraction.chunks):
        first, last = chunk["pages"]
        images = [part for part in request.user_content if part.get("type") == "image_url"]
        assert len(images) == last - first + 1  # one image per page of the part, no other
        text = " ".join(part["text"] for part in request.user_content if part.get("type") == "text")
        assert {int(n) for n in re.findall(r"Sheet (\d)\.", text)} <= set(range(first, last + 1))
        without_images = {**request.body, "messages": [request.messages[0], {"role": "user", "content": text}]}
        assert request_tokens(without_images) + len(images) * 1_000 <= 4_000  # text within what the images leave
    assert extraction.content["lineItems"] == [f"item of part {n}" for n in range(1, len(extraction.chunks) + 1)]
