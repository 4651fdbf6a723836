"""Quarry: documents in, structured JSON out, through the bem v2 API."""

__version__ = "0.1.0"
