"""The user commands of ``quarry`` as a user runs them: real ``quarry`` processes talking HTTP to
a real server (``QUARRY_URL``, ``QUARRY_API_KEY``; no ``QUARRY_DATA_DIR``: they never open the
database). One SQLite server for the module: the commands only speak HTTP, the storage behind it
is tested elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import documents
from tests.calls_client import invoice
from tests.harness.endpoints import LocalEndpoint, Received, Reply
from tests.harness.ports import free_port
from tests.harness.processes import QUARRY, ServerProcess, quarry_env

KEY = "user-cli-key"
EXTRACT = {"outputSchemaName": "Invoice", "outputSchema": documents.SCHEMA}


@dataclass
class Cli:
    env: dict[str, str]
    workdir: Path

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            QUARRY + list(args), env=self.env | env, cwd=self.workdir, capture_output=True, text=True, timeout=120
        )

    def ok(self, *args: str, **env: str) -> str:
        result = self(*args, **env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--format", "json"))

    def write(self, name: str, content: bytes | dict[str, Any]) -> Path:
        path = self.workdir / name
        path.write_bytes(json.dumps(content).encode() if isinstance(content, dict) else content)
        return path


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    root = tmp_path_factory.mktemp("user-cli")
    with quarry_env("sqlite", root / "data", "user_cli", QUARRY_API_KEY=KEY) as env:
        server = ServerProcess(env)
        try:
            user_env = {k: v for k, v in env.items() if k != "QUARRY_DATA_DIR"}
            (root / "work").mkdir()
            yield Cli(user_env | {"QUARRY_URL": server.url, "COLUMNS": "250"}, root / "work")
        finally:
            server.stop()


@dataclass
class Submitted:
    stdout: str
    results: Path
    calls: dict[str, dict[str, Any]]  # by file name


@pytest.fixture(scope="module")
def submitted(cli: Cli) -> Submitted:
    """An extraction workflow made from files, and two documents submitted to it: a text invoice
    and a PDF whose name has no extension (its type is read from its content)."""
    fn = cli.write("fn.json", {"functionName": "cli-extract", "type": "transform", **EXTRACT})
    assert "cli-extract" in cli.ok("functions", "create", "--file", str(fn))
    wf = cli.write("wf.json", {"name": "cli-invoices", "mainFunction": {"name": "cli-extract"}})
    assert "cli-invoices" in cli.ok("workflows", "create", "--file", str(wf))
    march = cli.write("march.txt", invoice("INV-0311", "12.50"))
    scan = cli.write("scan", documents.pdf())
    stdout = cli.ok("calls", "submit", "--workflow", "cli-invoices", str(march), str(scan), "--wait", "--output", "out")
    found = cli.json("calls", "list", "--workflow-name", "cli-invoices", "--limit", "100")["calls"]
    return Submitted(stdout, cli.workdir / "out", {call["callReferenceID"]: call for call in found})


def test_submit_writes_one_result_file_per_input_file(cli: Cli, submitted: Submitted) -> None:
    assert sorted(p.name for p in submitted.results.iterdir()) == ["march.txt.json", "scan.json"]
    march = json.loads((submitted.results / "march.txt.json").read_text())
    scan = json.loads((submitted.results / "scan.json").read_text())
    assert (march["status"], march["inputType"], march["callReferenceID"]) == ("completed", "text", "march.txt")
    assert (scan["status"], scan["inputType"], scan["callReferenceID"]) == ("completed", "pdf", "scan")
    assert march["outputs"][0]["transformedContent"]["invoiceNumber"] == "INV-0311"
    assert march["outputs"][0]["transformedContent"]["totalAmount"] == 12.5
    assert scan["outputs"][0]["transformedContent"]["invoiceNumber"] == documents.NUMBER
    assert march["errors"] == scan["errors"] == []
    assert march["callID"] == submitted.calls["march.txt"]["callID"]
    for call in submitted.calls.values():
        assert call["callID"] in submitted.stdout and call["status"] == "completed"


def test_calls_list_filters_and_formats(cli: Cli, submitted: Submitted) -> None:
    march = submitted.calls["march.txt"]["callID"]
    by_substring = cli.json("calls", "list", "--reference-id-substring", "MARCH.T")
    assert [call["callID"] for call in by_substring["calls"]] == [march]
    both = cli.json("calls", "list", "--reference-id", "march.txt", "--reference-id", "scan", "--sort-order", "desc")
    assert [call["callReferenceID"] for call in both["calls"]] == ["scan", "march.txt"]
    assert cli.json("calls", "list", "--call-id", march, "--status", "failed")["calls"] == []
    assert cli.json("calls", "list", "--call-type", "function", "--workflow-name", "cli-invoices")["calls"] == []
    paged = cli.json("calls", "list", "--workflow-name", "cli-invoices", "--limit", "1", "--starting-after", march)
    assert [call["callReferenceID"] for call in paged["calls"]] == ["scan"]

    as_yaml = yaml.safe_load(cli.ok("calls", "list", "--reference-id", "scan", "--format", "yaml"))
    assert as_yaml["calls"][0]["callID"] == submitted.calls["scan"]["callID"] and as_yaml["totalCount"] == 1
    table = cli.ok("calls", "list", "--workflow-name", "cli-invoices")
    assert march in table and "completed" in table


def test_tables_keep_ids_whole_and_say_their_order(cli: Cli, submitted: Submitted) -> None:
    """A table never cuts or wraps an ID (it is copied into the next command), even at a pipe's
    80 columns or narrower: the table is wider instead. A list's caption says its order."""
    oldest_first = [call["callID"] for call in cli.json("calls", "list", "--workflow-name", "cli-invoices")["calls"]]
    events = cli.json("events", "list", "--function-name", "cli-extract")["events"]
    function_ids = [fn["functionID"] for fn in cli.json("functions", "list")["functions"]]
    for columns in ("80", "40"):
        for order, caption in (("asc", "oldest first; --sort-order desc for newest first"), ("desc", "newest first")):
            table = cli.ok("calls", "list", "--workflow-name", "cli-invoices", "--sort-order", order, COLUMNS=columns)
            positions = [table.find(call_id) for call_id in oldest_first]
            assert -1 not in positions and positions == sorted(positions, reverse=order == "desc"), table
            assert _caption(table) == f"2 of 2, {caption}"
        table = cli.ok("events", "list", "--function-name", "cli-extract", COLUMNS=columns)
        assert all(e["eventID"] in table and e["callID"] in table for e in events), table
        table = cli.ok("functions", "list", COLUMNS=columns)
        assert all(function_id in table for function_id in function_ids), table
        assert _caption(table).endswith(", oldest first")


