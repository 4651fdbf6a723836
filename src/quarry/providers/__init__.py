"""Pluggable providers: extraction (``llm``) and transcription — the parts a deployment may swap for a model."""


class ProviderError(Exception):
    """The provider cannot produce an answer (misconfigured, unreachable, refused): the call fails with this."""
