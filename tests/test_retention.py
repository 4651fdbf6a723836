"""Retention (``QUARRY_RETENTION``): finished calls older than it go, with all that is theirs;
List Calls' counts stay exact; nothing in flight is touched."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from quarry.calls.models import Call
from quarry.calls.retention import remove_calls
from quarry.config import Settings, SettingsError
from quarry.storage.base import utcnow
from quarry.webhooks.models import Delivery
from tests.calls_client import events_of, get_call, list_calls, shaping, single, submit, wait_for
from tests.conftest import BACKENDS, Server
from tests.harness.databases import engine_tables
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import create_function, transform

KEY = "retention-test-key"


def _listed(api: httpx.Client, **params: str) -> tuple[int, list[str]]:
    """``totalCount`` and every listed call's reference, all pages read."""
    refs, after, total = [], None, None
    while True:
        page = list_calls(api, {"limit": 100, **params, **({"startingAfter": after} if after else {})})
        total = page["totalCount"] if total is None else total
        refs += [call["callReferenceID"] for call in page["calls"]]
        if len(page["calls"]) < 100:
            return total, refs
        after = page["calls"][-1]["callID"]


def _run(api: httpx.Client, function: str, *refs: str) -> list[dict]:
    calls = submit(api, *[{"functionName": function, "callReferenceID": ref, "input": single(b'{"a": 1}', "json")}
                          for ref in refs])  # fmt: skip
    return [wait_for(api, call["callID"]) for call in calls]


def test_old_finished_calls_go_with_their_events_files_and_counts(server: Server, api: httpx.Client) -> None:
    create_function(api, shaping("retained", "{total: a}"))
    gone = _run(api, "retained", "ret-gone-1", "ret-gone-2", "ret-gone-3")
    kept = _run(api, "retained", "ret-kept-1", "ret-kept-2")
    files = {c["callID"]: get_call(api, c["callID"])["functionCalls"][0]["inputs"][0]["s3URL"] for c in gone + kept}
    assert all(httpx.get(url).status_code == 200 for url in files.values())
    # the three ended two days ago; one of them still has a webhook delivery to make
    gone_ids = [c["callID"] for c in gone]
    [event] = events_of(api, gone_ids[2], "payload_shaping")
    with server.db.write() as session:
        session.execute(sa.update(Call).where(Call.id.in_(gone_ids)).values(finished_at=utcnow() - timedelta(days=2)))
        environment_id = session.get_one(Call, gone_ids[0]).environment_id
        delivery = Delivery(id=f"dlv_{event['eventID']}", environment_id=environment_id, subscription_id="sub_gone",
                            event_id=event["eventID"])  # fmt: skip
        session.add(delivery)

    day_ago = utcnow() - timedelta(days=1)
    assert remove_calls(server.db, server.engine.blobs, day_ago) == 2
    assert _listed(api, referenceIDSubstring="ret-") == (3, ["ret-gone-3", "ret-kept-1", "ret-kept-2"])
    with server.db.write() as session:  # delivered: nothing holds it any more
        session.execute(sa.update(Delivery).where(Delivery.id == delivery.id).values(status="delivered"))
    assert remove_calls(server.db, server.engine.blobs, day_ago) == 1
    assert remove_calls(server.db, server.engine.blobs, day_ago) == 0

    # List Calls' counts and pages agree, through the counters, the substring index and the filters
    assert _listed(api, referenceIDSubstring="ret-") == (2, ["ret-kept-1", "ret-kept-2"])
    assert _listed(api, referenceIDSubstring="ret-gone") == (0, [])
    assert _listed(api, functionNames="retained") == (2, ["ret-kept-1", "ret-kept-2"])
    assert _listed(api, functionNames="retained", statuses="completed")[0] == 2
    assert _listed(api, callIDs=",".join(gone_ids)) == (0, [])
    for call_id in gone_ids:
        assert events_of(api, call_id) == []
        assert httpx.get(files[call_id]).status_code == 404
    for call in kept:
        assert len(events_of(api, call["callID"])) == 1
        assert httpx.get(files[call["callID"]]).status_code == 200
    with server.db.read() as session:
        assert session.get(Delivery, delivery.id) is None


def test_a_retention_is_a_duration() -> None:
    env = {"QUARRY_DATA_DIR": "/tmp/q"}
    assert Settings.from_env(env).retention_seconds is None
    for text, seconds in (("90s", 90), ("45m", 2700), ("12h", 43_200), ("30d", 2_592_000), ("1.5h", 5400)):
        assert Settings.from_env(env | {"QUARRY_RETENTION": text}).retention_seconds == seconds
    for text in ("30", "thirty days", "0s", "-1d", "5y"):
        with pytest.raises(SettingsError, match="QUARRY_RETENTION"):
            Settings.from_env(env | {"QUARRY_RETENTION": text})


def _workflow_rows(environ: dict[str, str], data_dir: Path, ids: list[str]) -> int:
    """DBOS's records of these workflows, in the deployment's system database."""
    with engine_tables(environ, data_dir) as (session, prefix):
        query = sa.text(f"SELECT count(*) FROM {prefix}workflow_status WHERE workflow_uuid IN :ids")
        return session.scalar(query.bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids}) or 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_removes_what_is_older_than_its_retention_while_calls_run(tmp_path: Path, backend: str) -> None:
    data_dir = tmp_path / "data"
    with quarry_env(backend, data_dir, "quarry_retention", QUARRY_API_KEY=KEY, QUARRY_RETENTION="2s") as environ:
        server = ServerProcess(environ)
        try:
            with httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api:
                create_function(api, shaping("brief", "{total: a}"))
                create_function(api, transform("held-x"))
                body = {"name": "held", "mainFunction": {"name": "held-x"},
                        "reviewGates": [{"function": {"name": "held-x"}, "when": "always"}]}  # fmt: skip
                assert api.post("/v2/workflows", json=body).status_code == 200
                [held] = submit(api, {"workflowName": "held", "callReferenceID": "held",
                                      "input": single(b"Invoice number: INV-1")})  # fmt: skip
                brief = _run(api, "brief", "brief-1", "brief-2")
                deadline = time.monotonic() + 60
                while _listed(api, referenceIDSubstring="brief")[0] and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert _listed(api, referenceIDSubstring="brief") == (0, [])
                # held for review long past the retention: running, untouched
                assert _listed(api) == (1, ["held"])
                assert get_call(api, held["callID"])["status"] == "running"
                ids = [call["callID"] for call in brief]
                deadline = time.monotonic() + 30  # the engine's records go in the same round, after the calls
                while _workflow_rows(environ, data_dir, ids) and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert _workflow_rows(environ, data_dir, ids) == 0
        finally:
            server.stop()
