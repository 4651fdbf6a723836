"""Logs: plain text for a person at a terminal, or one JSON object per line for a log pipeline.

``QUARRY_LOG_FORMAT=json`` writes every record (Quarry's, the engine's, uvicorn's requests) as
``{"time", "level", "logger", "message", …}`` with the IDs of what the line is about —
``callID``, ``functionCallID``, ``environmentID`` — taken from the context the work runs in
(``about``), so that a call's lines can be found whatever their text says. ``QUARRY_LOG_LEVEL``
(default ``info``) says how much; ``debug`` adds a line per function call. Lines carry IDs, names,
counts and errors, never a document's content, a key or a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_json = False  # configured for JSON lines

_ABOUT: ContextVar[dict[str, str]] = ContextVar("quarry_log_about", default={})  # noqa: B039 (never mutated)


@contextmanager
def about(**ids: str | None) -> Iterator[None]:
    """Lines logged in this context are about these (``callID="call_…"``, …); unset ones are left out."""
    token = _ABOUT.set({**_ABOUT.get(), **{name: value for name, value in ids.items() if value}})
    try:
        yield
    finally:
        _ABOUT.reset(token)


class JsonLines(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_ABOUT.get(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args  # uvicorn's request line, as fields
            line |= {"client": client, "method": method, "path": path, "status": status}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: str, level: str) -> None:
    """Send every logger's records to standard error in ``log_format`` from ``level`` on. Text
    keeps uvicorn's own request lines as they were; JSON takes them over too."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)  # other libraries: their warnings only
    logging.getLogger("quarry").setLevel(level.upper())
    global _json
    _json = log_format == "json"
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        take_over(name)


def take_over(name: str) -> None:
    """In JSON, a library logger that set up its own handler (uvicorn's; DBOS's, as its engine
    starts) writes through Quarry's instead."""
    if _json:
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
