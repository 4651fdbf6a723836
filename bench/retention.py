"""Retention under a steady load: does the embedded deployment stop growing?

    .venv/bin/python bench/retention.py [--retention 30s] [--seconds 180] [--rate 20]

Starts ``quarry serve`` (embedded) with ``QUARRY_RETENTION``, submits ``--rate`` trivial calls a
second (each with a small JSON file) for ``--seconds``, and every ten seconds prints the calls
still stored, the calls finished so far, and the size of Quarry's database, the engine's (both
with their write-ahead logs) and the files. With retention working, the stored calls level off
near rate × (retention + the time a call takes) and the sizes stop growing once the first
calls age out: SQLite reuses the pages that removed rows free (the files do not shrink).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import repo_root  # noqa: F401  (tests.harness on the path)

from tests.harness.processes import ServerProcess, quarry_environ

KEY = "retention-bench-key"


def size_mb(*paths: Path) -> float:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total / 1_000_000


def database_mb(path: Path) -> float:
    return size_mb(path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--retention", default="30s", help="QUARRY_RETENTION (default 30s)")
    parser.add_argument("--seconds", type=float, default=180, help="how long to submit calls (default 180)")
    parser.add_argument("--rate", type=float, default=20, help="calls submitted a second (default 20)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="quarry-retention-"))
    server = ServerProcess(quarry_environ(data, QUARRY_API_KEY=KEY, QUARRY_RETENTION=args.retention))
    stop = threading.Event()
    submitted = 0
    try:
        api = httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=60)
        body = {"functionName": "kept-briefly", "type": "payload_shaping", "shapingSchema": "{n: n}"}
        assert api.post("/v2/functions", json=body).status_code == 200

        def load() -> None:  # one batch a second, at the rate asked
            nonlocal submitted
            while not stop.is_set():
                began = time.monotonic()
                count = max(1, round(args.rate))
                calls = [
                    {"functionName": "kept-briefly", "input": {"singleFile": {"inputType": "json", "inputContent":
                     base64.b64encode(json.dumps({"n": submitted + i, "pad": "x" * 2000}).encode()).decode()}}}
                    for i in range(count)
                ]  # fmt: skip
                assert api.post("/v2/calls", json={"calls": calls}).status_code == 200
                submitted += count
                stop.wait(max(0.0, 1.0 - (time.monotonic() - began)))

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        print(f"retention {args.retention}, {args.rate:g} calls/s for {args.seconds:g} s, embedded")
        print(f"{'s':>5} {'submitted':>10} {'stored':>8} {'completed':>10} {'quarry.db MB':>13} "
              f"{'engine MB':>10} {'files MB':>9}")  # fmt: skip
        began = time.monotonic()
        while (elapsed := time.monotonic() - began) < args.seconds + 1:
            stored = api.get("/v2/calls", params={"limit": 1}).json()["totalCount"]
            completed = api.get("/v2/calls", params={"limit": 1, "statuses": "completed"}).json()["totalCount"]
            print(
                f"{elapsed:>5.0f} {submitted:>10} {stored:>8} {completed:>10} {database_mb(data / 'quarry.db'):>13.1f} "
                f"{database_mb(data / 'engine.sqlite'):>10.1f} {size_mb(data / 'blobs'):>9.1f}",
                flush=True,
            )
            time.sleep(10)
    finally:
        stop.set()
        server.stop()


if __name__ == "__main__":
    main()
