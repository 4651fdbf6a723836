"""The v2 event types (``eventType``), apart from the routes so that the command line can offer
them without importing the server."""

from __future__ import annotations

from typing import Literal

EventType = Literal[
    "transform", "route", "split_collection", "split_item", "join", "enrich",
    "payload_shaping", "evaluation", "collection_processing", "error", "send",
    "parse",
]  # fmt: skip
