"""Schema inference: a JSON Schema (and a short analysis) proposed from one sample document, to be
used as a transform function's ``outputSchema`` (``POST /v3/infer-schema``).

The builtin proposal (``builtin.inference``) is offline and deterministic: the document's labelled
values, its tables and its e-invoice data. When the deployment's provider is ``openai``, the model is
asked instead; what it answers is checked as an output schema is when a function is created, and a
schema that does not pass (or no answer at all) gives the builtin proposal, with the reason in its
description.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from quarry.config import Settings
from quarry.documents.model import Document
from quarry.documents.parse import AUDIO_TYPES, IMAGE_TYPES
from quarry.expressions import check_json_schema
from quarry.providers import ProviderError

log = logging.getLogger("quarry.providers")

CONTENT_NATURES = ("textual", "visual", "audio", "video", "mixed")
FILE_TYPES = {
    "pdf": "document",
    "docx": "document",
    "text": "document",
    "html": "document",
    "csv": "spreadsheet",
    "xls": "spreadsheet",
    "xlsx": "spreadsheet",
    "email": "email",
    "json": "data",
    "xml": "data",
    **dict.fromkeys(IMAGE_TYPES, "image"),
    **dict.fromkeys(AUDIO_TYPES, "audio"),
}
MAX_PROPERTIES = 80  # a proposal is a starting point to edit, not an inventory of every cell
MODEL_TEXT_CHARS = 60_000  # the start of a long document says what kind of document it is


@dataclass(frozen=True)
class DocumentType:
    name: str  # snake_case: invoice, receipt, bill_of_lading…
    description: str
    count: int = 1


@dataclass
class SchemaAnalysis:
    """What is proposed for one sample document."""

    schema: dict[str, Any]
    description: str  # two or three sentences on what the file holds
    document_types: list[DocumentType] = field(default_factory=list)
    is_multi_document: bool = False
    inferred_by: str = "builtin"  # builtin | model


def file_type(input_type: str) -> str:
    """The file's category as bem names them: document, image, spreadsheet, email, audio, data."""
    return FILE_TYPES.get(input_type, "document")


def content_nature(document: Document) -> str:
    """textual (a text layer, or text formats), visual (recognised from pixels), audio, or mixed."""
    if document.input_type in AUDIO_TYPES:
        return "audio"
    ocr = sum(page.ocr for page in document.pages)
    if document.input_type in IMAGE_TYPES or (ocr and ocr == len(document.pages)):
        return "visual"
    return "mixed" if ocr else "textual"


def output_schema_problem(schema: Any) -> str | None:
    """Why ``schema`` cannot be a function's ``outputSchema`` as it stands (the checks of function
    creation), or None when it can; a schema without a property to fill is no proposal either."""
    if not isinstance(schema, dict):
        return "the schema is not a JSON object"
    try:
        check_json_schema(schema)
    except ValueError as exc:
        return str(exc)
    if schema.get("type", "object") != "object":
        return "the schema's root 'type' is not 'object'"
    if not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        return "the schema has no properties"
    return None


def infer_schema(document: Document, settings: Settings, filename: str) -> SchemaAnalysis:
    """The deployment's proposal for ``document``: the model's when the provider is ``openai``
    (checked, else the builtin one, saying why), else the builtin one."""
    from quarry.providers.llm.builtin.inference import propose

    builtin = propose(document)
    if settings.llm_provider != "openai":
        return builtin
    try:
        answer = ask_model(document, settings, filename)
    except ProviderError as exc:
        log.warning("schema inference: the model's proposal is not used (%s); the builtin one is", exc)
        builtin.description += f" The schema was inferred without the model: {exc}."
        return builtin
    except Exception:  # whatever the model's answer broke: the builtin proposal stands
        log.exception("schema inference: the model's proposal could not be checked; the builtin one is used")
        builtin.description += " The schema was inferred without the model: its answer could not be checked."
        return builtin
    # what the model left unsaid about the file, the builtin reading says
    answer.description = answer.description or builtin.description
    answer.document_types = answer.document_types or builtin.document_types
    return answer


ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "description": "Two or three sentences on what the file contains."},
        "documentTypes": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "snake_case, e.g. invoice, receipt, utility_bill"},
                    "description": {"type": "string"},
                    "count": {"type": "integer", "minimum": 1},
                },
                "required": ["name", "description", "count"],
            },
        },
        "isMultiDocument": {"type": "boolean"},
        "schema": {"type": "object", "description": "The JSON Schema (draft 2020-12) of the data to extract."},
    },
    "required": ["description", "documentTypes", "isMultiDocument", "schema"],
}

SYSTEM_PROMPT = (
    "You design JSON Schemas for extracting structured data from documents. Given one sample document, answer "
    "with one JSON object: a description of the file (two or three sentences), the document types it holds "
    "(snake_case names with counts), whether it bundles several separate documents, and a JSON Schema (draft "
    "2020-12) with root type object for the data such documents hold. In the schema: camelCase property names, "
    "each with a type and a description naming the label the document prints; dates as strings with format "
    "date, amounts and quantities as numbers, tables (line items) as arrays of objects. Describe documents of "
    "this kind in general: no values of this sample as constants, enums or defaults."
)


def ask_model(document: Document, settings: Settings, filename: str) -> SchemaAnalysis:
    """The model's proposal; ``ProviderError`` when there is none or its schema does not pass."""
    from quarry.providers.llm.openai import OpenAIProvider

    provider = replace(OpenAIProvider.from_settings(settings), logprobs=False)
    text = document.text[:MODEL_TEXT_CHARS]
    prompt = f"File name: {filename}\n\nDocument ({document.input_type}):\n{text}"
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
    answer = provider.ask_json(messages, "schema_inference", ANSWER_SCHEMA)
    if answer is None:
        raise ProviderError("the model's answer is not a JSON object")
    schema = answer.get("schema")
    problem = output_schema_problem(schema)
    if problem is not None:
        raise ProviderError(f"the model's schema cannot be an output schema: {problem}")
    assert isinstance(schema, dict)
    description = answer.get("description")
    return SchemaAnalysis(
        schema=schema,
        description=description.strip() if isinstance(description, str) and description.strip() else "",
        document_types=_document_types(answer.get("documentTypes")),
        is_multi_document=answer.get("isMultiDocument") is True,
        inferred_by="model",
    )


def _document_types(value: Any) -> list[DocumentType]:
    """The document types a model stated, those that have a name (at most 20)."""
    found = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            count = item.get("count")
            found.append(
                DocumentType(
                    item["name"].strip()[:64],
                    str(item.get("description") or "")[:500],
                    count if isinstance(count, int) and not isinstance(count, bool) and count >= 1 else 1,
                )
            )
    return found[:20]
