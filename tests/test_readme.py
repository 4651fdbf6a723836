"""The README runs top to bottom, as a newcomer runs it, so that it cannot drift from the product.

A fresh server is started the way ``make serve`` starts it (``quarry serve``, an empty home: data
in ``~/.local/share/quarry``), and every ``sh`` and ``python`` block of the README runs in order
against it, from a directory standing for the repository (its ``.venv`` and ``examples``), with
two substitutions the README asks of its reader: ``qk_…`` is the key the server printed, and
``http://127.0.0.1:8000`` (and ``QUARRY_URL``, which defaults to it) is where the server listens.

Shell blocks run in one shell session, in effect: the variables a block sets (exported or not)
are there in the next ones; ``set -euo pipefail`` makes an unset variable or a failed command
fail the block, and ``curl`` fails on an HTTP error (``--fail-with-body``), so a 409 or a 404
cannot pass unnoticed. Python blocks run with the project's interpreter. A block preceded by
``<!-- README test: not run (why) -->`` is not run — it must say why; one preceded by
``<!-- README test: stopped after N s … -->`` runs until it is stopped, as a reader would with
Ctrl-C, and must have printed something by then.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.processes import ServerProcess, quarry_environ

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
KEY = re.compile(r"\bqk_[A-Za-z0-9]{40}\b")
README_URL = "http://127.0.0.1:8000"
BLOCK = re.compile(r"(?:<!-- README test: (?P<marker>[^\n]*?) -->\n)?```(?P<language>[a-z]*)\n(?P<code>.*?)\n```", re.S)
RUN = ("sh", "python")
SHELL_PRELUDE = """set -euo pipefail -o allexport
curl() { command curl --fail-with-body "$@"; }
trap 'env -0 > "$README_STATE"' EXIT
"""

EXPECTED = {
    # a fragment of a block → what its output must show (what the README's text says it does)
    "v3/workflows/invoices/call?wait=true": '"status":"completed"',
    "waitSeconds=30": '"status":"completed"',
    "/v1-alpha/events?referenceIDs=first": '"transformedContent"',
    "cat results/": '"status": "completed"',
    "calls/stream?workflowNames=invoices": "event: ready",
    "client.calls.retrieve(call_id)": "completed",
    "answer.call.outputs[0].transformed_content": "invoiceNumber",
    'field_bounding_boxes["/invoiceNumber"]': "'text': 'HF06422'",
    '"review": {"when": "always"': "{'number': 'HF06422', 'total': 365.44}",
    "regression.run(function_name": "{'detected': False",
}


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    marker: str | None

    @property
    def stop_after(self) -> float | None:
        match = re.match(r"stopped after (\d+) s\b", self.marker or "")
        return float(match.group(1)) if match else None


def readme_blocks() -> list[Block]:
    return [Block(m["language"], m["code"], m["marker"]) for m in BLOCK.finditer(README.read_text())]


def test_every_block_not_run_says_why() -> None:
    blocks = readme_blocks()
    assert sum(block.language in RUN for block in blocks) >= 10  # the parser still finds them
    for block in blocks:
        if block.marker is not None:
            assert block.stop_after or re.fullmatch(r"not run \(.{10,}\)", block.marker), block.marker


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory standing for the repository: what its README examples use of it."""
    work = tmp_path / "repo"
    work.mkdir()
    for name in (".venv", "examples"):
        (work / name).symlink_to(ROOT / name)
    return work


def test_the_readme_runs_top_to_bottom(tmp_path: Path, workdir: Path) -> None:
    home = tmp_path / "home"
    env = quarry_environ(home / ".local" / "share" / "quarry", HOME=str(home), COLUMNS="200")
    del env["QUARRY_DATA_DIR"]  # the default, as on a newcomer's machine
    env.pop("XDG_DATA_HOME", None)
    server = ServerProcess(env)
    try:
        [key] = KEY.findall(server.log)
        env |= {"QUARRY_URL": server.url, "README_STATE": str(tmp_path / "shell-state")}
        for number, block in enumerate(readme_blocks()):
            if block.language not in RUN or (block.marker or "").startswith("not run"):
                continue
            code = block.code.replace("qk_…", key).replace(README_URL, server.url)
            output = _run(block, code, env, workdir)
            for fragment, expected in EXPECTED.items():
                if fragment in block.code:
                    assert expected in output, f"README block {number}:\n{block.code}\n--- printed:\n{output}"
            if block.language == "sh" and block.stop_after is None:
                env = _shell_state(tmp_path / "shell-state")
    finally:
        server.stop()


def _run(block: Block, code: str, env: dict[str, str], cwd: Path) -> str:
    if block.language == "python":
        command = [str(cwd / ".venv" / "bin" / "python"), "-c", code]
    else:
        command = ["bash", "-c", SHELL_PRELUDE + code]
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=block.stop_after or 180)
    except subprocess.TimeoutExpired:
        if block.stop_after is None:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise AssertionError(f"README block did not finish in 180 s:\n{code}\n--- printed:\n{output}") from None
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        output, _ = process.communicate(timeout=30)
        assert output.strip(), f"README block printed nothing in {block.stop_after:g} s:\n{code}"
        return output
    assert process.returncode == 0, f"README block failed ({process.returncode}):\n{code}\n--- printed:\n{output}"
    return output


def _shell_state(path: Path) -> dict[str, str]:
    """The environment a shell block ended with (``allexport``: every variable it set)."""
    pairs = (entry.split("=", 1) for entry in path.read_text().split("\0") if "=" in entry)
    skip = ("SHLVL", "_", "PWD", "OLDPWD")
    return {name: value for name, value in pairs if name not in skip and not name.startswith("BASH_FUNC_")}
