"""Collections and their items: ``/v3/collections``, ``/v3/collections/items``.

v3's collections are v2's, field for field: the SDK's ``CollectionListResponse``, ``Collection``
(with ``items``) and the asynchronous ``ItemAddResponse``/``ItemUpdateResponse`` are the shapes
``/v2/collections`` answers (the SDK's list page reads ``collections``, ``page`` and
``totalPages``, and ignores v2's ``limit`` and ``totalCount``). So v3 serves v2's handlers at its
own paths rather than a copy of them. ``POST /v3/collections/token-count`` is not served (see
docs/decisions.md).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from quarry.collections.routes import router as v2_collections
from quarry.v3.reuse import serve_v2_routes

router = APIRouter(prefix="/v3", tags=["v3 collections"])
serve_v2_routes(router, [r for r in v2_collections.routes if isinstance(r, APIRoute)], "/v2", "")
