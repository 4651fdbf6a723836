"""``POST /v3/infer-schema``: a JSON Schema (and a short analysis) proposed from one uploaded file,
to use as a transform (extract) function's ``outputSchema``.

The file is read in a reader process, as a call's input is (``engine.readers``, within the same
memory and time limits); the proposal is the builtin one, or the model's when the deployment's
provider is ``openai`` (``providers.llm.inference``). See docs/decisions.md, "Schema inference (#27)".
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException  # FastAPI's own is a subclass: the form parser raises this one

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Readers
from quarry.api.responses import wire_response
from quarry.calls.service import PayloadTooLarge
from quarry.documents.input_types import MEDIA_TYPES, input_type_for, sniff
from quarry.documents.model import DocumentError
from quarry.errors import invalid, unknown_fields
from quarry.providers.llm.inference import content_nature, file_type, infer_schema
from quarry.wire import WireModel

router = APIRouter(prefix="/v3", tags=["v3 infer schema"])

MAX_BYTES = 20 * 1024 * 1024  # bem's limit; a deployment's QUARRY_MAX_INPUT_BYTES may be lower


class DocumentTypeOut(WireModel):
    name: str = Field(description='Short snake_case name ("invoice", "receipt", "bill_of_lading").')
    description: str
    count: int = Field(description="Instances of this document type in the file.")


class Analysis(WireModel):
    content_nature: str = Field(description="textual, visual, audio, video or mixed.")
    content_type: str = Field(description="The media type of the file, as Quarry read it.")
    description: str = Field(description="What the file contains, in two or three sentences.")
    document_types: list[DocumentTypeOut]
    file_name: str
    file_type: str = Field(description="document, image, spreadsheet, email, audio or data.")
    is_multi_document: bool
    size_bytes: int
    schema_: dict[str, Any] = Field(
        alias="schema", description="The inferred JSON Schema: usable as a function's outputSchema as it stands."
    )
    inferred_by: str = Field(description="Quarry: builtin (offline) or model (the deployment's openai provider).")


class InferSchemaAnswer(WireModel):
    filename: str
    analysis: Analysis


BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
                "additionalProperties": False,
            }
        }
    },
}


@router.post(
    "/infer-schema",
    response_model=InferSchemaAnswer,
    responses={413: {"description": "The file is larger than 20 MB (or the deployment's QUARRY_MAX_INPUT_BYTES)."}},
    openapi_extra={"requestBody": BODY},
)
async def infer(request: Request, principal: CurrentPrincipal, settings: AppSettings, readers: Readers) -> Any:
    """Analyse a file (multipart field ``file``) and propose a JSON Schema of the data it holds,
    with a description of the file and the document types in it. 400 when there is no file or it
    cannot be read (an unknown type, a broken file), 413 over 20 MB."""
    limit = min(MAX_BYTES, settings.max_input_bytes)
    upload = await _upload(request, limit)
    data = upload.data
    filename = upload.filename or "file"
    input_type = input_type_for(upload.filename, upload.content_type) or sniff(data)
    if input_type is None:
        reason = (
            f"cannot tell the type of {filename!r} from its name, its content type or its bytes; "
            "name the file with its extension (.pdf, .xlsx, .eml, .png, …)"
        )
        raise invalid([{"field": "file", "reason": reason}])
    try:
        document = await run_in_threadpool(readers.read, input_type, data)
    except DocumentError as exc:
        raise invalid([{"field": "file", "reason": str(exc)}]) from None
    analysis = await run_in_threadpool(infer_schema, document, settings, filename)
    body = {
        "filename": filename,
        "analysis": {
            "contentNature": content_nature(document),
            "contentType": MEDIA_TYPES[input_type][0] if input_type in MEDIA_TYPES else "application/octet-stream",
            "description": analysis.description,
            "documentTypes": [
                {"name": kind.name, "description": kind.description, "count": kind.count}
                for kind in analysis.document_types
            ],
            "fileName": filename,
            "fileType": file_type(input_type),
            "isMultiDocument": analysis.is_multi_document,
            "sizeBytes": len(data),
            "schema": analysis.schema,
            "inferredBy": analysis.inferred_by,
        },
    }
    return wire_response(InferSchemaAnswer, body)


@dataclass
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


async def _upload(request: Request, limit: int) -> _Upload:
    """The form's one file and its bytes: 400 without one (or with other fields), 413 over ``limit``.

    A file part (``curl -F file=@invoice.pdf``, every HTTP client) or what bem's Python SDK (0.36)
    sends for ``file=``: text fields holding the bytes as a Python literal (``b'%PDF-1.4…'``), under
    ``file`` for bare bytes and as ``file[]`` = name, bytes, media type for a tuple (the SDK does
    not send a file part for this operation)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise invalid([{"field": "file", "reason": MISSING}])
    try:  # a bytes literal takes up to four characters a byte
        form = await request.form(max_files=2, max_part_size=4 * limit + 64)
    except HTTPException as exc:
        if "exceeded maximum size" in str(exc.detail):
            raise PayloadTooLarge("file", limit) from None
        raise
    unknown = [name for name in form if name not in ("file", "file[]")]
    if unknown:
        raise unknown_fields(unknown)
    parts = form.getlist("file") + form.getlist("file[]")
    files = [part for part in parts if isinstance(part, UploadFile)]
    texts = [part for part in parts if isinstance(part, str)]
    if files:
        if len(parts) > 1:
            raise invalid([{"field": "file", "reason": "one file at a time"}])
        upload = files[0]
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLarge("file", limit)
        found = _Upload(upload.filename, upload.content_type, await upload.read(limit + 1))
    else:
        found = _from_sdk_fields(texts)
    if len(found.data) > limit:
        raise PayloadTooLarge("file", limit)
    if not found.data:
        raise invalid([{"field": "file", "reason": "the file is empty"}])
    return found


MISSING = "send the file as a multipart form field named 'file'"
_BYTES_LITERAL = re.compile(r"b(['\"])(.*)\1", re.S)


def _from_sdk_fields(texts: list[str]) -> _Upload:
    """The file in the text fields of bem's Python SDK: ``b'…'`` (bare bytes), or the name, the bytes
    and the media type of a ``(name, bytes, media type)`` tuple."""
    if not texts:
        raise invalid([{"field": "file", "reason": MISSING}])
    literal = next((i for i, text in enumerate(texts) if _BYTES_LITERAL.fullmatch(text)), None)
    if literal is None or len(texts) > 3:
        reason = (
            "must be a file: a file part of the form, or the file's bytes (with bem's Python SDK, "
            'file=("invoice.pdf", data, "application/pdf") with data as bytes, not a path or an open file)'
        )
        raise invalid([{"field": "file", "reason": reason}])
    match = _BYTES_LITERAL.fullmatch(texts[literal])
    assert match is not None
    try:
        data = codecs.escape_decode(match.group(2).encode("ascii"))[0]
    except (UnicodeEncodeError, ValueError):
        raise invalid([{"field": "file", "reason": "the file's bytes are not a valid bytes literal"}]) from None
    filename = texts[0] if literal == 1 else None
    content_type = texts[literal + 1] if literal + 1 < len(texts) else None
    return _Upload(filename, content_type, data)
