"""List Calls latency on a large table: p50/p95/max in the server, per kind of request.

    python bench/list_calls.py --backend sqlite              # seeds 1,000,000 calls, then measures
    python bench/list_calls.py --backend postgresql --reuse  # measures an already seeded database

Seeds one environment with N calls (half workflow calls over 100 workflows, half function calls
over 100 functions; 97% completed, 2.5% failed, 0.5% running; one function call each; reference
``order-<n, 7 digits>-<word>``), then sends each kind of request REPEAT times through the real ASGI
app and reads the ``Server-Timing`` header, so the figures are the server's own work (routing, auth,
SQL, rendering), without client or network. Besides substrings spread over the table, ``-0XX``
matches a hundredth of it in one run of creation order (head, middle or tail); one row follows the
cursors of such a substring page by page, and one asks for a new one each time (its first count).
Counts cached by earlier runs are dropped first; on PostgreSQL, the calls table and its indexes
are read into the OS cache first (``pg_prewarm``), so that runs compare code, not what the
previous run left in memory.
Targets (issues #3, #15): p95 <= 10 ms when the filters match <= 10,000 calls; <= 50 ms for every
request, the worst case included.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import repo_root  # noqa: F401  (puts the repository root on sys.path, for tests.harness)
import sqlalchemy as sa
from fastapi.testclient import TestClient

from quarry.app import create_app
from quarry.bootstrap import bootstrap, open_database
from quarry.calls import counts
from quarry.calls.models import Call, CallCountCache, FunctionCall
from quarry.calls.search import index_references
from quarry.config import Settings
from quarry.engine.engine import Role
from quarry.ids import new_id
from quarry.tenancy.service import create_account, create_api_key
from tests.harness.databases import database_url, postgres_database

WORDS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne"]
BATCH = 5000
PREWARM = """SELECT pg_prewarm(c.oid, 'read') FROM pg_class AS c
WHERE c.relname = 'calls' OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'calls'::regclass)"""


def seed(settings: Settings, total: int) -> str:
    db = open_database(settings)
    rng = random.Random(42)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as session:
        account = create_account(session, f"bench-{time.time_ns()}")
        _, key = create_api_key(session, account.id, "production", "bench")
        environment_id = session.scalar(
            sa.text("SELECT id FROM environments WHERE account_id = :a AND name = 'production'"), {"a": account.id}
        )
    tally: dict[tuple[str, str], int] = {}
    t0 = time.perf_counter()
    for offset in range(0, total, BATCH):
        calls, function_calls = [], []
        for n in range(offset, min(offset + BATCH, total)):
            created = start + timedelta(milliseconds=n * 7)
            call_id = new_id("call", int(created.timestamp() * 1000))
            roll = rng.random()
            status = "completed" if roll < 0.97 else "failed" if roll < 0.995 else "running"
            is_workflow = n % 2 == 0
            k = rng.randrange(100)
            call = {
                "id": call_id,
                "environment_id": environment_id,
                "call_type": "workflow" if is_workflow else "function",
                "status": status,
                "call_reference_id": f"order-{n:07d}-{rng.choice(WORDS)}",
                "workflow_id": f"wf_bench{k:03d}" if is_workflow else None,
                "workflow_name": f"wf-{k:03d}" if is_workflow else None,
                "workflow_version_num": 1 if is_workflow else None,
                "function_id": None if is_workflow else f"f_bench{k:03d}",
                "function_name": None if is_workflow else f"fn-{k:03d}",
                "function_type": None if is_workflow else "transform",
                "function_version_num": None if is_workflow else 1,
                "input": {"singleFile": {"inputType": "text", "blobKey": f"{environment_id}/{call_id}/0.txt"}},
                "plan_json": {},
                "created_at": created,
                "started_at": created,
                "finished_at": None if status == "running" else created + timedelta(seconds=2),
            }
            calls.append(call)
            function_calls.append(
                {
                    "id": new_id("fc", int(created.timestamp() * 1000)),
                    "environment_id": environment_id,
                    "call_id": call_id,
                    "function_id": f"f_bench{k:03d}",
                    "function_name": f"fn-{k:03d}",
                    "function_type": "transform",
                    "function_version_num": 1,
                    "reference_id": call["call_reference_id"],
                    "status": status,
                    "activity": [{"displayName": "Extract", "status": status}],
                    "inputs": [call["input"]["singleFile"]],
                    "payload": None,
                    "created_at": created,
                    "started_at": created,
                    "finished_at": call["finished_at"],
                }
            )
            for pair in counts.dimensions_of(Call(**call)):
                tally[pair] = tally.get(pair, 0) + 1
        with db.write() as session:
            session.execute(sa.insert(Call), calls)
            session.execute(sa.insert(FunctionCall), function_calls)
            index_references(session, [Call(**c) for c in calls])
        done = offset + len(calls)
        print(
            f"\rseeded {done:,}/{total:,} calls ({done / (time.perf_counter() - t0):,.0f}/s)", end="", file=sys.stderr
        )
    with db.write() as session:
        for (dimension, value), count in tally.items():
            counts.add(session, environment_id, [(dimension, value, count)])
        session.execute(sa.text("ANALYZE"))
    print(file=sys.stderr)
    db.dispose()
    Path(settings.data_dir / "bench-key").write_text(key)
    return key


Row = tuple[str, Callable[[int, dict[str, Any] | None], dict[str, Any] | None]]
"""A kind of request: its name, and the parameters of its i-th request given the previous
response's body (``None``: the row is done)."""


