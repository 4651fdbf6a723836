"""Speech to text for audio inputs, by any OpenAI-compatible ``/audio/transcriptions`` endpoint
(OpenAI Whisper, faster-whisper-server, LocalAI, vLLM…). Without one, audio cannot be read."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from quarry.config import Settings
from quarry.documents.input_types import MEDIA_TYPES
from quarry.providers import ProviderError
from quarry.providers.http import ModelEndpoint, endpoint_settings, error_detail


@dataclass
class Transcriber(ModelEndpoint):
    @classmethod
    def from_settings(cls, settings: Settings) -> Transcriber | None:
        """The deployment's transcriber, or None when ``QUARRY_TRANSCRIPTION_BASE_URL`` is not set."""
        if not settings.transcription_base_url:
            return None
        api_key = settings.transcription_api_key or settings.llm_api_key
        return cls(
            **endpoint_settings(settings, settings.transcription_base_url, api_key), model=settings.transcription_model
        )

    def __call__(self, input_type: str, data: bytes) -> str:
        media_type, extension = MEDIA_TYPES[input_type]
        with httpx.Client(timeout=self.timeout_seconds) as client:
            response = self.post(
                client,
                "/audio/transcriptions",
                data={"model": self.model, "response_format": "json"},
                files={"file": (f"audio.{extension}", data, media_type)},
            )
        if response.status_code >= 400:
            status = response.status_code
            raise ProviderError(
                f"the transcription endpoint refused the audio: HTTP {status}: {error_detail(response)}"
            )
        try:
            text = response.json()["text"]
        except (ValueError, KeyError, TypeError):
            raise ProviderError(f"the transcription endpoint's answer has no text: {response.text[:200]}") from None
        if not isinstance(text, str):
            raise ProviderError("the transcription endpoint's answer has no text")
        return text
