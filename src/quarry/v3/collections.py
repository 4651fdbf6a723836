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

router = APIRouter(prefix="/v3", tags=["v3 collections"])

for _route in v2_collections.routes:
    assert isinstance(_route, APIRoute)
    router.add_api_route(
        _route.path.removeprefix("/v2"),
        _route.endpoint,
        methods=list(_route.methods),
        response_model=_route.response_model,
        status_code=_route.status_code,
        response_class=_route.response_class,
        response_model_exclude_none=_route.response_model_exclude_none,
        description=_route.description,
        name=f"v3_{_route.name}",
    )
