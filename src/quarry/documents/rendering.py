"""Pages as PNG images, for providers that read a document by looking at it (``analyze``)."""

from __future__ import annotations

import io

from quarry.documents.model import DocumentError
from quarry.documents.parse import IMAGE_TYPES
from quarry.documents.pdfium import LOCK

MAX_SIDE = 1600  # enough for a model to read print; more only costs tokens


def page_images(input_type: str, data: bytes, *, max_pages: int = 8) -> list[bytes]:
    """PNG images of the first ``max_pages`` pages of a PDF, or of an image input; none for other types."""
    if input_type in IMAGE_TYPES:
        from quarry.documents.readers.images import open_image

        return [_png(open_image(data))]
    if input_type != "pdf":
        return []
    import pypdfium2

    with LOCK:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise DocumentError(f"the PDF cannot be opened: {exc}") from None
        try:
            rendered = []
            for index in range(min(len(pdf), max_pages)):
                page = pdf[index]
                width, height = page.get_size()
                rendered.append(page.render(scale=min(2.0, MAX_SIDE / max(width, height, 1.0))).to_pil())
                page.close()
        finally:
            pdf.close()
    return [_png(image) for image in rendered]


def _png(image) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
