"""Calls per second end to end, List Calls latency under load, and model-bound concurrency per worker.

    .venv/bin/python bench/throughput.py --mode embedded --calls 2000
    .venv/bin/python bench/throughput.py --mode distributed --workers-list 1,2
    .venv/bin/python bench/throughput.py --mode list-under-load --clients 200 [--backend postgresql]
    .venv/bin/python bench/throughput.py --mode model --calls 600 [--backend postgresql]
    .venv/bin/python bench/throughput.py --mode floor --calls 2000 --backend both
    .venv/bin/python bench/throughput.py --mode request-cpu --backend both
    .venv/bin/python bench/throughput.py --mode polling --clients 200 --duration 20 --backend both
    .venv/bin/python bench/throughput.py --mode all --backend both

Runs Quarry as an operator does: ``quarry serve`` and ``quarry worker`` processes (``-m quarry``
of this interpreter) with ``QUARRY_API_KEY`` set, talked to over HTTP with httpx. Every run gets
a fresh deployment (SQLite in a temporary data directory, or the PostgreSQL database
``quarry_throughput``, dropped and created again), torn down afterwards (SIGTERM, then SIGKILL).

- ``embedded``: one ``quarry serve`` (API and workers, SQLite). N trivial ``payload_shaping``
  calls are submitted in batches of 100 from a few client threads, as fast as they go; once all
  are finished, every call is read back. Figures: submit rate (client side), completed calls/s =
  N / (last finishedAt - first createdAt) and latency p50/p99 = finishedAt - createdAt, both
  from the API's own timestamps. All calls are queued at once, so the latency is mostly waiting
  in the queue: it says how long a backlog of N takes to drain, not how long one call takes.
- ``distributed``: the same against ``serve --no-workers`` (two of them when k > 1, batches
  alternate between them) and k ``quarry worker`` processes on PostgreSQL, one row per k.
- ``list-under-load``: calls keep running (a feeder thread keeps about ``--backlog`` calls
  queued) while ``--clients`` asyncio clients loop ``GET /v2/calls?limit=50`` (unfiltered,
  ``statuses=completed``, ``referenceIDSubstring``, in turn) for ``--duration`` seconds. Figures:
  List Calls p50/p95/p99 as the clients saw it and as the server measured it (its
  ``Server-Timing: app;dur=<ms>`` header), and calls completed per second in a window before
  the load and during it (from finishedAt). Embedded always; unless ``--backend sqlite`` also
  distributed with the largest k of ``--workers-list``. The clients share the machine (and the
  GIL of one process): on 2 cores their own overhead is part of the client-side figures.
- ``model``: ``transform`` calls with ``provider: openai`` against a fake OpenAI-compatible
  endpoint started here, which answers every chat completion after ``--model-delay`` seconds
  and records how many requests it had in flight at once, per worker (each worker gets its own
  base URL path) and in total: the peak is the number of I/O-bound function calls one worker
  runs at once (``QUARRY_WORKERS``, or ``--concurrency``). Run once without a cap and once with
  ``QUARRY_LLM_MAX_CONCURRENCY=--model-cap``, whose peak must not exceed the cap. With
  ``--backend postgresql`` or ``both`` also distributed with the largest k.

The next three modes measure what the issue of the floor asks, each in one run, with
``--backend sqlite`` (embedded), ``postgresql`` (distributed) or ``both``:

- ``floor``: Quarry against raw DBOS, its floor. Raw DBOS is ``bench/floor.py``: a queued workflow
  with one trivial step, on the same ``dbos``, database and process shape, set up as Quarry's
  engine (queue concurrency, polling interval, SQLite pragmas, pool size) — one process that
  enqueues and runs (embedded, SQLite file), or one worker fed by a separate enqueuer process
  (PostgreSQL). Quarry: trivial ``payload_shaping`` calls submitted over HTTP in batches of 100,
  run by ``quarry serve`` or by one ``quarry worker`` behind ``serve --no-workers``. Both run
  ``--warmup`` first, then ``--calls``. Figures: completed per second (Quarry: first createdAt
  to last finishedAt; raw: from the signal that starts its enqueuing to the first look, 50 ms
  apart, at DBOS's ``workflow_status`` that finds them all finished), the ratio Quarry/raw
  (target ≥ 0.8) and CPU ms per call: user + system CPU of the process tree that runs the work
  (``/proc``: the process and every descendant), read before and after the measured window.
- ``request-cpu``: CPU per request of the main read endpoints, from outside: ``--seed`` calls
  are stored, then per endpoint ``--requests`` sequential requests (after 20 unmeasured ones);
  the server process tree's CPU over them / ``--requests``, and "net" = less its idle CPU (the
  engine polls its queues) measured right after over as long. Embedded: ``quarry serve``;
  distributed: the API process (``serve --no-workers``).
- ``polling``: open-loop polling while calls run (the ``Feeder`` keeps ``--backlog`` queued).
  First ``--duration`` s without polling (the idle completion rate), then ``--clients`` clients
  at ``--rate`` request/s each for ``--duration`` s, sent by ``bench/open_loop.py`` in
  ``--generators`` processes of their own on a fixed timetable (latency from each request's
  scheduled instant: no coordinated omission). Mix: a client's own finished call and List Calls
  pages with filters. Figures: p50/p95/p99/max per kind of request, errors and timeouts,
  requests/s answered, completed calls/s idle and under polling and their ratio, against the
  targets (p99 ≤ 100 ms, ratio ≥ 0.8). Embedded: ``quarry serve``; distributed: one API process
  and one worker on PostgreSQL.

The figures are noisy on a small shared machine; compare runs made on the same one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import repo_root  # puts the repository root on sys.path, for bench.* and tests.harness

from bench import floor, open_loop
from bench.process_cpu import tree_cpu_seconds
from tests.harness.databases import database_url as postgres_url
from tests.harness.databases import drop_postgres_database, postgres_database
from tests.harness.fake_model import SlowModel
from tests.harness.processes import QuarryProcess, ServerProcess, WorkerProcess, quarry_environ, stop_all

KEY = "throughput-bench-key"
PG_NAME = "quarry_throughput"
BATCH = 100
PAGE = 100
SUBSTRING = "-0001"  # matches references tp-000100 … tp-000199: a selective search (~100 calls)
MODEL_ANSWER = {"invoiceNumber": "INV-1"}
MODEL_SCHEMA = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
LOG_DIR: Path | None = None  # --logs: where the full output of every Quarry process goes
DEFAULT_CALLS = {"embedded": 2000, "distributed": 2000, "model": 600, "floor": 2000}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def percentile(values: list[float], p: float) -> float:
    """Nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


