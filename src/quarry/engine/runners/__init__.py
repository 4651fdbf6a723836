"""One runner per function type: the work of one function call, without any bookkeeping.

A runner gets the function's configuration and its input (files and/or upstream JSON) and
returns what the function emitted; the engine stores the events and hands outputs on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from quarry.config import Settings
from quarry.documents.model import Document, DocumentError
from quarry.engine.readers import DocumentReaders
from quarry.providers import ProviderError
from quarry.providers.llm import ONE_BY_ONE, PartReader

Search = Callable[..., list[tuple[Any, float | None]]]
"""``(collectionName, query, *, top_k, mode, score_threshold, include_subcollections) -> [(item data, distance)]``"""


class FunctionError(Exception):
    """The function cannot do its work on this input: a failed function call with this message."""


@dataclass
class InputFile:
    input_type: str
    blob_key: str
    data: bytes
    item_reference_id: str | None = None
    item_offset: int | None = None  # the file's place in the call's batch, when it came in one
    item_count: int | None = None

    def document(self, readers: DocumentReaders) -> Document:
        try:
            return readers.read(self.input_type, self.data)
        except (DocumentError, ProviderError) as exc:
            raise FunctionError(str(exc)) from None

    def json(self) -> Any:
        def no_constant(name: str) -> Any:
            raise ValueError(f"{name} is not a JSON value")

        try:
            return json.loads(self.data, parse_constant=no_constant)
        except ValueError as exc:  # not JSON or not UTF-8, NaN, or an integer over the 4,300-digit limit
            raise FunctionError(f"the input is not valid JSON: {exc}") from None
        except RecursionError:
            raise FunctionError("the input is not valid JSON: it is nested too deeply to be read") from None


@dataclass
class Posted:
    """A webhook that took a send function's delivery: its answer, and after how many attempts."""

    status_code: int
    response_body: str
    attempts: int


class Outbound(Protocol):
    """Where a send function's delivery goes, provided by the calls job (``webhooks.sending``): the
    engine knows no event, webhook secret, address rule or bucket policy. Each method raises
    :class:`FunctionError` when it cannot do its work."""

    def incoming(self, files: list[InputFile]) -> Any:
        """What the function call delivers: its incoming output as a subscription would get it."""
        ...

    def post(self, url: str, body: bytes, *, signed: bool) -> Posted:
        """POST ``body`` (JSON) to ``url``, retried a few times."""
        ...

    def put(self, bucket: str, prefix: str | None, body: bytes) -> str:
        """Store ``body`` (JSON) in ``bucket`` under ``prefix``; the object's key."""
        ...


@dataclass
class RunInput:
    function_type: str
    config: dict[str, Any]
    files: list[InputFile]
    readers: DocumentReaders  # the engine's reader processes, where files are parsed
    payload: Any = None  # JSON handed over by the upstream function, when no file is
    settings: Settings = field(default_factory=lambda: Settings.from_env({}))
    store: Callable[[bytes, str], str] | None = None  # (data, inputType) -> blob key, for files a runner makes
    reference_id: str | None = None  # the function call's referenceID
    search: Search | None = None  # collection look-ups, for enrich
    parts: PartReader = ONE_BY_ONE  # how the parts of a long document are asked (``calls.parts``)
    outbound: Outbound | None = None  # delivery, for send

    def documents(self) -> list[Document]:
        """Each input file read (in a reader process), audio transcribed by the deployment's transcriber."""
        return [file.document(self.readers) for file in self.files]

    def json_document(self, value: Any) -> Document:
        """JSON handed on by an upstream function, as a document (a failed call when over a limit);
        a parse function's output as the document it describes."""
        from quarry.documents.readers.parsed import parsed_document
        from quarry.documents.readers.plain import json_document

        try:
            return parsed_document(value) or json_document(value)
        except DocumentError as exc:
            raise FunctionError(str(exc)) from None

    def json_inputs(self) -> list[Any]:
        """The JSON this call works on: the upstream payload, or each JSON file."""
        if self.payload is not None:
            return [self.payload]
        if not self.files:
            raise FunctionError("this function needs JSON input and got none")
        return [file.json() for file in self.files]


@dataclass
class Emission:
    """An event to record, and what flows from it to the next functions.

    ``output`` is JSON handed to the next functions; ``files`` (``[{"inputType", "blobKey",
    "itemReferenceID"?}]``) are files handed on instead; ``branch`` selects the outgoing edges
    (a route's choice, a split item's class).
    """

    event_type: str
    body: dict[str, Any]
    output: Any = None
    files: list[dict[str, Any]] = field(default_factory=list)
    branch: str | None = None

    @property
    def flows(self) -> bool:
        return self.output is not None or bool(self.files)


Runner = Callable[[RunInput], list[Emission]]

INSTANT_TYPES = frozenset({"payload_shaping"})
"""Function types whose runs take a moment of CPU (JSON in, JSON out, nothing to wait for): a call
of one of them alone runs at once (``calls.jobs``), without the steps that let long work resume."""


def runner_for(function_type: str) -> Runner:
    from quarry.engine.runners import enrich, join, parse, payload_shaping, route, send, split, transform

    runners: dict[str, Runner] = {
        "transform": transform.run,
        "analyze": transform.run,
        "route": route.run,
        "split": split.run,
        "join": join.run,
        "payload_shaping": payload_shaping.run,
        "enrich": enrich.run,
        "send": send.run,
        "parse": parse.run,
    }
    if function_type not in runners:
        return _unsupported(function_type)
    return runners[function_type]


def _unsupported(function_type: str) -> Runner:
    def run(_input: RunInput) -> list[Emission]:
        raise FunctionError(f"running {function_type!r} functions is not supported by this version of Quarry yet")

    return run
