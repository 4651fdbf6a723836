"""Collection name rules, shared by collections and the enrich steps that refer to them.

Only ``a-zA-Z0-9_.``; a dot separates hierarchy levels; each segment starts with a letter or
an underscore, is not all digits and is 1–256 characters long; the whole name is at most
1024 characters (Quarry's limit: the reference sets none).
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
MAX_NAME_CHARS = 1024


def check_collection_name(name: str) -> str:
    """Return ``name`` or raise ``ValueError`` saying which rule it breaks.

    >>> check_collection_name("orders.line_items.sku")
    'orders.line_items.sku'
    """
    if not name:
        raise ValueError("collection name must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"collection name must be at most {MAX_NAME_CHARS} characters")
    if re.search(r"[^A-Za-z0-9_.]", name):
        raise ValueError("collection name may contain only letters, digits, underscores and dots")
    for segment in name.split("."):
        if not segment:
            raise ValueError("collection name must not start or end with a dot or contain consecutive dots")
        if not _SEGMENT.match(segment):
            raise ValueError(
                f"collection name segment {segment!r} must start with a letter or underscore and be 1-256 characters"
            )
    return name