# --- processes --------------------------------------------------------------------------------
# Started, awaited and stopped by the harness the tests use (tests/harness/processes.py), each in a
# process group of its own (stopping one stops what it started), keeping its last lines for error
# reports and, with --logs, writing its whole output to LOG_DIR.


def process_options(name: str) -> dict[str, Any]:
    return {"name": name, "group": True, "keep": 500, "log_dir": LOG_DIR}


def stop_processes(processes: list[QuarryProcess]) -> None:
    """SIGTERM to all at once, SIGKILL (their whole groups) 20 s later at the latest."""
    for name in stop_all(processes, signal.SIGTERM, timeout=20):
        log(f"  {name} did not stop on SIGTERM: killed")


@dataclass
class Deployment:
    shape: str  # "embedded" or "distributed"
    workers: int  # worker processes (the one serve process when embedded)
    urls: list[str]
    processes: list[QuarryProcess] = field(default_factory=list)

    @property
    def label(self) -> str:
        return label_of(self.shape, self.workers)

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited ({process.process.returncode}):\n{process.tail()}")


def label_of(shape: str, workers: int) -> str:
    if shape == "embedded":
        return "embedded (SQLite)"
    return f"{2 if workers > 1 else 1} API + {workers} worker{'s' if workers > 1 else ''} (PG)"


def reason_of(exc: BaseException) -> str:
    """One line for a table: the last exception line of a process log quoted in ``exc``, else its first line."""
    text = str(exc) or type(exc).__name__
    raised = [line.strip() for line in text.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception|Exceeded)\b", line)]
    return raised[-1] if raised else text.splitlines()[0]


def base_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    settings = {
        "QUARRY_API_KEY": KEY,
        "QUARRY_DRAIN_SECONDS": "5",  # a SIGTERMed worker hands back what it has after 5 s
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    return quarry_environ(data_dir, **(settings | extra))


def analyze_postgres() -> None:
    """Give PostgreSQL's planner statistics of the tables just filled, as autovacuum does within
    a deployment's first minute: before, it takes the new tables for nearly empty and sorts a whole
    environment's calls for each page (2 ms instead of 0.1 ms at 1,000 calls, growing with them)."""
    with psycopg.connect(postgres_url(PG_NAME), autocommit=True) as connection:
        connection.execute("ANALYZE")


def drop_database() -> None:
    try:
        drop_postgres_database(PG_NAME)
    except psycopg.Error as exc:
        log(f"  could not drop database {PG_NAME}: {exc}")


@contextmanager
def deployment(
    shape: str,
    workers: int = 1,
    concurrency: int | None = None,
    env: dict[str, str] | None = None,
    worker_env: Callable[[int], dict[str, str]] = lambda i: {},
) -> Iterator[Deployment]:
    """A fresh Quarry: ``embedded`` (one serve, SQLite) or ``distributed`` (PostgreSQL, one API
    process, two when ``workers`` > 1, and ``workers`` worker processes). ``worker_env(i)`` adds
    to the environment of the i-th process that runs calls."""
    data_dir = Path(tempfile.mkdtemp(prefix="quarry-throughput-"))
    extra = dict(env or {})
    if concurrency:
        extra["QUARRY_WORKERS"] = str(concurrency)
    dep = Deployment(shape, workers, [])
    try:
        if shape == "embedded":
            log("  starting quarry serve (embedded)")
            server = ServerProcess(base_env(data_dir, extra | worker_env(0)), **process_options("serve"))
            dep.processes.append(server)
            dep.urls.append(server.url)
        else:
            extra["QUARRY_DATABASE_URL"] = postgres_database(PG_NAME)
            for n in range(2 if workers > 1 else 1):  # one at a time: the first one migrates the schema
                log(f"  starting quarry serve --no-workers #{n + 1}")
                environ = base_env(data_dir, extra)
                server = ServerProcess(environ, "--no-workers", **process_options(f"api-{n + 1}"))
                dep.processes.append(server)
                dep.urls.append(server.url)
            for n in range(workers):
                log(f"  starting quarry worker #{n + 1}")
                environ = base_env(data_dir, extra | worker_env(n))
                dep.processes.append(WorkerProcess(environ, **process_options(f"worker-{n + 1}")))
        yield dep
    except Exception:
        for process in dep.processes:  # what the processes said, to tell what went wrong
            log(f"--- last lines of {process.name} ---\n{process.tail(60)}")
        raise
    finally:
        log("  stopping Quarry")
        stop_processes(dep.processes)
        if shape == "distributed":
            drop_database()
        shutil.rmtree(data_dir, ignore_errors=True)


# --- the API ----------------------------------------------------------------------------------


def client(url: str, timeout: float = 60) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"x-api-key": KEY}, timeout=timeout)


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    if response.status_code != 200:
        raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def create_workflow(api: httpx.Client, function: dict[str, Any]) -> str:
    name = function["functionName"]
    post(api, "/v2/functions", function)
    post(api, "/v2/workflows", {"name": name, "mainFunction": {"name": name}})
    return name


def shaping_workflow(api: httpx.Client) -> str:
    return create_workflow(api, {"functionName": "shape", "type": "payload_shaping", "shapingSchema": "{n: n}"})


def model_workflow(api: httpx.Client) -> str:
    function = {
        "functionName": "extract",
        "type": "transform",
        "outputSchemaName": "Invoice",
        "outputSchema": MODEL_SCHEMA,
        "provider": "openai",
    }
    return create_workflow(api, function)


def json_input(n: int) -> dict[str, Any]:
    return {"inputType": "json", "inputContent": b64(json.dumps({"n": n}).encode())}


def text_input(n: int) -> dict[str, Any]:
    return {"inputType": "text", "inputContent": b64(f"Invoice Number: INV-{n}\n".encode())}


def batch_body(workflow: str, make_input: Callable[[int], dict[str, Any]], first: int, size: int) -> dict[str, Any]:
    calls = [
        {"workflowName": workflow, "callReferenceID": f"tp-{n:06d}", "input": {"singleFile": make_input(n)}}
        for n in range(first, first + size)
    ]
    return {"calls": calls}


def submit(
    urls: list[str],
    workflow: str,
    make_input: Callable[[int], dict[str, Any]],
    total: int,
    threads: int,
    start: int = 0,
) -> float:
    """Submit calls start … start+total-1 in batches of 100 from ``threads`` clients (each on one API
    process, in turn); the seconds it took."""
    end = start + total
    batches = [(first, min(BATCH, end - first)) for first in range(start, end, BATCH)]
    threads = max(1, min(threads, len(batches)))

    halt = threading.Event()  # one client failed, or Ctrl-C: the others stop after their current batch

    def send(t: int) -> None:
        with client(urls[t % len(urls)]) as api:
            for first, size in batches[t::threads]:
                if halt.is_set():
                    return
                created = post(api, "/v2/calls", batch_body(workflow, make_input, first, size))
                if len(created.get("calls", [])) != size:
                    raise RuntimeError(f"POST /v2/calls created {len(created.get('calls', []))} of {size} calls")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        try:
            for future in [pool.submit(send, t) for t in range(threads)]:
                future.result()
        except BaseException:
            halt.set()
            raise
    return time.perf_counter() - started


