"""The user commands' way to the API: the server's address and key, and every HTTP or network
error turned into one line that says what to do about it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import httpx
import typer

from quarry.cli.failure import Failure

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 120.0  # a batch of large files takes a while to upload and decode
STREAM_READ_SECONDS = 60.0  # a stream of call changes sends a keep-alive every 15 s

UrlOption = Annotated[
    str, typer.Option("--url", envvar="QUARRY_URL", help="The Quarry server.", rich_help_panel="Connection")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="QUARRY_API_KEY",
        help="API key (`quarry keys create` prints one).",
        show_default=False,
        rich_help_panel="Connection",
    ),
]

T = TypeVar("T")
Params = dict[str, str | int | list[str] | None]


class Client:
    """JSON over HTTP with an API key; answers are parsed JSON, errors are :class:`Failure`."""

    def __init__(self, url: str, api_key: str | None) -> None:
        if not api_key:
            raise Failure("no API key: set QUARRY_API_KEY or pass --api-key (`quarry keys create` prints one)")
        if not api_key.isascii() or not api_key.isprintable():  # e.g. a placeholder copied as is: qk_…
            raise Failure(f"{api_key!r} is not an API key: set QUARRY_API_KEY (or --api-key) to your key")
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers={"x-api-key": api_key}, timeout=TIMEOUT_SECONDS)

    def get(self, path: str, params: Params | None = None) -> Any:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, json=body)

    def upload(self, path: str, field: str, filename: str, data: bytes) -> Any:
        """POST one file as a multipart form (``field`` its name): the answer, parsed."""
        return self._request("POST", path, files={field: (filename, data)})

    def delete(self, path: str) -> None:
        self._request("DELETE", path)

    @contextmanager
    def stream(self, path: str, params: Params, headers: dict[str, str]) -> Iterator[httpx.Response]:
        """A response read as it comes (Server-Sent Events); errors but 404 and 405 (no such
        endpoint on this server: the caller's to handle) are :class:`Failure`. It may be silent
        for up to a keep-alive interval: reads wait longer than that."""
        timeout = httpx.Timeout(TIMEOUT_SECONDS, read=STREAM_READ_SECONDS)
        try:
            with self._http.stream("GET", path, params=params, headers=headers, timeout=timeout) as response:
                if response.is_error and response.status_code not in (404, 405):
                    response.read()
                    self._check(response)
                yield response
        except httpx.ConnectError as exc:
            raise Failure(f"cannot reach Quarry at {self.url} ({exc}); QUARRY_URL or --url sets it") from None

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if kwargs.get("params"):
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v not in (None, [])}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Failure(f"{self.url} did not answer within {TIMEOUT_SECONDS:g} s") from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise Failure(f"cannot reach Quarry at {self.url} ({reason}); QUARRY_URL or --url sets it") from None
        self._check(response)
        return response.json() if response.content else None

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 401:
            raise Failure(
                f"{self.url} refused the API key (401: {_message(response)}); QUARRY_API_KEY or --api-key sets it"
            )
        if response.is_error:
            raise Failure(f"{response.status_code}: {_message(response)}")


def _message(response: httpx.Response) -> str:
    """The API's own ``message``, else the start of whatever answered (a proxy's page, say)."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    text = message or response.text.strip() or response.reason_phrase
    return " ".join(str(text).split())[:300]


def choice(name: str, values: Sequence[str]) -> type[StrEnum]:
    """An enum of ``values``: how typer takes one of a fixed set (and lists them in --help).
    Its members are strings, sent and printed as their values."""
    return StrEnum(name, {value: value for value in values})  # type: ignore[return-value]


SortOrder = choice("SortOrder", ("asc", "desc"))


Many = Annotated[list[str] | None, typer.Option(show_default=False)]
"""A filter that may be given several times (the API matches any of its values)."""
LimitOption = Annotated[int, typer.Option(min=1, max=100, help="At most this many (a page).")]
SortOption = Annotated[SortOrder, typer.Option(help="Oldest first (asc) or newest first (desc).")]
AfterOption = Annotated[str | None, typer.Option(help="The next page: the items after this ID.", show_default=False)]
BeforeOption = Annotated[
    str | None, typer.Option(help="The previous page: the items before this ID.", show_default=False)
]


def in_order(sort_order: SortOrder) -> str:
    """What a list's table says of its order: oldest first unless asked, as the API (whose default
    is the bem reference's), and how to turn it."""
    return "newest first" if sort_order == "desc" else "oldest first; --sort-order desc for newest first"


def page_params(limit: int, sort_order: SortOrder, starting_after: str | None, ending_before: str | None) -> Params:
    return {
        "limit": limit,
        "sortOrder": sort_order,
        "startingAfter": starting_after,
        "endingBefore": ending_before,
    }


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``: what one request may carry."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
