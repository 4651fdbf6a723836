"""Send functions: a workflow's output delivered to a webhook (signed, retried) or to an S3 bucket,
through a real ``quarry serve`` process, a real local receiver and a real local S3-compatible
server, read back with the official bem SDK (strict) and plain HTTP."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest

from quarry.webhooks import verify
from tests import documents
from tests.calls_client import POLL_SECONDS, invoice, single, submit, wait_for
from tests.conftest import BACKENDS
from tests.harness.endpoints import LocalEndpoint, Received, Reply
from tests.harness.processes import ServerProcess, quarry_env
from tests.helpers import assert_error
from tests.s3 import S3Server

KEY = "send-test-key"
BUCKET = "quarry-sends"
SCHEMA = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}


class Receiver(LocalEndpoint):
    """Answers each POST to a path with the next status scripted for that path (202 once out), and
    records what it got."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: dict[str, list[Received]] = {}
        self.scripts: dict[str, list[int]] = {}
        super().__init__()

    def hook(self, *statuses: int) -> str:
        """A fresh path answering ``statuses`` in turn; its URL."""
        path = f"/hooks/{uuid.uuid4().hex}"
        with self.lock:
            self.scripts[path] = list(statuses)
        return self.url + path

    def answer(self, request: Received) -> Reply:
        with self.lock:
            self.received.setdefault(request.path, []).append(request)
            script = self.scripts.get(request.path, [])
            status = script.pop(0) if script else 202
        return Reply(status, f"answered {status}".encode(), content_type="text/plain")

    def got(self, url: str) -> list[Received]:
        with self.lock:
            return list(self.received.get(url.removeprefix(self.url), []))


@dataclass
class Deployment:
    api: httpx.Client
    sdk: bem.Bem
    s3: S3Server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(scope="module", params=BACKENDS)
def quarry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server
) -> Iterator[Deployment]:
    if BUCKET not in [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]:
        s3_server.create_bucket(BUCKET)
    data_dir: Path = tmp_path_factory.mktemp(f"send-{request.param}")
    settings = {
        "QUARRY_API_KEY": KEY,
        "QUARRY_WEBHOOK_BACKOFF_BASE": "0.1",
        "QUARRY_SEND_S3_BUCKETS": BUCKET,
        **s3_server.env,
    }
    with quarry_env(request.param, data_dir, "quarry_send", **settings) as environ:
        server = ServerProcess(environ)
        try:
            with (
                httpx.Client(base_url=server.url, headers={"x-api-key": KEY}, timeout=30) as api,
                bem.Bem(api_key=KEY, base_url=server.url, _strict_response_validation=True, max_retries=0) as sdk,
            ):
                yield Deployment(api, sdk, s3_server)
        finally:
            server.stop()


def text(data: bytes) -> dict[str, Any]:
    return {"single_file": {"input_content": base64.b64encode(data).decode(), "input_type": "text"}}


def settled(sdk: bem.Bem, workflow: str, document: bytes) -> Any:
    """The call of ``workflow`` on ``document`` once it ended (a failed call waited for is a 5xx)."""
    call = sdk.workflows.call(workflow, input=text(document)).call
    assert call is not None
    deadline = time.monotonic() + POLL_SECONDS
    while (call := sdk.calls.retrieve(call.call_id).call).status not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"call {call.call_id} still {call.status}"
        time.sleep(0.1)
    return call


def extract_then_send(sdk: bem.Bem, **send: Any) -> str:
    """A workflow extract → send with these send fields; its name."""
    name = uuid.uuid4().hex[:8]
    sdk.functions.create(function_name=f"extract-{name}", type="extract", output_schema=SCHEMA)
    sdk.functions.create(function_name=f"send-{name}", type="send", **send)
    sdk.workflows.create(
        name=f"deliver-{name}",
        main_node_name="extract",
        nodes=[
            {"name": "extract", "function": {"name": f"extract-{name}"}},
            {"name": "send", "function": {"name": f"send-{name}"}},
        ],
        edges=[{"sourceNodeName": "extract", "destinationNodeName": "send"}],
    )
    return f"deliver-{name}"


