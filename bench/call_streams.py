"""What following calls costs the server: streams of call changes against polling.

    .venv/bin/python bench/call_streams.py [--clients 200] [--duration 20] [--backend postgresql]

One ``quarry serve`` (API and workers; SQLite in a temporary directory, or the PostgreSQL
database ``quarry_call_streams``, created afresh) with ``QUARRY_API_KEY``. Three phases of
``--duration`` seconds each, the server's CPU time (``utime + stime`` of ``/proc/<pid>/stat``)
read before and after each:

- ``idle``: no client (the baseline: engine queues, heartbeats);
- ``streams``: ``--clients`` open streams (``GET /v2/calls/stream``), nothing changing;
- ``polling``: ``--clients`` clients each ``GET /v2/calls/{callID}`` once a second (one
  finished call, the cheapest poll there is: its wire form is cached).

Then the delay of events: ``--calls`` trivial calls submitted one at a time while a stream is
open; for each, the time from its ``completed`` position (the ``updated_at`` the worker wrote) to
the event's arrival here (one machine, one clock). Clients share the machine: their own CPU is not
counted, but on 2 cores they compete with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import repo_root  # noqa: F401

from tests.harness.processes import ServerProcess, quarry_env

KEY = "call-streams-bench-key"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def measure(pid: int, seconds: float) -> float:
    """The server's CPU use in percent of one core over ``seconds``."""
    before, started = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - started)


async def open_stream(client: httpx.AsyncClient, ready: asyncio.Event, stop: asyncio.Event) -> None:
    async with client.stream("GET", "/v2/calls/stream", params={"statuses": "completed"}) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event: ready"):
                ready.set()
            if stop.is_set():
                return


def poll_process(url: str, call_id: str, clients: int, seconds: float) -> int:
    """``clients`` pollers in one process for ``seconds``; the number of polls made."""

    async def pollers() -> int:
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}, timeout=60, limits=limits) as client:

            async def poll() -> int:
                polls, deadline = 0, time.monotonic() + seconds
                while time.monotonic() < deadline:
                    started = time.monotonic()
                    try:  # a connection dropped under load is counted out, not fatal
                        polls += (await client.get(f"/v2/calls/{call_id}")).status_code == 200
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(max(0.0, 1 - (time.monotonic() - started)))
                return polls

            return sum(await asyncio.gather(*(poll() for _ in range(clients))))

    return asyncio.run(pollers())


def call(reference: str) -> dict[str, object]:
    return {"calls": [{"functionName": "shape", "callReferenceID": reference,
                       "input": {"singleFile": {"inputType": "json", "inputContent": "e30="}}}]}  # fmt: skip


async def delays(client: httpx.AsyncClient, count: int) -> list[float]:
    """Seconds from each call's completion (its position) to its event's arrival."""
    seen: list[float] = []
    async with client.stream("GET", "/v2/calls/stream", params={"statuses": "completed"}) as response:
        lines = response.aiter_lines()
        fields: dict[str, str] = {}
        async for line in lines:
            if line.startswith("event: ready"):
                break
        for i in range(count):
            assert (await client.post("/v2/calls", json=call(f"delay-{i}"))).status_code == 200
            async for line in lines:
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                if fields.get("event") == "call":
                    at = datetime.fromisoformat(fields["id"].replace("Z", "+00:00"))
                    seen.append((datetime.now(UTC) - at).total_seconds())
                    fields = {}
                    break
                fields = {}
    return seen


async def run(url: str, pid: int, clients: int, duration: float, calls: int) -> None:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}, timeout=60, limits=limits) as client:
        body = {"functionName": "shape", "type": "payload_shaping", "shapingSchema": "@"}
        assert (await client.post("/v2/functions", json=body)).status_code == 200
        created = (await client.post("/v2/calls", json=call("polled"))).json()["calls"][0]
        assert (await client.get(f"/v2/calls/{created['callID']}", params={"waitSeconds": 30})).status_code == 200
        print(f"idle: server CPU {await measure(pid, duration):.1f} % of a core")

        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in range(clients)]
        streams = [asyncio.create_task(open_stream(client, ready, stop)) for ready in readies]
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 120)
        print(f"{clients} idle streams: server CPU {await measure(pid, duration):.1f} % of a core")
        stop.set()
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)

        processes = 4  # one client process could not poll 200 times a second
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(processes) as pool:
            share, seconds = clients // processes, duration + 4
            pollers = [
                loop.run_in_executor(pool, poll_process, url, created["callID"], share, seconds)
                for _ in range(processes)
            ]
            await asyncio.sleep(2)
            cpu = await measure(pid, duration)
            done = sum(await asyncio.gather(*pollers))
        print(
            f"{clients} clients polling once a second: server CPU {cpu:.1f} % of a core"
            f" ({done / seconds:.0f} polls/s achieved)"
        )

        found = sorted(await delays(client, calls))
        print(
            f"event delay over {len(found)} calls: p50 {statistics.median(found) * 1000:.0f} ms,"
            f" max {found[-1] * 1000:.0f} ms (watcher interval 250 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as data,
        quarry_env(args.backend, Path(data), "quarry_call_streams", QUARRY_API_KEY=KEY) as env,
    ):
        server = ServerProcess(env)
        try:
            asyncio.run(run(server.url, server.process.pid, args.clients, args.duration, args.calls))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
