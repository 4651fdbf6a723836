"""Raw DBOS: the floor that Quarry's throughput is measured against (``bench/throughput.py --mode floor``).

A queued workflow with one trivial step, run by the same ``dbos`` as Quarry and set up as
Quarry's engine sets it up (``quarry/engine``): settings read from the same ``QUARRY_*``
variables, the same system database (a SQLite file with Quarry's WAL pragmas on one pooled
connection, or the PostgreSQL database of ``QUARRY_DATABASE_URL`` with Quarry's pool size), the
same queue concurrency (``QUARRY_WORKERS``) and polling interval, the same step retry settings.
What Quarry adds on top — HTTP, its own tables, plans, rendering — is what the comparison measures.

    python -m bench.floor embedded --warmup 100 --workflows 2000   # one process enqueues and runs
    python -m bench.floor worker                                   # runs what an enqueuer queues
    python -m bench.floor enqueuer --warmup 100 --workflows 2000   # enqueues only, runs nothing

The process prints ``READY`` once DBOS is launched and the warm-up workflows (IDs
``warmup-…``, not measured) have finished; an enqueuing role then waits for SIGUSR1 and enqueues
the measured workflows (IDs ``floor-…``) from ``--threads`` threads, as Quarry's API handlers
enqueue calls. It runs until SIGTERM. The caller reads the figures from the system database.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID

from quarry.config import Settings
from quarry.engine.engine import _sqlite_system_database
from quarry.engine.queues import CALL_QUEUE, POLLING_SECONDS, STEP_RETRIES, queue_limits

READY = "floor ready"
ENQUEUED = "floor enqueued"
QUEUE = "floor"
MEASURED_PREFIX = "floor-"
WARMUP_PREFIX = "warmup-"
ROLES = ("embedded", "worker", "enqueuer")


@DBOS.step(**STEP_RETRIES)
def trivial_step(n: int) -> int:
    return n + 1


@DBOS.workflow()
def trivial_workflow(n: int) -> int:
    return trivial_step(n)


def dbos_config(settings: Settings) -> DBOSConfig:
    """What ``Engine.start`` gives DBOS, for this application."""
    system: dict[str, Any] = {"system_database_url": settings.database_url}
    if settings.is_embedded:
        system = {"system_database_engine": _sqlite_system_database(settings.data_dir / "engine.sqlite")}
    return {
        "name": "quarry-floor",
        **system,  # type: ignore[typeddict-item]
        "application_version": "floor-1",
        "sys_db_pool_size": settings.db_pool_size,
        "log_level": "WARNING",
    }


def enqueue(queue: Queue, prefix: str, count: int, threads: int) -> list[Any]:
    """Enqueue workflows 0 … count-1 under IDs ``<prefix><n>``, ``threads`` at a time; their handles."""

    def share(t: int) -> list[Any]:
        handles = []
        for n in range(t, count, threads):
            with SetWorkflowID(f"{prefix}{n:06d}"):
                handles.append(queue.enqueue(trivial_workflow, n))
        return handles

    with ThreadPoolExecutor(threads) as pool:
        return [handle for handles in pool.map(share, range(threads)) for handle in handles]


def on_signal(signum: int) -> threading.Event:
    """An event set when ``signum`` arrives (the main thread waits on it in short slices, so that the
    handler gets to run)."""
    arrived = threading.Event()
    signal.signal(signum, lambda *_: arrived.set())
    return arrived


def wait_until(*events: threading.Event) -> None:
    while not any(event.wait(0.1) for event in events):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--workflows", type=int, default=0, help="measured workflows enqueued on SIGUSR1")
    parser.add_argument("--warmup", type=int, default=0, help="workflows run (and awaited) before READY")
    parser.add_argument("--threads", type=int, default=4, help="threads that enqueue (default 4)")
    args = parser.parse_args()

    settings = Settings.from_env()
    stopping, go = on_signal(signal.SIGTERM), on_signal(signal.SIGUSR1)
    DBOS(config=dbos_config(settings))
    if args.role == "enqueuer":
        DBOS.listen_queues([])  # as `quarry serve --no-workers`: enqueues, never dequeues
    DBOS.launch()
    limits = queue_limits(settings)[CALL_QUEUE]
    conflict = "never_update" if args.role == "enqueuer" else "always_update"
    queue = DBOS.register_queue(QUEUE, polling_interval_sec=POLLING_SECONDS, on_conflict=conflict, **limits)
    enqueues = args.role != "worker"
    if enqueues and args.warmup:
        for handle in enqueue(queue, WARMUP_PREFIX, args.warmup, args.threads):
            handle.get_result()
    print(READY, flush=True)
    if enqueues:
        wait_until(go, stopping)
        if go.is_set():
            enqueue(queue, MEASURED_PREFIX, args.workflows, args.threads)
            print(ENQUEUED, flush=True)
    wait_until(stopping)
    DBOS.destroy()
    sys.stdout.flush()
    os._exit(0)  # no waiting for DBOS's daemon threads


if __name__ == "__main__":
    main()
