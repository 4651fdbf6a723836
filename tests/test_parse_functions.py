"""Parse functions: a document's structure (sections in reading order, tables, key-value pairs,
entities with their occurrences, Markdown), through v3 (the strict SDK) and v2, on real files.

Expectations come from what the test documents were written with (``tests.documents``), the
regions from the PDF read independently of Quarry (pypdfium2's text in the rectangle).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest

from tests import documents
from tests.calls_client import events_of, single, submit, wait_for
from tests.harness.fake_model import FakeOpenAI, answer, failure
from tests.harness.processes import quarry_client
from tests.helpers import assert_error, create_function

ITEM_ROWS = [[d, str(q), f"{p:,.2f}", f"{a:,.2f}"] for d, q, p, a in documents.ITEMS]
MARKDOWN_HEADER = "| " + " | ".join(documents.HEADER) + " |"


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _parse(api: httpx.Client, name: str, data: bytes, input_type: str) -> dict[str, Any]:
    [created] = submit(api, {"functionName": name, "input": single(data, input_type)})
    call = wait_for(api, created["callID"])
    assert call["status"] == "completed", events_of(api, created["callID"])
    [event] = events_of(api, created["callID"], "parse")
    return event


def _document(data: bytes, input_type: str) -> dict[str, Any]:
    return {"single_file": {"input_type": input_type, "input_content": base64.b64encode(data).decode()}}


def _pairs(content: dict[str, Any]) -> set[tuple[str, str]]:
    return {(pair["key"], pair["value"]) for pair in content["keyValuePairs"]}


# --- v3, through the official SDK -----------------------------------------------------------------


def test_the_sdk_parses_a_pdf_into_sections_tables_pairs_entities_and_regions(sdk: bem.Bem) -> None:
    function = sdk.functions.create(
        function_name="parse-pdf", type="parse", extra_config={"enable_bounding_boxes": True}
    ).function
    assert function.type == "parse"
    assert function.extra_config is not None and function.extra_config.enable_bounding_boxes is True
    sdk.workflows.create(name="parse-pdf", main_node_name="p", nodes=[{"name": "p", "function": {"name": "parse-pdf"}}])
    data = documents.pdf()

    call = sdk.workflows.call("parse-pdf", input=_document(data, "pdf"), wait=True).call
    assert call.status == "completed"
    [output] = call.outputs
    assert output.event_type == "parse"
    content: dict[str, Any] = output.transformed_content  # type: ignore[assignment]

    sections = content["sections"]
    # every printed line, in the order it was written, each in one section
    assert [line for s in sections for line in _lines(s["text"])] == _lines("\n".join(documents.text_lines()))
    assert {s["page"] for s in sections} == {1}
    [heading] = [s for s in sections if s["text"] == "INVOICE"]
    assert heading["type"] == "heading"
    [table_section] = [s for s in sections if s["type"] == "table"]
    assert _lines(table_section["text"])[0] == " ".join(documents.HEADER)
    assert table_section["label"] == "INVOICE"  # the heading it stands under
    [table] = content["tables"]
    assert [table["header"], *table["rows"]] == [documents.HEADER, *ITEM_ROWS]
    assert table["section"] == sections.index(table_section)
    assert set(documents.FIELDS) <= _pairs(content)
    assert MARKDOWN_HEADER in content["markdown"] and "# INVOICE" in content["markdown"]

    entities = {entity["name"]: entity for entity in content["entities"]}
    assert entities[documents.NUMBER]["type"] == "invoice_number"
    assert entities[documents.SELLER]["type"] == "issuer"
    [occurrence] = entities[documents.NUMBER]["occurrences"]
    assert occurrence["text"] == documents.NUMBER and documents.NUMBER in sections[occurrence["section"]]["text"]
    assert content["relationships"] == []

    boxes: dict[str, Any] = output.field_bounding_boxes  # type: ignore[assignment]
    assert {f"/sections/{n}" for n in range(len(sections))} <= set(boxes)
    for n, section in enumerate(sections):
        [region] = boxes[f"/sections/{n}"]
        first_line = _lines(section["text"])[0]
        assert " ".join(documents.text_in_region(data, region).split()).startswith(first_line), (region, first_line)
    number = content["entities"].index(entities[documents.NUMBER])
    [region] = boxes[f"/entities/{number}/occurrences/0"]
    assert documents.NUMBER in documents.text_in_region(data, region)
    assert region["width"] < 0.3  # the number's words, not its line


def test_a_workflow_parse_then_extract_extracts_from_the_parsed_document(sdk: bem.Bem) -> None:
    sdk.functions.create(function_name="wf-parse", type="parse")
    sdk.functions.create(
        function_name="wf-extract", type="extract", output_schema_name="Invoice", output_schema=documents.SCHEMA
    )
    sdk.workflows.create(
        name="parse-then-extract",
        main_node_name="parse",
        nodes=[
            {"name": "parse", "function": {"name": "wf-parse"}},
            {"name": "extract", "function": {"name": "wf-extract"}},
        ],
        edges=[{"sourceNodeName": "parse", "destinationNodeName": "extract"}],
    )
    call = sdk.workflows.call("parse-then-extract", input=_document(documents.pdf(), "pdf"), wait=True).call
    assert call.status == "completed"
    [output] = call.outputs
    assert output.event_type == "extract"
    content: dict[str, Any] = output.transformed_content  # type: ignore[assignment]
    assert content["invoiceNumber"] == documents.NUMBER
    assert content["totalAmount"] == documents.TOTAL
    assert content["invoiceDate"] == documents.DATE_ISO
    assert [item["description"] for item in content["lineItems"]] == [item[0] for item in documents.ITEMS]


def test_the_sdk_reads_a_parse_function_back_with_its_configuration(sdk: bem.Bem) -> None:
    sdk.functions.create(
        function_name="parse-config",
        type="parse",
        parse_config={"extract_entities": False, "link_across_documents": False, "default_bucket": "contracts"},
    )
    function = sdk.functions.retrieve("parse-config").function
    assert function.type == "parse"
    assert function.parse_config is not None
    assert function.parse_config.extract_entities is False
    assert function.parse_config.default_bucket == "contracts"
    listed = sdk.functions.list(types=["parse"])
    assert [f.function_name for f in listed] == ["parse-config"]

    updated = sdk.functions.update(
        "parse-config",
        type="parse",  # type: ignore[call-overload]
        extra_config={"enable_bounding_boxes": True},
    ).function
    assert updated.type == "parse" and updated.version_num == 2
    assert updated.extra_config is not None and updated.extra_config.enable_bounding_boxes is True


# --- v2 and the HTTP API ---------------------------------------------------------------------------


def test_a_docx_with_a_table_is_parsed(api: httpx.Client) -> None:
    create_function(api, {"functionName": "parse-docx", "type": "parse"})
    content = _parse(api, "parse-docx", documents.docx(), "docx")["transformedContent"]
    sections = content["sections"]
    assert [s["type"] for s in sections] == ["paragraph", "key_value", "table", "key_value"]
    assert sections[0]["text"] == documents.SELLER
    [table] = content["tables"]
    assert [table["header"], *table["rows"]] == [documents.HEADER, *ITEM_ROWS]
    assert sections[table["section"]]["table"] == 0
    assert set(documents.FIELDS) <= _pairs(content)
    assert MARKDOWN_HEADER in content["markdown"]
    assert "| Widget A | 2 | 100.00 | 200.00 |" in content["markdown"]


def test_an_html_page_gives_its_headings_and_both_tables(api: httpx.Client) -> None:
    create_function(api, {"functionName": "parse-html", "type": "parse"})
    event = _parse(api, "parse-html", documents.html(), "html")
    content = event["transformedContent"]
    sections = content["sections"]
    assert (sections[0]["type"], sections[0]["text"]) == ("heading", documents.SELLER)  # the page's <h1>
    assert [s["type"] for s in sections[1:]] == ["table", "table"]
    assert all(s["label"] == documents.SELLER for s in sections[1:])
    fields_table, items_table = content["tables"]
    assert [fields_table["header"], *fields_table["rows"]] == [list(field) for field in documents.FIELDS]
    assert [items_table["header"], *items_table["rows"]] == [documents.HEADER, *ITEM_ROWS]
    assert set(documents.FIELDS) <= _pairs(content)  # a table of labels and values gives its pairs
    assert content["markdown"].startswith(f"# {documents.SELLER}\n")
    assert "fieldBoundingBoxes" not in event  # not asked for
    feedback = api.post(f"/v3/events/{event['eventID']}/feedback", json={"correction": content})
    assert_error(feedback, 400, "eventID")  # a parse is no extraction to correct


def test_without_entity_extraction_entities_and_relationships_are_empty(api: httpx.Client) -> None:
    body = {"functionName": "parse-plain", "type": "parse", "parseConfig": {"extractEntities": False}}
    create_function(api, body)
    content = _parse(api, "parse-plain", documents.text(), "text")["transformedContent"]
    assert content["entities"] == [] and content["relationships"] == []
    assert set(documents.FIELDS) <= _pairs(content)  # the structure is all there


def test_a_broken_file_fails_the_call_with_an_error_event(api: httpx.Client) -> None:
    create_function(api, {"functionName": "parse-broken", "type": "parse"})
    [created] = submit(api, {"functionName": "parse-broken", "input": single(b"%PDF-1.7 not really a pdf", "pdf")})
    call = wait_for(api, created["callID"])
    assert call["status"] == "failed"
    [error] = events_of(api, created["callID"], "error")
    assert "PDF" in error["message"]
    assert events_of(api, created["callID"], "parse") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"parseConfig": {"schema": {"type": "object"}}}, "parseConfig"),
        ({"parseConfig": {"extractEntities": "yes"}}, "parseConfig.extractEntities"),
        ({"extraConfig": {"somethingElse": True}}, "extraConfig.somethingElse"),
    ],
    ids=["schema", "not-a-boolean", "unknown-field"],
)
def test_a_bad_parse_configuration_is_a_400(api: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = api.post("/v3/functions", json={"functionName": "bad-parse", "type": "parse", **body})
    assert_error(response, 400, field)


def test_v2_lists_a_parse_function_made_through_v3(api: httpx.Client) -> None:
    created = api.post("/v3/functions", json={"functionName": "parse-v2", "type": "parse"})
    assert created.status_code == 200, created.text
    response = api.get("/v2/functions", params={"types": "parse"})
    assert response.status_code == 200, response.text
    [function] = response.json()["functions"]
    assert (function["functionName"], function["type"]) == ("parse-v2", "parse")


# --- a deployment with a model ----------------------------------------------------------------------

MODEL_KEY = "parse-model-test-key"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module")
def with_model(model: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir: Path = tmp_path_factory.mktemp("quarry-parse-model")
    settings = {"QUARRY_LLM_PROVIDER": "openai", "QUARRY_LLM_BASE_URL": model.url, "QUARRY_LLM_MODEL": "fake-model"}
    with quarry_client(
        "sqlite", data_dir, "quarry_parse", MODEL_KEY, **settings, QUARRY_LLM_MAX_ATTEMPTS="1"
    ) as client:
        yield client


def test_with_a_model_entities_and_relationships_are_the_models(with_model: httpx.Client, model: FakeOpenAI) -> None:
    model.script(
        answer(
            {
                "entities": [
                    {"name": documents.SELLER, "type": "organization", "mentions": ["Northwind"]},
                    {"name": documents.NUMBER, "type": "invoice_number", "mentions": []},
                    {"name": "Acme Nowhere Ltd", "type": "organization", "mentions": []},
                ],
                "relationships": [
                    {"source": documents.NUMBER, "target": documents.SELLER, "type": "issued_by"},
                    {"source": documents.NUMBER, "target": "Someone Unnamed", "type": "paid_by"},
                ],
            }
        )
    )
    create_function(with_model, {"functionName": "parse-model", "type": "parse"})
    content = _parse(with_model, "parse-model", documents.text(), "text")["transformedContent"]

    [request] = model.requests
    assert documents.NUMBER in request.user_content  # the document went to the model…
    schema = request.body["response_format"]["json_schema"]
    assert schema["strict"] is True and set(schema["schema"]["required"]) == {"entities", "relationships"}
    entities = {entity["name"]: entity for entity in content["entities"]}
    assert [e["type"] for e in content["entities"]] == ["organization", "invoice_number", "organization"]
    assert [o["text"] for o in entities[documents.SELLER]["occurrences"]] == [documents.SELLER]
    assert len(entities[documents.NUMBER]["occurrences"]) == 1
    assert entities["Acme Nowhere Ltd"]["occurrences"] == []  # named by the model, written nowhere
    # …and a relationship to an entity the model did not name is left out
    assert content["relationships"] == [{"source": documents.NUMBER, "target": documents.SELLER, "type": "issued_by"}]
    assert set(documents.FIELDS) <= _pairs(content)


def test_with_entities_off_the_model_is_not_asked(with_model: httpx.Client, model: FakeOpenAI) -> None:
    model.script()
    body = {"functionName": "parse-no-model", "type": "parse", "parseConfig": {"extractEntities": False}}
    create_function(with_model, body)
    content = _parse(with_model, "parse-no-model", documents.text(), "text")["transformedContent"]
    assert model.requests == []
    assert content["entities"] == [] and content["sections"]


def test_a_model_that_fails_fails_the_call_with_an_error_event(with_model: httpx.Client, model: FakeOpenAI) -> None:
    model.script(failure(500, "the model is down"))
    create_function(with_model, {"functionName": "parse-down", "type": "parse"})
    [created] = submit(with_model, {"functionName": "parse-down", "input": single(documents.text(), "text")})
    assert wait_for(with_model, created["callID"])["status"] == "failed"
    [error] = events_of(with_model, created["callID"], "error")
    assert "the model is down" in error["message"]