def count(api: httpx.Client, **filters: str) -> int:
    response = api.get("/v2/calls", params={"limit": 1, **filters})
    if response.status_code != 200:
        raise RuntimeError(f"GET /v2/calls: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()["totalCount"]


def wait_finished(dep: Deployment, api: httpx.Client, total: int, timeout: float) -> bool:
    """Wait until ``total`` calls are completed or failed; False on timeout."""
    deadline = time.monotonic() + timeout
    last_report = 0.0
    while True:
        dep.check_alive()
        done = count(api, statuses="completed,failed")
        if done >= total:
            return True
        if time.monotonic() > deadline:
            log(f"  timed out: {done}/{total} calls finished after {timeout:g} s")
            return False
        if time.monotonic() - last_report > 5:
            log(f"  {done}/{total} calls finished")
            last_report = time.monotonic()
        time.sleep(0.5)


def all_calls(api: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    """Every call (oldest first), paging with startingAfter."""
    calls: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": PAGE, **filters}
        if calls:
            params["startingAfter"] = calls[-1]["callID"]
        response = api.get("/v2/calls", params=params)
        if response.status_code != 200:
            raise RuntimeError(f"GET /v2/calls: HTTP {response.status_code}: {response.text[:500]}")
        page = response.json()["calls"]
        calls += page
        if len(page) < PAGE:
            return calls


def failure_reasons(api: httpx.Client, calls: list[dict[str, Any]], sample: int = 5) -> list[str]:
    """The error messages of the first few failed calls (their ``error`` events)."""
    reasons: list[str] = []
    for call in [c for c in calls if c["status"] == "failed"][:sample]:
        response = api.get("/v1-alpha/events", params={"callIDs": call["callID"], "eventTypes": "error"})
        events = response.json().get("events", []) if response.status_code == 200 else []
        messages = [str(e.get("message")) for e in events] or [f"(no error event; HTTP {response.status_code})"]
        reasons += [f"{call['callReferenceID']}: {m}" for m in messages]
    return reasons


@dataclass
class Figures:
    calls: int
    completed: int
    failed: int
    rate: float  # completed calls/s, from the API's timestamps
    p50: float  # seconds, finishedAt - createdAt
    p99: float
    submit_rate: float = math.nan
    finished: bool = True


def figures(calls: list[dict[str, Any]], submit_seconds: float | None = None, finished: bool = True) -> Figures:
    completed = [c for c in calls if c["status"] == "completed" and c.get("finishedAt")]
    failed = sum(1 for c in calls if c["status"] == "failed")
    latencies = [timestamp(c["finishedAt"]) - timestamp(c["createdAt"]) for c in completed]
    rate = math.nan
    if completed:
        span = max(timestamp(c["finishedAt"]) for c in completed) - min(timestamp(c["createdAt"]) for c in calls)
        rate = len(completed) / span if span > 0 else math.nan
    submit_rate = len(calls) / submit_seconds if submit_seconds else math.nan
    return Figures(
        len(calls),
        len(completed),
        failed,
        rate,
        percentile(latencies, 50),
        percentile(latencies, 99),
        submit_rate,
        finished,
    )


def run_calls(
    dep: Deployment,
    workflow: str,
    make_input: Callable[[int], dict[str, Any]],
    total: int,
    threads: int,
    timeout: float,
) -> Figures:
    with client(dep.urls[0]) as api:
        log(f"  submitting {total} calls")
        seconds = submit(dep.urls, workflow, make_input, total, threads)
        log(f"  submitted in {seconds:.1f} s")
        finished = wait_finished(dep, api, total, timeout)
        calls = all_calls(api)
        for reason in failure_reasons(api, calls):
            log(f"  failed: {reason}")
        return figures(calls, seconds, finished)


# --- modes: embedded and distributed ----------------------------------------------------------


def throughput_header() -> None:
    print(
        f"{'deployment':26} {'calls':>6} {'submit/s':>9} {'completed/s':>12} "
        f"{'p50 s':>7} {'p99 s':>7} {'failed':>7}  note"
    )


def throughput_row(label: str, f: Figures) -> None:
    note = "" if f.finished else f"TIMEOUT: {f.completed} completed"
    print(
        f"{label:26} {f.calls:>6} {f.submit_rate:>9.1f} {f.rate:>12.1f} "
        f"{f.p50:>7.2f} {f.p99:>7.2f} {f.failed:>7}  {note}",
        flush=True,
    )


def mode_embedded(args: argparse.Namespace) -> None:
    total = args.calls or DEFAULT_CALLS["embedded"]
    log(f"embedded: {total} payload_shaping calls")
    with deployment("embedded", concurrency=args.concurrency) as dep:
        with client(dep.urls[0]) as api:
            workflow = shaping_workflow(api)
        result = run_calls(dep, workflow, json_input, total, args.submit_threads, args.timeout)
    print(f"\n== embedded: {total} payload_shaping calls, submitted by {args.submit_threads} clients in batches of 100")
    throughput_header()
    throughput_row(dep.label, result)


def mode_distributed(args: argparse.Namespace) -> None:
    total = args.calls or DEFAULT_CALLS["distributed"]
    rows: list[tuple[str, Figures | str]] = []
    for k in args.workers_list:
        log(f"distributed: {k} worker(s), {total} payload_shaping calls")
        try:
            with deployment("distributed", k, concurrency=args.concurrency) as dep:
                with client(dep.urls[0]) as api:
                    workflow = shaping_workflow(api)
                result = run_calls(dep, workflow, json_input, total, args.submit_threads, args.timeout)
        except Exception as exc:  # the other rows still give their figures
            log(f"  failed: {exc}")
            rows.append((label_of("distributed", k), reason_of(exc)))
        else:
            rows.append((dep.label, result))
    print(f"\n== distributed: {total} payload_shaping calls per row, PostgreSQL, local blobs")
    throughput_header()
    for label, outcome in rows:
        if isinstance(outcome, str):
            print(f"{label:26} FAILED: {outcome}", flush=True)
        else:
            throughput_row(label, outcome)
    failures = sum(isinstance(outcome, str) for _, outcome in rows)
    if failures:
        raise RuntimeError(f"{failures} of {len(rows)} runs failed")


# --- mode: list-under-load --------------------------------------------------------------------

LIST_KINDS: list[tuple[str, dict[str, str]]] = [
    ("unfiltered", {}),
    ("statuses=completed", {"statuses": "completed"}),
    (f"referenceIDSubstring={SUBSTRING}", {"referenceIDSubstring": SUBSTRING}),
]


class Feeder(threading.Thread):
    """Keeps at least ``backlog`` calls unfinished, once ``submitted`` calls are in: submits a batch
    of 100 whenever fewer are (to the API processes in turn), and notes the fewest seen."""

    def __init__(self, dep: Deployment, workflow: str, backlog: int, submitted: int) -> None:
        super().__init__(daemon=True)
        self.dep, self.workflow, self.backlog = dep, workflow, backlog
        self.submitted = submitted
        self.min_backlog: int | None = None  # fewest unfinished calls seen while ``watching``
        self.watching = False
        self.error: BaseException | None = None
        self.filled = threading.Event()  # the backlog was reached once
        self._halt = threading.Event()  # not ``_stop``: Thread has a method of that name

    def run(self) -> None:
        apis = [client(url) for url in self.dep.urls]
        try:
            batch = 0
            while not self._halt.is_set():
                unfinished = self.submitted - count(apis[0], statuses="completed,failed")
                if self.watching:
                    self.min_backlog = unfinished if self.min_backlog is None else min(self.min_backlog, unfinished)
                if unfinished >= self.backlog:
                    self.filled.set()
                    self._halt.wait(0.2)
                    continue
                post(apis[batch % len(apis)], "/v2/calls", batch_body(self.workflow, json_input, self.submitted, BATCH))
                self.submitted += BATCH
                batch += 1
        except Exception as exc:  # reported by the main thread
            self.error = exc
        finally:
            for api in apis:
                api.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=90)


async def hammer(urls: list[str], clients: int, duration: float) -> list[tuple[str, float | None, float | None, str]]:
    """``clients`` loops of List Calls for ``duration`` s: (kind, client ms, server ms, outcome) each."""
    results: list[tuple[str, float | None, float | None, str]] = []
    per_url = math.ceil(clients / len(urls))
    limits = httpx.Limits(max_connections=per_url, max_keepalive_connections=per_url)
    apis = [httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}, timeout=30, limits=limits) for url in urls]
    end = time.monotonic() + duration

    async def loop(i: int) -> None:
        api = apis[i % len(apis)]
        n = i
        while time.monotonic() < end:
            kind, params = LIST_KINDS[n % len(LIST_KINDS)]
            n += 1
            started = time.perf_counter()
            try:
                response = await api.get("/v2/calls", params={"limit": 50, **params})
            except httpx.HTTPError as exc:
                results.append((kind, None, None, type(exc).__name__))
                continue
            elapsed = (time.perf_counter() - started) * 1000
            match = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
            server = float(match.group(1)) if match else None
            outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
            results.append((kind, elapsed, server, outcome))

    try:
        await asyncio.gather(*(loop(i) for i in range(clients)))
    finally:
        for api in apis:
            await api.aclose()
    return results


