"""``POST /v3/infer-schema``: a schema proposed from a sample file, through the official bem SDK
(strict), on both databases — and the proof that it is usable: it is a valid JSON Schema, a function
can be created with it as it stands, and a call of that function (builtin provider) on the same file
fills most of its fields, counted here from the schema and the call's output alone, and holds the
facts the test knows of the document (``tests/documents.py``, ``examples/manifest.json``).

Then the errors, the model path (a scripted OpenAI-compatible endpoint) and the builtin inference
on documents directly.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from quarry.app import create_app
from quarry.bootstrap import bootstrap
from quarry.config import Settings
from quarry.documents.model import Document, Page, Table, text_document
from quarry.documents.parse import parse
from quarry.engine.engine import Role
from quarry.providers.llm.builtin.inference import property_name, propose, value_schema
from tests import documents
from tests.harness.fake_model import FakeOpenAI, answer, failure

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "corpus"
MANIFEST = {entry["file"]: entry for entry in json.loads((ROOT / "examples" / "manifest.json").read_text())}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- counting, independently of the inference ------------------------------------------------------


def leaves(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every field a schema asks for: scalar properties, the properties of nested objects, and the
    item properties of arrays of objects (``lineItems[].amount``)."""
    found = []
    for name, spec in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if spec.get("type") == "object":
            found += leaves(spec, f"{path}.")
        elif spec.get("type") == "array" and spec.get("items", {}).get("type") == "object":
            found += leaves(spec["items"], f"{path}[].")
        else:
            found.append(path)
    return found


