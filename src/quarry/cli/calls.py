"""``quarry calls``: submit documents, list calls with every filter of List Calls, show one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from quarry.cli import submit as submission
from quarry.cli.client import (
    DEFAULT_URL,
    AfterOption,
    BeforeOption,
    Client,
    KeyOption,
    LimitOption,
    Many,
    SortOption,
    SortOrder,
    UrlOption,
    choice,
    in_order,
    page_params,
)
from quarry.cli.failure import EXIT_CALLS_FAILED, Failure
from quarry.cli.inputs import INPUT_TYPES
from quarry.cli.output import Format, FormatOption, show_item, show_list, show_table
from quarry.cli.results import events_of

app = typer.Typer(help="Submit documents and follow calls.", no_args_is_help=True)

COLUMNS = (
    ("call ID", "callID"),
    ("reference ID", "callReferenceID"),
    ("status", "status"),
    ("workflow", "workflowName"),
    ("function", "functionName"),
    ("created", "createdAt"),
    ("finished", "finishedAt"),
)

SUBMITTED = (("file", "file"), ("call ID", "callID"), ("reference ID", "callReferenceID"), ("status", "status"))

ERRORS = (("function", "functionName"), ("message", "message"), ("event ID", "eventID"))


CallType = choice("CallType", ("workflow", "function"))
Status = choice("Status", ("pending", "running", "completed", "failed"))
InputType = choice("InputType", INPUT_TYPES)


@app.command()
def submit(
    files: Annotated[
        list[Path], typer.Argument(help="Documents to submit: one call each.", show_default=False, metavar="FILE...")
    ],
    workflow: Annotated[str | None, typer.Option(help="Call this workflow.", show_default=False)] = None,
    function: Annotated[str | None, typer.Option(help="Call this function instead.", show_default=False)] = None,
    reference_id: Annotated[
        str | None, typer.Option(help="Reference ID of every call (default: each file's name).", show_default=False)
    ] = None,
    input_type: Annotated[
        InputType | None,
        typer.Option(
            help="Input type of every file (default: from its extension, else its content).",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until every call has finished.")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write one result file per input file here, DIR/<file name>.json (implies --wait).",
            show_default=False,
            metavar="DIR",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Submit documents to a workflow (or function), one call per file.

    Exits 1 when a call failed (with --wait), 2 when the calls could not be made."""
    if (workflow is None) == (function is None):
        raise Failure("give the target of the calls: --workflow NAME or --function NAME (one of them)")
    target = {"workflowName": workflow} if workflow is not None else {"functionName": function}
    uploads = submission.uploads(files, input_type)
    client = Client(url, api_key)
    calls = submission.submit(client, target, uploads, reference_id)
    if wait or output:
        calls = submission.wait(client, calls)
    if output is not None:
        submission.write_results(client, uploads, calls, output)
    rows = [{"file": upload.name, **call} for upload, call in zip(uploads, calls, strict=True)]
    show_table(SUBMITTED, rows)
    failed = [call for call in calls if call["status"] == "failed"]
    if failed:
        first = failed[0]["callID"]
        why = f"see {output}" if output else f"why: quarry events list --event-type error --call-id {first}"
        typer.echo(f"{len(failed)} of {len(calls)} calls failed; {why}", err=True)
        raise typer.Exit(EXIT_CALLS_FAILED)


@app.command("list")
def list_(
    reference_id_substring: Annotated[
        str | None, typer.Option(help="Reference IDs containing this (any case).", show_default=False)
    ] = None,
    reference_id: Many = None,
    call_id: Many = None,
    workflow_name: Many = None,
    workflow_id: Many = None,
    function_name: Many = None,
    function_id: Many = None,
    call_type: Annotated[list[CallType] | None, typer.Option(show_default=False)] = None,
    status: Annotated[list[Status] | None, typer.Option(show_default=False)] = None,
    limit: LimitOption = 50,
    sort_order: SortOption = SortOrder.asc,
    starting_after: AfterOption = None,
    ending_before: BeforeOption = None,
    fmt: FormatOption = Format.table,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """List calls. Filters combine with AND; a filter given several times matches any of its values."""
    params = {
        "referenceIDSubstring": reference_id_substring,
        "referenceIDs": reference_id,
        "callIDs": call_id,
        "workflowNames": workflow_name,
        "workflowIDs": workflow_id,
        "functionNames": function_name,
        "functionIDs": function_id,
        "callTypes": call_type,
        "statuses": status,
        **page_params(limit, sort_order, starting_after, ending_before),
    }
    show_list(Client(url, api_key).get("/v2/calls", params), "calls", COLUMNS, fmt, in_order(sort_order))


@app.command()
def get(
    call_id: Annotated[str, typer.Argument(help="The call's ID.", show_default=False)],
    fmt: FormatOption = Format.json,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """Show a call, its function calls and its input; as a table, its errors too (a v2 call has
    none of its own: they are error events)."""
    client = Client(url, api_key)
    call = client.get(f"/v2/calls/{quote(call_id, safe='')}")["call"]
    show_item(call, fmt)
    if fmt is Format.table and (errors := events_of(client, [call["callID"]], ["error"]).get(call["callID"])):
        show_table(ERRORS, errors, title="errors")
