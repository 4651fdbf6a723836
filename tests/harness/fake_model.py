"""Fake OpenAI-compatible model endpoints, for Quarry processes (or providers) given their URL as
``QUARRY_LLM_BASE_URL``: real HTTP, so what is checked or measured is what goes over the wire.

- ``FakeOpenAI`` answers from a script and records every request: what a test expects to be sent.
- ``ReadingModel`` answers what the document text it was sent states (found by patterns the test
  gives) and records every request: what a long document's chunks carried, and what came of it.
- ``SlowModel`` answers every chat completion alike after a delay, or as soon as enough requests
  keep it company, and counts the requests open at once: how many model calls Quarry runs side by
  side, asserted by tests (without timing) and measured by ``bench/throughput.py --mode model``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from tests.harness.endpoints import LocalEndpoint, Received, Reply


def chat_completion(content: str | dict[str, Any], model: str = "fake-model") -> dict[str, Any]:
    """The body of a chat completion whose message is ``content`` (a dict is sent as its JSON text)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def answer(content: str | dict[str, Any]) -> Reply:
    """A chat completion whose message is ``content`` (a dict is sent as its JSON text)."""
    return Reply(body=chat_completion(content))


def answer_with_logprobs(tokens: list[tuple[str, float]]) -> Reply:
    """A chat completion whose message is the ``tokens`` written in turn, each with its log-probability."""
    body = chat_completion("".join(token for token, _ in tokens))
    body["choices"][0]["logprobs"] = {
        "content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []} for t, lp in tokens]
    }
    return Reply(body=body)


def failure(status: int, message: str, retry_after: str | None = "0") -> Reply:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return Reply(status, {"error": {"message": message, "type": "test_error", "code": None}}, headers)


class RecordingEndpoint(LocalEndpoint):
    """An endpoint that keeps every request it receives (``requests``)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        super().__init__()

    def answer(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.reply(request)

    def reply(self, request: Received) -> Reply:
        raise NotImplementedError


class FakeOpenAI(RecordingEndpoint):
    """Records every request it receives and answers from a scripted queue (an unscripted request
    gets a 418, which fails the call and the test)."""

    def __init__(self) -> None:
        self._queue: list[Reply] = []
        super().__init__()

    def reply(self, request: Received) -> Reply:  # under the lock: the queue is popped in order
        return self._queue.pop(0) if self._queue else failure(418, "unscripted request")

    def script(self, *replies: Reply) -> None:
        """Forget earlier requests; answer the next requests with ``replies``, in order."""
        with self._lock:
            self.requests = []
            self._queue = list(replies)

    @property
    def unanswered(self) -> int:
        with self._lock:
            return len(self._queue)


class ReadingModel(RecordingEndpoint):
    """A model that reads what it is sent: each chat completion is answered with ``{property: value}``
    for each of ``patterns`` (``{property: regex with one group}``) found in the user message's text,
    and nothing for the others. Records every request."""

    def __init__(self, patterns: dict[str, str]) -> None:
        self.patterns = {name: re.compile(pattern) for name, pattern in patterns.items()}
        super().__init__()

    def reply(self, request: Received) -> Reply:
        content = request.user_content
        text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
        found = {name: match.group(1) for name, pattern in self.patterns.items() if (match := pattern.search(text))}
        return answer(found)


class SlowModel(LocalEndpoint):
    """A ``POST …/chat/completions`` answering ``content`` after ``delay`` seconds, one thread per
    request; with ``company``, as soon as that many requests are open together (after ``delay`` at
    the latest). Anything else gets a 404 (counted as ``refused``).

    It counts the requests open at once, in total (``most_open``) and per tag, the first segment of
    the path: ``/<tag>/chat/completions`` (give each worker a base URL of its own to tell them
    apart). ``requests`` counts those received, ``served`` the answers sent."""

    def __init__(self, content: dict[str, Any], delay: float, company: int | None = None, path: str = "") -> None:
        self.delay, self.company = delay, company
        self.changed = threading.Condition()
        self.requests = self.served = self.refused = 0
        self.open = self.most_open = 0
        self.open_per_tag: Counter[str] = Counter()
        self.most_open_per_tag: Counter[str] = Counter()
        self._reply = Reply(body=json.dumps(chat_completion(content)).encode())  # encoded once: many are sent
        super().__init__(path, backlog=1024)

    def handle(self, request: Received, send: Callable[[Reply], None]) -> None:
        tag = request.path.strip("/").split("/")[0]
        with self.changed:
            self.requests += 1
            self.open += 1
            self.open_per_tag[tag] += 1
            self.most_open = max(self.most_open, self.open)
            self.most_open_per_tag[tag] = max(self.most_open_per_tag[tag], self.open_per_tag[tag])
            if self.company:
                self.changed.notify_all()
        served = 0
        try:
            body = request.body
            if not (request.path.endswith("/chat/completions") and isinstance(body, dict) and body.get("messages")):
                with self.changed:
                    self.refused += 1
                send(Reply(404, {"error": {"message": f"not a chat completion: {request.path}"}}))
                return
            if self.company:
                with self.changed:
                    self.changed.wait_for(lambda: self.open >= self.company, timeout=self.delay)  # type: ignore[operator]
            else:
                time.sleep(self.delay)
            send(self._reply)
            served = 1
        finally:
            with self.changed:
                self.open -= 1
                self.open_per_tag[tag] -= 1
                self.served += served
