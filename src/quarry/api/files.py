"""``GET /v2/files/{key}``: the stored files behind ``s3URL`` fields, for holders of a signed URL."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Query, Response

from quarry.api.deps import Blobs, Links
from quarry.api.errors import ApiError
from quarry.documents.input_types import EXTENSION_MEDIA_TYPES

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
) -> Response:
    """The bytes of a stored file. The URL is the credential: no API key, valid until ``expires``."""
    if not links.signer.valid(key, expires, signature):
        raise ApiError(403, "This file URL is invalid or has expired; fetch the object again for a fresh one")
    try:
        data = blobs.get(key)
    except KeyError:
        raise ApiError(404, "file not found") from None
    media_type = EXTENSION_MEDIA_TYPES.get(PurePath(key).suffix.lstrip("."), "application/octet-stream")
    return Response(data, media_type=media_type, headers={"cache-control": "private, max-age=300"})
