"""The ``bem-signature`` header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.

Receivers check it with :func:`verify`, a standalone function (standard library only) they can
also copy into their own code:

    from quarry.webhooks import verify

    if not verify(secret, request.headers["bem-signature"], raw_body):
        return 400  # not from Quarry, altered on the way, or replayed later than the tolerance
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "bem-signature"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent now (or at ``timestamp``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300, *, now: float | None = None) -> bool:
    """Whether ``header`` signs exactly ``body`` with ``secret``, at most ``tolerance`` seconds ago.

    ``body`` must be the raw bytes received, before any JSON parsing. Several ``v1`` entries are
    accepted (any may match), so that a rotated secret can be announced; unknown schemes are ignored.
    """
    timestamp: int | None = None
    signatures: list[str] = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)
