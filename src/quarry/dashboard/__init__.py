"""The web dashboard: static files (HTML, JavaScript modules, CSS) that use the API from the browser.

``GET /`` is the page and ``GET /ui/{asset}`` its files, all shipped in the package (no build
step, nothing from another host). The browser holds the API key and sends it as ``x-api-key``
like any other client, so the dashboard adds no state and no authentication of its own. It is
not part of the API: its routes are left out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from quarry.api.errors import ApiError

STATIC = Path(__file__).parent / "static"

# Only the files shipped are served, by their exact relative path: no path is ever joined from a request.
ASSETS = {path.relative_to(STATIC).as_posix(): path for path in STATIC.rglob("*") if path.is_file()}

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",  # modules load only with a JavaScript type
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The browser itself refuses anything from another host, inline scripts and framing.
HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate: an upgraded server serves its own files at once
}

router = APIRouter(include_in_schema=False)


def _serve(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, f"no dashboard file {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=HEADERS)


@router.get("/")
def dashboard() -> FileResponse:
    return _serve("index.html")


@router.get("/ui/{asset:path}")
def asset(asset: str) -> FileResponse:
    return _serve(asset)
