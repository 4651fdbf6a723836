"""Pages as PNG images: for providers that read a document by looking at it (``analyze``), and
for people who check an extraction against its document (the dashboard)."""

from __future__ import annotations

import io
from typing import Any

from quarry.documents.model import DocumentError
from quarry.documents.parse import IMAGE_TYPES
from quarry.documents.pdfium import LOCK

MAX_SIDE = 1600  # enough for a model to read print; more only costs tokens


def page_images(input_type: str, data: bytes, *, max_pages: int = 8) -> list[bytes]:
    """PNG images of the first ``max_pages`` pages of a PDF, or of an image input; none for other types."""
    if input_type in IMAGE_TYPES:
        return [page_image(input_type, data, 1)]
    if input_type != "pdf":
        return []
    with LOCK:
        pdf = _open_pdf(data)
        try:
            rendered = [_render(pdf[index]) for index in range(min(len(pdf), max_pages))]
        finally:
            pdf.close()
    return [_png(image) for image in rendered]


def page_image(input_type: str, data: bytes, number: int) -> bytes:
    """A PNG image of page ``number`` (1-based) of a PDF or an image input (one page);
    ``IndexError`` past its last page, ``ValueError`` for a type without pages to render."""
    if input_type in IMAGE_TYPES:
        if number != 1:
            raise IndexError(number)
        from quarry.documents.readers.images import open_image

        return _png(open_image(data))
    if input_type != "pdf":
        raise ValueError(f"a {input_type} input has no pages to render")
    with LOCK:
        pdf = _open_pdf(data)
        try:
            if not 1 <= number <= len(pdf):
                raise IndexError(number)
            image = _render(pdf[number - 1])
        finally:
            pdf.close()
    return _png(image)


def _open_pdf(data: bytes) -> Any:
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise DocumentError(f"the PDF cannot be opened: {exc}") from None


def _render(page: Any) -> Any:
    try:
        width, height = page.get_size()
        return page.render(scale=min(2.0, MAX_SIDE / max(width, height, 1.0))).to_pil()
    finally:
        page.close()


def _png(image: Any) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
