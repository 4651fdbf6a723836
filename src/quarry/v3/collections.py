"""Collections and their items: ``/v3/collections``, ``/v3/collections/items``.

v3's collections are v2's, field for field: the SDK's ``CollectionListResponse``, ``Collection``
(with ``items``) and the asynchronous ``ItemAddResponse``/``ItemUpdateResponse`` are the shapes
``/v2/collections`` answers (the SDK's list page reads ``collections``, ``page`` and
``totalPages``, and ignores v2's ``limit`` and ``totalCount``). So v3 serves v2's handlers at its
own paths rather than a copy of them. ``POST /v3/collections/token-count`` counts with the
deployment's own embedder (see docs/decisions.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import Field, field_validator

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings
from quarry.api.errors import ApiError
from quarry.collections.routes import router as v2_collections
from quarry.providers import ProviderError
from quarry.providers.embeddings import embedder_from_settings
from quarry.v3.reuse import serve_v2_routes
from quarry.wire import WireModel

router = APIRouter(prefix="/v3", tags=["v3 collections"])


MAX_TEXT_CHARS = 200_000  # far past any embedding model's limit: a longer text is no text to embed
MAX_TOTAL_CHARS = 2_000_000  # counting takes a moment of CPU per character: a request holds a thread that long


class TokenCountBody(WireModel):
    texts: Annotated[list[Annotated[str, Field(max_length=MAX_TEXT_CHARS)]], Field(min_length=1, max_length=100)]

    @field_validator("texts")
    @classmethod
    def _bounded(cls, texts: list[str]) -> list[str]:
        if sum(len(text) for text in texts) > MAX_TOTAL_CHARS:
            raise ValueError(f"at most {MAX_TOTAL_CHARS:,} characters in all")
        return texts


@router.post("/collections/token-count")
def count_tokens(principal: CurrentPrincipal, body: TokenCountBody, settings: AppSettings) -> dict[str, Any]:
    """How many tokens the deployment's embedder makes of each text, and whether it takes them all:
    the builtin embedder counts its words (it takes any length), an OpenAI-compatible one is
    estimated offline against its models' 8,191 tokens. The answer's fields are snake_case, as
    bem's SDK reads them for this operation."""
    try:
        embedder = embedder_from_settings(settings)
    except ProviderError as exc:
        raise ApiError(503, f"the deployment's embedder is not usable: {exc}") from None
    limit = embedder.max_tokens
    counts = [
        {
            "index": index,
            "char_count": len(text),
            "token_count": (tokens := embedder.count_tokens(text)),
            "exceeds_limit": limit is not None and tokens > limit,
        }
        for index, text in enumerate(body.texts)
    ]
    answer: dict[str, Any] = {
        "token_counts": counts,
        "total_tokens": sum(count["token_count"] for count in counts),
        "texts_exceeding_limit": sum(1 for count in counts if count["exceeds_limit"]),
    }
    if limit is not None:
        answer["max_token_limit"] = limit
    return answer


serve_v2_routes(router, [r for r in v2_collections.routes if isinstance(r, APIRoute)], "/v2", "")
