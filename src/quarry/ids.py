"""Prefixed, time-sortable identifiers such as ``call_0ujsswThIGTUYm2K8FjOOfXtY1K``.

48 bits of milliseconds since the epoch followed by 80 random bits, written in fixed-width
base62 whose alphabet is in ASCII order, so that string order is creation order (to the
millisecond) on every database collation that compares bytes.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WIDTH = 22  # ceil(128 / log2(62))


def new_id(prefix: str, at_ms: int | None = None) -> str:
    """Return a new identifier ``<prefix>_<22 base62 chars>`` (for the instant ``at_ms``, default now)."""
    value = (time.time_ns() // 1_000_000 if at_ms is None else at_ms) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(_WIDTH):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"