def _caption(table: str) -> str:
    return table.rstrip().splitlines()[-1].strip()


def test_calls_get_and_events_list(cli: Cli, submitted: Submitted) -> None:
    call_id = submitted.calls["scan"]["callID"]
    call = cli.json("calls", "get", call_id)
    assert call["callID"] == call_id and call["workflowName"] == "cli-invoices"
    assert call["input"]["singleFile"]["inputType"] == "pdf"
    assert call_id in cli.ok("calls", "get", call_id, "--format", "table")

    events = cli.json("events", "list", "--call-id", call_id, "--event-type", "transform")
    assert [e["transformedContent"]["invoiceNumber"] for e in events["events"]] == [documents.NUMBER]
    assert cli.json("events", "list", "--call-id", call_id, "--event-type", "error")["events"] == []
    table = cli.ok("events", "list", "--function-name", "cli-extract", "--limit", "5")
    assert events["events"][0]["eventID"] in table


def test_definitions_get_list_delete(cli: Cli, submitted: Submitted) -> None:
    assert cli.json("workflows", "get", "cli-invoices")["mainFunction"]["name"] == "cli-extract"
    assert "cli-extract" in cli.ok("functions", "list")
    assert [w["name"] for w in cli.json("workflows", "list")["workflows"]] == ["cli-invoices"]
    fn = cli.write("doomed.json", {"functionName": "cli-doomed", "type": "payload_shaping", "shapingSchema": "a"})
    cli.ok("functions", "create", "--file", str(fn))
    assert cli.json("functions", "get", "cli-doomed")["type"] == "payload_shaping"
    assert "Deleted" in cli.ok("functions", "delete", "cli-doomed")
    assert cli("functions", "get", "cli-doomed").returncode == 2


def test_a_parse_function_from_a_file_and_its_events(cli: Cli) -> None:
    fn = cli.write("parse.json", {"functionName": "cli-parse", "type": "parse"})
    assert "parse" in cli.ok("functions", "create", "--file", str(fn))
    report = cli.write("report.docx", documents.docx())
    cli.ok("calls", "submit", "--function", "cli-parse", str(report), "--wait", "--output", "parsed")
    result = json.loads((cli.workdir / "parsed" / "report.docx.json").read_text())
    [output] = result["outputs"]
    assert output["eventType"] == "parse"
    assert output["transformedContent"]["tables"][0]["header"] == documents.HEADER
    events = cli.json("events", "list", "--call-id", result["callID"], "--event-type", "parse")["events"]
    assert [e["eventID"] for e in events] == [output["eventID"]]