def finished_between(calls: list[dict[str, Any]], start: float, end: float) -> int:
    return sum(1 for c in calls if c.get("finishedAt") and start <= timestamp(c["finishedAt"]) < end)


def list_under_load(dep: Deployment, args: argparse.Namespace) -> None:
    with client(dep.urls[0]) as api:
        workflow = shaping_workflow(api)
        log(f"  queueing {args.backlog} calls")
        seconds = submit(dep.urls, workflow, json_input, args.backlog, args.submit_threads)
        log(f"  queued in {seconds:.1f} s")
        feeder = Feeder(dep, workflow, args.backlog, args.backlog)
        feeder.start()
        try:
            if not feeder.filled.wait(10):  # calls finish about as fast as one client submits them: go on
                log(f"  the feeder could not get {args.backlog} calls queued in 10 s; going on")
            if feeder.error:
                raise RuntimeError(f"feeder: {feeder.error!r}")
            log(f"  {args.baseline:g} s without List Calls load")
            before_start = time.time()
            time.sleep(args.baseline)
            before_end = load_start = time.time()
            feeder.watching = True
            log(f"  {args.clients} clients listing calls for {args.duration:g} s")
            results = asyncio.run(hammer(dep.urls, args.clients, args.duration))
            load_end = time.time()
            feeder.watching = False
        finally:
            feeder.stop()
        if feeder.error:
            raise RuntimeError(f"feeder: {feeder.error!r}")
        dep.check_alive()
        log("  reading the calls back")
        calls = all_calls(api)
    before = finished_between(calls, before_start, before_end) / (before_end - before_start)
    during = finished_between(calls, load_start, load_end) / (load_end - load_start)

    print(f"\n== list-under-load: {dep.label}, {args.clients} clients, {args.duration:g} s, GET /v2/calls?limit=50")
    print(
        f"{'request':34} {'count':>7} {'errors':>6} {'req/s':>7} "
        f"{'client p50':>10} {'p95':>7} {'p99':>7} {'server p50':>10} {'p95':>7} {'p99':>7}  (ms)"
    )
    errors_seen: Counter[str] = Counter()
    for kind in [k for k, _ in LIST_KINDS] + ["all"]:
        rows = [r for r in results if kind in ("all", r[0])]
        ok = [r for r in rows if r[3] == "ok"]
        for r in rows:
            if r[3] != "ok" and kind == "all":
                errors_seen[r[3]] += 1
        client_ms = [r[1] for r in ok if r[1] is not None]
        server_ms = [r[2] for r in ok if r[2] is not None]
        print(
            f"{kind:34} {len(rows):>7} {len(rows) - len(ok):>6} {len(rows) / (load_end - load_start):>7.1f} "
            f"{percentile(client_ms, 50):>10.1f} {percentile(client_ms, 95):>7.1f} {percentile(client_ms, 99):>7.1f} "
            f"{percentile(server_ms, 50):>10.1f} {percentile(server_ms, 95):>7.1f} {percentile(server_ms, 99):>7.1f}"
        )
    if errors_seen:
        print("errors: " + ", ".join(f"{name} x{n}" for name, n in errors_seen.most_common()))
    starved = " (the queue ran dry: the rate under load is a lower bound)" if feeder.min_backlog == 0 else ""
    print(
        f"completed calls/s: {before:.1f} before the load ({args.baseline:g} s), {during:.1f} under it; "
        f"fewest calls queued under load: {feeder.min_backlog}{starved}",
        flush=True,
    )


def mode_list_under_load(args: argparse.Namespace) -> None:
    log(f"list-under-load: embedded, {args.clients} clients")
    with deployment("embedded", concurrency=args.concurrency) as dep:
        list_under_load(dep, args)
    if args.backend != "sqlite":
        k = max(args.workers_list)
        log(f"list-under-load: distributed with {k} worker(s), {args.clients} clients")
        with deployment("distributed", k, concurrency=args.concurrency) as dep:
            list_under_load(dep, args)


