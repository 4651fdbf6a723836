"""transform / analyze: JSON out of each input document, against the function's output schema.

One transform event per input item: per file of a batch, per upstream payload, or per chunk
of rows of a spreadsheet when ``tabularChunkingEnabled`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from quarry.documents.model import Document, Page, Table
from quarry.documents.readers.tabular import table_lines
from quarry.engine.runners import Emission, FunctionError, InputFile, RunInput
from quarry.engine.runners.confidence import confidence_fields
from quarry.ids import new_id
from quarry.providers.llm import ExtractionRequest, ProviderError, invalid_properties, provider_for
from quarry.providers.llm.grounding import ground

TABULAR_TYPES = ("csv", "xlsx", "xls")
UNGROUNDED_CONFIDENCE = 0.3
CHUNK_ROWS = 50


@dataclass
class Item:
    document: Document
    offset: int
    count: int
    file: InputFile | None = None


def run(run_input: RunInput) -> list[Emission]:
    config = run_input.config
    schema = config["outputSchema"]
    try:
        provider = provider_for(config.get("provider"), run_input.settings)
    except ProviderError as exc:
        raise FunctionError(str(exc)) from None
    emissions = []
    for item in input_items(run_input):
        request = ExtractionRequest(
            item.document,
            schema,
            config["outputSchemaName"],
            run_input.function_type,
            item.file and item.file.data,
            pre_count=bool(config.get("preCount")),
            parts=run_input.parts,
        )
        try:
            extraction = provider.extract(request)
        except ProviderError as exc:
            raise FunctionError(str(exc)) from None
        confidences, cited = extraction.confidences, {}
        if config.get("enableBoundingBoxes"):
            confidences, cited = cite(item.document, extraction.content, schema, confidences)
        body: dict[str, Any] = {
            "transformationID": new_id("tr"),
            "transformedContent": extraction.content,
            "invalidProperties": invalid_properties(extraction.content, schema),
            **confidence_fields(confidences, run_input.settings.review_confidence),
            **cited,
            "itemOffset": item.offset,
            "itemCount": item.count,
        }
        if extraction.chunks:  # a long document, read in parts: which, and where they disagreed
            body |= {"documentChunks": extraction.chunks, "chunkConflicts": extraction.conflicts}
        if item.file is not None:
            body |= {"inputType": item.file.input_type, "s3BlobKey": item.file.blob_key}
        emissions.append(Emission("transform", body, output=extraction.content))
    return emissions


def cite(
    document: Document, content: dict[str, Any], schema: dict[str, Any], confidences: dict[str, float]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Where each value is written (``fieldBoundingBoxes``, ``fieldTextSpans``), and the values
    written nowhere (``ungroundedFields``: invented, or misread past recognition), whose confidence
    drops to ``UNGROUNDED_CONFIDENCE`` so that they need review."""
    citations = ground(document, content, schema)
    lowered = {pointer: min(confidences.get(pointer, 1.0), UNGROUNDED_CONFIDENCE) for pointer in citations.ungrounded}
    fields = {
        "fieldBoundingBoxes": citations.boxes,
        "fieldTextSpans": citations.spans,
        "ungroundedFields": citations.ungrounded,
    }
    return confidences | lowered, fields


def input_items(run_input: RunInput) -> Iterator[Item]:
    """What a function that reads documents works on, one event each: the upstream payload, or
    each input file (in chunks of rows with ``tabularChunkingEnabled``)."""
    if run_input.payload is not None:
        yield Item(run_input.json_document(run_input.payload), 0, 1)
        return
    chunked = run_input.config.get("tabularChunkingEnabled", False)
    for index, (file, document) in enumerate(zip(run_input.files, run_input.documents())):
        if chunked and file.input_type in TABULAR_TYPES:
            for offset, count, chunk in _row_chunks(document):
                yield Item(chunk, offset, count, file)
        else:
            offset = file.item_offset if file.item_offset is not None else index
            yield Item(document, offset, file.item_count or len(run_input.files), file)


def _row_chunks(document: Document) -> Iterator[tuple[int, int, Document]]:
    """Every ``CHUNK_ROWS`` data rows of each sheet, under the sheet's header, as a document of its own.

    ``offset`` counts data rows across sheets, so that an item points back at its rows. A file
    without a single data row (a header alone, or nothing) is one item all the same, the whole
    document, at offset 0 with a count of 0: every input gets its transform event."""
    offset = 0
    for table in document.tables:
        header, rows = table.rows[0], table.rows[1:]
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = [header, *rows[start : start + CHUNK_ROWS]]
            sheet_rows = [0, *range(1 + start, 1 + start + len(chunk) - 1)]  # cited cells name the sheet's rows
            part = Document(
                document.input_type,
                pages=[Page(1, "\n".join(table_lines(chunk)))],
                tables=[Table(chunk, table.name, sheet_rows)],
            )
            yield offset + start, len(chunk) - 1, part
        offset += len(rows)
    if offset == 0:
        yield 0, 0, document
