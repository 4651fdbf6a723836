"""Free TCP ports on 127.0.0.1, for the servers that tests and benchmarks start (Quarry, S3, fakes)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now (the OS picks it; another process could take it before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
