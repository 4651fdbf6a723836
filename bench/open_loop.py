"""Open-loop polling load: N clients each sending one request a second on a fixed timetable.

    python bench/open_loop.py --url http://127.0.0.1:8000 --key KEY --clients 200 --duration 25 \\
        --call-ids ids.txt --start-at <epoch s> --out samples.json [--share 0/2]

Run as a process of its own (``bench/throughput.py --mode polling`` starts one or a few), so that
its CPU and its GIL are not the server's. Client c sends its k-th request at
``start + c/N + k/rate`` whatever became of the ones before (open loop: a slow server gets more
requests in flight, not fewer requests), and its latency is measured from that scheduled instant,
so a stalled server — or a generator that fell behind — shows in the figures instead of being hidden
(no coordinated omission). ``lag`` is how late the generator itself sent each request.

It speaks HTTP/1.1 over asyncio streams itself, keep-alive connections reused per client (a
request due while the client's connection is busy opens another): a few times less CPU per
request than an HTTP library, which on a small machine would otherwise be taken from the server.

The requests mix what a polling client asks: its call (one of ``--call-ids``, finished calls that
exist) and List Calls pages with various filters. ``--share i/P``: this process sends for the
clients c with c mod P = i, so P processes started with the same ``--start-at`` split one load.
Writes ``{"started", "ended", "samples": [[kind, ms, outcome, lag ms], ...]}`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

SUBSTRING = "-0001"
MIX: list[tuple[str, str, dict[str, str | int]]] = [
    ("GET /v2/calls/{id}", "/v2/calls/{id}", {}),
    ("GET /v2/calls?limit=50", "/v2/calls", {"limit": 50}),
    ("GET /v2/calls/{id}", "/v2/calls/{id}", {}),
    ("GET /v2/calls?statuses=completed", "/v2/calls", {"limit": 50, "statuses": "completed"}),
    ("GET /v2/calls/{id}", "/v2/calls/{id}", {}),
    (f"GET /v2/calls?referenceIDSubstring={SUBSTRING}", "/v2/calls", {"limit": 50, "referenceIDSubstring": SUBSTRING}),
    ("GET /v2/calls?limit=10&sortOrder=desc", "/v2/calls", {"limit": 10, "sortOrder": "desc"}),
]
"""In turn per client (client c starts at entry c): single calls are three requests in seven."""
KINDS = list(dict.fromkeys(kind for kind, _, _ in MIX))

Sample = tuple[str, float | None, str, float]  # kind, ms from the scheduled instant, outcome, lag ms
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class StaleConnection(ConnectionError):
    """The server closed the connection before answering (on a reused one: while it was idle)."""


class Client:
    """One polling client's keep-alive connections to one server."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = f"Host: {parts.netloc}\r\nx-api-key: {key}\r\nAccept: application/json\r\n\r\n"
        self.idle: list[Connection] = []

    async def get(self, path: str) -> int:
        """GET ``path``; the status code once the whole body is read. An idle connection the server
        has closed meanwhile (its keep-alive timeout) is dropped for the next, as HTTP clients do."""
        while self.idle:
            try:
                return await self._exchange(self.idle.pop(), path)
            except (StaleConnection, ConnectionResetError, BrokenPipeError):
                continue
        return await self._exchange(await asyncio.open_connection(self.host, self.port), path)

    async def _exchange(self, connection: Connection, path: str) -> int:
        reader, writer = connection
        try:
            writer.write(f"GET {path} HTTP/1.1\r\n{self.headers}".encode())
            status_line = await reader.readline()
            if not status_line:
                raise StaleConnection("the connection was closed without an answer")
            status = int(status_line.split(b" ", 2)[1])
            length, chunked, keep_alive = 0, False, True
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                length = int(value) if name == "content-length" else length
                chunked = chunked or (name == "transfer-encoding" and "chunked" in value)
                keep_alive = keep_alive and not (name == "connection" and value == "close")
            if chunked:
                while size := int((await reader.readline()).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readline()
            else:
                await reader.readexactly(length)
        except BaseException:  # a broken or abandoned (timed out) connection is not reused
            writer.close()
            raise
        if keep_alive:
            self.idle.append(connection)
        else:
            writer.close()
        return status

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def generate(
    urls: list[str],
    key: str,
    clients: list[int],
    total_clients: int,
    rate: float,
    duration: float,
    call_ids: list[str],
    start: float,
    timeout: float,
) -> list[Sample]:
    """Send every scheduled request of ``clients`` (out of ``total_clients``); one sample each."""
    period = 1 / rate
    schedule = sorted(
        (start + c / total_clients * period + k * period, c, k)
        for c in clients
        for k in range(int(duration * rate))
        if c / total_clients * period + k * period < duration
    )
    connections = {c: Client(urls[c % len(urls)], key) for c in clients}
    samples: list[Sample] = []

    async def send(at: float, c: int, k: int) -> None:
        kind, path, params = MIX[(c + k) % len(MIX)]
        if "{id}" in path:
            path = path.replace("{id}", call_ids[(c * 31 + k) % len(call_ids)])
        if params:
            path += "?" + urlencode(params)
        lag = (time.monotonic() - at) * 1000
        try:  # a request unanswered ``timeout`` s after its scheduled instant is given up: the run ends in time
            status = await asyncio.wait_for(connections[c].get(path), at + timeout - time.monotonic())
            outcome = "ok" if status == 200 else f"HTTP {status}"
        except TimeoutError:
            outcome = "timeout"
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            outcome = type(exc).__name__
        elapsed = (time.monotonic() - at) * 1000
        samples.append((kind, elapsed if outcome == "ok" else None, outcome, lag))

    tasks = []
    try:
        for at, c, k in schedule:
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(at, c, k)))
        await asyncio.gather(*tasks)
    finally:
        for connection in connections.values():
            connection.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", action="append", required=True, help="an API process (repeat: clients alternate)")
    parser.add_argument("--key", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1.0, help="requests per second per client")
    parser.add_argument("--duration", type=float, default=25.0, help="seconds of scheduled requests")
    parser.add_argument("--call-ids", type=Path, required=True, help="a file of call IDs, one a line")
    parser.add_argument("--start-at", type=float, help="epoch seconds of the first request (default: now + 1 s)")
    parser.add_argument("--share", default="0/1", help="i/P: send for the clients c with c mod P = i")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds from its scheduled instant before a request is given up"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    index, processes = (int(part) for part in args.share.split("/"))
    call_ids = args.call_ids.read_text().split()
    started = args.start_at or time.time() + 1
    start = time.monotonic() + (started - time.time())  # the timetable runs on the monotonic clock
    clients = [c for c in range(args.clients) if c % processes == index]
    runner = _event_loop_runner()
    samples = runner(
        generate(args.url, args.key, clients, args.clients, args.rate, args.duration, call_ids, start, args.timeout)
    )
    args.out.write_text(json.dumps({"started": started, "ended": started + args.duration, "samples": samples}))


def _event_loop_runner():  # type: ignore[no-untyped-def]
    """uvloop's ``run`` when it is installed (less of the generator's own overhead), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    main()
