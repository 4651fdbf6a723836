"""Every request needs a key of one environment, and environments never see each other."""

from __future__ import annotations

import time

import httpx

from tests.conftest import Server, Tenant, make_tenant
from tests.helpers import assert_error, create_function, transform


def test_request_without_key_is_401(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/v2/functions"), 401)
    assert_error(anonymous.post("/v2/functions", json=transform("x")), 401)
    assert_error(anonymous.get("/v2/workflows/anything"), 401)


def test_unknown_key_is_401(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/v2/functions", headers={"x-api-key": "qk_not-a-real-key"}), 401)


def _revoke(server: Server, tenant: Tenant, environment_name: str) -> None:
    from quarry.tenancy.service import list_api_keys, revoke_api_key

    with server.db.write() as session:
        for key, environment in list_api_keys(session, tenant.account_id):
            if environment.name == environment_name:
                revoke_api_key(session, tenant.account_id, key.id)


def test_revoked_key_is_401_once_no_longer_trusted(server: Server, tenant: Tenant) -> None:
    """A key this process checked a moment ago is trusted for QUARRY_API_KEY_CACHE_SECONDS; once
    revoked, it is refused when that has passed, and not much later."""
    assert tenant.production.get("/v2/functions").status_code == 200
    _revoke(server, tenant, "production")
    deadline = time.monotonic() + server.settings.api_key_cache_seconds + 3
    while (response := tenant.production.get("/v2/functions")).status_code == 200:
        assert time.monotonic() < deadline, "a revoked key was still accepted after the cache time"
        time.sleep(0.2)
    assert_error(response, 401)
    assert tenant.sandbox.get("/v2/functions").status_code == 200


def test_key_revoked_before_its_first_use_is_401_at_once(server: Server, tenant: Tenant) -> None:
    _revoke(server, tenant, "sandbox")
    assert_error(tenant.sandbox.get("/v2/functions"), 401)
    assert tenant.production.get("/v2/functions").status_code == 200


def test_environments_are_isolated(tenant: Tenant) -> None:
    created = create_function(tenant.production, transform("invoice-extractor"))

    assert_error(tenant.sandbox.get("/v2/functions/invoice-extractor"), 404)
    listed = tenant.sandbox.get("/v2/functions").json()
    assert listed == {"functions": [], "totalCount": 0}
    assert tenant.sandbox.get(f"/v2/functions?functionIDs={created['functionID']}").json()["totalCount"] == 0
    assert_error(tenant.sandbox.get(f"/v2/functions?startingAfter={created['functionID']}"), 400, "startingAfter")
    assert_error(tenant.sandbox.put("/v2/functions/invoice-extractor", json={"displayName": "x"}), 404)
    assert_error(tenant.sandbox.delete("/v2/functions/invoice-extractor"), 404)

    # the same name is free in the other environment
    other = create_function(tenant.sandbox, transform("invoice-extractor"))
    assert other["functionID"] != created["functionID"]
    assert tenant.production.get("/v2/functions").json()["totalCount"] == 1


def test_accounts_are_isolated(server: Server, tenant: Tenant) -> None:
    create_function(tenant.production, transform("shared-name"))
    stranger = make_tenant(server)
    try:
        assert_error(stranger.production.get("/v2/functions/shared-name"), 404)
        assert stranger.production.get("/v2/functions").json()["totalCount"] == 0
        response = stranger.production.post(
            "/v2/functions/copy",
            json={"sourceFunctionName": "shared-name", "targetFunctionName": "stolen"},
        )
        assert_error(response, 404)
    finally:
        stranger.production.close()
        stranger.sandbox.close()
