"""Images (jpeg, png, webp, heic, heif): decoded with Pillow (pillow-heif for HEIC/HEIF), then OCR'd."""

from __future__ import annotations

import io

from quarry.documents.layout import reading_order_text
from quarry.documents.limits import MAX_IMAGE_PIXELS
from quarry.documents.model import Document, DocumentError, Page, describe
from quarry.documents.readers import ocr

_heif_registered = False


def open_image(data: bytes):
    """The decoded image, upright; refused before decoding when it has too many pixels."""
    global _heif_registered
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own ceiling, far above ours: refused from the header too
        raise DocumentError(f"the image has more than {MAX_IMAGE_PIXELS:,} pixels, the most that are read") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DocumentError(f"the image cannot be decoded: {exc}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise DocumentError(f"the image has {width}x{height} pixels; at most {MAX_IMAGE_PIXELS:,} are read")
    if width < 1 or height < 1:
        raise DocumentError(f"the image has {width}x{height} pixels: nothing to read")
    try:
        image.load()
        return ImageOps.exif_transpose(image)  # photos from phones are often stored sideways
    except Image.DecompressionBombError:
        raise DocumentError(f"the image has more than {MAX_IMAGE_PIXELS:,} pixels, the most that are read") from None
    except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError, struct.error… for broken data
        raise DocumentError(f"the image cannot be decoded: {describe(exc)}") from None


def read(input_type: str, data: bytes) -> Document:
    words, width, height = ocr.recognise(open_image(data))
    return Document(input_type, pages=[Page(1, reading_order_text(words), width, height, words, ocr=True)])
