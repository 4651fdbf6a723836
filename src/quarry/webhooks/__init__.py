"""Webhooks: subscriptions' events POSTed to receivers, signed, durably retried.

Receivers verify a delivery with :func:`verify` (``from quarry.webhooks import verify``).
"""

from quarry.webhooks.signing import sign, verify

__all__ = ["sign", "verify"]