def filled(content: Any, path: str) -> bool:
    """Whether ``content`` has a value at ``path`` (for ``[]``, in at least one item)."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = content.get(head[:-2]) if isinstance(content, dict) else None
        return isinstance(items, list) and any(filled(item, rest) for item in items)
    if not isinstance(content, dict) or content.get(head) in (None, "", [], {}):
        return False
    return filled(content[head], rest) if rest else True


def values_in(content: Any) -> list[Any]:
    if isinstance(content, dict):
        return [v for value in content.values() for v in values_in(value)]
    if isinstance(content, list):
        return [v for value in content for v in values_in(value)]
    return [content]


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def manifest_facts(name: str) -> list[Any]:
    """The document's known scalar values (its manifest's ``expected``), but enums the schema may name otherwise."""
    expected = MANIFEST[f"corpus/{name}"]["expected"]
    return [value for key, value in expected.items() if not isinstance(value, list | dict) and key != "paymentMethod"]


# (file name, bytes, media type, inputType, fileType, document type, facts the extraction must hold)
SAMPLES: dict[str, Callable[[], tuple[str, bytes, str, str, str, str, list[Any]]]] = {
    "invoice-pdf": lambda: (
        "invoice.pdf",
        documents.pdf(),
        "application/pdf",
        "pdf",
        "document",
        "invoice",
        [documents.NUMBER, documents.DATE_ISO, documents.TOTAL, "Widget A", 1034.56],
    ),
    "receipt-text": lambda: (
        "receipt-elm-street-hardware.txt",
        corpus("receipt-elm-street-hardware.txt"),
        "text/plain",
        "text",
        "document",
        "receipt",
        manifest_facts("receipt-elm-street-hardware.txt"),
    ),
    "invoice-xlsx": lambda: (
        "invoice-greenleaf-janitorial.xlsx",
        corpus("invoice-greenleaf-janitorial.xlsx"),
        XLSX,
        "xlsx",
        "spreadsheet",
        "invoice",
        manifest_facts("invoice-greenleaf-janitorial.xlsx"),
    ),
    "invoice-csv": lambda: (
        "invoice-evergreen-keyvalue.csv",
        corpus("invoice-evergreen-keyvalue.csv"),
        "text/csv",
        "csv",
        "spreadsheet",
        "invoice",
        manifest_facts("invoice-evergreen-keyvalue.csv"),
    ),
    "e-invoice-xml": lambda: (
        "invoice-schneider-ubl.xml",
        corpus("invoice-schneider-ubl.xml"),
        "application/xml",
        "xml",
        "data",
        "invoice",
        manifest_facts("invoice-schneider-ubl.xml"),
    ),
}


def run_extraction(sdk: bem.Bem, schema: dict[str, Any], data: bytes, input_type: str) -> dict[str, Any]:
    """Create a function with ``schema`` as it stands and call it on ``data``: the extracted content."""
    name = f"inferred-{uuid.uuid4().hex[:8]}"
    sdk.functions.create(function_name=name, type="extract", output_schema=schema, output_schema_name="Inferred")
    sdk.workflows.create(name=name, main_node_name="extract", nodes=[{"name": "extract", "function": {"name": name}}])
    single = {"single_file": {"input_content": base64.b64encode(data).decode(), "input_type": input_type}}
    call = sdk.workflows.call(name, input=single, wait=True).call
    assert call is not None and call.status == "completed", call
    [output] = call.outputs
    content = output.transformed_content
    assert isinstance(content, dict)
    return content


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_the_inferred_schema_extracts_the_sample_it_came_from(sdk: bem.Bem, sample: str) -> None:
    filename, data, media, input_type, file_type, kind, facts = SAMPLES[sample]()

    answer = sdk.infer_schema.create(file=(filename, data, media))

    analysis = answer.analysis
    assert answer.filename == analysis.file_name == filename
    assert analysis.size_bytes == len(data)
    assert (analysis.file_type, analysis.content_nature) == (file_type, "textual")
    assert analysis.content_type == media
    assert kind in [t.name for t in analysis.document_types]
    assert analysis.description and not analysis.is_multi_document
    schema = analysis.schema_
    assert isinstance(schema, dict)
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"

    content = run_extraction(sdk, schema, data, input_type)

    fields = leaves(schema)
    found = [path for path in fields if filled(content, path)]
    assert len(fields) >= 6, fields
    assert len(found) >= 0.8 * len(fields), sorted(set(fields) - set(found))
    extracted = values_in(content)
    held = [fact for fact in facts if fact in extracted]
    assert len(held) >= 0.75 * len(facts), (facts, content)


def test_names_types_and_descriptions_of_an_invoice(sdk: bem.Bem) -> None:
    schema = sdk.infer_schema.create(file=("invoice.pdf", documents.pdf(), "application/pdf")).analysis.schema_
    assert isinstance(schema, dict)
    properties = schema["properties"]
    assert properties["invoiceNumber"]["type"] == "string"
    assert properties["invoiceNumber"]["description"] == "Invoice Number"
    assert properties["invoiceDate"] == {**properties["invoiceDate"], "type": "string", "format": "date"}
    assert properties["total"]["type"] == "number"
    items = properties["lineItems"]["items"]["properties"]
    assert list(items) == ["description", "qty", "unitPrice", "amount"]
    assert [items[name]["type"] for name in items] == ["string", "number", "number", "number"]
    assert items["unitPrice"]["description"] == "Unit Price"


def test_raw_bytes_through_the_sdk_are_read_by_their_content(sdk: bem.Bem) -> None:
    """``file=data`` (no name): the SDK sends the bytes alone; their content says they are a PDF."""
    answer = sdk.infer_schema.create(file=documents.pdf())
    assert answer.analysis.file_type == "document"
    assert answer.analysis.content_type == "application/pdf"


def test_a_file_part_as_curl_sends_it(api: httpx.Client) -> None:
    response = api.post("/v3/infer-schema", files={"file": ("receipt.txt", corpus("receipt-elm-street-hardware.txt"))})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["analysis"]["documentTypes"][0]["name"] == "receipt"
    assert body["analysis"]["inferredBy"] == "builtin"


# --- errors --------------------------------------------------------------------------------------


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert {"message", "code"} <= set(body) <= {"message", "code", "details"} and body["code"] == status
    return body


def test_no_file_is_a_400(api: httpx.Client) -> None:
    assert _error(api.post("/v3/infer-schema"), 400)["details"]["field"] == "file"
    assert _error(api.post("/v3/infer-schema", json={"file": "x"}), 400)["details"]["field"] == "file"
    other = _error(api.post("/v3/infer-schema", files={"document": ("a.pdf", documents.pdf())}), 400)
    assert other["details"]["field"] == "document"
    two = [("file", ("a.pdf", documents.pdf())), ("file", ("b.pdf", documents.pdf()))]
    assert "one file" in _error(api.post("/v3/infer-schema", files=two), 400)["message"]


def test_unreadable_files_are_400s_that_say_why(sdk: bem.Bem, api: httpx.Client) -> None:
    garbage = bytes(range(256)) * 8
    with pytest.raises(bem.BadRequestError) as unknown:
        sdk.infer_schema.create(file=("garbage.bin", garbage, "application/octet-stream"))
    assert "cannot tell the type of 'garbage.bin'" in str(unknown.value)
    broken = _error(api.post("/v3/infer-schema", files={"file": ("broken.pdf", b"%PDF-1.7 " + garbage)}), 400)
    assert "PDF" in broken["message"]
    empty = _error(api.post("/v3/infer-schema", files={"file": ("empty.pdf", b"")}), 400)
    assert "empty" in empty["message"]
    with pytest.raises(bem.BadRequestError) as not_bytes:
        sdk.infer_schema.create(file=("invoice.pdf", Path("invoice.pdf"), "application/pdf"))  # type: ignore[arg-type]
    assert "must be a file" in str(not_bytes.value)


def test_a_file_over_20_mb_is_a_413(sdk: bem.Bem, api: httpx.Client) -> None:
    too_large = b"a" * (20 * 1024 * 1024 + 1)
    with pytest.raises(bem.APIStatusError) as refused:
        sdk.infer_schema.create(file=("big.txt", too_large, "text/plain"))
    assert refused.value.status_code == 413
    body = _error(api.post("/v3/infer-schema", files={"file": ("big.txt", too_large)}), 413)
    assert body["details"]["field"] == "file"


def test_without_a_key_is_a_401(anonymous: httpx.Client) -> None:
    _error(anonymous.post("/v3/infer-schema", files={"file": ("a.pdf", documents.pdf())}), 401)


# --- a deployment of its own: a lower input limit, and the model ------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """An API-only process on SQLite with ``settings``, its engine not started (the session's server
    runs one already): its reader processes start with the first read."""
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        base = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'q.db'}", api_key="local-key")
        app = create_app(bootstrap(dataclasses.replace(base, **settings), Role.API), start_engine=False)
        client = TestClient(app, headers={"x-api-key": "local-key"})
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def local_sdk(client: TestClient) -> bem.Bem:
    return bem.Bem(
        api_key="local-key",
        base_url="http://testserver",
        http_client=client,
        _strict_response_validation=True,
        max_retries=0,
    )


def test_the_deployments_lower_input_limit_applies(local: Callable[..., TestClient]) -> None:
    client = local(max_input_bytes=2000)
    small = documents.text()
    assert len(small) < 2000
    assert client.post("/v3/infer-schema", files={"file": ("invoice.txt", small)}).status_code == 200
    body = _error(client.post("/v3/infer-schema", files={"file": ("big.txt", b"x" * 2001)}), 413)
    assert "2000 bytes" in body["message"]


MODEL_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string", "description": "Invoice Number"},
        "totalAmount": {"type": "number", "description": "Total"},
    },
    "required": ["invoiceNumber"],
}


def test_the_model_proposes_when_the_deployment_uses_it(local: Callable[..., TestClient], fake: FakeOpenAI) -> None:
    sdk = local_sdk(local(llm_provider="openai", llm_base_url=fake.url, llm_model="fake-model", llm_max_attempts=1))
    fake.script(
        answer(
            {
                "description": "An invoice from Northwind Traders.",
                "documentTypes": [{"name": "invoice", "description": "A supplier invoice", "count": 1}],
                "isMultiDocument": False,
                "schema": MODEL_SCHEMA,
            }
        )
    )

    analysis = sdk.infer_schema.create(file=("invoice.pdf", documents.pdf(), "application/pdf")).analysis

    assert analysis.schema_ == MODEL_SCHEMA
    assert analysis.description == "An invoice from Northwind Traders."
    assert [(t.name, t.count) for t in analysis.document_types] == [("invoice", 1)]
    assert analysis.model_extra is not None and analysis.model_extra["inferredBy"] == "model"
    [request] = fake.requests
    assert request.path.endswith("/chat/completions")
    assert request.body["response_format"]["type"] == "json_schema"
    assert documents.NUMBER in request.user_content  # the document's text was sent


@pytest.mark.parametrize(
    "reply",
    [
        answer({"description": "x", "documentTypes": [], "isMultiDocument": False, "schema": {"type": "nonsense"}}),
        answer({"description": "x", "documentTypes": [], "isMultiDocument": False, "schema": {"type": "array"}}),
        answer("not JSON at all"),
        failure(500, "the model is down"),
    ],
    ids=["invalid-schema", "not-an-object-schema", "not-json", "endpoint-error"],
)
def test_a_model_answer_that_cannot_be_used_falls_back_to_the_builtin_schema(
    local: Callable[..., TestClient], fake: FakeOpenAI, reply: Any
) -> None:
    sdk = local_sdk(local(llm_provider="openai", llm_base_url=fake.url, llm_model="fake-model", llm_max_attempts=1))
    fake.script(reply)

    analysis = sdk.infer_schema.create(file=("invoice.pdf", documents.pdf(), "application/pdf")).analysis

    assert len(fake.requests) == 1
    assert analysis.model_extra is not None and analysis.model_extra["inferredBy"] == "builtin"
    assert "without the model" in analysis.description
    schema = analysis.schema_
    assert isinstance(schema, dict)
    Draft202012Validator.check_schema(schema)
    assert "invoiceNumber" in schema["properties"]


# --- the builtin inference on documents ------------------------------------------------------------


def test_property_names_are_the_labels_words_in_camel_case() -> None:
    assert property_name("Invoice No.") == "invoiceNumber"
    assert property_name("Invoice #") == "invoiceNumber"
    assert property_name("Facture n°") == "factureNumber"
    assert property_name("Unit Price") == "unitPrice"
    assert property_name("Fälligkeit") == "falligkeit"
    assert property_name("line_total") == "lineTotal"
    assert property_name("2nd address") == "field2ndAddress"
    assert property_name("--") is None


def test_value_types_and_formats() -> None:
    assert value_schema("Total", ["1,234.56 EUR"]) == {"type": "number"}
    assert value_schema("Weight", ["12.5 kg"]) == {"type": "number"}
    assert value_schema("Dated", ["20 May 2024"]) == {"type": "string", "format": "date"}
    assert value_schema("Issued", ["05.03.2024"]) == {"type": "string", "format": "date"}
    assert value_schema("Contact", ["billing@northwind.example"]) == {"type": "string", "format": "email"}
    assert value_schema("Web", ["https://northwind.example/invoices"]) == {"type": "string", "format": "uri"}
    assert value_schema("Account No.", ["72671"]) == {"type": "string"}  # a number by name, not a quantity
    assert value_schema("Phone", ["555 0187"]) == {"type": "string"}
    assert value_schema("Paid", ["Yes"]) == {"type": "boolean"}
    assert value_schema("Terms", ["30 days net"]) == {"type": "string"}


def test_labelled_values_tables_and_fallbacks_of_a_text_document() -> None:
    document = text_document(
        "text",
        "\n".join(
            [
                "Brightwater Supplies Ltd",
                "Invoice No.    BW-1001",
                "Issue date: 14 February 2024",
                "Bill To",
                "Marsh & Hale LLP",
                "Item    Qty    Price    Total",
                "Paper A4    3    4.50    13.50",
                "Toner    1    60.00    60.00",
                "Total due: 73.50 GBP",
            ]
        ),
    )
    schema = propose(document).schema
    properties = schema["properties"]
    assert list(properties) == ["issuer", "invoiceNumber", "issueDate", "billTo", "totalDue", "currency", "lineItems"]
    assert properties["invoiceNumber"] == {"type": "string", "title": "Invoice No.", "description": "Invoice No."}
    assert properties["issueDate"]["format"] == "date"
    assert properties["totalDue"]["type"] == "number"
    items = properties["lineItems"]["items"]["properties"]
    assert {name: spec["type"] for name, spec in items.items()} == {
        "item": "string",
        "qty": "number",
        "price": "number",
        "total": "number",
    }
    Draft202012Validator.check_schema(schema)


def test_a_receipts_listed_items_and_its_unlabelled_date() -> None:
    document = parse("text", corpus("receipt-elm-street-hardware.txt"))
    proposal = propose(document)
    properties = proposal.schema["properties"]
    assert proposal.document_types[0].name == "receipt"
    assert properties["date"]["format"] == "date"
    assert {"total", "tax", "subtotal", "cash", "change"} <= set(properties)
    assert set(properties["lineItems"]["items"]["properties"]) == {"description", "quantity", "amount"}


def test_an_e_invoice_is_proposed_by_the_names_the_extractor_reads() -> None:
    proposal = propose(parse("xml", corpus("invoice-schneider-ubl.xml")))
    properties = proposal.schema["properties"]
    assert {"invoiceNumber", "invoiceDate", "dueDate", "sellerName", "buyerName", "totalAmount"} <= set(properties)
    assert set(properties["lineItems"]["items"]["properties"]) == {"description", "quantity", "unitPrice", "amount"}
    assert "UBL" in proposal.description


def test_a_json_document_keeps_its_shape() -> None:
    data = {"invoice_no": "A-1", "seller": {"name": "Acme", "vat_id": "DE1"}, "lines": [{"sku": "X", "qty": 2}]}
    table = Table([["sku", "qty"], ["X", "2"]])
    document = Document("json", pages=[Page(1, json.dumps(data))], data=data, tables=[table])
    properties = propose(document).schema["properties"]
    assert properties["invoiceNumber"]["type"] == "string"
    assert set(properties["seller"]["properties"]) == {"name", "vatId"}
    assert properties["lines"]["items"]["properties"]["qty"]["type"] == "number"


def test_a_document_with_nothing_labelled_still_gets_a_usable_schema() -> None:
    schema = propose(text_document("text", "just some words here")).schema
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]
