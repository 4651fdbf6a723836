"""Quarry: documents in, structured JSON out, through the bem v2 API."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 -- checked first: what follows would fail on it with a stranger error
    sys.exit(f"quarry: Quarry needs Python 3.11 or newer, this is {sys.version.split()[0]}: use python3.11 or later")

__version__ = "0.1.0"
