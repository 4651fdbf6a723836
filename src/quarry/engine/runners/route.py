"""route: choose one route for the input, deterministically first, then by similarity.

1. A route whose ``regex.patterns`` match the document text, or whose ``origin.email.patterns``
   match the sender of an email input, wins (first route in order).
2. Otherwise the route whose name and description share the most words with the document.
3. Otherwise the ``isErrorFallback`` route; with none, the function call fails.
The input files flow on, along the edges of the chosen route.
"""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

from quarry.documents.readers.plain import json_document
from quarry.engine.runners import Emission, FunctionError, RunInput

_WORD = re.compile(r"[a-z0-9]{3,}")


def _sender(run_input: RunInput) -> str:
    for file in run_input.files:
        if file.input_type == "email":
            return str(email.message_from_bytes(file.data, policy=email.policy.default).get("From", ""))
    return ""


def _deterministic(routes: list[dict[str, Any]], text: str, sender: str) -> str | None:
    for route in routes:
        patterns = (route.get("regex") or {}).get("patterns", [])
        if any(re.search(pattern, text) for pattern in patterns):
            return route["name"]
        origin = ((route.get("origin") or {}).get("email") or {}).get("patterns", [])
        if sender and any(re.search(pattern, sender) for pattern in origin):
            return route["name"]
    return None


def _similar(routes: list[dict[str, Any]], text: str) -> str | None:
    words = set(_WORD.findall(text.lower()))
    scored = []
    for position, route in enumerate(routes):
        if route.get("isErrorFallback"):
            continue
        vocabulary = set(_WORD.findall(f"{route['name']} {route.get('description') or ''}".lower()))
        score = len(words & vocabulary)
        if score:
            scored.append((-score, position, route["name"]))
    return min(scored)[2] if scored else None


def run(run_input: RunInput) -> list[Emission]:
    routes = run_input.config["routes"]
    if run_input.files:
        text = "\n".join(document.text for document in run_input.documents())
    else:
        text = json_document(run_input.payload).text
    choice = _deterministic(routes, text, _sender(run_input)) or _similar(routes, text)
    if choice is None:
        choice = next((route["name"] for route in routes if route.get("isErrorFallback")), None)
    if choice is None:
        raise FunctionError("no route matched the input and no route is the error fallback")
    body: dict[str, Any] = {"choice": choice}
    if len(run_input.files) == 1:
        body["s3BlobKey"] = run_input.files[0].blob_key
    files = [
        {"inputType": f.input_type, "blobKey": f.blob_key}
        | ({"itemReferenceID": f.item_reference_id} if f.item_reference_id else {})
        for f in run_input.files
    ]
    return [Emission("route", body, output=None if files else run_input.payload, files=files, branch=choice)]
