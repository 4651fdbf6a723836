"""Quarry as separate processes, as an operator runs them: ``python -m quarry serve`` and ``quarry worker``.

The tests that need real processes (CLI, crash recovery, scale-out, model concurrency, webhooks)
and ``bench/throughput.py`` start, wait for, read and stop Quarry with this one module, so that a
benchmark measures the deployment the tests check.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.harness.databases import drop_postgres_database, postgres_database
from tests.harness.ports import free_port

QUARRY = [sys.executable, "-m", "quarry"]


def quarry_environ(data_dir: Path, without: tuple[str, ...] = ("QUARRY_",), **settings: str) -> dict[str, str]:
    """The environment of a ``quarry`` process: this process's without the variables whose names
    start with ``without`` (``QUARRY_*``: no setting of the caller's leaks in), data in
    ``data_dir``, plus ``settings``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(without)}
    return environ | {"QUARRY_DATA_DIR": str(data_dir), **settings}


@contextmanager
def quarry_env(backend: str, data_dir: Path, name: str, **settings: str) -> Iterator[dict[str, str]]:
    """``quarry_environ``; on ``postgresql``, a fresh database ``name`` that is dropped afterwards
    (suffixed with this process's ID: concurrent test runs never share one)."""
    environ = quarry_environ(data_dir, **settings)
    database = f"{name}_{os.getpid()}"
    if backend == "postgresql":
        environ["QUARRY_DATABASE_URL"] = postgres_database(database)
    try:
        yield environ
    finally:
        if backend == "postgresql":
            drop_postgres_database(database)


@contextmanager
def quarry_client(backend: str, data_dir: Path, name: str, key: str, **settings: str) -> Iterator[httpx.Client]:
    """A client (API key ``key``) of a ``quarry serve`` process with these settings (``quarry_env``)."""
    with quarry_env(backend, data_dir, name, QUARRY_API_KEY=key, **settings) as environ:
        server = ServerProcess(environ)
        try:
            with httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30) as client:
                yield client
        finally:
            server.stop()


class StartError(RuntimeError):
    """A ``quarry`` process exited, or did not become ready in time; the message ends with its log."""


class QuarryProcess:
    """A ``quarry`` command; its log is read as it comes, so a chatty log never fills the pipe
    and blocks the process.

    ``module`` runs another entry point with the same arguments (a test wrapper around
    ``quarry``). ``group``: the process leads a process group of its own, and stopping it kills
    the whole group, stragglers it started included. ``keep``: only the last lines of the log are
    kept (all by default). ``log_dir``: the whole log is also written to a file there."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        module: str = "quarry",
        *,
        name: str | None = None,
        group: bool = False,
        keep: int | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.name = name or f"quarry {args[0]}"
        self.group = group
        self.output = ""  # the whole log kept, once stopped
        self._lines: deque[str] = deque(maxlen=keep)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=group,
        )
        self._reader = threading.Thread(target=self._read, args=(log_dir,), daemon=True)
        self._reader.start()

    def _read(self, log_dir: Path | None) -> None:
        assert self.process.stdout is not None
        sink = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            name = self.name.replace(" ", "-")
            sink = open(log_dir / f"{time.strftime('%H%M%S')}-{self.process.pid}-{name}.log", "w")
        try:
            for line in self.process.stdout:
                self._lines.append(line)
                if sink:
                    sink.write(line)
        finally:
            if sink:
                sink.close()

    @property
    def log(self) -> str:
        """What the process has written so far (the last ``keep`` lines)."""
        return "".join(list(self._lines))

    def tail(self, lines: int = 40) -> str:
        return "".join(list(self._lines)[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, signum: int) -> None:
        if self.alive():
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def finish(self, deadline: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``) for the process to exit, then SIGKILL it (its
        group: stragglers too); whether it had exited by itself."""
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            exited = True
        except subprocess.TimeoutExpired:
            exited = False
        if self.group:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        elif not exited:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._reader.join(timeout=20)  # ends at EOF: the process has closed its output
        self.output = self.log
        return exited

    def stop(self, signum: int = signal.SIGINT, timeout: float = 20) -> str:
        """``signum``, then SIGKILL after ``timeout`` seconds; the whole log."""
        stop_all([self], signum, timeout)
        return self.output

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup — as a crash or an OOM kill would (the process only)."""
        self.process.kill()
        self.process.wait(timeout=20)

    def _wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Return once ``ready()``; else (the process exited, ``timeout`` passed, or Ctrl-C) stop the
        process and raise: no process outlives its starter."""
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive():
                if ready():
                    return
                time.sleep(0.1)
            raise StartError(f"{self.name} {what}:\n{self.tail(60)}")
        except BaseException:
            self.stop()
            raise


class ServerProcess(QuarryProcess):
    """``quarry serve [extra args]`` on a free port, returned once it answers ``/readyz``."""

    def __init__(
        self, env: dict[str, str], *extra: str, module: str = "quarry", timeout: float = 120, **options: Any
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port), *extra], env, module, **options)
        # a restart resumes work at once: on 2 busy cores it may be slow
        self._wait_until(self._ready, timeout, "did not become ready")

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def worker_pids(self) -> list[int]:
        """The ``quarry worker`` processes that this ``quarry serve`` runs as its children."""
        return [pid for pid in child_pids(self.process.pid) if "worker" in command_line(pid)]

    def wait_for_worker(self, other_than: int | None = None, timeout: float = 120) -> int:
        """The pid of a worker child (one that is not ``other_than``) once ``/readyz`` says it joined."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.worker_pids() if pid != other_than]
            if pids and self._ready():
                return pids[0]
            time.sleep(0.1)
        raise StartError(f"{self.name}: no worker joined:\n{self.tail(60)}")


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, from ``/proc`` (Linux)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class WorkerProcess(QuarryProcess):
    """``quarry worker [extra args]`` (its concurrency from ``QUARRY_WORKERS``), returned once it
    says it works the queues."""

    def __init__(self, env: dict[str, str], *extra: str, timeout: float = 120, **options: Any) -> None:
        super().__init__(["worker", *extra], env, **options)
        self._wait_until(lambda: "Quarry worker " in self.log, timeout, "did not start")

    @property
    def executor_id(self) -> str:
        return self.log.split("Quarry worker ", 1)[1].split(":", 1)[0]


def stop_all(processes: Iterable[QuarryProcess], signum: int = signal.SIGTERM, timeout: float = 20) -> list[str]:
    """Send ``signum`` to every process at once, then wait up to ``timeout`` seconds in all for them to
    exit (SIGKILL for the rest); the names of those that had to be killed."""
    processes = list(processes)
    for process in processes:
        process.send_signal(signum)
    deadline = time.monotonic() + timeout
    return [process.name for process in processes if not process.finish(deadline)]
