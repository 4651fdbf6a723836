"""Documents in, JSON out, through the public API: every input type, broken files, audio, chunking.

Each test submits a real file (made by ``tests/documents.py`` with the format's own library) to a
transform function on a running server and reads the result back as a client would.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

import httpx
import pytest

from tests import documents
from tests.calls_client import events_of, single, submit, wait_for
from tests.helpers import create_function


def _extract_function(api: httpx.Client, name: str = "invoices", **extra: Any) -> None:
    create_function(
        api,
        {
            "functionName": name,
            "type": "transform",
            "outputSchemaName": "Invoice",
            "outputSchema": documents.SCHEMA,
            **extra,
        },
    )


def _run(api: httpx.Client, data: bytes, input_type: str, function: str = "invoices") -> tuple[dict, list[dict]]:
    (call,) = submit(api, {"functionName": function, "input": single(data, input_type)})
    finished = wait_for(api, call["callID"])
    return finished, events_of(api, call["callID"])


def _check_transform(event: dict[str, Any], input_type: str) -> dict[str, Any]:
    assert event["eventType"] == "transform"
    assert event["inputType"] == input_type
    assert event["s3URL"].startswith("http")
    assert event["invalidProperties"] == []
    confidences = event["fieldConfidences"]
    assert confidences and all(0 <= value <= 1 for value in confidences.values())
    content = event["transformedContent"]
    for pointer in confidences:  # every confidence points at a value that is there
        node: Any = content
        for part in pointer.lstrip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
    assert 0 < event["avgConfidence"] <= 1
    return content


@pytest.mark.parametrize("input_type", sorted(documents.RENDITIONS))
def test_each_text_bearing_type_yields_the_invoice(api: httpx.Client, input_type: str) -> None:
    _extract_function(api)
    call, events = _run(api, documents.RENDITIONS[input_type](), input_type)
    assert call["status"] == "completed", events
    (event,) = events
    content = _check_transform(event, input_type)
    assert content["invoiceNumber"] == documents.NUMBER
    assert content["invoiceDate"] == documents.DATE_ISO
    assert content["totalAmount"] == pytest.approx(documents.TOTAL)
    assert content["currency"] == "EUR"
    assert content["issuer"] == documents.SELLER
    descriptions = [item.get("description") for item in content["lineItems"]]
    assert descriptions == [item[0] for item in documents.ITEMS]
    assert [item.get("quantity") for item in content["lineItems"]] == [item[1] for item in documents.ITEMS]


@pytest.mark.parametrize(
    ("input_type", "make"),
    [*sorted(documents.IMAGE_RENDITIONS.items()), ("pdf", documents.scanned_pdf)],
    ids=[*sorted(documents.IMAGE_RENDITIONS), "pdf-without-text-layer"],
)
def test_images_and_scans_are_read_by_ocr(api: httpx.Client, input_type: str, make) -> None:
    _extract_function(api)
    call, events = _run(api, make(), input_type)
    assert call["status"] == "completed", events
    content = _check_transform(events[0], input_type)
    assert content["invoiceNumber"] == documents.NUMBER
    assert content["totalAmount"] == pytest.approx(documents.TOTAL)
    assert content["invoiceDate"] == documents.DATE_ISO


def test_an_email_with_the_invoice_only_in_an_attached_pdf(api: httpx.Client) -> None:
    _extract_function(api)
    call, events = _run(api, documents.email(attach_pdf=True), "email")
    assert call["status"] == "completed", events
    content = _check_transform(events[0], "email")
    assert content["invoiceNumber"] == documents.NUMBER
    assert content["totalAmount"] == pytest.approx(documents.TOTAL)


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    return buffer.getvalue()


BROKEN = [
    pytest.param(b"%PDF-1.7\n this is not really a PDF", "pdf", "PDF cannot be opened", id="pdf"),
    pytest.param(documents.pdf()[:400], "pdf", "PDF cannot be opened", id="truncated-pdf"),
    pytest.param(b"PK\x03\x04 broken zip", "docx", "not a valid docx", id="docx"),
    pytest.param(b"PK\x03\x04 broken zip", "pptx", "not a valid pptx", id="pptx"),
    pytest.param(b"PK\x03\x04 not a spreadsheet", "xlsx", "not a valid xlsx", id="xlsx"),
    pytest.param(b"\xd0\xcf\x11\xe0 not an ole file", "xls", "xls file cannot be opened", id="xls"),
    pytest.param(b"\x89PNG\r\n\x1a\n broken", "png", "image cannot be decoded", id="png"),
    pytest.param(b"\xff\xd8\xff broken jpeg", "jpeg", "image cannot be decoded", id="jpeg"),
    pytest.param(b"{not json", "json", "JSON cannot be parsed", id="json"),
    pytest.param(b"<a><b></a>", "xml", "XML cannot be parsed", id="xml"),
    pytest.param(b"\xff\xfe\xfa invalid", "text", "not UTF-8", id="text"),
    pytest.param(b"just some words, no headers at all", "email", "not an RFC 822 email", id="email"),
    pytest.param(b"ID3\x03\x00 fake mp3 frames", "mp3", "transcription provider", id="mp3"),
    pytest.param(b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav", "transcription provider", id="wav"),
    pytest.param(b"\x00\x00\x00\x20ftypM4A ", "m4a", "transcription provider", id="m4a"),
]


@pytest.mark.parametrize(("data", "input_type", "message"), BROKEN)
def test_a_broken_or_unreadable_file_fails_its_call_with_a_precise_error(
    api: httpx.Client, data: bytes, input_type: str, message: str
) -> None:
    _extract_function(api)
    call, events = _run(api, data, input_type)
    assert call["status"] == "failed"
    assert [fc["status"] for fc in call["functionCalls"]] == ["failed"]
    (event,) = events
    assert event["eventType"] == "error"
    assert message in event["message"], event["message"]
    # The worker is unharmed: the next call on it works.
    call, _ = _run(api, documents.text(), "text")
    assert call["status"] == "completed"


MISDECLARED = [
    pytest.param(documents.IMAGE_RENDITIONS["png"], "pdf", "a PNG image (inputType png)", id="png-sent-as-pdf"),
    pytest.param(documents.pdf, "png", "a PDF document (inputType pdf)", id="pdf-sent-as-png"),
    pytest.param(documents.docx, "xlsx", "a Word document (inputType docx)", id="docx-sent-as-xlsx"),
    pytest.param(documents.text, "pdf", "plain text (inputType text)", id="text-sent-as-pdf"),
]


@pytest.mark.parametrize(("make", "declared", "looks"), MISDECLARED)
def test_a_file_sent_as_another_type_fails_saying_what_its_bytes_look_like(
    api: httpx.Client, make, declared: str, looks: str
) -> None:
    """Not the reader's complaint about the format it expected (``PDFium: Data format error``)."""
    _extract_function(api)
    call, events = _run(api, make(), declared)
    assert call["status"] == "failed"
    (event,) = events
    assert event["message"] == f"the input was declared {declared} but its bytes look like {looks}"


