"""join: many inputs — a batch's files, or what the branches of a workflow hand on — into one
``transformedContent`` against the join's output schema.

JSON from upstream functions is merged along the schema (arrays concatenated in input order,
objects merged, the first value of a scalar kept) when the builtin provider is used; documents,
or any input with the openai provider, are read as one combined document by the provider.
"""

from __future__ import annotations

from typing import Any

from quarry.documents.model import Document, Page
from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.engine.runners.confidence import confidence_fields
from quarry.ids import new_id
from quarry.pointers import leaves
from quarry.providers.llm import Extraction, ExtractionRequest, ProviderError, invalid_properties, provider_for

MERGED_CONFIDENCE = 0.9  # a value carried over from an upstream output


def run(run_input: RunInput) -> list[Emission]:
    config = run_input.config
    schema = config["outputSchema"]
    documents = run_input.documents()
    contents = _json_items(run_input.payload)
    if not documents and not contents:
        raise FunctionError("a join needs at least one input")
    provider_name = config.get("provider") or run_input.settings.llm_provider
    try:
        if not documents and provider_name == "builtin":
            merged = merge([content for _, content in contents], schema)
            extraction = Extraction(merged, {pointer: MERGED_CONFIDENCE for pointer, _ in leaves(merged)})
        else:
            parts = documents + [run_input.json_document(content) for _, content in contents]
            request = ExtractionRequest(
                _combined(parts), schema, config["outputSchemaName"], "join", parts=run_input.parts
            )
            extraction = provider_for(config.get("provider"), run_input.settings).extract(request)
    except ProviderError as exc:
        raise FunctionError(str(exc)) from None
    count = len(documents) + len(contents)
    items = [
        {
            "itemCount": count,
            "itemOffset": offset,
            "itemReferenceID": file.item_reference_id or run_input.reference_id or "",
        }
        | {"s3BlobKey": file.blob_key}
        for offset, file in enumerate(run_input.files)
    ]
    items += [
        {"itemCount": count, "itemOffset": len(documents) + offset, "itemReferenceID": reference}
        for offset, (reference, _) in enumerate(contents)
    ]
    body = {
        "joinType": config.get("joinType", "standard"),
        "items": items,
        "transformationID": new_id("tr"),
        "transformedContent": extraction.content,
        "invalidProperties": invalid_properties(extraction.content, schema),
        **confidence_fields(extraction.confidences, run_input.settings.review_confidence),
    }
    return [Emission("join", body, output=extraction.content)]


def _json_items(payload: Any) -> list[tuple[str, Any]]:
    """(itemReferenceID, JSON) of each upstream output a workflow handed to this join."""
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        return [(item.get("itemReferenceID") or "", item.get("content")) for item in payload["items"]]
    return [("", payload)] if payload is not None else []


def merge(values: list[Any], schema: dict[str, Any]) -> Any:
    """One value out of many, along ``schema``: arrays concatenate, objects merge property by
    property, scalars keep the first value that is there."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    if all(isinstance(value, list) for value in present):
        return [item for value in present for item in value]
    objects = [value for value in present if isinstance(value, dict)]
    if objects and len(objects) == len(present):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        keys = list(dict.fromkeys([*properties, *(key for value in objects for key in value)]))
        merged = {}
        for key in keys:
            if key not in properties and properties and schema.get("additionalProperties") is False:
                continue
            value = merge([value.get(key) for value in objects], properties.get(key) or {})
            if value is not None:
                merged[key] = value
        return merged
    return present[0]


def _combined(documents: list[Document]) -> Document:
    """The inputs as one document: their pages one after another, their tables and fields together."""
    pages = [
        Page(number, page.text, page.width, page.height, page.words, page.ocr)
        for number, page in enumerate((page for document in documents for page in document.pages), start=1)
    ]
    return Document(
        documents[0].input_type,
        pages=pages,
        tables=[table for document in documents for table in document.all_tables],
        fields=[pair for document in documents for pair in document.all_fields],
    )
