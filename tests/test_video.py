"""Video inputs (mp4, mov) through the API, as a user sends them: real videos made by ffmpeg from
the invoice's picture, read by a ``quarry serve`` whose transcription endpoint is a local fake.
The frames carry the invoice, the sound track is transcribed; without ffmpeg the call fails
saying so. Skipped, as a whole, only where ffmpeg is not installed."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest

from tests import documents
from tests.calls_client import events_of, single, submit, wait_for
from tests.conftest import BACKENDS
from tests.harness.endpoints import Reply
from tests.harness.fake_model import FakeOpenAI
from tests.harness.processes import quarry_client
from tests.helpers import create_function

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

KEY = "video-test-key"
SPOKEN = "PO-7781"  # said in the sound track only (the fake transcriber says it)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"invoiceNumber": {"type": "string"}, "purchaseOrder": {"type": "string"}},
    "required": ["invoiceNumber"],
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def quarry(backend: str, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A Quarry that finds ffmpeg on its PATH and transcribes with the fake."""
    settings = {"QUARRY_TRANSCRIPTION_BASE_URL": fake.url + "/v1", "QUARRY_TRANSCRIPTION_MODEL": "whisper-test"}
    data_dir = tmp_path_factory.mktemp(f"quarry-video-{backend}")
    with quarry_client(backend, data_dir, "quarry_video", KEY, **settings) as client:
        yield client


@pytest.fixture(scope="module")
def without_ffmpeg(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A Quarry whose ffmpeg is a program that is not there."""
    data_dir = tmp_path_factory.mktemp(f"quarry-no-ffmpeg-{backend}")
    missing = str(Path(data_dir) / "no-such-dir" / "ffmpeg")
    with quarry_client(backend, data_dir, "quarry_no_ffmpeg", KEY, QUARRY_FFMPEG=missing) as client:
        yield client


def sdk_of(client: httpx.Client) -> bem.Bem:
    return bem.Bem(api_key=KEY, base_url=str(client.base_url), _strict_response_validation=True, max_retries=0)


def video_input(container: str, **made: Any) -> dict[str, Any]:
    data = documents.video(container, **made)
    return {"single_file": {"input_content": base64.b64encode(data).decode(), "input_type": container}}


def extracting_workflow(sdk: bem.Bem, name: str) -> None:
    sdk.functions.create(function_name=name, type="extract", output_schema=SCHEMA, output_schema_name="Invoice")
    sdk.workflows.create(name=name, main_node_name=name, nodes=[{"function": {"name": name}}])


def test_an_mp4_is_read_from_its_frames_and_its_sound(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    fake.script(Reply(body={"text": f"Hello. Purchase order: {SPOKEN}. Thank you."}))
    with sdk_of(quarry) as sdk:
        extracting_workflow(sdk, "clip")
        call = sdk.workflows.call("clip", input=video_input("mp4", seconds=1), wait=True).call
        assert call is not None and call.status == "completed", call
        [output] = call.outputs
        assert output.transformed_content["invoiceNumber"] == documents.NUMBER  # from the frame
        assert output.transformed_content["purchaseOrder"] == SPOKEN  # from the sound
        assert output.input_type == "mp4"
    [sent] = fake.requests
    assert sent.path == "/v1/audio/transcriptions"
    assert isinstance(sent.body, bytes) and b'filename="audio.wav"' in sent.body
    assert b"RIFF" in sent.body and b"WAVE" in sent.body  # the sound track, decoded by ffmpeg


def test_a_mov_without_sound_is_read_from_its_frames_alone(quarry: httpx.Client, fake: FakeOpenAI) -> None:
    fake.script()  # nothing to transcribe: any request would be answered with an error
    name = "silent-clip"
    create_function(
        quarry, {"functionName": name, "type": "transform", "outputSchemaName": "Invoice", "outputSchema": SCHEMA}
    )
    [made] = submit(
        quarry, {"functionName": name, "input": single(documents.video("mov", sound=False, seconds=1), "mov")}
    )
    call = wait_for(quarry, made["callID"])
    assert call["status"] == "completed", call
    [event] = events_of(quarry, made["callID"], "transform")
    assert event["transformedContent"]["invoiceNumber"] == documents.NUMBER
    assert "purchaseOrder" not in event["transformedContent"]
    assert fake.requests == []


def test_a_broken_video_fails_its_call_with_the_reason(quarry: httpx.Client) -> None:
    with sdk_of(quarry) as sdk:
        extracting_workflow(sdk, "broken-clip")
        broken = {"single_file": {"input_content": base64.b64encode(b"\x00\x00\x00\x18ftypisom" + bytes(500)).decode(),
                                  "input_type": "mp4"}}  # fmt: skip
        with pytest.raises(bem.InternalServerError) as raised:
            sdk.workflows.call("broken-clip", input=broken, wait=True)
    body = raised.value.body
    assert isinstance(body, dict) and "the video cannot be decoded" in body["error"]
    assert "quarry-video-" not in body["error"]  # the temporary file is not named


def test_without_ffmpeg_a_video_call_fails_clearly(without_ffmpeg: httpx.Client) -> None:
    with sdk_of(without_ffmpeg) as sdk:
        extracting_workflow(sdk, "no-decoder")
        with pytest.raises(bem.InternalServerError) as raised:
            sdk.workflows.call("no-decoder", input=video_input("mp4", seconds=1), wait=True)
        body = raised.value.body
        assert isinstance(body, dict)
        [error] = body["call"]["errors"]
        assert "mp4 input needs ffmpeg, which is not installed" in error["message"]
        # the service goes on: a document of another kind is read as ever
        text = {"single_file": {"input_content": base64.b64encode(documents.text()).decode(), "input_type": "text"}}
        call = sdk.workflows.call("no-decoder", input=text, wait=True).call
        assert call is not None and call.status == "completed"
        assert call.outputs[0].transformed_content["invoiceNumber"] == documents.NUMBER
