"""v3 subscriptions and the webhook secret, through the official SDK (strict): the same objects
as v2's ``/v1-alpha/subscriptions`` and ``/v1-beta/webhook-secret``."""

from __future__ import annotations

from typing import Any

import bem
import httpx
import pytest

from tests.conftest import Server, Tenant
from tests.helpers import assert_error, create_function, transform

HOOK = "http://127.0.0.1:9/hooks/quarry"


def subscribe(sdk: bem.Bem, name: str, function: str, **extra: Any) -> bem.types.SubscriptionV3:
    return sdk.subscriptions.create(name=name, type="transform", function_name=function, webhook_url=HOOK, **extra)


def test_create_retrieve_update_delete(sdk: bem.Bem, api: httpx.Client) -> None:
    function = create_function(api, transform("invoices"))
    other = create_function(api, transform("receipts"))
    created = subscribe(sdk, "invoice events", "invoices")
    assert created.subscription_id.startswith("sub_")
    assert (created.name, created.type, created.webhook_url, created.disabled) == (
        "invoice events", "transform", HOOK, False,
    )  # fmt: skip
    assert (created.function_id, created.function_name) == (function["functionID"], "invoices")
    assert created.collection_id is None and created.s3_bucket is None

    assert sdk.subscriptions.retrieve(created.subscription_id) == created
    v2 = api.get(f"/v1-alpha/subscriptions/{created.subscription_id}").json()
    assert v2["name"] == "invoice events" and v2["functionID"] == function["functionID"]

    updated = sdk.subscriptions.update(created.subscription_id, disabled=True, function_name="receipts")
    assert updated.disabled is True
    assert (updated.function_id, updated.function_name) == (other["functionID"], "receipts")
    assert (updated.name, updated.type, updated.webhook_url) == (created.name, created.type, HOOK)  # unchanged
    assert sdk.subscriptions.retrieve(created.subscription_id) == updated

    renamed = sdk.subscriptions.update(created.subscription_id, name="receipt events", webhook_url=HOOK + "/2")
    assert (renamed.name, renamed.webhook_url, renamed.disabled) == ("receipt events", HOOK + "/2", True)

    assert sdk.subscriptions.delete(created.subscription_id) is None
    with pytest.raises(bem.NotFoundError):
        sdk.subscriptions.retrieve(created.subscription_id)
    with pytest.raises(bem.NotFoundError):
        sdk.subscriptions.delete(created.subscription_id)
    with pytest.raises(bem.NotFoundError):
        sdk.subscriptions.update(created.subscription_id, disabled=False)


def test_a_collection_subscription_names_the_collection(sdk: bem.Bem) -> None:
    collection = sdk.collections.create(collection_name="vendors")
    created = sdk.subscriptions.create(
        name="vendor ingest", type="collection_processing", collection_name="vendors", webhook_url=HOOK
    )
    assert (created.collection_id, created.collection_name) == (collection.collection_id, "vendors")
    assert created.function_id is None and created.function_name is None
    by_id = sdk.subscriptions.create(
        name="by id", type="collection_processing", collection_id=collection.collection_id, webhook_url=HOOK
    )
    assert by_id.collection_name == "vendors"


def test_list_pages_by_cursor_in_creation_order(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("invoices"))
    create_function(api, transform("receipts"))
    created = [subscribe(sdk, f"s{i}", "invoices" if i % 2 else "receipts") for i in range(5)]
    ids = [s.subscription_id for s in created]

    seen: list[str] = []
    page = sdk.subscriptions.list(limit=2)
    while page:
        assert len(page) <= 2
        seen += [s.subscription_id for s in page]
        page = sdk.subscriptions.list(limit=2, starting_after=seen[-1])
    assert seen == ids

    assert [s.subscription_id for s in sdk.subscriptions.list(limit=2, ending_before=ids[3])] == ids[1:3]
    assert sdk.subscriptions.list() == created
    invoices = sdk.subscriptions.list(function_names=["invoices"])
    assert [s.name for s in invoices] == ["s1", "s3"]
    both = sdk.subscriptions.list(function_names=["invoices", "receipts"], limit=100)
    assert [s.subscription_id for s in both] == ids


