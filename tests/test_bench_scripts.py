"""The benchmark scripts keep working (run small, on SQLite; their figures are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_list_calls_bench_runs_and_reports_every_request(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "list_calls.py"), "--backend", "sqlite", "--calls", "3000",
         "--repeat", "2", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line and not line.startswith(("backend", "request"))]
    assert len(rows) == 27
    no_filter = next(row for row in rows if row.startswith("first page, no filter"))
    assert no_filter.split()[4] == "3,000"  # totalCount of the unfiltered list: every seeded call


def test_extraction_bench_scores_a_document_it_reads(tmp_path: Path) -> None:
    """On one text-layer invoice whose answer is known, the bench reports every field it checks."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "extraction.py"), "--only", "QualityHosting.pdf"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "third-party: 5/5 = 100.0%" in result.stdout, result.stdout
    assert "pdf" in result.stdout.split("Parsing speed per input type")[1]


def test_hostile_bench_reports_every_scenario() -> None:
    """One huge image instead of four: the three scenarios each print a row; the slow read fails."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "hostile.py"), "--images", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split()[0] + " " + line.split()[1]: line.split() for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {"redos route", "huge images", "slow read"}, result.stdout
    assert rows["redos route"][2] == "completed" and rows["slow read"][2] == "failed"