def test_a_workflow_delivers_its_extraction_to_a_webhook_signed(quarry: Deployment, receiver: Receiver) -> None:
    sdk = quarry.sdk
    secret = sdk.webhook_secret.create().secret
    url = receiver.hook(201)
    workflow = extract_then_send(sdk, destination_type="webhook", webhook_url=url)
    function = sdk.functions.retrieve(f"send-{workflow.removeprefix('deliver-')}").function
    assert function.type == "send" and function.destination_type == "webhook"
    assert function.webhook_url == url and function.webhook_signing_enabled is True

    call = sdk.workflows.call(workflow, input=text(invoice("SEND-1")), wait=True).call
    assert call is not None and call.status == "completed", call
    [sent] = call.outputs
    assert sent.event_type == "send"
    assert sent.delivery_status == "success" and sent.destination_type == "webhook"
    assert sent.webhook_output is not None
    assert sent.webhook_output.http_status_code == 201  # the receiver's own answer
    assert sent.webhook_output.http_response_body == "answered 201"

    [request] = receiver.got(url)
    assert request.headers["content-type"] == "application/json"
    assert verify(secret, request.headers["bem-signature"], request.raw)
    assert not verify(secret, request.headers["bem-signature"], request.raw.replace(b"SEND-1", b"SEND-2"))
    delivered = request.body
    assert delivered["transformedContent"]["invoiceNumber"] == "SEND-1"
    extraction = quarry.api.get(f"/v1-alpha/events/{delivered['eventID']}").json()
    assert extraction["eventType"] == "transform" and extraction["callID"] == call.call_id
    same = ("eventID", "callID", "functionName", "transformedContent")
    assert {k: delivered[k] for k in same} == {k: extraction[k] for k in same}
    assert sent.delivered_content == delivered

    # v2 reads the send event too, and the function
    [v2_event] = quarry.api.get("/v1-alpha/events", params={"callIDs": call.call_id, "eventTypes": "send"}).json()[
        "events"
    ]
    assert v2_event["webhookOutput"]["httpStatusCode"] == 201
    assert quarry.api.get(f"/v2/functions/{function.function_name}").json()["webhookUrl"] == url


def test_a_failing_receiver_is_tried_again_within_the_call(quarry: Deployment, receiver: Receiver) -> None:
    quarry.sdk.webhook_secret.create()
    url = receiver.hook(500, 503)
    workflow = extract_then_send(quarry.sdk, destination_type="webhook", webhook_url=url)
    call = quarry.sdk.workflows.call(workflow, input=text(invoice("RETRY-1")), wait=True).call
    assert call is not None and call.status == "completed", call
    [sent] = call.outputs
    assert sent.webhook_output is not None and sent.webhook_output.http_status_code == 202
    assert [r.body["transformedContent"]["invoiceNumber"] for r in receiver.got(url)] == ["RETRY-1"] * 3
    assert quarry.api.get(f"/v3/outputs/{sent.event_id}").json()["output"]["deliveryAttempts"] == 3


def test_a_receiver_that_keeps_failing_fails_the_call_and_the_worker_goes_on(
    quarry: Deployment, receiver: Receiver
) -> None:
    quarry.sdk.webhook_secret.create()
    down = receiver.hook(500, 500, 500, 500)
    workflow = extract_then_send(quarry.sdk, destination_type="webhook", webhook_url=down)
    call = settled(quarry.sdk, workflow, invoice("DOWN-1"))
    assert call is not None and call.status == "failed"
    assert len(receiver.got(down)) == 3  # three tries, then given up
    [error] = call.errors
    assert error.function_name.startswith("send-")
    assert "3 attempt(s)" in error.message and "HTTP 500" in error.message
    assert (
        quarry.api.get("/v1-alpha/events", params={"callIDs": call.call_id, "eventTypes": "send"}).json()["events"]
        == []
    )

    up = receiver.hook()
    after = extract_then_send(quarry.sdk, destination_type="webhook", webhook_url=up)
    assert quarry.sdk.workflows.call(after, input=text(invoice("UP-1")), wait=True).call.status == "completed"
    assert [r.body["transformedContent"]["invoiceNumber"] for r in receiver.got(up)] == ["UP-1"]