def test_deliveries_elsewhere_than_a_webhook_are_400(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("invoices"))
    with pytest.raises(bem.BadRequestError):
        sdk.subscriptions.create(name="s3", type="transform", function_name="invoices", s3_bucket="my-bucket")
    with pytest.raises(bem.BadRequestError):
        sdk.subscriptions.create(name="none", type="transform", function_name="invoices")
    body = {"name": "x", "type": "transform", "functionName": "invoices", "webhookURL": HOOK}
    assert_error(api.post("/v3/subscriptions", json=body | {"s3Bucket": "b"}), 400, "s3Bucket")
    assert_error(api.post("/v3/subscriptions", json=body | {"googleDriveFolderID": "f"}), 400, "googleDriveFolderID")
    assert_error(api.post("/v3/subscriptions", json=body | {"webhookURL": None}), 400, "webhookURL")
    sid = subscribe(sdk, "ok", "invoices").subscription_id
    assert_error(api.patch(f"/v3/subscriptions/{sid}", json={"s3FilePath": "out/"}), 400, "s3FilePath")
    assert sdk.subscriptions.list() == [sdk.subscriptions.retrieve(sid)]  # nothing else was stored


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"functionName": "nope"}, "functionName"),
        ({"type": "entity_proposed"}, "type"),  # account-wide entity events: Quarry has no entities
        ({"functionID": "fn_x"}, "functionID"),  # not a field of the v3 update
        ({"webhookURL": "ftp://h/x"}, "webhookURL"),
    ],
)
def test_invalid_creates_and_updates_are_400(
    api: httpx.Client, sdk: bem.Bem, changes: dict[str, Any], field: str
) -> None:
    create_function(api, transform("invoices"))
    body = {"name": "x", "type": "transform", "functionName": "invoices", "webhookURL": HOOK}
    if field != "functionID":
        assert_error(api.post("/v3/subscriptions", json=body | changes), 400, field)
    sid = subscribe(sdk, "ok", "invoices").subscription_id
    assert_error(api.patch(f"/v3/subscriptions/{sid}", json=changes), 400, field)
    assert sdk.subscriptions.retrieve(sid).function_name == "invoices"


def test_unknown_list_parameters_are_400(api: httpx.Client) -> None:
    assert_error(api.get("/v3/subscriptions", params={"sortOrder": "desc"}), 400, "sortOrder")
    assert_error(api.get("/v3/subscriptions", params={"limit": 101}), 400, "limit")


def test_another_environments_subscription_is_404(server: Server, tenant: Tenant, sdk: bem.Bem) -> None:
    create_function(tenant.production, transform("invoices"))
    sid = subscribe(sdk, "mine", "invoices").subscription_id
    with bem.Bem(api_key=tenant.keys["sandbox"], base_url=server.base_url, _strict_response_validation=True) as other:
        with pytest.raises(bem.NotFoundError):
            other.subscriptions.retrieve(sid)
        with pytest.raises(bem.NotFoundError):
            other.subscriptions.delete(sid)
        assert other.subscriptions.list() == []
    assert sdk.subscriptions.retrieve(sid).name == "mine"


def test_the_webhook_secret_is_v2s(sdk: bem.Bem, api: httpx.Client) -> None:
    with pytest.raises(bem.NotFoundError):
        sdk.webhook_secret.retrieve()
    first = sdk.webhook_secret.create().secret
    assert first.startswith("whsec_")
    assert sdk.webhook_secret.retrieve().secret == first
    assert api.get("/v1-beta/webhook-secret").json() == {"secret": first}

    rotated = sdk.webhook_secret.create().secret
    assert rotated != first
    assert api.get("/v1-beta/webhook-secret").json() == {"secret": rotated}
    from_v2 = api.post("/v1-beta/webhook-secret").json()["secret"]
    assert sdk.webhook_secret.retrieve().secret == from_v2 != rotated

    assert sdk.webhook_secret.revoke() is None
    assert_error(api.get("/v1-beta/webhook-secret"), 404)
    with pytest.raises(bem.NotFoundError):
        sdk.webhook_secret.retrieve()
    with pytest.raises(bem.NotFoundError):
        sdk.webhook_secret.revoke()


def test_a_create_retried_with_its_idempotency_key_creates_once(sdk: bem.Bem, api: httpx.Client) -> None:
    create_function(api, transform("invoices"))
    body = {"name": "once", "type": "transform", "functionName": "invoices", "webhookURL": HOOK}
    first, again = (api.post("/v3/subscriptions", json=body, headers={"Idempotency-Key": "sub-1"}) for _ in range(2))
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true" and again.content == first.content
    assert [s.subscription_id for s in sdk.subscriptions.list()] == [first.json()["subscriptionID"]]