# --- mode: model ------------------------------------------------------------------------------


@dataclass
class ModelRow:
    label: str
    cap: int | None
    bound: float  # calls/s the concurrency allows: in flight at once / delay
    result: Figures | None = None
    error: str | None = None
    peaks: dict[str, int] = field(default_factory=dict)
    total_peak: int = 0
    requests: int = 0


def model_run(args: argparse.Namespace, shape: str, workers: int, cap: int | None) -> ModelRow:
    total = args.calls or DEFAULT_CALLS["model"]
    in_flight = workers * (args.concurrency or 256)
    row = ModelRow(label_of(shape, workers), cap, (min(in_flight, cap) if cap else in_flight) / args.model_delay)
    env = {
        "QUARRY_LLM_PROVIDER": "openai",
        "QUARRY_LLM_MODEL": "fake-model",
        "QUARRY_LLM_API_KEY": "sk-bench",
        "QUARRY_LLM_MAX_ATTEMPTS": "1",  # a refused request fails its call: visible, not retried away
        "QUARRY_LLM_TIMEOUT_SECONDS": str(max(30.0, args.model_delay * 10)),
    }
    if cap:
        env["QUARRY_LLM_MAX_CONCURRENCY"] = str(cap)
    log(f"model: {row.label}, cap {cap or 'none'}, {total} calls, fake answers in {args.model_delay:g} s")
    # answers every chat completion after --model-delay s; each worker gets its own base URL, /w<i>
    fake = SlowModel(MODEL_ANSWER, args.model_delay)
    try:
        with deployment(
            shape,
            workers,
            concurrency=args.concurrency,
            env=env,
            worker_env=lambda i: {"QUARRY_LLM_BASE_URL": f"{fake.url}/w{i + 1}"},
        ) as dep:
            with client(dep.urls[0]) as api:
                workflow = model_workflow(api)
            row.result = run_calls(dep, workflow, text_input, total, args.submit_threads, args.timeout)
    except Exception as exc:  # the other runs still give their figures
        row.error = reason_of(exc)
        log(f"  failed: {exc}")
    finally:
        fake.close()
    row.peaks = {tag: fake.most_open_per_tag[tag] for tag in sorted(fake.most_open_per_tag)}
    row.total_peak, row.requests = fake.most_open, fake.requests
    return row


def mode_model(args: argparse.Namespace) -> None:
    runs = [("embedded", 1)]
    if args.backend != "sqlite":
        runs.append(("distributed", max(args.workers_list)))
    rows = [model_run(args, shape, workers, cap) for shape, workers in runs for cap in (None, args.model_cap)]
    total = args.calls or DEFAULT_CALLS["model"]
    print(f"\n== model: {total} transform calls, fake OpenAI endpoint answering after {args.model_delay:g} s")
    print(
        f"{'deployment':26} {'cap':>5} {'completed/s':>12} {'bound/s':>8} {'p50 s':>7} {'p99 s':>7} "
        f"{'failed':>7} {'requests':>8} {'peak total':>10}  peak in flight per worker"
    )
    for row in rows:
        f = row.result
        if f is None:
            print(f"{row.label:26} {row.cap or '-':>5}  FAILED: {row.error}", flush=True)
            continue
        per_worker = " ".join(f"{tag}={peak}" for tag, peak in row.peaks.items()) or "-"
        verdict = ""
        if row.cap:
            verdict = "  cap held" if row.total_peak <= row.cap else f"  CAP EXCEEDED ({row.total_peak} > {row.cap})"
        if not f.finished:
            verdict += f"  TIMEOUT: {f.completed} completed"
        print(
            f"{row.label:26} {row.cap or '-':>5} {f.rate:>12.1f} {row.bound:>8.1f} {f.p50:>7.2f} {f.p99:>7.2f} "
            f"{f.failed:>7} {row.requests:>8} {row.total_peak:>10}  {per_worker}{verdict}",
            flush=True,
        )
    print("bound/s: calls/s the allowed concurrency permits (workers x QUARRY_WORKERS, or the cap, / delay)")
    failures = sum(1 for row in rows if row.result is None)
    exceeded = sum(1 for row in rows if row.result is not None and row.cap and row.total_peak > row.cap)
    if failures or exceeded:
        problems = [f"{failures} of {len(rows)} runs failed"] if failures else []
        problems += [f"the cap was exceeded in {exceeded} runs"] if exceeded else []
        raise RuntimeError("; ".join(problems))


# --- the shapes the floor, request-cpu and polling modes measure -------------------------------


def shapes_of(args: argparse.Namespace) -> list[str]:
    """``--backend``: sqlite measures the embedded shape, postgresql the distributed one, both both."""
    return {"sqlite": ["embedded"], "postgresql": ["distributed"], "both": ["embedded", "distributed"]}[args.backend]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


# --- mode: floor ------------------------------------------------------------------------------

FLOOR_PG_NAME = "quarry_floor"


class FloorProcess(QuarryProcess):
    """``python -m bench.floor <role> [args]`` (raw DBOS set up as Quarry's engine), returned once it
    says it is ready: DBOS launched, its warm-up workflows finished."""

    def __init__(self, role: str, env: dict[str, str], *extra: str, **options: Any) -> None:
        super().__init__([role, *extra], env, module="bench.floor", **options)
        self._wait_until(lambda: floor.READY in self.log, 300, "did not get ready")


@dataclass
class FloorSide:
    rate: float  # completed per second (how each side is timed: the module docstring)
    cpu_ms: float  # CPU of the process tree that runs the work, per completed call or workflow
    failed: int = 0
    finished: bool = True


def measured_workflows(database_url: str, data_dir: Path) -> tuple[int, int]:
    """How many measured raw workflows have (succeeded, failed), from DBOS's own ``workflow_status``.
    (Not its timestamps: on SQLite under Python < 3.12 DBOS writes them in whole seconds.)"""
    query = (
        "SELECT status, count(*) FROM {table} "
        f"WHERE workflow_uuid LIKE '{floor.MEASURED_PREFIX}%' AND status IN ('SUCCESS', 'ERROR') GROUP BY status"
    )
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(data_dir / "engine.sqlite", timeout=30)) as conn:
            rows = conn.execute(query.format(table="workflow_status")).fetchall()
    else:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(query.format(table="dbos.workflow_status")).fetchall()  # type: ignore[arg-type]
    by_status = dict(rows)
    return by_status.get("SUCCESS", 0), by_status.get("ERROR", 0)