def test_a_failed_call_exits_1_with_its_errors_in_the_result(cli: Cli) -> None:
    broken = cli.write("broken.txt", invoice("INV-0400"))
    fn = cli.write("fn2.json", {"functionName": "cli-direct", "type": "transform", **EXTRACT})
    cli.ok("functions", "create", "--file", str(fn))
    args = ["calls", "submit", "--function", "cli-direct", str(broken), "--input-type", "pdf", "--output", "failed"]
    result = cli(*args, "--reference-id", "cli-broken")
    assert result.returncode == 1, result.stderr
    assert "1 of 1 calls failed" in result.stderr
    document = json.loads((cli.workdir / "failed" / "broken.txt.json").read_text())
    assert (document["status"], document["callReferenceID"], document["outputs"]) == ("failed", "cli-broken", [])
    [error] = document["errors"]
    assert error["eventType"] == "error" and "pdf" in error["message"].lower()

    again = cli("calls", "submit", "--function", "cli-direct", str(broken), "--input-type", "pdf", "--wait")
    assert again.returncode == 1, again.stderr
    hint = again.stderr.partition("why: quarry ")[2].split()  # a command whose table shows the error's message
    [error] = cli.json(*hint)["events"]
    for table in (cli.ok(*hint), cli.ok("calls", "get", error["callID"], "--format", "table")):
        assert error["message"] in table and error["eventID"] in table and "cli-direct" in table, table


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    line = result.stderr.strip()
    assert line.startswith("quarry: ") and "\n" not in line, result.stderr
    return line


