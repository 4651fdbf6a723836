"""Hostile input against a running server: does it keep answering, and does its memory come back?

    .venv/bin/python bench/hostile.py [--images 4]

One ``quarry serve`` (embedded), as ``bench/throughput.py`` starts it. Three scenarios run in turn
while a prober loops ``GET /v2/functions``:

- ``redos route``: a route whose pattern is ``(a+)+$`` (exponential in a backtracking engine)
  on a text of ``"a" * 30 + "b"`` lines;
- ``huge images``: one call with ``--images`` PNGs of 55 megapixels each (70 KB files);
- ``slow read``: a scanned PDF against a reader time limit of 1 s (``QUARRY_PARSE_TIMEOUT_SECONDS``).

Figures per scenario: the call's status and seconds (its own timestamps), the prober's p50 and
maximum latency, and the RSS of the server process and of its whole process tree (readers
included) when idle before, at peak during, right after, and once idle readers have exited.
"""

from __future__ import annotations

import argparse
import io
import threading
import time
from pathlib import Path
from typing import Any

import repo_root  # noqa: F401  (puts the repository root on sys.path, for bench.throughput and tests)
from PIL import Image

from bench.throughput import b64, client, deployment, log, percentile, post, timestamp
from quarry.engine.readers import IDLE_SECONDS
from tests import documents


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
    except (FileNotFoundError, IndexError):
        return 0.0


def tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        found = []
        for children in Path(f"/proc/{parent}/task").glob("*/children"):  # any thread may have started a child
            try:
                found += [int(p) for p in children.read_text().split()]
            except FileNotFoundError:
                pass
        pids += found
        frontier += found
    return pids


def memory(pid: int) -> tuple[float, float]:
    return rss_mb(pid), sum(rss_mb(p) for p in tree(pid))


class Prober(threading.Thread):
    """``GET /v2/functions`` in a loop, with the server's memory sampled alongside."""

    def __init__(self, url: str, pid: int) -> None:
        super().__init__(daemon=True)
        self.api, self.pid = client(url, timeout=120), pid
        self.latencies: list[float] = []
        self.peak = (0.0, 0.0)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            started = time.monotonic()
            self.api.get("/v2/functions").raise_for_status()
            self.latencies.append(time.monotonic() - started)
            own, total = memory(self.pid)
            self.peak = (max(self.peak[0], own), max(self.peak[1], total))
            time.sleep(0.05)


def huge_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (7500, 7400), 255).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def scenario(name: str, url: str, pid: int, function: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    api = client(url, timeout=120)
    post(api, "/v2/functions", function)
    idle = memory(pid)
    prober = Prober(url, pid)
    prober.start()
    body = {"calls": [{"functionName": function["functionName"], "input": {"batchFiles": {"inputs": inputs}}}]}
    call_id = post(api, "/v2/calls", body)["calls"][0]["callID"]
    while (call := api.get(f"/v2/calls/{call_id}").json()["call"])["status"] not in ("completed", "failed"):
        time.sleep(0.2)
    prober.done.set()
    prober.join()
    after = memory(pid)
    time.sleep(IDLE_SECONDS + 1)
    settled = memory(pid)
    seconds = timestamp(call["finishedAt"]) - timestamp(call["createdAt"])
    lat = prober.latencies
    rss = "".join(f" {own:>6.0f}/{total:<6.0f}" for own, total in (idle, prober.peak, after, settled))
    p50, top = percentile(lat, 50) * 1000, max(lat) * 1000
    print(f"{name:<13} {call['status']:<9} {seconds:>6.1f} {p50:>8.0f} {top:>8.0f}{rss}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=4, help="55-megapixel PNGs in the huge-images call")
    args = parser.parse_args()
    text = {"inputType": "text", "inputContent": b64(("a" * 30 + "b\n").encode() * 2000)}
    route = {
        "functionName": "redos",
        "type": "route",
        "description": "patterns",
        "routes": [{"name": "as", "regex": {"patterns": [r"(a+)+$"]}}, {"name": "other", "isErrorFallback": True}],
    }
    extract = {
        "functionName": "extract",
        "type": "transform",
        "outputSchemaName": "Invoice",
        "outputSchema": {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}},
    }
    image = {"inputType": "png", "inputContent": b64(huge_png())}
    scanned = {"inputType": "pdf", "inputContent": b64(documents.scanned_pdf())}
    print("MB of RSS as server/process tree; settled: once idle readers have exited")
    print("scenario      status    call s   p50 ms   max ms   idle MB      peak MB     after MB   settled MB")
    with deployment("embedded") as dep:
        pid = dep.processes[0].process.pid
        scenario("redos route", dep.urls[0], pid, route, [text])
        scenario("huge images", dep.urls[0], pid, extract, [image] * args.images)
    log("  restarting with QUARRY_PARSE_TIMEOUT_SECONDS=1")
    with deployment("embedded", env={"QUARRY_PARSE_TIMEOUT_SECONDS": "1"}) as dep:
        scenario("slow read", dep.urls[0], dep.processes[0].process.pid, extract, [scanned] * 3)


if __name__ == "__main__":
    main()
