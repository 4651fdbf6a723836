"""What function accuracy costs as corrections pile up: the metrics, review and compare requests,
which add up every corrected output at each request.

    .venv/bin/python bench/accuracy.py [--outputs 500,2000] [--repeat 5]

Starts ``quarry serve`` (embedded), creates an extract function, and for each size in
``--outputs`` makes that many outputs in total (batches of 100 small text invoices through
``POST /v2/calls``), corrects every one through ``POST /v3/events/{eventID}/feedback`` (one field
changed in a third of them), then times ``GET /v3/functions/metrics``, ``POST /v3/functions/review``
and ``POST /v3/functions/compare`` (of version 1, which has no outputs, with version 2, which has them all)
``--repeat`` times each and prints the median and the worst, in milliseconds.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import repo_root  # noqa: F401  (tests.harness on the path)

from tests.harness.processes import ServerProcess, quarry_environ

KEY = "accuracy-bench-key"
NAME = "bench-invoices"
SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "issuer": {"type": "string"},
        "totalAmount": {"type": "number"},
        "poNumber": {"type": "string"},
    },
}


def invoice(i: int) -> str:
    text = f"Northwind Traders GmbH\nInvoice Number: N-{i}\nInvoice Date: 2024-03-{1 + i % 28:02d}\nTotal: {i}.50 EUR\n"
    return base64.b64encode(text.encode()).decode()


def make_outputs(api: httpx.Client, start: int, count: int) -> None:
    """``count`` more corrected outputs, numbered from ``start``."""
    for first in range(start, start + count, 100):
        calls = [
            {"functionName": NAME, "input": {"singleFile": {"inputType": "text", "inputContent": invoice(i)}}}
            for i in range(first, min(first + 100, start + count))
        ]
        ids = [c["callID"] for c in api.post("/v2/calls", json={"calls": calls}).json()["calls"]]
        pending = set(ids)
        while pending:
            done = {i for i in pending if api.get(f"/v2/calls/{i}").json()["call"]["status"] in ("completed", "failed")}
            pending -= done
            if pending:
                time.sleep(0.2)
        for call_id in ids:
            [event] = api.get("/v1-alpha/events", params={"callIDs": call_id}).json()["events"]
            corrected = dict(event["transformedContent"])
            if int(corrected.get("invoiceNumber", "N-0")[2:]) % 3 == 0:
                corrected["issuer"] = "Somebody Else AG"
            api.post(f"/v3/events/{event['eventID']}/feedback", json={"correction": corrected}).raise_for_status()


def timed(api: httpx.Client, method: str, path: str, repeat: int, **kwargs: object) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        api.request(method, path, **kwargs).raise_for_status()  # type: ignore[arg-type]
        seconds.append((time.perf_counter() - began) * 1000)
    return statistics.median(seconds), max(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--outputs", default="500,2000", help="total corrected outputs to measure at (default 500,2000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="requests timed per measure (default 5)")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.outputs.split(","))
    server = ServerProcess(quarry_environ(Path(tempfile.mkdtemp(prefix="quarry-accuracy-")), QUARRY_API_KEY=KEY))
    try:
        api = httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=600)
        body = {"functionName": NAME, "type": "extract", "outputSchemaName": "Invoice", "outputSchema": SCHEMA}
        api.post("/v3/functions", json=body).raise_for_status()
        version_2 = {"type": "extract", "outputSchema": SCHEMA, "displayName": "v2"}  # compare: v1 with v2
        api.patch(f"/v3/functions/{NAME}", json=version_2).raise_for_status()
        made = 0
        print("outputs  metrics ms (median / max)  review ms  compare ms")
        for size in sizes:
            make_outputs(api, made, size - made)
            made = size
            metrics = timed(api, "GET", "/v3/functions/metrics", args.repeat, params={"functionNames": NAME})
            review = timed(api, "POST", "/v3/functions/review", args.repeat, json={"functionName": NAME})
            compare = timed(api, "POST", "/v3/functions/compare", args.repeat, json={"functionName": NAME})
            figures = "  ".join(f"{median:7.0f} / {worst:<7.0f}" for median, worst in (metrics, review, compare))
            print(f"{size:7d}  {figures}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
