"""Quarry as separate processes, as an operator runs them (CLI, crash-recovery and scale-out tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import drop_postgres_database, free_port, postgres_database

QUARRY = [sys.executable, "-m", "quarry"]


@contextmanager
def quarry_env(backend: str, data_dir: Path, name: str, **settings: str) -> Iterator[dict[str, str]]:
    """The environment of ``quarry`` processes: this process's without its ``QUARRY_*`` variables,
    data in ``data_dir``, plus ``settings``; on ``postgresql``, a fresh database ``name`` that is
    dropped afterwards (suffixed with this process's ID: concurrent test runs never share one)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
    environ |= {"QUARRY_DATA_DIR": str(data_dir), **settings}
    database = f"{name}_{os.getpid()}"
    if backend == "postgresql":
        environ["QUARRY_DATABASE_URL"] = postgres_database(database)
    try:
        yield environ
    finally:
        if backend == "postgresql":
            drop_postgres_database(database)


class QuarryProcess:
    """A ``quarry`` command; its log is read as it comes, so a chatty log never fills the pipe
    and blocks the process. ``module`` runs another entry point with the same arguments (a test
    wrapper around ``quarry``)."""

    def __init__(self, args: list[str], env: dict[str, str], module: str = "quarry") -> None:
        command = [sys.executable, "-m", module, *args]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._lines)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup — as a crash or an OOM kill would."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self, signum: int = signal.SIGINT, timeout: float = 20) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reader.join(timeout=20)  # ends at EOF: the process has closed its output
        self.output = "".join(self._lines)
        return self.output

    def _fail_start(self, what: str) -> None:
        self.stop()
        raise AssertionError(f"{what} did not start:\n{self.output}")


class ServerProcess(QuarryProcess):
    """``quarry serve [extra args]`` on a free port, returned once it answers."""

    def __init__(self, env: dict[str, str], *extra: str, module: str = "quarry") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port), *extra], env, module)
        deadline = time.monotonic() + 120  # a restart resumes work at once: on 2 busy cores it may be slow
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self._fail_start("quarry serve")


class WorkerProcess(QuarryProcess):
    """``quarry worker [extra args]``, returned once it works the queues."""

    def __init__(self, env: dict[str, str], *extra: str) -> None:
        super().__init__(["worker", *extra], env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.process.poll() is None:
            if "Quarry worker" in self.log:
                return
            time.sleep(0.1)
        self._fail_start("quarry worker")

    @property
    def executor_id(self) -> str:
        return self.log.split("Quarry worker ", 1)[1].split(":", 1)[0]
