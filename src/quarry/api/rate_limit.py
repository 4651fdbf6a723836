"""Per-key rate limiting: a token bucket for every API key, in this process.

Each key may make ``QUARRY_RATE_LIMIT_PER_SECOND`` requests a second on average and up to
``QUARRY_RATE_LIMIT_BURST`` at once; beyond, a 429 whose ``Retry-After`` says when the next
request will be accepted. The buckets live in the process that answers, so behind a load
balancer with N API processes a key gets up to N times the rate (see docs/decisions.md).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time

from quarry.api.errors import ApiError
from quarry.config import Settings


class RateLimiter:
    def __init__(self, per_second: float, burst: int) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key digest -> (tokens, at)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The configured limiter; ``None`` (no limit) unless ``QUARRY_RATE_LIMIT_PER_SECOND`` is set.
        The burst defaults to two seconds' worth of requests, at least 10."""
        rate = settings.rate_limit_per_second
        if not rate:
            return None
        return cls(rate, settings.rate_limit_burst or max(10, math.ceil(2 * rate)))

    def check(self, api_key: str) -> None:
        """Take one request from ``api_key``'s bucket; ``ApiError(429)`` when it is empty."""
        digest = hashlib.sha256(api_key.encode()).digest()  # the secret itself is not kept
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(digest, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens < 1.0:
                self._buckets[digest] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.per_second)
                raise ApiError(
                    429,
                    f"Too many requests for this API key: at most {self.per_second:g} a second "
                    f"(bursts of {self.burst}); retry after {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[digest] = (tokens - 1.0, now)
