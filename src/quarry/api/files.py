"""``GET /v2/files/{key}``: the stored files behind ``s3URL`` fields, for holders of a signed URL."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Query, Response

from quarry.api.deps import Blobs, Links
from quarry.api.errors import ApiError
from quarry.documents.input_types import EXTENSION_MEDIA_TYPES, input_type_for
from quarry.documents.rendering import page_image
from quarry.lru import Lru

router = APIRouter(tags=["files"])


@router.get(
    "/v2/files/{key:path}",
    response_class=Response,
    responses={403: {"description": "The signature is invalid or the URL has expired"}},
)
def get_file(
    key: str,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
    links: Links,
    blobs: Blobs,
    page: Annotated[
        int | None, Query(ge=1, le=100_000, description="A page of a PDF or image file, as a PNG image.")
    ] = None,
) -> Response:
    """The bytes of a stored file, or one of its pages as an image (``page``: how the dashboard
    shows a document beside its fields). The URL is the credential: no API key, valid until
    ``expires``."""
    if not links.signer.valid(key, expires, signature):
        raise ApiError(403, "This file URL is invalid or has expired; fetch the object again for a fresh one")
    try:
        data = blobs.get(key)
    except KeyError:
        raise ApiError(404, "file not found") from None
    extension = PurePath(key).suffix.lstrip(".")
    media_type = EXTENSION_MEDIA_TYPES.get(extension, "application/octet-stream")
    if page is not None:
        data, media_type = _page_image(key, input_type_for(key, None) or extension, data, page), "image/png"
    return Response(data, media_type=media_type, headers={"cache-control": "private, max-age=300"})


_RENDERED: Lru[tuple[str, int], bytes] = Lru(64)
"""Pages rendered lately (a person pages back and forth; a page costs tens of ms of CPU)."""


def _page_image(key: str, input_type: str, data: bytes, page: int) -> bytes:
    try:
        return _RENDERED.get_or_load((key, page), lambda: page_image(input_type, data, page))
    except IndexError:
        raise ApiError(404, f"the file has no page {page}") from None
    except (ValueError, RuntimeError) as exc:  # DocumentError, PdfiumError: a page that cannot be rendered
        raise ApiError(400, f"page {page} cannot be shown: {exc}", {"field": "page", "reason": str(exc)}) from None
