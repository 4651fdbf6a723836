"""The benchmark scripts keep working (run small, on SQLite; their figures are not checked)."""

from __future__ import annotations

import re
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


def test_calibration_bench_tells_a_calibrated_model_from_an_over_confident_one() -> None:
    """Scripted answers over real HTTP: the calibrated model's buckets agree with the share right
    (a small error), the over-confident one's do not — the table can show a miscalibration."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "calibration.py"), "--cases", "200"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    errors = dict(re.findall(r"== ([\w-]+) model: .*expected calibration error ([\d.]+)", result.stdout))
    assert set(errors) == {"calibrated", "over-confident"}, result.stdout
    assert float(errors["calibrated"]) < 0.1 < float(errors["over-confident"]), result.stdout


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


def run_throughput(*args: str) -> list[str]:
    """``bench/throughput.py`` on SQLite with ``args``; the lines of its report (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "throughput.py"), "--backend", "sqlite", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout.splitlines()


def test_floor_mode_reports_raw_dbos_next_to_quarry() -> None:
    lines = run_throughput("--mode", "floor", "--calls", "40", "--warmup", "10")
    row = next(line for line in lines if line.startswith("embedded (SQLite)")).split()
    assert len(row) >= 9 and "FAILED:" not in row, lines  # raw/s, Quarry/s, ratio, verdict, CPU ms twice, CPU ratio
    assert "raw/s" in "\n".join(lines) and "Quarry CPU ms" in "\n".join(lines)


def test_request_cpu_mode_reports_every_endpoint() -> None:
    lines = run_throughput("--mode", "request-cpu", "--seed", "60", "--requests", "10")
    requests = [line[25:57].strip() for line in lines if line.startswith("embedded (SQLite)")]
    assert requests == [
        "GET /v2/calls?limit=50", "GET /v2/calls?limit=5", "GET /v2/calls/{id}", "GET /v3/calls?limit=50",
        "GET /v3/calls/{id}", "GET /v2/functions", "GET /v2/workflows", "GET /healthz (framework floor)",
    ], lines  # fmt: skip


def test_polling_mode_reports_latency_per_request_and_the_work_kept() -> None:
    lines = run_throughput("--mode", "polling", "--clients", "5", "--duration", "2", "--backlog", "100")
    summary_header = next(i for i, line in enumerate(lines) if "calls/s idle" in line)
    requests = [line[25:69].strip() for line in lines[:summary_header] if line.startswith("embedded (SQLite)")]
    assert requests == [
        "GET /v2/calls/{id}", "GET /v2/calls?limit=50", "GET /v2/calls?statuses=completed",
        "GET /v2/calls?referenceIDSubstring=-0001", "GET /v2/calls?limit=10&sortOrder=desc", "all",
    ], lines  # fmt: skip
    summary = [line.split() for line in lines[summary_header:] if line.startswith("embedded (SQLite)")]
    assert len(summary) == 1 and len(summary[0]) >= 10, lines  # p99, verdict, calls/s idle and polled, ratio, …
