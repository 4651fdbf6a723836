"""Every operation the official bem SDK (0.36.0) can call answers as documented: served, or a 501
in the error shape naming what is not served — never the 404 of an unknown path nor a 405.

The operations are read from the SDK's own source (each resource's ``self._get("/v3/…")`` and
alike), not from Quarry's routes, so that an operation Quarry forgot cannot go unnoticed."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import bem
import httpx
import pytest

from tests.helpers import assert_error

RESOURCES = Path(inspect.getfile(bem)).parent / "resources"
CALL = re.compile(r'self\._(get|post|put|patch|delete)(?:_api_list)?\(\s*(?:path_template\()?\s*"(/v3/[^"]*)"')


def sdk_operations() -> list[tuple[str, str]]:
    found = set()
    for source in RESOURCES.rglob("*.py"):
        text = source.read_text()
        text = text.split("class Async", 1)[0]  # the synchronous client names every operation once
        found |= {(method.upper(), path) for method, path in CALL.findall(text)}
    return sorted(found)


OPERATIONS = sdk_operations()


def test_the_sdk_names_every_operation_of_its_api() -> None:
    assert len(OPERATIONS) == 80  # bem-sdk 0.36.0: a newer SDK needs this list looked at again


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_sdk_operation_is_served_or_refused_as_not_served(api: httpx.Client, method: str, path: str) -> None:
    concrete = re.sub(r"{\w+}", "x-unknown", path)
    response = api.request(method, concrete, json={} if method in ("POST", "PUT", "PATCH") else None)
    assert response.status_code != 405, (method, path)
    assert response.status_code < 500 or response.status_code == 501, (method, path, response.text)
    body = response.json() if response.content else None
    if response.status_code == 404:
        assert body["message"] != "No such endpoint", (method, path)  # an object not found, not a path
    if response.status_code == 501:
        error = assert_error(response, 501)
        assert "not served" in error["message"]


def test_token_count_counts_with_the_embedder(sdk: bem.Bem) -> None:
    texts = ["Invoice INV-7, total 12.50 EUR", "", "naïve café—ÉLAN"]
    answer = sdk.collections.count_tokens(texts=texts)
    words = [len(re.findall(r"[^\W_]+", text)) for text in texts]  # the builtin embedder's tokens are words
    assert [c.token_count for c in answer.token_counts or []] == words
    assert [c.char_count for c in answer.token_counts or []] == [len(t) for t in texts]
    assert [c.index for c in answer.token_counts or []] == [0, 1, 2]
    assert answer.total_tokens == sum(words) and answer.texts_exceeding_limit == 0
    assert answer.max_token_limit is None  # it reads any length


def test_token_count_refuses_what_it_cannot_count(api: httpx.Client) -> None:
    assert_error(api.post("/v3/collections/token-count", json={"texts": []}), 400, "texts")
    assert_error(api.post("/v3/collections/token-count", json={}), 400, "texts")
    assert_error(api.post("/v3/collections/token-count", json={"texts": [1]}), 400)
    assert_error(api.post("/v3/collections/token-count", json={"texts": ["x" * 200_001]}), 400, "texts[0]")
    assert_error(api.post("/v3/collections/token-count", json={"texts": ["x" * 150_000] * 14}), 400, "texts")