def test_an_error_message_shows_no_python_object(api: httpx.Client) -> None:
    """Pillow says ``cannot identify image file <_io.BytesIO object at 0x7f…>``: the object is noise."""
    _extract_function(api)
    call, events = _run(api, b"\x00\x01\xff neither an image nor text", "png")
    assert call["status"] == "failed"
    (event,) = events
    assert event["message"] == "the image cannot be decoded: cannot identify image file"


def test_a_zip_bomb_is_refused_before_it_is_inflated(api: httpx.Client) -> None:
    _extract_function(api)
    call, events = _run(api, _zip_bomb(), "docx")
    assert call["status"] == "failed"
    assert "inflates to" in events[0]["message"] or "zip bomb" in events[0]["message"]


def _items_csv(rows: int) -> bytes:
    lines = ["sku,description,quantity"] + [f"SKU-{i:04d},Part number {i},{i % 7 + 1}" for i in range(rows)]
    return "\n".join(lines).encode()


ITEMS_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "description": {"type": "string"},
                    "quantity": {"type": "integer"},
                },
            },
        }
    },
}


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "whole"])
def test_tabular_chunking_processes_rows_in_batches(api: httpx.Client, chunked: bool) -> None:
    create_function(
        api,
        {
            "functionName": "orders",
            "type": "transform",
            "outputSchemaName": "Order lines",
            "outputSchema": ITEMS_SCHEMA,
            "tabularChunkingEnabled": chunked,
        },
    )
    call, events = _run(api, _items_csv(120), "csv", function="orders")
    assert call["status"] == "completed", events
    transforms = sorted(events, key=lambda e: e["itemOffset"])
    if not chunked:
        (event,) = transforms
        assert (event["itemOffset"], event["itemCount"]) == (0, 1)
        assert len(event["transformedContent"]["items"]) == 120
        return
    assert [(e["itemOffset"], e["itemCount"]) for e in transforms] == [(0, 50), (50, 50), (100, 20)]
    for event in transforms:
        items = event["transformedContent"]["items"]
        assert len(items) == event["itemCount"]
        first = event["itemOffset"]
        assert items[0] == {"sku": f"SKU-{first:04d}", "description": f"Part number {first}", "quantity": first % 7 + 1}