def floor_raw(shape: str, args: argparse.Namespace, total: int) -> FloorSide:
    """Raw DBOS: one process that enqueues and runs (embedded), or one worker and an enqueuer (PostgreSQL)."""
    data_dir = Path(tempfile.mkdtemp(prefix="quarry-floor-"))
    extra = {"PYTHONPATH": str(repo_root.ROOT)}  # for python -m bench.floor
    if args.concurrency:
        extra["QUARRY_WORKERS"] = str(args.concurrency)
    if shape == "distributed":
        extra["QUARRY_DATABASE_URL"] = postgres_database(FLOOR_PG_NAME)
    env = base_env(data_dir, extra)
    database_url = env.get("QUARRY_DATABASE_URL", "sqlite")
    enqueue = ["--warmup", str(args.warmup), "--workflows", str(total), "--threads", str(args.submit_threads)]
    processes: list[QuarryProcess] = []
    try:
        if shape == "embedded":
            log("  starting raw DBOS (one process, SQLite)")
            runner = enqueuer = FloorProcess("embedded", env, *enqueue, **process_options("floor-embedded"))
            processes.append(runner)
        else:
            log("  starting raw DBOS: a worker and an enqueuer (PostgreSQL)")
            runner = FloorProcess("worker", env, **process_options("floor-worker"))
            processes.append(runner)
            enqueuer = FloorProcess("enqueuer", env, *enqueue, **process_options("floor-enqueuer"))
            processes.append(enqueuer)
        cpu_before = tree_cpu_seconds(runner.process.pid)
        started = time.perf_counter()
        enqueuer.send_signal(signal.SIGUSR1)
        while True:  # from the signal to the first look that finds them all finished, 50 ms apart
            for process in processes:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited ({process.process.returncode}):\n{process.tail()}")
            succeeded, failed = measured_workflows(database_url, data_dir)
            seconds = time.perf_counter() - started
            if succeeded + failed >= total or seconds > args.timeout:
                break
            time.sleep(0.05)
        cpu = tree_cpu_seconds(runner.process.pid) - cpu_before
        return FloorSide(succeeded / seconds, cpu / max(succeeded, 1) * 1000, failed, succeeded + failed >= total)
    except Exception:
        for process in processes:
            log(f"--- last lines of {process.name} ---\n{process.tail(60)}")
        raise
    finally:
        stop_processes(processes)
        if shape == "distributed":
            drop_postgres_database(FLOOR_PG_NAME)
        shutil.rmtree(data_dir, ignore_errors=True)


def floor_quarry(shape: str, args: argparse.Namespace, total: int) -> FloorSide:
    """Quarry: trivial calls through the API, run by ``quarry serve`` (embedded) or one ``quarry worker``."""
    with deployment(shape, 1, concurrency=args.concurrency) as dep:
        runner = dep.processes[-1]  # the serve process (embedded) or the worker
        with client(dep.urls[0]) as api:
            workflow = shaping_workflow(api)
            log(f"  {args.warmup} warm-up calls")
            submit(dep.urls, workflow, json_input, args.warmup, args.submit_threads)
            wait_finished(dep, api, args.warmup, args.timeout)
            cpu_before = tree_cpu_seconds(runner.process.pid)
            log(f"  submitting {total} calls")
            submit(dep.urls, workflow, json_input, total, args.submit_threads, start=args.warmup)
            finished = wait_finished(dep, api, args.warmup + total, args.timeout)
            cpu = tree_cpu_seconds(runner.process.pid) - cpu_before
            calls = [c for c in all_calls(api) if int(c["callReferenceID"].removeprefix("tp-")) >= args.warmup]
    result = figures(calls, finished=finished)
    return FloorSide(result.rate, cpu / max(result.completed, 1) * 1000, result.failed, finished)


def mode_floor(args: argparse.Namespace) -> None:
    total = args.calls or DEFAULT_CALLS["floor"]
    rows: list[tuple[str, FloorSide | str, FloorSide | str]] = []
    for shape in shapes_of(args):
        sides: list[FloorSide | str] = []
        for system, run in (("raw DBOS", floor_raw), ("Quarry", floor_quarry)):
            log(f"floor: {system}, {label_of(shape, 1)}, {total} after {args.warmup} warm-up")
            try:
                sides.append(run(shape, args, total))
            except Exception as exc:  # the other rows still give their figures
                log(f"  failed: {exc}")
                sides.append(reason_of(exc))
        rows.append((label_of(shape, 1), sides[0], sides[1]))
    print(
        f"\n== floor: {total} trivial workflows (raw DBOS: one step) vs {total} payload_shaping calls (Quarry, "
        f"over HTTP), after {args.warmup} warm-up; CPU of the process tree that runs them"
    )
    print(
        f"{'deployment':24} {'raw/s':>7} {'Quarry/s':>9} {'ratio':>6} {'≥ 0.8':>8} "
        f"{'raw CPU ms':>11} {'Quarry CPU ms':>14} {'CPU x':>6}  note"
    )
    failures = 0
    for label, raw, quarry in rows:
        if isinstance(raw, str) or isinstance(quarry, str):
            failures += 1
            print(f"{label:24} FAILED: {raw if isinstance(raw, str) else quarry}", flush=True)
            continue
        ratio = quarry.rate / raw.rate
        notes = [f"{name}: {side.failed} failed" for name, side in (("raw", raw), ("Quarry", quarry)) if side.failed]
        notes += [f"{name}: TIMEOUT" for name, side in (("raw", raw), ("Quarry", quarry)) if not side.finished]
        print(
            f"{label:24} {raw.rate:>7.1f} {quarry.rate:>9.1f} {ratio:>6.2f} {verdict(ratio >= 0.8):>8} "
            f"{raw.cpu_ms:>11.2f} {quarry.cpu_ms:>14.2f} {quarry.cpu_ms / raw.cpu_ms:>6.2f}  {', '.join(notes)}",
            flush=True,
        )
    if failures:
        raise RuntimeError(f"{failures} of {len(rows)} rows failed")


# --- mode: request-cpu ------------------------------------------------------------------------


@dataclass
class Endpoint:
    label: str
    path: str  # "{id}" stands for a finished call's ID
    params: dict[str, Any]
    target_ms: float | None  # CPU per request the issue asks for


ENDPOINTS = [
    Endpoint("GET /v2/calls?limit=50", "/v2/calls", {"limit": 50}, 3.0),
    Endpoint("GET /v2/calls?limit=5", "/v2/calls", {"limit": 5}, None),
    Endpoint("GET /v2/calls/{id}", "/v2/calls/{id}", {}, 1.5),
    Endpoint("GET /v3/calls?limit=50", "/v3/calls", {"limit": 50}, 3.0),
    Endpoint("GET /v3/calls/{id}", "/v3/calls/{id}", {}, 1.5),
    Endpoint("GET /v2/functions", "/v2/functions", {}, 1.5),
    Endpoint("GET /v2/workflows", "/v2/workflows", {}, 1.5),
    Endpoint("GET /healthz (framework floor)", "/healthz", {}, None),
]
REQUEST_WARMUP = 20  # requests per endpoint before measuring (caches, lazy imports)


