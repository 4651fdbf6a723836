"""Writing a wire shape as an HTTP response."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel


def wire_response(model: type[BaseModel], content: dict[str, Any], status_code: int = 200) -> Response:
    """``content`` checked against ``model`` and written as JSON in one pass (pydantic's Rust
    serializer), for hot endpoints where FastAPI's own response handling would do both twice."""
    body = model.model_validate(content).model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, status_code=status_code, media_type="application/json")


def json_response(content: dict[str, Any], status_code: int = 200) -> Response:
    """``content``, already in its wire form (see ``calls.render``), written as JSON as it is:
    for the endpoints that are polled, where even one model pass per object shows."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