def test_errors_are_one_line_and_exit_2(cli: Cli) -> None:
    refused = _one_line_failure(cli("functions", "list", "--api-key", "not-a-key"))
    assert "401" in refused and "QUARRY_API_KEY" in refused
    placeholder = _one_line_failure(cli("functions", "list", "--api-key", "qk_…"))  # copied from the README
    assert "'qk_…' is not an API key" in placeholder and "QUARRY_API_KEY" in placeholder
    assert "404" in _one_line_failure(cli("functions", "get", "no-such-function"))
    assert "404" in _one_line_failure(cli("workflows", "delete", "no-such-workflow"))
    bad_cursor = _one_line_failure(cli("calls", "list", "--starting-after", "call_nope"))
    assert "400" in bad_cursor and "startingAfter" in bad_cursor
    not_json = cli.write("not.json", b"{nope")
    assert "not JSON" in _one_line_failure(cli("functions", "create", "--file", str(not_json)))

    nowhere = f"http://127.0.0.1:{free_port()}"
    unreachable = _one_line_failure(cli("calls", "list", QUARRY_URL=nowhere))
    assert nowhere in unreachable and "QUARRY_URL" in unreachable

    env = {k: v for k, v in cli.env.items() if k != "QUARRY_API_KEY"}
    no_key = subprocess.run(QUARRY + ["events", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert "QUARRY_API_KEY" in _one_line_failure(no_key)

    untyped = cli.write("mystery", bytes(range(256)))
    assert "--input-type" in _one_line_failure(cli("calls", "submit", "--workflow", "cli-invoices", str(untyped)))
    assert "--workflow" in _one_line_failure(cli("calls", "submit", str(untyped)))


def test_functions_infer_schema_and_create_with_schema_from(cli: Cli) -> None:
    """``functions infer-schema`` prints the schema a sample document suggests; ``functions create
    --schema-from`` makes a function with it, which extracts that document's facts."""
    sample = cli.write("sample-invoice.pdf", documents.pdf())
    schema = json.loads(cli.ok("functions", "infer-schema", str(sample)))
    assert schema["type"] == "object" and schema["properties"]["invoiceNumber"]["type"] == "string"
    analysis = json.loads(cli.ok("functions", "infer-schema", str(sample), "--analysis"))
    assert analysis["schema"] == schema and analysis["fileName"] == "sample-invoice.pdf"

    body = cli.write("inferred.json", {"functionName": "cli-inferred", "type": "transform"})
    assert "cli-inferred" in cli.ok("functions", "create", "--file", str(body), "--schema-from", str(sample))
    created = cli.json("functions", "get", "cli-inferred")
    assert (created["outputSchema"], created["outputSchemaName"]) == (schema, "Invoice")
    wf = cli.write("inferred-wf.json", {"name": "cli-inferred-wf", "mainFunction": {"name": "cli-inferred"}})
    cli.ok("workflows", "create", "--file", str(wf))
    cli.ok("calls", "submit", "--workflow", "cli-inferred-wf", "--wait", "--output", "inferred-out", str(sample))
    [result] = (cli.workdir / "inferred-out").glob("*.json")
    assert documents.NUMBER in result.read_text()

    broken = cli.write("broken.pdf", b"%PDF-1.7 nothing here")
    assert "400" in _one_line_failure(cli("functions", "infer-schema", str(broken)))
    assert cli("functions", "infer-schema", str(cli.workdir / "missing.pdf")).returncode == 2


def test_user_commands_need_no_database(cli: Cli) -> None:
    """Run from a directory with no data and a HOME of its own: HTTP is all they use."""
    home = cli.workdir / "elsewhere"
    home.mkdir()
    result = subprocess.run(
        QUARRY + ["functions", "list", "--format", "json"],
        env=cli.env | {"HOME": str(home), "XDG_DATA_HOME": str(home / "xdg")},
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totalCount"] >= 0
    assert os.listdir(home) == []


class Accepting(LocalEndpoint):
    def answer(self, request: Received) -> Reply:
        return Reply(204, b"", content_type=None)


def test_a_send_function_is_created_listed_and_its_event_read(cli: Cli, submitted: Submitted) -> None:
    receiver = Accepting()
    try:
        send = {"functionName": "cli-send", "type": "send", "webhookUrl": receiver.url, "webhookSigningEnabled": False}
        cli.ok("functions", "create", "--file", str(cli.write("send.json", send)))
        types = {fn["functionName"]: fn["type"] for fn in cli.json("functions", "list")["functions"]}
        assert types["cli-send"] == "send"
        relationships = [{"sourceFunction": {"name": "cli-extract"}, "destinationFunction": {"name": "cli-send"}}]
        wf = {"name": "cli-deliver", "mainFunction": {"name": "cli-extract"}, "relationships": relationships}
        cli.ok("workflows", "create", "--file", str(cli.write("deliver.json", wf)))
        april = cli.write("april.txt", invoice("INV-0412"))
        cli.ok("calls", "submit", "--workflow", "cli-deliver", str(april), "--wait", "--output", "delivered")
        [event] = cli.json("events", "list", "--function-name", "cli-send", "--event-type", "send")["events"]
        assert event["webhookOutput"]["httpStatusCode"] == 204
        assert event["deliveredContent"]["transformedContent"]["invoiceNumber"] == "INV-0412"
    finally:  # the other tests list the module's workflows
        receiver.close()
        cli("workflows", "delete", "cli-deliver")
        cli("functions", "delete", "cli-send")


def test_the_result_of_a_fan_in_holds_the_join_alone(cli: Cli, submitted: Submitted) -> None:
    """Both branches fed the join, so neither is an output, although v2 names only the first."""
    shaped = {"left": '{"invoiceNumber": invoiceNumber, "side": `"left"`}', "right": '{"side": `"right"`}'}
    for side, expression in shaped.items():
        fn = {"functionName": f"cli-{side}", "type": "payload_shaping", "shapingSchema": expression}
        cli.ok("functions", "create", "--file", str(cli.write(f"{side}.json", fn)))
    join = {"functionName": "cli-join", "type": "join", "joinType": "standard", "description": "Both sides", **EXTRACT}
    cli.ok("functions", "create", "--file", str(cli.write("join.json", join)))
    edges = [
        ("cli-extract", "cli-left"),
        ("cli-extract", "cli-right"),
        ("cli-left", "cli-join"),
        ("cli-right", "cli-join"),
    ]
    relationships = [{"sourceFunction": {"name": a}, "destinationFunction": {"name": b}} for a, b in edges]
    wf = {"name": "cli-fan", "mainFunction": {"name": "cli-extract"}, "relationships": relationships}
    try:
        cli.ok("workflows", "create", "--file", str(cli.write("fan.json", wf)))
        may = cli.write("may.txt", invoice("INV-0505"))
        cli.ok("calls", "submit", "--workflow", "cli-fan", str(may), "--wait", "--output", "fanned")
        document = json.loads((cli.workdir / "fanned" / "may.txt.json").read_text())
        assert document["status"] == "completed", document
        events = cli.json("events", "list", "--reference-id", "may.txt")["events"]
        assert sorted(e["functionName"] for e in events) == ["cli-extract", "cli-join", "cli-left", "cli-right"]
        [output] = document["outputs"]
        assert output["functionName"] == "cli-join"
        assert output["transformedContent"]["invoiceNumber"] == "INV-0505"
    finally:  # the other tests list the module's workflows
        cli("workflows", "delete", "cli-fan")