def test_signing_needs_a_secret_and_can_be_turned_off(quarry: Deployment, receiver: Receiver) -> None:
    quarry.sdk.webhook_secret.create()
    quarry.sdk.webhook_secret.revoke()
    signed, unsigned = receiver.hook(), receiver.hook()
    no_secret = extract_then_send(quarry.sdk, destination_type="webhook", webhook_url=signed)
    call = settled(quarry.sdk, no_secret, invoice("NS-1"))
    assert call.status == "failed" and "no webhook secret" in call.errors[0].message
    assert receiver.got(signed) == []

    plain = extract_then_send(
        quarry.sdk, destination_type="webhook", webhook_url=unsigned, webhook_signing_enabled=False
    )
    assert quarry.sdk.workflows.call(plain, input=text(invoice("NS-2")), wait=True).call.status == "completed"
    [request] = receiver.got(unsigned)
    assert "bem-signature" not in request.headers


def test_a_send_to_s3_stores_the_delivery_under_the_prefix(quarry: Deployment) -> None:
    workflow = extract_then_send(quarry.sdk, destination_type="s3", s3_bucket=BUCKET, s3_prefix="/exports/invoices/")
    call = quarry.sdk.workflows.call(workflow, input=text(invoice("S3-1")), wait=True).call
    assert call is not None and call.status == "completed", call
    [sent] = call.outputs
    assert sent.destination_type == "s3" and sent.s3_output is not None
    assert sent.s3_output.bucket_name == BUCKET
    fc_id = sent.function_call_id
    assert sent.s3_output.key == f"exports/invoices/{call.call_id}/{fc_id}.json"
    stored = quarry.s3.client().get_object(Bucket=BUCKET, Key=sent.s3_output.key)
    assert stored["ContentType"] == "application/json"
    content = json.loads(stored["Body"].read())
    assert content["transformedContent"]["invoiceNumber"] == "S3-1"
    assert content["callID"] == call.call_id


def test_a_bucket_the_deployment_does_not_allow_fails_the_call(quarry: Deployment) -> None:
    other = quarry.s3.create_bucket()
    workflow = extract_then_send(quarry.sdk, destination_type="s3", s3_bucket=other)
    call = settled(quarry.sdk, workflow, invoice("S3-2"))
    assert call.status == "failed" and "QUARRY_SEND_S3_BUCKETS" in call.errors[0].message
    assert quarry.s3.client().list_objects_v2(Bucket=other).get("KeyCount") == 0


def test_a_send_function_called_alone_delivers_its_input(quarry: Deployment, receiver: Receiver) -> None:
    url = receiver.hook()
    body = {"functionName": f"send-{uuid.uuid4().hex[:8]}", "type": "send", "webhookUrl": url}
    body["webhookSigningEnabled"] = False
    assert quarry.api.post("/v3/functions", json=body).status_code == 200
    document = {"invoiceNumber": "RAW-1", "lines": [1, 2]}
    [call] = submit(
        quarry.api, {"functionName": body["functionName"], "input": single(json.dumps(document).encode(), "json")}
    )
    assert wait_for(quarry.api, call["callID"])["status"] == "completed"
    assert [r.body for r in receiver.got(url)] == [document]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"destinationType": "webhook"}, "webhookUrl"),
        ({}, "webhookUrl"),
        ({"webhookUrl": "http://169.254.169.254/latest/meta-data"}, "webhookUrl"),
        ({"webhookUrl": "http://[::ffff:169.254.169.254]/latest/meta-data"}, "webhookUrl"),
        ({"webhookUrl": "ftp://hooks.example.com/in"}, "webhookUrl"),
        ({"webhookUrl": "https://user:pw@hooks.example.com/in"}, "webhookUrl"),
        ({"destinationType": "s3"}, "s3Bucket"),
        ({"destinationType": "s3", "s3Bucket": "Not_A_Bucket"}, "s3Bucket"),
        ({"destinationType": "google_drive", "googleDriveFolderId": "abc"}, "destinationType"),
        ({"destinationType": "ftp", "webhookUrl": "https://hooks.example.com/in"}, "destinationType"),
        ({"webhookUrl": "https://hooks.example.com/in", "webhookSigningEnabled": "yes"}, "webhookSigningEnabled"),
    ],
)
@pytest.mark.parametrize("api_path", ["/v3/functions", "/v2/functions"])
def test_invalid_send_functions_are_refused(
    quarry: Deployment, api_path: str, body: dict[str, Any], field: str
) -> None:
    request = {"functionName": f"bad-{uuid.uuid4().hex[:8]}", "type": "send", **body}
    error = assert_error(quarry.api.post(api_path, json=request), 400)
    assert error["details"]["field"] == field
    assert quarry.api.get(f"/v3/functions/{request['functionName']}").status_code == 404


