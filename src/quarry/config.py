"""Settings, read once from ``QUARRY_*`` environment variables.

Everything configurable lives here so that the rest of the code never reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Runtime configuration of one Quarry process.

    >>> Settings.from_env({"QUARRY_DATA_DIR": "/tmp/q"}).database_url
    'sqlite:////tmp/q/quarry.db'
    """

    data_dir: Path
    database_url: str
    api_key: str | None = None
    email_domain: str = "inbound.quarry.localhost"
    public_url: str | None = None
    max_input_bytes: int = 50 * 1024 * 1024
    rate_limit_per_second: float | None = None  # requests a second per API key (average); None: unlimited
    rate_limit_burst: int = 0  # requests at once per API key; 0: twice the rate, at least 10
    api_key_cache_seconds: float = 5.0  # how long a process trusts a key it checked (a revocation's delay)
    api_threads: int = 8  # requests an API process works on at once (database reads, rendering)
    blob_url: str | None = None  # s3://bucket/prefix for an S3-compatible store; local files otherwise
    workers: int = 256  # function calls one worker process has in flight at once (mostly waiting on I/O)
    cpu_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # documents parsed at once
    parse_memory_mb: int = 2048  # data segment of one reader process (heap and anonymous mappings)
    parse_timeout_seconds: float = 300.0  # one document's read, OCR included
    review_confidence: float = 0.9  # extracted fields under this confidence are marked for review
    executor_id: str | None = None  # unique per process unless set
    db_pool_size: int = 10  # PostgreSQL connections per process for Quarry, and as many for the engine
    drain_seconds: float = 30.0  # on SIGTERM: how long in-flight work may take before it is handed back
    llm_provider: str = "builtin"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout_seconds: float = 120.0
    llm_max_attempts: int = 5
    llm_send_images: bool = True
    llm_context_tokens: int = 32_768  # the model's context: a longer document is read in chunks
    llm_strict: bool = True  # strict structured output where the schema allows (loose where refused)
    llm_logprobs: bool = True  # ask for token log-probabilities: field confidences from the model
    llm_price_input: float | None = None  # per million prompt tokens, for function calls' estimated cost
    llm_price_output: float | None = None  # per million completion tokens
    llm_max_concurrency: int | None = None  # model requests in flight across every worker
    llm_rpm: int | None = None  # model requests started per minute across every worker
    transcription_base_url: str | None = None
    transcription_model: str = "whisper-1"
    transcription_api_key: str | None = None
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: str | None = None
    webhook_backoff_base: float = 5.0
    webhook_max_backoff_seconds: float = 6 * 3600.0
    webhook_max_attempts: int = 15
    webhook_timeout_seconds: float = 10.0
    webhook_allowed_networks: str | None = None
    listen_url: str | None = None  # where `quarry serve` listens: the base of file URLs in webhooks

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("QUARRY_DATA_DIR") or default_data_dir(env)).expanduser().absolute()
        database_url = env.get("QUARRY_DATABASE_URL") or f"sqlite:///{data_dir / 'quarry.db'}"
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            api_key=env.get("QUARRY_API_KEY") or None,
            email_domain=env.get("QUARRY_EMAIL_DOMAIN") or "inbound.quarry.localhost",
            public_url=env.get("QUARRY_PUBLIC_URL") or None,
            max_input_bytes=int(env.get("QUARRY_MAX_INPUT_BYTES") or 50 * 1024 * 1024),
            rate_limit_per_second=float(env["QUARRY_RATE_LIMIT_PER_SECOND"])
            if env.get("QUARRY_RATE_LIMIT_PER_SECOND")
            else None,
            rate_limit_burst=int(env.get("QUARRY_RATE_LIMIT_BURST") or 0),
            api_key_cache_seconds=float(env.get("QUARRY_API_KEY_CACHE_SECONDS") or 5),
            api_threads=int(env.get("QUARRY_API_THREADS") or 8),
            blob_url=env.get("QUARRY_BLOB_URL") or None,
            workers=int(env.get("QUARRY_WORKERS") or 256),
            cpu_workers=int(env.get("QUARRY_CPU_WORKERS") or os.cpu_count() or 1),
            parse_memory_mb=int(env.get("QUARRY_PARSE_MEMORY_MB") or 2048),
            parse_timeout_seconds=float(env.get("QUARRY_PARSE_TIMEOUT_SECONDS") or 300),
            review_confidence=float(env.get("QUARRY_REVIEW_CONFIDENCE") or 0.9),
            executor_id=env.get("QUARRY_EXECUTOR_ID") or None,
            db_pool_size=int(env.get("QUARRY_DB_POOL_SIZE") or 10),
            drain_seconds=float(env.get("QUARRY_DRAIN_SECONDS") or 30),
            llm_provider=(env.get("QUARRY_LLM_PROVIDER") or "builtin").lower(),
            llm_base_url=env.get("QUARRY_LLM_BASE_URL") or None,
            llm_api_key=env.get("QUARRY_LLM_API_KEY") or None,
            llm_model=env.get("QUARRY_LLM_MODEL") or None,
            llm_timeout_seconds=float(env.get("QUARRY_LLM_TIMEOUT_SECONDS") or 120),
            llm_max_attempts=int(env.get("QUARRY_LLM_MAX_ATTEMPTS") or 5),
            llm_send_images=(env.get("QUARRY_LLM_SEND_IMAGES") or "true").lower() not in ("0", "false", "no"),
            llm_context_tokens=int(env.get("QUARRY_LLM_CONTEXT_TOKENS") or 32_768),
            llm_strict=(env.get("QUARRY_LLM_STRICT") or "true").lower() not in ("0", "false", "no"),
            llm_logprobs=(env.get("QUARRY_LLM_LOGPROBS") or "true").lower() not in ("0", "false", "no"),
            llm_price_input=_optional_float(env.get("QUARRY_LLM_PRICE_INPUT")),
            llm_price_output=_optional_float(env.get("QUARRY_LLM_PRICE_OUTPUT")),
            llm_max_concurrency=_optional_int(env.get("QUARRY_LLM_MAX_CONCURRENCY")),
            llm_rpm=_optional_int(env.get("QUARRY_LLM_RPM")),
            transcription_base_url=env.get("QUARRY_TRANSCRIPTION_BASE_URL") or None,
            transcription_model=env.get("QUARRY_TRANSCRIPTION_MODEL") or "whisper-1",
            transcription_api_key=env.get("QUARRY_TRANSCRIPTION_API_KEY") or None,
            embeddings_base_url=env.get("QUARRY_EMBEDDINGS_BASE_URL") or None,
            embeddings_model=env.get("QUARRY_EMBEDDINGS_MODEL") or None,
            embeddings_api_key=env.get("QUARRY_EMBEDDINGS_API_KEY") or None,
            webhook_backoff_base=float(env.get("QUARRY_WEBHOOK_BACKOFF_BASE") or 5),
            webhook_max_backoff_seconds=float(env.get("QUARRY_WEBHOOK_MAX_BACKOFF_SECONDS") or 6 * 3600),
            webhook_max_attempts=int(env.get("QUARRY_WEBHOOK_MAX_ATTEMPTS") or 15),
            webhook_timeout_seconds=float(env.get("QUARRY_WEBHOOK_TIMEOUT_SECONDS") or 10),
            webhook_allowed_networks=env.get("QUARRY_WEBHOOK_ALLOWED_NETWORKS") or None,
        )

    @property
    def max_request_bytes(self) -> int:
        """Largest request body: two files of the largest size, base64-encoded, plus room for JSON."""
        return 2 * (self.max_input_bytes * 4 // 3 + 4) + 1024 * 1024

    @property
    def is_embedded(self) -> bool:
        """True when running on the embedded SQLite database (the zero-configuration default)."""
        return self.database_url.startswith("sqlite")


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Per user, not per directory: ``$XDG_DATA_HOME/quarry`` (``~/.local/share/quarry``), so that
    every ``quarry`` command finds the server's data wherever it is run from.

    >>> default_data_dir({"XDG_DATA_HOME": "/data", "HOME": "/home/ann"})
    PosixPath('/data/quarry')
    >>> default_data_dir({"XDG_DATA_HOME": "relative", "HOME": "/home/ann"})
    PosixPath('/home/ann/.local/share/quarry')
    """
    xdg = env.get("XDG_DATA_HOME")
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"  # the spec ignores relative
    return base / "quarry"


def _optional_int(value: str | None) -> int | None:
    return int(value) if value else None


def _optional_float(value: str | None) -> float | None:
    return float(value) if value else None
