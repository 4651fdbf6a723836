"""``parse(inputType, bytes) -> Document``: the one entry point to reading any input document."""

from __future__ import annotations

import re
from collections.abc import Callable

from quarry.documents.input_types import LOOKS, sniff
from quarry.documents.limits import MAX_ATTACHMENT_DEPTH
from quarry.documents.model import Document, DocumentError, describe, text_document, transcript_lines
from quarry.documents.readers import images, markup, office, pdf, plain, slides, tabular, video

AUDIO_TYPES = ("mp3", "wav", "m4a")
VIDEO_TYPES = ("mp4", "mov")
IMAGE_TYPES = ("jpeg", "png", "webp", "heic", "heif")
TEXT_TYPES = ("csv", "email", "html", "json", "text", "xml")

_OBJECT_REPR = re.compile(r"\s*<[^<>]* object at 0x[0-9a-fA-F]+>")


Transcribe = Callable[[str, bytes], str]  # (inputType, audio bytes) -> text


def parse(
    input_type: str,
    data: bytes,
    *,
    transcribe: Transcribe | None = None,
    ffmpeg: str = "ffmpeg",
    depth: int = 0,
) -> Document:
    """The document in ``data``; ``DocumentError`` with a precise message when it cannot be read.

    Audio is read by ``transcribe`` (a provider, see ``providers.transcription``) when there is one;
    video by the ``ffmpeg`` program (a name on ``PATH`` or a path), its sound by ``transcribe``.
    A bad document never raises anything else: a reader's unforeseen failure (a library's own
    exception, ``MemoryError``, ``RecursionError``) becomes a ``DocumentError`` naming it. A failing
    transcription provider is not a bad document: its ``ProviderError`` goes through as it is."""
    if not data:
        raise DocumentError(f"the {input_type} file is empty")
    if input_type in AUDIO_TYPES:
        if transcribe is None:
            raise DocumentError(
                f"{input_type} input is audio, which needs a transcription provider, and none is configured "
                "(set QUARRY_TRANSCRIPTION_BASE_URL)"
            )
        return text_document(input_type, transcript_lines(transcribe(input_type, data)))
    if input_type in VIDEO_TYPES:
        return video.read(input_type, data, ffmpeg, transcribe)
    try:
        return _read(input_type, data, transcribe, ffmpeg, depth)
    except Exception as exc:  # not KeyboardInterrupt or SystemExit: those are not about the document
        raise DocumentError(_why_unread(input_type, data, exc)) from None


def _why_unread(input_type: str, data: bytes, exc: Exception) -> str:
    """What the bytes look like when that is another type (a PNG sent as ``pdf``: the reader's own
    complaint would not say so), else the reader's reason, without the reprs of Python objects
    that some libraries put in theirs (Pillow's ``<_io.BytesIO object at 0x…>``).

    Any UTF-8 looks like text: that says nothing about a file declared as a text type."""
    looks = sniff(data)
    if looks not in (None, input_type) and not (looks == "text" and input_type in TEXT_TYPES):
        return f"the input was declared {input_type} but its bytes look like {LOOKS[looks]} (inputType {looks})"
    reason = str(exc) if isinstance(exc, DocumentError) else f"the {input_type} file cannot be read: {describe(exc)}"
    return _OBJECT_REPR.sub("", reason)


def _read(input_type: str, data: bytes, transcribe: Transcribe | None, ffmpeg: str, depth: int) -> Document:
    if input_type in IMAGE_TYPES:
        return images.read(input_type, data)
    if input_type == "email":
        if depth >= MAX_ATTACHMENT_DEPTH:
            raise DocumentError(f"emails nested deeper than {MAX_ATTACHMENT_DEPTH} levels are not read")
        from quarry.documents.readers import mail

        return mail.read(
            data, lambda kind, payload: parse(kind, payload, transcribe=transcribe, ffmpeg=ffmpeg, depth=depth + 1)
        )
    readers = {
        "pdf": pdf.read,
        "docx": office.read,
        "pptx": slides.read,
        "xlsx": tabular.read_xlsx,
        "xls": tabular.read_xls,
        "csv": tabular.read_csv,
        "json": plain.read_json,
        "text": plain.read_text,
        "html": markup.read_html,
        "xml": markup.read_xml,
    }
    if input_type not in readers:
        raise DocumentError(f"{input_type!r} is not an input type Quarry reads")
    return readers[input_type](data)