def seed_finished_calls(dep: Deployment, api: httpx.Client, total: int, args: argparse.Namespace) -> str:
    """``total`` trivial calls, finished; the name of their workflow."""
    workflow = shaping_workflow(api)
    log(f"  seeding {total} calls")
    submit(dep.urls, workflow, json_input, total, args.submit_threads)
    if not wait_finished(dep, api, total, args.timeout):
        raise RuntimeError(f"the {total} seeded calls did not finish in {args.timeout:g} s")
    return workflow


def cpu_per_request(
    api: httpx.Client, pid: int, path: str, params: dict[str, Any], requests: int
) -> tuple[float, float, float]:
    """(CPU ms per request of ``pid``'s tree, the same less its idle CPU over as long, wall ms per request)."""
    for _ in range(REQUEST_WARMUP):
        response = api.get(path, params=params)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.text[:300]}")
    cpu_before, started = tree_cpu_seconds(pid), time.perf_counter()
    for _ in range(requests):
        api.get(path, params=params)
    busy, wall = tree_cpu_seconds(pid) - cpu_before, time.perf_counter() - started
    idle_before, idle_started = tree_cpu_seconds(pid), time.perf_counter()
    time.sleep(wall)
    idle = (tree_cpu_seconds(pid) - idle_before) * wall / (time.perf_counter() - idle_started)
    return busy / requests * 1000, (busy - idle) / requests * 1000, wall / requests * 1000


def request_cpu(shape: str, args: argparse.Namespace) -> list[tuple[Endpoint, tuple[float, float, float]]]:
    with deployment(shape, 1, concurrency=args.concurrency) as dep:
        server = dep.processes[0]  # the serve process: embedded, or the API process
        with client(dep.urls[0]) as api:
            seed_finished_calls(dep, api, args.seed, args)
            call_id = api.get("/v2/calls", params={"limit": 1, "statuses": "completed"}).json()["calls"][0]["callID"]
            rows = []
            for endpoint in ENDPOINTS:
                log(f"  {endpoint.label}: {args.requests} requests")
                path = endpoint.path.replace("{id}", call_id)
                rows.append((endpoint, cpu_per_request(api, server.process.pid, path, endpoint.params, args.requests)))
            return rows


def mode_request_cpu(args: argparse.Namespace) -> None:
    results = []
    for shape in shapes_of(args):
        log(f"request-cpu: {label_of(shape, 1)}, {args.seed} calls seeded, {args.requests} requests per endpoint")
        results.append((shape, request_cpu(shape, args)))
    print(
        f"\n== request-cpu: CPU of the server's process tree per request, {args.requests} sequential requests "
        f"per endpoint, {args.seed} calls stored; 'net' subtracts its idle CPU over as long"
    )
    print(f"{'deployment':24} {'request':32} {'CPU ms':>7} {'net ms':>7} {'target':>7} {'':>8} {'wall ms':>8}")
    for shape, rows in results:
        for endpoint, (gross, net, wall) in rows:
            target = f"≤ {endpoint.target_ms:g}" if endpoint.target_ms else "-"
            judged = verdict(net <= endpoint.target_ms) if endpoint.target_ms else ""
            print(
                f"{label_of(shape, 1):24} {endpoint.label:32} {gross:>7.2f} {net:>7.2f} {target:>7} {judged:>8} "
                f"{wall:>8.2f}",
                flush=True,
            )


# --- mode: polling ----------------------------------------------------------------------------

OPEN_LOOP = Path(__file__).with_name("open_loop.py")
GIVE_UP_SECONDS = 10  # a polling request unanswered this long after its scheduled instant counts as a timeout


@dataclass
class PollingRun:
    label: str
    samples: list[list[Any]]  # [kind, ms from the scheduled instant or None, outcome, lag ms]
    load_seconds: float
    idle_rate: float  # completed calls/s without polling
    load_rate: float  # under polling
    min_backlog: int | None