@pytest.mark.parametrize(
    ("input_type", "data"),
    [("csv", b"sku,description,quantity\n"), ("csv", b"sku,description,quantity\n,,\n\n"), ("xlsx", None)],
    ids=["csv-header-only", "csv-header-and-blank-rows", "xlsx-header-only"],
)
def test_a_chunked_sheet_without_data_rows_still_gives_one_transform_event(
    api: httpx.Client, input_type: str, data: bytes | None
) -> None:
    if data is None:
        import openpyxl

        workbook = openpyxl.Workbook()
        workbook.active.append(["sku", "description", "quantity"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        data = buffer.getvalue()
    create_function(
        api,
        {
            "functionName": "orders",
            "type": "transform",
            "outputSchemaName": "Order lines",
            "outputSchema": ITEMS_SCHEMA,
            "tabularChunkingEnabled": True,
        },
    )
    call, events = _run(api, data, input_type, function="orders")
    assert call["status"] == "completed", events
    (event,) = events
    assert event["eventType"] == "transform"
    assert (event["itemOffset"], event["itemCount"]) == (0, 0)
    assert event["transformedContent"] == {}


def test_one_transform_event_per_file_of_a_batch(api: httpx.Client) -> None:
    _extract_function(api)
    files = [("pdf", documents.pdf()), ("html", documents.html()), ("json", documents.json_file())]
    inputs = [
        {"inputType": kind, "inputContent": base64.b64encode(data).decode(), "itemReferenceID": kind}
        for kind, data in files
    ]
    (call,) = submit(api, {"functionName": "invoices", "input": {"batchFiles": {"inputs": inputs}}})
    assert wait_for(api, call["callID"])["status"] == "completed"
    events = sorted(events_of(api, call["callID"], "transform"), key=lambda e: e["itemOffset"])
    assert [(e["itemOffset"], e["itemCount"], e["inputType"]) for e in events] == [
        (0, 3, "pdf"),
        (1, 3, "html"),
        (2, 3, "json"),
    ]
    assert all(e["transformedContent"]["invoiceNumber"] == documents.NUMBER for e in events)


def test_provider_field_is_validated_and_kept(api: httpx.Client) -> None:
    bad = api.post(
        "/v2/functions",
        json={
            "functionName": "x",
            "type": "transform",
            "outputSchemaName": "I",
            "outputSchema": documents.SCHEMA,
            "provider": "gpt",
        },
    )
    assert bad.status_code == 400, bad.text
    assert "provider" in json.dumps(bad.json())
    _extract_function(api, "explicit", provider="builtin")
    assert api.get("/v2/functions/explicit").json()["provider"] == "builtin"
    call, events = _run(api, documents.text(), "text", function="explicit")
    assert call["status"] == "completed"
    assert events[0]["transformedContent"]["invoiceNumber"] == documents.NUMBER


def test_an_unreadable_attachment_does_not_fail_its_email(api: httpx.Client) -> None:
    from email import message_from_bytes, policy

    message = message_from_bytes(documents.email(), policy=policy.default)
    message.add_attachment(b"%PDF-1.4 truncated", maintype="application", subtype="pdf", filename="scan.pdf")
    message.add_attachment(b"PK\x03\x04", maintype="application", subtype="zip", filename="archive.zip")
    _extract_function(api)
    call, events = _run(api, bytes(message), "email")
    assert call["status"] == "completed", events
    assert events[0]["transformedContent"]["invoiceNumber"] == documents.NUMBER