def test_updates_are_checked_and_switch_destinations(quarry: Deployment) -> None:
    name = f"send-{uuid.uuid4().hex[:8]}"
    created = {"functionName": name, "type": "send", "webhookUrl": "https://hooks.example.com/in"}
    assert quarry.api.post("/v3/functions", json=created).status_code == 200
    metadata = {"type": "send", "webhookUrl": "http://[fe80::1]/in"}
    assert (
        assert_error(quarry.api.patch(f"/v3/functions/{name}", json=metadata), 400)["details"]["field"] == "webhookUrl"
    )
    drive = {"type": "send", "destinationType": "google_drive"}
    assert assert_error(quarry.api.patch(f"/v3/functions/{name}", json=drive), 400)["details"]["field"] == (
        "destinationType"
    )
    switched = quarry.api.patch(
        f"/v3/functions/{name}", json={"type": "send", "destinationType": "s3", "s3Bucket": BUCKET}
    )
    assert switched.status_code == 200, switched.text
    function = quarry.sdk.functions.retrieve(name).function
    assert function.version_num == 2 and function.destination_type == "s3" and function.s3_bucket == BUCKET
    assert function.webhook_url is None and function.webhook_signing_enabled is None
    listed = list(quarry.sdk.functions.list(types=["send"]))
    assert name in [f.function_name for f in listed] and {f.type for f in listed} == {"send"}


def test_a_workflow_parse_extract_send_delivers_the_extraction_with_the_call_metadata(
    quarry: Deployment, receiver: Receiver
) -> None:
    """#28's acceptance: through the strict SDK a PDF goes parse → extract → send(webhook); the send
    event records the receiver's status, and the call's metadata comes back on the call and as
    ``_metadata`` in what was extracted and delivered."""
    sdk, name = quarry.sdk, uuid.uuid4().hex[:8]
    secret = sdk.webhook_secret.create().secret
    url = receiver.hook(207)
    sdk.functions.create(function_name=f"parse-{name}", type="parse")
    sdk.functions.create(
        function_name=f"extract-{name}", type="extract", output_schema_name="Invoice", output_schema=documents.SCHEMA
    )
    sdk.functions.create(function_name=f"send-{name}", type="send", destination_type="webhook", webhook_url=url)
    sdk.workflows.create(
        name=f"pipeline-{name}",
        main_node_name="parse",
        nodes=[
            {"name": "parse", "function": {"name": f"parse-{name}"}},
            {"name": "extract", "function": {"name": f"extract-{name}"}},
            {"name": "send", "function": {"name": f"send-{name}"}},
        ],
        edges=[
            {"sourceNodeName": "parse", "destinationNodeName": "extract"},
            {"sourceNodeName": "extract", "destinationNodeName": "send"},
        ],
    )
    metadata = {"customer": "acme", "batch": 12}
    pdf = {"single_file": {"input_content": base64.b64encode(documents.pdf()).decode(), "input_type": "pdf"}}
    call = sdk.workflows.call(
        f"pipeline-{name}", input=pdf, call_reference_id=f"ref-{name}", metadata=metadata, wait=True
    ).call
    assert call is not None and call.status == "completed", call
    assert (call.model_extra or {})["metadata"] == metadata
    assert (sdk.calls.retrieve(call.call_id).call.model_extra or {})["metadata"] == metadata
    [sent] = call.outputs
    assert sent.event_type == "send" and sent.delivery_status == "success"
    assert sent.webhook_output is not None and sent.webhook_output.http_status_code == 207

    [request] = receiver.got(url)
    assert verify(secret, request.headers["bem-signature"], request.raw)
    extracted = request.body["transformedContent"]
    assert extracted["invoiceNumber"] == documents.NUMBER and extracted["totalAmount"] == documents.TOTAL
    assert extracted["_metadata"] == metadata | {"referenceID": f"ref-{name}"}

    events = quarry.api.get("/v1-alpha/events", params={"callIDs": call.call_id}).json()["events"]
    assert sorted(e["eventType"] for e in events) == ["parse", "send", "transform"]
