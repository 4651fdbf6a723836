"""Per-key rate limiting: a real server with a small limit, and the token bucket's arithmetic."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from quarry.api.errors import ApiError
from quarry.api.rate_limit import RateLimiter
from quarry.config import Settings
from tests.harness.processes import QUARRY, ServerProcess, quarry_env
from tests.helpers import assert_error

KEY = "qk_" + "ratelimit" * 4


def test_a_key_over_its_rate_gets_429_with_retry_after_and_other_keys_do_not(tmp_path: Path) -> None:
    with quarry_env(
        "sqlite", tmp_path / "data", "unused", QUARRY_API_KEY=KEY, QUARRY_RATE_LIMIT_PER_SECOND="0.5",
        QUARRY_RATE_LIMIT_BURST="3",
    ) as env:  # fmt: skip
        check_limits(env)


def check_limits(env: dict[str, str]) -> None:
    server = ServerProcess(env)  # first: key commands use the database the server made
    try:
        command = [*QUARRY, "keys", "create", "--name", "other"]
        created = subprocess.run(command, env=env, capture_output=True, text=True)
        other = re.findall(r"\bqk_[A-Za-z0-9]{40}\b", created.stdout)[0]
        limited = httpx.Client(base_url=server.url, headers={"x-api-key": KEY})
        answers = [limited.get("/v2/functions") for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        assert_error(answers[3], 429)
        retry_after = int(answers[3].headers["Retry-After"])
        assert 1 <= retry_after <= 2  # one request back every 2 s
        assert httpx.get(server.url + "/v2/functions", headers={"x-api-key": other}).status_code == 200
        assert httpx.get(server.url + "/readyz").status_code == 200  # unauthenticated probes are not limited
        time.sleep(retry_after)
        assert limited.get("/v2/functions").status_code == 200
        assert_error(limited.get("/v2/functions"), 429)
    finally:
        server.stop()


def test_buckets_are_per_key() -> None:
    limiter = RateLimiter(per_second=1, burst=1)
    limiter.check("a")
    with pytest.raises(ApiError) as refused:
        limiter.check("a")
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}
    limiter.check("b")  # buckets are per key


def test_the_bucket_refills_at_the_rate_up_to_the_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("quarry.api.rate_limit.time.monotonic", lambda: now[0])
    limiter = RateLimiter(per_second=2, burst=4)
    for _ in range(4):
        limiter.check("k")
    with pytest.raises(ApiError):
        limiter.check("k")
    now[0] += 1.0  # two requests' worth
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(ApiError):
        limiter.check("k")
    now[0] += 60.0  # a long pause refills to the burst, not beyond
    for _ in range(4):
        limiter.check("k")
    with pytest.raises(ApiError):
        limiter.check("k")


def test_settings_default_to_no_limit_and_a_burst_of_two_seconds() -> None:
    assert RateLimiter.from_settings(Settings.from_env({})) is None
    limiter = RateLimiter.from_settings(Settings.from_env({"QUARRY_RATE_LIMIT_PER_SECOND": "20"}))
    assert limiter is not None and limiter.burst == 40
    limiter = RateLimiter.from_settings(Settings.from_env({"QUARRY_RATE_LIMIT_PER_SECOND": "1"}))
    assert limiter is not None and limiter.burst == 10
