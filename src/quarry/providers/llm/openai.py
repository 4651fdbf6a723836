"""Extraction by any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, llama.cpp…).

The output schema goes as JSON-Schema structured output; the document as text, plus page images
for ``analyze`` (dropped once if the endpoint refuses images). A document that does not fit the
model's context (``QUARRY_LLM_CONTEXT_TOKENS``) is read in page-aligned chunks, each extracted
against the schema with nothing required (each part asked as the request's ``parts`` reader
decides: side by side in the engine), and the answers merged (``chunks``). Rate limits and server
errors are retried with exponential backoff (``Retry-After`` is honoured), each wait stretched by a
random share of up to ``jitter`` so that clients refused together do not come back together; an
answer that does not validate against the schema gets one repair round with the validation
errors — and when the repair request itself fails, the first answer stands.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
from dataclasses import dataclass
from typing import Any

import httpx

from quarry.config import Settings
from quarry.documents.model import Document
from quarry.documents.rendering import page_images
from quarry.expressions import SchemaValidator
from quarry.pointers import leaves, unescape
from quarry.providers.http import ModelEndpoint, endpoint_settings, error_detail
from quarry.providers.llm import Choice, Extraction, ExtractionRequest, Part, ProviderError, invalid_properties
from quarry.providers.llm.chunks import chunk_document, estimate_tokens, merge, part_schema
from quarry.providers.llm.logprobs import Tokens, field_confidences, tokens_of
from quarry.providers.llm.strict import strict_schema, without_unstated

DEFAULT_CONTEXT_TOKENS = 32_768
ANSWER_TOKENS = 4_096  # room kept for the answer (a quarter of the context, if that is less)
PROMPT_TOKENS = 64  # the user message's own words around the document
IMAGE_TOKENS = 1_000  # what a page image costs a request, about (OpenAI counts 85-1,105 for a page)
MIN_DOCUMENT_TOKENS = 256  # less room than this for the document: the context is too small for the schema
MAX_CLASSIFY_CHARS = 20_000  # the start of a document tells its class
VALID_CONFIDENCE = 0.9
INVALID_CONFIDENCE = 0.4
JITTER = 0.25  # a retry waits its backoff (or Retry-After) times a random factor in [1, 1.25]

log = logging.getLogger("quarry.providers")

_PLAIN_ONLY: set[tuple[str, str]] = set()
"""Endpoints (base URL, model) that refused a request with a strict schema or logprobs and took it
plain (as before either existed): asked plainly from then on."""

SYSTEM_PROMPT = (
    "You extract structured data from documents. Answer with one JSON object that matches the given JSON Schema. "
    "Use only what the document states; leave a property out when the document does not give it. Write dates as "
    "ISO 8601 (YYYY-MM-DD), amounts as plain numbers, currencies as ISO 4217 codes."
)


@dataclass
class OpenAIProvider(ModelEndpoint):
    send_images: bool = True
    strict: bool = True  # ask for strict structured output where the schema allows it
    logprobs: bool = True  # ask for token log-probabilities: field confidences from the model
    context_tokens: int = DEFAULT_CONTEXT_TOKENS
    jitter: float = 0.0  # from_settings sets JITTER; 0 keeps waits exact (tests give their own ``sleep``)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIProvider:
        if not settings.llm_base_url or not settings.llm_model:
            raise ProviderError(
                "the openai provider needs QUARRY_LLM_BASE_URL and QUARRY_LLM_MODEL, and this Quarry has "
                f"{'no base URL' if not settings.llm_base_url else 'no model'} configured"
            )
        return cls(
            **endpoint_settings(settings, settings.llm_base_url, settings.llm_api_key),
            model=settings.llm_model,
            send_images=settings.llm_send_images,
            context_tokens=settings.llm_context_tokens,
            strict=settings.llm_strict,
            logprobs=settings.llm_logprobs,
            jitter=JITTER,
        )

    def extract(self, request: ExtractionRequest) -> Extraction:
        images = []
        if request.function_type == "analyze" and self.send_images and request.data is not None:
            images = page_images(request.document.input_type, request.data)
        document = request.document
        imaged = {number: IMAGE_TOKENS for number in range(1, len(images) + 1)}  # the first pages have images
        chunks = chunk_document(document, self._document_budget(request), imaged)
        if len(chunks) == 1:
            return self.extract_part(
                Part(document.text, "", request.schema, request.schema_name, document.input_type, tuple(images))
            )
        loose = part_schema(request.schema)  # a chunk states what it sees; the merge is checked
        parts = [
            Part(
                chunk.text,
                f", {chunk.label}" + (f" of {len(document.pages)}" if chunk.pages else ""),
                loose,
                request.schema_name,
                document.input_type,
                tuple(images[number - 1] for number in chunk.pages if number in imaged),
            )
            for chunk in chunks
        ]
        answers = [(answer.content, answer.confidences) for answer in request.parts.read(parts, self.extract_part)]
        content, confidences, conflicts = merge(answers, chunks)
        confidences = _capped(confidences, invalid_properties(content, request.schema))
        return Extraction(content, confidences, chunks=[chunk.wire for chunk in chunks], conflicts=conflicts)

    def _document_budget(self, request: ExtractionRequest) -> int:
        """Tokens of document text one request may carry: the context less the instructions, the
        schema and room for the answer."""
        fixed = estimate_tokens(SYSTEM_PROMPT + json.dumps(request.schema) + request.schema_name) + PROMPT_TOKENS
        budget = self.context_tokens - fixed - min(ANSWER_TOKENS, self.context_tokens // 4)
        if budget < MIN_DOCUMENT_TOKENS:
            raise ProviderError(
                f"the output schema leaves no room for the document in the model's context of {self.context_tokens} "
                "tokens (QUARRY_LLM_CONTEXT_TOKENS): use a model with a larger context, or a smaller schema"
            )
        if request.pre_count:  # less to read per request: fewer values a model drops by stopping early
            return max(MIN_DOCUMENT_TOKENS, budget // 2)
        return budget

    def extract_part(self, part: Part) -> Extraction:
        """One request (and its repair round): a whole document, or one part of a long one."""
        schema, images = part.schema, list(part.images)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _user_content(part, images)},
        ]
        validator = SchemaValidator(schema)
        with httpx.Client(timeout=self.timeout_seconds) as client:
            answer, messages, tokens = self._complete(
                client, messages, part.schema_name, schema, with_images=bool(images)
            )
            content = _json_object(answer, schema)
            errors = _errors(validator, content)
            if errors:  # one repair round: the model sees what did not validate
                messages = [
                    *messages,
                    {"role": "assistant", "content": answer},
                    {"role": "user", "content": _repair_prompt(errors, content is None)},
                ]
                try:
                    repaired, _, repaired_tokens = self._complete(
                        client, messages, part.schema_name, schema, with_images=_has_images(messages)
                    )
                except ProviderError:
                    # The repair request can fail where the first did not ("context too long" once the
                    # answer and the errors are added): the first answer stands, its faults listed.
                    if content is None:
                        raise
                else:
                    answer, tokens, content = repaired, repaired_tokens, _json_object(repaired, schema)
        if content is None:
            raise ProviderError("the model's answer is not a JSON object, even after a repair round")
        from_model = field_confidences(answer, tokens) if tokens else None
        return Extraction(content, _confidences(content, invalid_properties(content, schema), from_model))

    def classify(self, document: Document, choices: list[Choice], context: str | None = None) -> str | None:
        """The model picks one of the choices (or ``none``), constrained by an enum in the schema."""
        names = [choice.name for choice in choices]
        listing = "\n".join(f"- {c.name}: {c.description}" if c.description else f"- {c.name}" for c in choices)
        text = document.text[:MAX_CLASSIFY_CHARS]
        schema = {
            "type": "object",
            "properties": {"choice": {"type": "string", "enum": [*names, "none"]}},
            "required": ["choice"],
            "additionalProperties": False,
        }
        prompt = (
            (f"{context}\n\n" if context else "")
            + f"Which of these classes does the document belong to? Answer none if it fits none.\n{listing}\n\n"
            + f"Document ({document.input_type}):\n{text}"
        )
        messages = [
            {"role": "system", "content": "You classify documents. Answer with JSON only."},
            {"role": "user", "content": prompt},
        ]
        with httpx.Client(timeout=self.timeout_seconds) as client:
            answer, _, _ = self._complete(client, messages, "classification", schema, with_images=False)
        choice = (_json_object(answer) or {}).get("choice")
        return choice if choice in names else None

    def ask_json(
        self, messages: list[dict[str, Any]], schema_name: str, schema: dict[str, Any]
    ) -> dict[str, Any] | None:
        """One request for a JSON object under ``schema`` (structured output, strict where the schema
        allows), without a repair round: the answer's object, or None when it is none."""
        with httpx.Client(timeout=self.timeout_seconds) as client:
            answer, _, _ = self._complete(client, messages, schema_name, schema, with_images=False)
        return _json_object(answer)

    def _complete(
        self,
        client: httpx.Client,
        messages: list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any],
        *,
        with_images: bool,
    ) -> tuple[str, list[dict[str, Any]], Tokens | None]:
        """The model's answer, the messages that got it (without images if the model refused
        them), and the answer's tokens with their log-probabilities when the endpoint gave them."""
        plain = (self.base_url, self.model) in _PLAIN_ONLY
        strict = None if plain else self._strict_form(schema)
        richer = {"logprobs": True} if self.logprobs and not plain else {}
        response_format = {
            "name": _schema_name(schema_name),
            "schema": strict or schema,
            "strict": bool(strict),
        }
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": messages,
            "response_format": {"type": "json_schema", "json_schema": response_format},
            **richer,
        }
        response = self._post(client, body)
        if response.status_code == 400 and (strict or richer):  # it may take neither: ask plainly, as before
            body = {
                **{k: v for k, v in body.items() if k not in richer},
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {**response_format, "schema": schema, "strict": False},
                },
            }
            response = self._post(client, body)
            if response.status_code < 400:
                log.info("the model endpoint took plainly what it refused with a strict schema or logprobs")
                _PLAIN_ONLY.add((self.base_url, self.model))
        if response.status_code == 400 and with_images:  # the model may not take images: once more, text only
            messages = _without_images(messages)
            response = self._post(client, {**body, "messages": messages})
        if response.status_code >= 400:
            raise ProviderError(
                f"the model endpoint refused the request: HTTP {response.status_code}: {error_detail(response)}"
            )
        try:
            choice = response.json()["choices"][0]
            content = choice["message"]["content"] or ""
            if isinstance(content, list):  # some servers answer in content parts
                content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
            if not isinstance(content, str):
                raise TypeError(content)
            return content, messages, tokens_of(choice)
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError(
                f"the model endpoint's answer is not a chat completion: {response.text[:200]}"
            ) from None

    def _strict_form(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The schema as strict structured output asks it, where the schema allows."""
        return strict_schema(schema) if self.strict else None

    def _post(self, client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
        return self.post(client, "/chat/completions", json=body)

    def wait(self, seconds: float) -> None:
        self.sleep(seconds * random.uniform(1.0, 1.0 + self.jitter) if self.jitter > 0 else seconds)


def _user_content(part: Part, images: list[bytes]) -> str | list[dict[str, Any]]:
    prompt = f"Output schema name: {part.schema_name}\n\nDocument ({part.input_type}{part.label}):\n{part.text}"
    if part.label:
        prompt = (
            "This is one part of a longer document, read part by part: give what this part states, and leave out "
            f"what it does not.\n\n{prompt}"
        )
    if not images:
        return prompt
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    for image in images:
        url = "data:image/png;base64," + base64.b64encode(image).decode()
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _top(pointer: str) -> str:
    """The top-level property a JSON Pointer is under (unescaped)."""
    return unescape(pointer.split("/")[1]) if pointer.count("/") else ""


def _has_images(messages: list[dict[str, Any]]) -> bool:
    return any(isinstance(m["content"], list) for m in messages)


def _without_images(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def text_only(message: dict[str, Any]) -> dict[str, Any]:
        if isinstance(message["content"], list):
            return {**message, "content": "\n".join(p["text"] for p in message["content"] if p["type"] == "text")}
        return message

    return [text_only(message) for message in messages]


def _schema_name(name: str) -> str:
    """OpenAI accepts ``[a-zA-Z0-9_-]{1,64}`` as a schema name."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "output"


def _json_object(answer: str, schema: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The answer's JSON object; with ``schema``, without the ``null`` of optional properties that
    allow none (a strict schema makes the model state every property)."""
    text = answer.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.S)  # some models wrap JSON in a code fence
    try:
        value = json.loads(fenced.group(1) if fenced else text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    return without_unstated(value, schema) if schema is not None else value


def _errors(validator: SchemaValidator, content: dict[str, Any] | None) -> list[str]:
    if content is None:
        return ["the answer is not a JSON object"]
    return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in validator.iter_errors(content)][:20]


def _repair_prompt(errors: list[str], not_json: bool) -> str:
    if not_json:
        return "Your answer is not a JSON object. Answer again with only the JSON object."
    return "Your answer does not validate against the schema:\n- " + "\n- ".join(errors) + "\nAnswer again, corrected."


def _confidences(
    content: dict[str, Any], invalid: list[str], from_model: dict[str, float] | None = None
) -> dict[str, float]:
    """Each stated leaf's confidence: the model's probability of it where the endpoint gave token
    log-probabilities (``providers.llm.logprobs``), else a high one; at most a low one when its
    top-level property does not validate."""
    stated = {pointer: (from_model or {}).get(pointer, VALID_CONFIDENCE) for pointer, _ in leaves(content)}
    return _capped(stated, invalid)


def _capped(confidences: dict[str, float], invalid: list[str]) -> dict[str, float]:
    """Confidences at most ``INVALID_CONFIDENCE`` under the top-level properties that do not validate."""
    return {
        pointer: min(confidence, INVALID_CONFIDENCE) if _top(pointer) in invalid else confidence
        for pointer, confidence in confidences.items()
    }
