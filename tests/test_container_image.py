"""The container image: built here, run, ready, a call served, as a user without privileges.

Skipped where no Docker daemon runs and none can be started. Without an image registry, the
base is built from Debian's packages first (docker/debian-base.sh: root and debootstrap)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.calls_client import shaping, single, submit, wait_for
from tests.harness.ports import free_port
from tests.helpers import create_function

ROOT = Path(__file__).resolve().parent.parent
BASE = "quarry-base:bookworm"
IMAGE = "quarry:test"
KEY = "image-test-key"


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _daemon_answers() -> bool:
    try:
        return _docker("info", timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if shutil.which("docker") is None:
        pytest.skip("no docker command")
    started = None
    if not _daemon_answers() and os.geteuid() == 0 and shutil.which("dockerd"):
        log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
        started = subprocess.Popen(["dockerd"], stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not _daemon_answers() and time.monotonic() < deadline and started.poll() is None:
            time.sleep(1)
    if not _daemon_answers():
        if started is not None:
            started.terminate()
        pytest.skip("no Docker daemon runs here, and none could be started")
    yield
    if started is not None:
        started.terminate()
        started.wait(timeout=30)


def _base() -> str:
    """A base for the Dockerfile: the published default when a registry answers, else one made
    from Debian's packages (kept between runs)."""
    if _docker("image", "inspect", BASE).returncode == 0:
        return BASE
    if _docker("pull", "python:3.11-slim-bookworm", timeout=300).returncode == 0:
        return "python:3.11-slim-bookworm"
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip("no image registry, and no root or debootstrap to build a base from Debian's packages")
    made = subprocess.run([str(ROOT / "docker" / "debian-base.sh"), BASE], capture_output=True, text=True, timeout=1200)
    assert made.returncode == 0, made.stdout + made.stderr
    return BASE


def test_the_image_builds_runs_as_no_root_and_serves_a_call(docker: None) -> None:
    built = _docker("build", "--build-arg", f"BASE={_base()}", "-t", IMAGE, str(ROOT), timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    port = free_port()
    run = _docker("run", "-d", "-p", f"127.0.0.1:{port}:8000", "-e", f"QUARRY_API_KEY={KEY}", IMAGE)
    assert run.returncode == 0, run.stderr
    container = run.stdout.strip()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, _docker("logs", container).stdout[-3000:]
            time.sleep(0.5)
        with httpx.Client(base_url=url, headers={"x-api-key": KEY}, timeout=30) as api:
            create_function(api, shaping("boxed", "{doubled: n}"))
            [call] = submit(api, {"functionName": "boxed", "input": single(b'{"n": 21}', "json")})
            assert wait_for(api, call["callID"])["status"] == "completed"
        assert _docker("exec", container, "id", "-u").stdout.strip() not in ("", "0")
        deadline = time.monotonic() + 90  # the image's own health check: /readyz
        while (health := _docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()) != (
            "healthy"
        ):
            assert health in ("starting", "healthy") and time.monotonic() < deadline, health
            time.sleep(1)
    finally:
        _docker("rm", "-f", container)


def test_the_compose_file_sets_only_settings_quarry_reads() -> None:
    """A misspelt variable in compose.yaml would be ignored without a word: each must be one the
    configuration reads."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    config = (ROOT / "src" / "quarry" / "config.py").read_text()
    environment = compose["x-quarry"]["environment"]
    quarry_settings = [name for name in environment if name.startswith("QUARRY_")]
    assert quarry_settings and all(f'"{name}"' in config for name in quarry_settings)
    assert {"api", "worker", "postgres", "minio"} <= compose["services"].keys()
    assert re.search(r"serve.*--no-workers", " ".join(compose["services"]["api"]["command"]))
    assert compose["services"]["worker"]["command"] == ["worker"]
    assert compose["services"]["smtp"]["command"][0] == "smtp"
