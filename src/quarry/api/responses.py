"""Writing a wire shape as an HTTP response."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel, TypeAdapter


def wire_response(shape: type[BaseModel] | TypeAdapter[Any], content: Any, status_code: int = 200) -> Response:
    """``content`` checked against ``shape`` (a model, or an adapter for shapes that are not
    one, such as a union) and written as JSON in one pass (pydantic's Rust serializer), for hot
    endpoints where FastAPI's own response handling would do both twice."""
    if isinstance(shape, TypeAdapter):
        body = shape.dump_json(shape.validate_python(content), by_alias=True, exclude_none=True)
    else:
        body = shape.model_validate(content).model_dump_json(by_alias=True, exclude_none=True)
    return Response(body, status_code=status_code, media_type="application/json")


def json_response(content: dict[str, Any], status_code: int = 200) -> Response:
    """``content``, already in its wire form (see ``calls.render``), written as JSON as it is:
    for the endpoints that are polled, where even one model pass per object shows."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")
