"""Writing a wire shape as an HTTP response."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel


def wire_response(model: type[BaseModel], content: dict[str, Any], status_code: int = 200) -> Response:
    """``content`` checked against ``model`` and written as JSON in one pass (pydantic's Rust
    serializer), for hot endpoints where FastAPI's own response handling would do both twice."""
    body = model.model_validate(content).model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, status_code=status_code, media_type="application/json")