def open_loop_load(urls: list[str], call_ids: list[str], args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """Run ``--generators`` open-loop processes that share ``--clients``; their samples and window."""
    (work_dir / "call-ids.txt").write_text("\n".join(call_ids))
    start_at = time.time() + 3  # time for the processes to import what they need
    generators = []
    for i in range(args.generators):
        command = [sys.executable, str(OPEN_LOOP), *(f"--url={url}" for url in urls), f"--key={KEY}"]
        command += [f"--clients={args.clients}", f"--rate={args.rate}", f"--duration={args.duration}"]
        command += [f"--call-ids={work_dir / 'call-ids.txt'}", f"--start-at={start_at}"]
        command += [f"--share={i}/{args.generators}", f"--timeout={GIVE_UP_SECONDS}"]
        command += [f"--out={work_dir / f'samples-{i}.json'}"]
        generators.append(subprocess.Popen(command, stderr=subprocess.PIPE, text=True))
    try:
        for generator in generators:
            _, errors = generator.communicate(timeout=args.duration + GIVE_UP_SECONDS + 60)
            if generator.returncode != 0:
                raise RuntimeError(f"the open-loop generator failed:\n{errors[-2000:]}")
    finally:
        for generator in generators:
            if generator.poll() is None:
                generator.kill()
    outputs = [json.loads((work_dir / f"samples-{i}.json").read_text()) for i in range(args.generators)]
    samples = [sample for output in outputs for sample in output["samples"]]
    return {"started": outputs[0]["started"], "ended": outputs[0]["ended"], "samples": samples}


def polling(shape: str, args: argparse.Namespace) -> PollingRun:
    work_dir = Path(tempfile.mkdtemp(prefix="quarry-polling-"))
    try:
        with deployment(shape, 1, concurrency=args.concurrency) as dep, client(dep.urls[0]) as api:
            workflow = shaping_workflow(api)
            log(f"  queueing {args.backlog} calls")
            submit(dep.urls, workflow, json_input, args.backlog, args.submit_threads)
            if shape == "distributed":
                analyze_postgres()
            feeder = Feeder(dep, workflow, args.backlog, args.backlog)
            feeder.start()
            try:
                if not feeder.filled.wait(10):
                    log(f"  the feeder could not get {args.backlog} calls queued in 10 s; going on")
                while count(api, statuses="completed") < 1:  # the clients poll calls that exist and finished
                    dep.check_alive()
                    time.sleep(0.2)
                completed = api.get("/v2/calls", params={"limit": 100, "statuses": "completed"}).json()["calls"]
                feeder.watching = True
                log(f"  {args.duration:g} s of calls running, no polling")
                idle_start = time.time()
                time.sleep(args.duration)
                idle_end = time.time()
                log(f"  {args.clients} clients polling at {args.rate:g}/s each for {args.duration:g} s")
                load = open_loop_load(dep.urls, [c["callID"] for c in completed], args, work_dir)
            finally:
                feeder.stop()
            if feeder.error:
                raise RuntimeError(f"feeder: {feeder.error!r}")
            dep.check_alive()
            log("  reading the calls back")
            calls = all_calls(api)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    seconds = load["ended"] - load["started"]
    return PollingRun(
        label_of(shape, 1),
        load["samples"],
        seconds,
        finished_between(calls, idle_start, idle_end) / (idle_end - idle_start),
        finished_between(calls, load["started"], load["ended"]) / seconds,
        feeder.min_backlog,
    )


def mode_polling(args: argparse.Namespace) -> None:
    runs = []
    for shape in shapes_of(args):
        log(f"polling: {label_of(shape, 1)}, {args.clients} clients at {args.rate:g} request/s")
        runs.append(polling(shape, args))
    print(
        f"\n== polling: {args.clients} clients x {args.rate:g} request/s, open loop from {args.generators} separate "
        f"process(es), {args.duration:g} s, while trivial calls run; ms from each request's scheduled send"
    )
    print(
        f"{'deployment':24} {'request':44} {'count':>6} {'errors':>6} {'req/s':>6} "
        f"{'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}"
    )
    for run in runs:
        for kind in [*open_loop.KINDS, "all"]:
            rows = [s for s in run.samples if kind in ("all", s[0])]
            ms = [s[1] for s in rows if s[2] == "ok"]
            print(
                f"{run.label:24} {kind:44} {len(rows):>6} {len(rows) - len(ms):>6} {len(ms) / run.load_seconds:>6.1f} "
                f"{percentile(ms, 50):>7.1f} {percentile(ms, 95):>7.1f} {percentile(ms, 99):>7.1f} "
                f"{max(ms, default=math.nan):>7.1f}",
                flush=True,
            )
    print(f"\n{'deployment':24} {'p99 ms':>7} {'≤ 100':>8} {'calls/s idle':>13} {'polled':>7} {'ratio':>6} "
          f"{'≥ 0.8':>8} {'lag p99 ms':>11}  errors")  # fmt: skip
    for run in runs:
        errors = Counter(s[2] for s in run.samples if s[2] != "ok")
        lags = [s[3] for s in run.samples]
        p99 = percentile([s[1] if s[2] == "ok" else math.inf for s in run.samples], 99)  # a failure: never answered
        ratio = run.load_rate / run.idle_rate if run.idle_rate else math.nan
        starved = "; the queue ran dry: rates are lower bounds" if run.min_backlog == 0 else ""
        print(
            f"{run.label:24} {p99:>7.1f} {verdict(p99 <= 100):>8} {run.idle_rate:>13.1f} {run.load_rate:>7.1f} "
            f"{ratio:>6.2f} {verdict(ratio >= 0.8):>8} {percentile(lags, 99):>11.1f}  "
            f"{', '.join(f'{name} x{n}' for name, n in errors.most_common()) or '-'}{starved}",
            flush=True,
        )
    print("lag: how late the generator itself sent a request (its own stalls are in the latency too)")


# --- main -------------------------------------------------------------------------------------

MODES: dict[str, Callable[[argparse.Namespace], None]] = {
    "embedded": mode_embedded,
    "distributed": mode_distributed,
    "list-under-load": mode_list_under_load,
    "model": mode_model,
    "floor": mode_floor,
    "request-cpu": mode_request_cpu,
    "polling": mode_polling,
}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument(
        "--calls",
        type=int,
        help="calls per run (default 2000; 600 for model; list-under-load and polling use --backlog)",
    )
    parser.add_argument(
        "--workers-list",
        type=lambda text: [int(k) for k in text.split(",") if k.strip()],
        default=[1, 2],
        help="worker processes per distributed run, comma-separated (default 1,2)",
    )
    parser.add_argument("--concurrency", type=int, help="function calls in flight per worker (default Quarry's, 256)")
    parser.add_argument("--submit-threads", type=int, default=4, help="client threads submitting calls (default 4)")
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="floor, request-cpu, polling: sqlite measures embedded, postgresql distributed, both both; "
        "list-under-load and model run embedded, and unless sqlite also distributed (largest k of --workers-list)",
    )
    parser.add_argument(
        "--clients", type=int, default=200, help="list-under-load, polling: concurrent clients (default 200)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20,
        help="list-under-load: seconds of load; polling: seconds of each phase (default 20)",
    )
    parser.add_argument("--rate", type=float, default=1.0, help="polling: requests per second per client (default 1)")
    parser.add_argument(
        "--generators", type=int, default=1, help="polling: processes that share the open-loop load (default 1)"
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="floor: calls/workflows run before the measured ones (default 100)"
    )
    parser.add_argument("--seed", type=int, default=500, help="request-cpu: calls stored first (default 500)")
    parser.add_argument(
        "--requests", type=int, default=500, help="request-cpu: sequential requests per endpoint (default 500)"
    )
    parser.add_argument(
        "--baseline", type=float, default=5, help="list-under-load: seconds measured before the load (default 5)"
    )
    parser.add_argument(
        "--backlog", type=int, default=1000, help="list-under-load, polling: calls kept queued (default 1000)"
    )
    parser.add_argument("--model-delay", type=float, default=2.0, help="model: seconds the fake model takes")
    parser.add_argument("--model-cap", type=int, default=50, help="model: QUARRY_LLM_MAX_CONCURRENCY of the capped run")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds to wait for the calls of one run to finish (default 300)"
    )
    parser.add_argument("--logs", type=Path, help="write the full output of every Quarry process to this directory")
    args = parser.parse_args()
    global LOG_DIR
    LOG_DIR = args.logs
    signal.signal(signal.SIGTERM, _interrupt)  # as Ctrl-C: the finally blocks stop the Quarry processes
    if not args.workers_list or min(args.workers_list) < 1:
        parser.error("--workers-list needs positive integers, e.g. 1,2")

    failed = []
    for mode in list(MODES) if args.mode == "all" else [args.mode]:
        started = time.monotonic()
        try:
            MODES[mode](args)
        except KeyboardInterrupt:
            log("interrupted")
            sys.exit(130)
        except Exception as exc:  # one failing mode does not hide the figures of the others
            log(f"mode {mode} failed: {exc}")
            print(f"\n== {mode}: FAILED ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})", flush=True)
            failed.append(mode)
        log(f"{mode}: {time.monotonic() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
