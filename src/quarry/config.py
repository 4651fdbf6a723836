"""Settings, read once from ``QUARRY_*`` environment variables.

Everything configurable lives here so that the rest of the code never reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    ffmpeg: str = "ffmpeg"  # the program that decodes videos: a name on PATH, or a path
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: str | None = None
    webhook_backoff_base: float = 5.0
    webhook_max_backoff_seconds: float = 6 * 3600.0
    webhook_max_attempts: int = 15
    webhook_timeout_seconds: float = 10.0
    webhook_allowed_networks: str | None = None
    send_s3_buckets: str | None = None  # comma-separated buckets send functions may write to; none when unset
    listen_url: str | None = None  # where `quarry serve` listens: the base of file URLs in webhooks
    retention_seconds: float | None = None  # finished calls older than this are removed; None: kept for good
    log_format: str = "text"  # or "json": one object per line, with the IDs of the call a line is about
    log_level: str = "info"
    metrics: bool = True  # GET /metrics (Prometheus)
    metrics_token: str | None = None  # a bearer token /metrics asks scrapers for
    metrics_port: int | None = None  # where a `quarry worker` of a distributed deployment serves its metrics
    smtp_port: int | None = None  # inbound email: the SMTP listener of `quarry serve` / `quarry smtp`; None: off
    smtp_host: str | None = None  # where it listens (None: the host `quarry serve` listens on)
    smtp_max_message_bytes: int = 25 * 1024 * 1024  # larger mail is refused (552); never above max_input_bytes
    smtp_tls_cert: Path | None = None  # PEM certificate chain and key: STARTTLS is offered
    smtp_tls_key: Path | None = None
    smtp_require_auth: bool = False  # mail only from clients that logged in with an API key (AUTH)
    smtp_auth_without_tls: bool = False  # offer AUTH on a connection that is not encrypted
    smtp_allowed_senders: dict[str, tuple[str, ...]] = field(default_factory=dict)  # environment name: senders

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("QUARRY_DATA_DIR") or default_data_dir(env)).expanduser().absolute()
        database_url = env.get("QUARRY_DATABASE_URL") or f"sqlite:///{data_dir / 'quarry.db'}"
        settings = cls(
            data_dir=data_dir,
            database_url=database_url,
            api_key=env.get("QUARRY_API_KEY") or None,
            email_domain=(env.get("QUARRY_EMAIL_DOMAIN") or "inbound.quarry.localhost").lower(),
            public_url=env.get("QUARRY_PUBLIC_URL") or None,
            max_input_bytes=_number(env, "QUARRY_MAX_INPUT_BYTES", 50 * 1024 * 1024, int),
            rate_limit_per_second=_number(env, "QUARRY_RATE_LIMIT_PER_SECOND", None, float),
            rate_limit_burst=_number(env, "QUARRY_RATE_LIMIT_BURST", 0, int),
            api_key_cache_seconds=_number(env, "QUARRY_API_KEY_CACHE_SECONDS", 5, float),
            api_threads=_number(env, "QUARRY_API_THREADS", 8, int, minimum=1),
            blob_url=env.get("QUARRY_BLOB_URL") or None,
            workers=_number(env, "QUARRY_WORKERS", 256, int, minimum=1),
            cpu_workers=_number(env, "QUARRY_CPU_WORKERS", os.cpu_count() or 1, int, minimum=1),
            parse_memory_mb=_number(env, "QUARRY_PARSE_MEMORY_MB", 2048, int),
            parse_timeout_seconds=_number(env, "QUARRY_PARSE_TIMEOUT_SECONDS", 300, float),
            review_confidence=_number(env, "QUARRY_REVIEW_CONFIDENCE", 0.9, float),
            executor_id=env.get("QUARRY_EXECUTOR_ID") or None,
            db_pool_size=_number(env, "QUARRY_DB_POOL_SIZE", 10, int, minimum=1),
            drain_seconds=_number(env, "QUARRY_DRAIN_SECONDS", 30, float),
            llm_provider=(env.get("QUARRY_LLM_PROVIDER") or "builtin").lower(),
            llm_base_url=env.get("QUARRY_LLM_BASE_URL") or None,
            llm_api_key=env.get("QUARRY_LLM_API_KEY") or None,
            llm_model=env.get("QUARRY_LLM_MODEL") or None,
            llm_timeout_seconds=_number(env, "QUARRY_LLM_TIMEOUT_SECONDS", 120, float),
            llm_max_attempts=_number(env, "QUARRY_LLM_MAX_ATTEMPTS", 5, int, minimum=1),
            llm_send_images=_flag(env, "QUARRY_LLM_SEND_IMAGES", True),
            llm_context_tokens=_number(env, "QUARRY_LLM_CONTEXT_TOKENS", 32_768, int),
            llm_strict=_flag(env, "QUARRY_LLM_STRICT", True),
            llm_logprobs=_flag(env, "QUARRY_LLM_LOGPROBS", True),
            llm_price_input=_number(env, "QUARRY_LLM_PRICE_INPUT", None, float),
            llm_price_output=_number(env, "QUARRY_LLM_PRICE_OUTPUT", None, float),
            llm_max_concurrency=_number(env, "QUARRY_LLM_MAX_CONCURRENCY", None, int),
            llm_rpm=_number(env, "QUARRY_LLM_RPM", None, int),
            transcription_base_url=env.get("QUARRY_TRANSCRIPTION_BASE_URL") or None,
            transcription_model=env.get("QUARRY_TRANSCRIPTION_MODEL") or "whisper-1",
            transcription_api_key=env.get("QUARRY_TRANSCRIPTION_API_KEY") or None,
            ffmpeg=env.get("QUARRY_FFMPEG") or "ffmpeg",
            embeddings_base_url=env.get("QUARRY_EMBEDDINGS_BASE_URL") or None,
            embeddings_model=env.get("QUARRY_EMBEDDINGS_MODEL") or None,
            embeddings_api_key=env.get("QUARRY_EMBEDDINGS_API_KEY") or None,
            webhook_backoff_base=_number(env, "QUARRY_WEBHOOK_BACKOFF_BASE", 5, float),
            webhook_max_backoff_seconds=_number(env, "QUARRY_WEBHOOK_MAX_BACKOFF_SECONDS", 6 * 3600, float),
            webhook_max_attempts=_number(env, "QUARRY_WEBHOOK_MAX_ATTEMPTS", 15, int),
            webhook_timeout_seconds=_number(env, "QUARRY_WEBHOOK_TIMEOUT_SECONDS", 10, float),
            webhook_allowed_networks=env.get("QUARRY_WEBHOOK_ALLOWED_NETWORKS") or None,
            send_s3_buckets=env.get("QUARRY_SEND_S3_BUCKETS") or None,
            retention_seconds=_duration(env, "QUARRY_RETENTION"),
            log_format=_choice(env, "QUARRY_LOG_FORMAT", ("text", "json")),
            log_level=_choice(env, "QUARRY_LOG_LEVEL", ("info", "debug", "warning", "error")),
            metrics=_flag(env, "QUARRY_METRICS", True),
            metrics_token=env.get("QUARRY_METRICS_TOKEN") or None,
            metrics_port=_number(env, "QUARRY_METRICS_PORT", None, int, minimum=1),
            smtp_port=_number(env, "QUARRY_SMTP_PORT", None, int, minimum=1),
            smtp_host=env.get("QUARRY_SMTP_HOST") or None,
            smtp_max_message_bytes=_number(env, "QUARRY_SMTP_MAX_MESSAGE_BYTES", 25 * 1024 * 1024, int, minimum=1024),
            smtp_tls_cert=_path(env, "QUARRY_SMTP_TLS_CERT"),
            smtp_tls_key=_path(env, "QUARRY_SMTP_TLS_KEY"),
            smtp_require_auth=_flag(env, "QUARRY_SMTP_REQUIRE_AUTH", False),
            smtp_auth_without_tls=_flag(env, "QUARRY_SMTP_AUTH_WITHOUT_TLS", False),
            smtp_allowed_senders=_senders(env, "QUARRY_SMTP_ALLOWED_SENDERS"),
        )
        _check_smtp(settings)
        return settings

    @property
    def max_request_bytes(self) -> int:
        """Largest request body: two files of the largest size, base64-encoded, plus room for JSON."""
        return 2 * (self.max_input_bytes * 4 // 3 + 4) + 1024 * 1024

    @property
    def smtp_message_limit(self) -> int:
        """Largest mail the SMTP listener takes: the message becomes a call's input file."""
        return min(self.smtp_max_message_bytes, self.max_input_bytes)

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


