"""route: choose one route for the input, deterministically first, then by the provider.

1. A route whose ``regex.patterns`` match the document text, or whose ``origin.email.patterns``
   match the sender of an email input, wins (first route in order).
2. Otherwise the provider classifies the document among the routes by name and description
   (builtin: shared words; openai: the model picks).
3. Otherwise — or when the document cannot be read at all — the ``isErrorFallback`` route;
   with none, the function call fails.
The input flows on, along the edges of the chosen route.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any

from quarry.documents.model import text_document
from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.expressions import regex_search
from quarry.providers.llm import Choice, ProviderError, provider_for


def _sender(run_input: RunInput) -> str:
    for file in run_input.files:
        if file.input_type == "email":
            return str(email.message_from_bytes(file.data, policy=email.policy.default).get("From", ""))
    return ""


def _deterministic(routes: list[dict[str, Any]], text: str, sender: str) -> str | None:
    for route in routes:
        patterns = (route.get("regex") or {}).get("patterns", [])
        origin = ((route.get("origin") or {}).get("email") or {}).get("patterns", [])
        try:
            if any(regex_search(pattern, text) for pattern in patterns):
                return route["name"]
            if sender and any(regex_search(pattern, sender) for pattern in origin):
                return route["name"]
        except ValueError as exc:  # a pattern stored before Quarry checked them with RE2
            raise FunctionError(f"route {route['name']!r}: {exc}") from None
    return None


def run(run_input: RunInput) -> list[Emission]:
    routes = run_input.config["routes"]
    fallback = next((route["name"] for route in routes if route.get("isErrorFallback")), None)
    try:
        choice = _choose(run_input, routes)
    except FunctionError:
        if fallback is None:
            raise
        choice = fallback  # "used when errors occur": an unreadable document goes to the fallback
    choice = choice or fallback
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


def _choose(run_input: RunInput, routes: list[dict[str, Any]]) -> str | None:
    documents = run_input.documents() if run_input.files else [run_input.json_document(run_input.payload)]
    text = "\n".join(document.text for document in documents)
    choice = _deterministic(routes, text, _sender(run_input))
    if choice is not None:
        return choice
    candidates = [Choice(r["name"], r.get("description")) for r in routes if not r.get("isErrorFallback")]
    if not candidates:
        return None
    merged = documents[0] if len(documents) == 1 else text_document(documents[0].input_type, text)
    try:
        provider = provider_for(run_input.config.get("provider"), run_input.settings)
        return provider.classify(merged, candidates, run_input.config.get("description"))
    except ProviderError as exc:
        raise FunctionError(str(exc)) from None
