"""Quarry as a separate process, as an operator runs it (for CLI and crash-recovery tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.conftest import free_port

QUARRY = [sys.executable, "-m", "quarry"]


class ServerProcess:
    """``quarry serve`` on a free port; its log is read as it comes, so a chatty access log never
    fills the pipe and blocks the server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            QUARRY + ["serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 120  # a restart resumes work at once: on 2 busy cores it may be slow
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/openapi.json", timeout=5)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"quarry serve did not start:\n{self.output}")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup — as a crash or an OOM kill would."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reader.join(timeout=20)  # ends at EOF: the process has closed its output
        self.output = "".join(self._lines)
        return self.output
