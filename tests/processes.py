"""Quarry as a separate process, as an operator runs it (for CLI and crash-recovery tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import free_port

QUARRY = [sys.executable, "-m", "quarry"]


class ServerProcess:
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/openapi.json", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"quarry serve did not start:\n{self.output}")

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
        assert self.process.stdout is not None
        self.output += self.process.stdout.read()
        return self.output
