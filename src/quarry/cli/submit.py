"""``quarry calls submit``: one call per file, uploaded in batches (base64 in ``POST /v2/calls``),
then, if asked, followed to the end and written out as one result file per input file."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from quarry.cli.client import Client
from quarry.cli.failure import Failure
from quarry.cli.follow import TERMINAL, follow
from quarry.cli.inputs import input_type_of
from quarry.cli.results import events_of, fed_joins, result

CALLS_PER_REQUEST = 100  # the most POST /v2/calls takes
BYTES_PER_REQUEST = 16 * 1024 * 1024  # of files (before base64) in one request: progress moves, memory stays low

progress_console = Console(stderr=True)  # stdout stays for the summary


@dataclass(frozen=True)
class Upload:
    """An input file and the ``inputType`` it goes in as."""

    path: Path
    input_type: str

    @property
    def name(self) -> str:
        return self.path.name


def uploads(paths: Sequence[Path], input_type: str | None) -> list[Upload]:
    """The files to submit, each with its input type; :class:`Failure` before anything is sent
    when a file is missing, of no recognisable type, or shares its name with another (reference
    IDs and result files are named after files)."""
    found: list[Upload] = []
    names: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise Failure(f"no such file: {path}")
        if path.name in names:
            raise Failure(f"two files are named {path.name}: results are named after files, rename one")
        names.add(path.name)
        kind = input_type or input_type_of(path)
        if kind is None:
            raise Failure(f"cannot tell the input type of {path}: give it a known extension or pass --input-type")
        found.append(Upload(path, kind))
    return found


def submit(
    client: Client, target: dict[str, str], files: list[Upload], reference_id: str | None
) -> list[dict[str, Any]]:
    """Create one call per file (in the files' order) and return them as created."""
    calls: list[dict[str, Any]] = []
    with _progress() as progress:
        task = progress.add_task("Uploading", total=len(files))
        for chunk in _requests(files):
            items = [_call(target, upload, reference_id) for upload in chunk]
            calls += client.post("/v2/calls", {"calls": items})["calls"]
            progress.advance(task, len(chunk))
    return calls


def wait(client: Client, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls, followed until every one has finished (in the same order)."""
    with _progress() as progress:
        task = progress.add_task("Running", total=len(calls))
        progress.update(task, completed=sum(call["status"] in TERMINAL for call in calls))
        return follow(client, calls, lambda finished: progress.update(task, completed=finished))


def write_results(client: Client, files: list[Upload], calls: list[dict[str, Any]], directory: Path) -> None:
    """One result file per input file: ``directory/<file name>.json`` (see :mod:`quarry.cli.results`)."""
    directory.mkdir(parents=True, exist_ok=True)
    events = events_of(client, [call["callID"] for call in calls])
    fed = fed_joins(client, calls)
    for upload, call in zip(files, calls, strict=True):
        document = result(
            str(upload.path), upload.input_type, call, events.get(call["callID"], []), fed.get(call["callID"])
        )
        (directory / f"{upload.name}.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _requests(files: list[Upload]) -> list[list[Upload]]:
    """The files grouped into requests of at most CALLS_PER_REQUEST files and, unless one file
    alone is larger, BYTES_PER_REQUEST bytes."""
    groups: list[list[Upload]] = [[]]
    size = 0
    for upload in files:
        length = upload.path.stat().st_size
        if groups[-1] and (len(groups[-1]) == CALLS_PER_REQUEST or size + length > BYTES_PER_REQUEST):
            groups.append([])
            size = 0
        groups[-1].append(upload)
        size += length
    return groups


def _call(target: dict[str, str], upload: Upload, reference_id: str | None) -> dict[str, Any]:
    content = base64.b64encode(upload.path.read_bytes()).decode()
    return {
        **target,
        "callReferenceID": reference_id or upload.name,
        "input": {"singleFile": {"inputType": upload.input_type, "inputContent": content}},
    }


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=progress_console,
        transient=True,  # the summary follows; a failure stays one line
        disable=not progress_console.is_terminal,  # logs and pipes get the summary alone
    )
