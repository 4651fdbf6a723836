"""/docs and /redoc work offline: every asset they load is served by Quarry itself."""

from __future__ import annotations

import re

import httpx
import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_loads_only_local_assets(anonymous: httpx.Client, page: str) -> None:
    response = anonymous.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an asset from another host"
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert any(asset.endswith(".js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        fetched = anonymous.get(asset)
        assert fetched.status_code == 200 and len(fetched.content) > 100, asset
    assert "/openapi.json" in html
