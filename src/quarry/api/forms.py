"""Multipart forms of the routes that create calls: their files and text fields, checked."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData

from quarry.calls.service import InputFile, PayloadTooLarge
from quarry.documents.input_types import input_type_for
from quarry.errors import invalid, unknown_fields


def input_type_of(filename: str | None, content_type: str | None, field_name: str) -> str:
    input_type = input_type_for(filename, content_type)
    if input_type is not None:
        return input_type
    media = (content_type or "").split(";")[0].strip().lower()
    raise invalid(
        [
            {
                "field": field_name,
                "reason": f"cannot tell the input type of {filename!r} ({media or 'no content type'}); "
                "name the file with its extension (.pdf, .eml, .png, …)",
            }
        ]
    )


async def form_files(request: Request, max_bytes: int, fields: tuple[str, ...]) -> tuple[FormData, list[InputFile]]:
    """A multipart form and the files of its ``file`` field (or repeated ``files``): at least one.
    A field other than those and ``fields`` is refused, as an unknown field of a JSON body is: a
    misspelt ``callReferenceId`` must not make a call without a reference."""
    form = await request.form(max_part_size=max_bytes + 1)
    files = []
    for name in ("file", "files"):
        for index, upload in enumerate(form.getlist(name)):
            if isinstance(upload, str):
                raise invalid([{"field": name, "reason": "must be a file"}])
            data = await upload.read()
            path = name if name == "file" else f"files[{index}]"
            if len(data) > max_bytes:
                raise PayloadTooLarge(path, max_bytes)
            files.append(InputFile(input_type_of(upload.filename, upload.content_type, path), data, None, path))
    if not files:
        raise invalid([{"field": "file", "reason": "send the document as 'file' (or several as 'files')"}])
    unknown = [name for name in form if name not in ("file", "files", *fields)]
    if unknown:
        raise unknown_fields(unknown)
    return form, files


def form_text(form: FormData, name: str, *, required: bool = False) -> str | None:
    """A text field of a multipart form: 1 to 256 characters without NUL."""
    value = form.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or "\x00" in value:
        reason = (
            f"a {name} of 1 to 256 characters (no NUL) is required"
            if required
            else ("must be 1 to 256 characters (no NUL)")
        )
        raise invalid([{"field": name, "reason": reason}])
    return value