def fixed(name: str, params: dict[str, Any]) -> Row:
    return name, lambda i, previous: params


def clustered(n: int) -> str:
    """A substring matching the references ``order-0XX…`` of one hundredth of the table, in one run
    of creation order (``XX`` = 00: its head, 99: its tail)."""
    return f"-0{n:02d}"


def page_through(name: str, params: dict[str, Any]) -> Row:
    def following(i: int, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        if previous is None:
            return params
        calls = previous["calls"]
        return params | {"startingAfter": calls[-1]["callID"]} if calls else None

    return name, following


def requests(client: TestClient, key: str) -> list[Row]:
    headers = {"x-api-key": key}
    sample = client.get("/v2/calls", params={"limit": 100, "statuses": "failed"}, headers=headers).json()["calls"]
    mid = client.get("/v2/calls", params={"limit": 1, "referenceIDs": "order-0500000-acme"}, headers=headers).json()
    ids = [c["callID"] for c in sample[:10]]
    refs = [c["callReferenceID"] for c in sample[:5]]
    middle = mid["calls"][0]["callID"] if mid["calls"] else ids[0]
    warm = {0, 50, 99}
    cold = [clustered(n) for n in range(100) if n not in warm]
    return [
        fixed("first page, no filter", {}),
        fixed("first page, desc", {"sortOrder": "desc"}),
        fixed("deep page (startingAfter mid-table)", {"startingAfter": middle}),
        fixed("deep page (endingBefore mid-table)", {"endingBefore": middle}),
        fixed("callIDs (10)", {"callIDs": ",".join(ids)}),
        fixed("referenceIDs (5)", {"referenceIDs": ",".join(refs)}),
        fixed("referenceIDSubstring, ~100 matches", {"referenceIDSubstring": "00042"}),
        fixed("referenceIDSubstring, ~10% match", {"referenceIDSubstring": "WAYNE"}),
        fixed("referenceIDSubstring, all match (worst)", {"referenceIDSubstring": "order"}),
        *(
            fixed(f"substring clustered at {where}, {order}", {"referenceIDSubstring": clustered(n)} | sort)
            for where, n in (("head", 0), ("middle", 50), ("tail", 99))
            for order, sort in (("asc", {}), ("desc", {"sortOrder": "desc"}))
        ),
        fixed(
            "substring clustered at tail + callTypes", {"referenceIDSubstring": clustered(99), "callTypes": "function"}
        ),
        page_through(
            "page-through clustered (middle, 100/page)", {"referenceIDSubstring": clustered(50), "limit": 100}
        ),
        ("new clustered substring (first count)", lambda i, previous: {"referenceIDSubstring": cold[i % len(cold)]}),
        fixed("callTypes=workflow (50%)", {"callTypes": "workflow"}),
        fixed("workflowNames (1 of 100)", {"workflowNames": "wf-007"}),
        fixed("workflowIDs (1 of 100)", {"workflowIDs": "wf_bench007"}),
        fixed("functionNames (1 of 100)", {"functionNames": "fn-042"}),
        fixed("functionIDs (2 of 100)", {"functionIDs": "f_bench042,f_bench043"}),
        fixed("statuses=failed (2.5%)", {"statuses": "failed"}),
        fixed("callTypes+workflowNames (combined)", {"callTypes": "workflow", "workflowNames": "wf-007"}),
        fixed("workflowNames+statuses (combined, ~125)", {"workflowNames": "wf-007", "statuses": "failed"}),
        fixed("statuses=running+callTypes=function", {"statuses": "running", "callTypes": "function"}),
    ]


def measure(settings: Settings, key: str, repeat: int) -> None:
    # the API alone: the figures are those of List Calls, not of work running beside it
    process = bootstrap(settings, Role.API)
    with process.db.write() as session:  # every substring starts uncounted, in every run
        session.execute(sa.delete(CallCountCache))
        if process.db.dialect == "postgresql":  # a server whose data fits in memory, as after a while in use
            session.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            session.execute(sa.text(PREWARM))
    with TestClient(create_app(process, start_engine=False)) as client:
        headers = {"x-api-key": key}
        print(f"{'request':45} {'matches':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for name, params_of in requests(client, key):
            timings = []
            total = 0
            body = None
            for i in range(repeat):
                params = params_of(i, body)
                if params is None:
                    break
                response = client.get("/v2/calls", params=params, headers=headers)
                assert response.status_code == 200, response.text
                body = response.json()
                total = body["totalCount"]
                timings.append(float(response.headers["server-timing"].split("dur=")[1]))
            timings.sort()
            p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
            print(f"{name:45} {total:>9,} {statistics.median(timings):>8.2f} {p95:>8.2f} {timings[-1]:>8.2f}")
    process.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data-dir", type=Path, default=Path("bench-data"))
    parser.add_argument("--reuse", action="store_true", help="measure the database seeded by an earlier run")
    args = parser.parse_args()
    data_dir = (args.data_dir / args.backend).absolute()
    if args.backend == "postgresql":
        url = database_url("quarry_bench") if args.reuse else postgres_database("quarry_bench")
    else:
        url = f"sqlite:///{data_dir / 'quarry.db'}"
        if not args.reuse:
            for path in data_dir.glob("*.db*"):
                path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=url)
    key = (data_dir / "bench-key").read_text() if args.reuse else seed(settings, args.calls)
    print(f"backend {args.backend}, {args.calls:,} calls, {args.repeat} requests each")
    measure(settings, key, args.repeat)


if __name__ == "__main__":
    main()
