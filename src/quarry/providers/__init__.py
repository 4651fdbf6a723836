"""Pluggable providers: extraction (``llm``) — the parts a deployment may swap for a model."""