class SettingsError(ValueError):
    """A setting cannot be used; the message names its variable (``quarry`` prints it as one line)."""


def _number(
    env: Mapping[str, str], name: str, default: Any, kind: type[int] | type[float], minimum: int | None = None
) -> Any:
    """The number in ``name`` (``default`` when unset or empty), else a ``SettingsError`` naming it."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {'a whole number' if kind is int else 'a number'}, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A yes/no setting: ``0``, ``false``, ``no`` and ``off`` say no; anything else set says yes."""
    raw = env.get(name)
    if not raw:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _duration(env: Mapping[str, str], name: str) -> float | None:
    """A duration such as ``90s``, ``45m``, ``12h``, ``30d`` or ``2w`` in seconds; ``None`` when unset."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return None
    number, unit = raw[:-1], raw[-1]
    try:
        seconds = float(number) * _UNITS[unit]
    except (KeyError, ValueError):
        raise SettingsError(f"{name} must be a duration such as 90s, 45m, 12h or 30d, not {raw!r}") from None
    if seconds <= 0:
        raise SettingsError(f"{name} must be longer than nothing, not {raw!r}")
    return seconds


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first when unset), else a ``SettingsError`` naming them."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _check_smtp(settings: Settings) -> None:
    if (settings.smtp_tls_cert is None) != (settings.smtp_tls_key is None):
        raise SettingsError("QUARRY_SMTP_TLS_CERT and QUARRY_SMTP_TLS_KEY go together: set both, or neither")
    if settings.smtp_require_auth and settings.smtp_tls_cert is None and not settings.smtp_auth_without_tls:
        raise SettingsError(
            "QUARRY_SMTP_REQUIRE_AUTH needs STARTTLS (QUARRY_SMTP_TLS_CERT and QUARRY_SMTP_TLS_KEY): API keys are"
            " not sent in the clear unless QUARRY_SMTP_AUTH_WITHOUT_TLS says so"
        )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).expanduser() if raw else None


def _senders(env: Mapping[str, str], name: str) -> dict[str, tuple[str, ...]]:
    """Per environment name, the senders it takes mail from: ``production=ap@acme.com,@partner.org;
    sandbox=@acme.com`` (an address, or ``@domain`` for any address of that domain).

    >>> _senders({"S": "production=AP@acme.com, @partner.org; sandbox=@acme.com"}, "S")
    {'production': ('ap@acme.com', '@partner.org'), 'sandbox': ('@acme.com',)}
    """
    found: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in (env.get(name) or "").split(";"))):
        environment, equals, listed = entry.partition("=")
        senders = tuple(sender.strip().lower() for sender in listed.split(",") if sender.strip())
        if not equals or not environment.strip() or not senders or any("@" not in sender for sender in senders):
            raise SettingsError(
                f"{name} must be environment=sender,… pairs separated by ';' (a sender is an address or @domain),"
                f" not {entry!r}"
            )
        found[environment.strip()] = found.get(environment.strip(), ()) + senders
    return found
