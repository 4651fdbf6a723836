"""The SMTP listener (aiosmtpd): its own thread and event loop beside the process's other work.

Every command's decision is ``Inbound``'s (``smtp.delivery``); what touches the database runs in a
thread of the loop's executor, so one slow delivery does not hold the other connections. The
size limit is aiosmtpd's: a client that declares a larger ``SIZE`` is refused at ``MAIL FROM``,
one that sends more is answered 552 after its data, which is discarded as it arrives.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from quarry.bootstrap import Process
from quarry.engine.upgrades import DrainWatch
from quarry.smtp.delivery import Inbound, Refusal
from quarry.tenancy.service import authenticate

log = logging.getLogger("quarry.smtp")


class Handler:
    """aiosmtpd's hooks, answering each command with ``Inbound``'s decision."""

    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        sender = envelope.mail_from or ""
        refused = await _in_thread(lambda: self.inbound.recipient(address, sender, session.auth_data))
        if refused is not None:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        sender, recipients = envelope.mail_from or "", list(envelope.rcpt_tos)
        call_ids: list[str] = []
        refused = await _in_thread(
            lambda: call_ids.extend(self.inbound.deliver(data, sender, recipients, session.auth_data))
        )
        if refused is not None:
            return refused
        started = f"started {', '.join(call_ids)}" if call_ids else "already received: no call started again"
        log.info("mail from <%s> to %s: %s", sender, ", ".join(recipients), started)
        return f"250 2.0.0 OK: {started}"


async def _in_thread(decide: Callable[[], Any]) -> str | None:
    """Run ``decide`` in the loop's executor: None when it passed, else the reply refusing the
    command (451 when something failed that a later try may not meet)."""
    try:
        await asyncio.get_running_loop().run_in_executor(None, decide)
    except Refusal as refusal:
        return refusal.reply
    except Exception:
        log.exception("inbound mail could not be taken")
        return "451 4.3.0 The mail could not be taken just now: try later"
    return None


class ApiKeyLogin:
    """AUTH PLAIN and LOGIN: the password is an API key (any user name); the session then acts
    with its environment (``session.auth_data`` is its ``Principal``)."""

    def __init__(self, process: Process) -> None:
        self.process = process

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        secret = auth_data.password.decode("utf-8", errors="replace")
        with self.process.db.read() as db_session:  # one indexed look-up, as an API request's key
            principal = authenticate(db_session, secret, self.process.settings.api_key)
        return AuthResult(success=principal is not None, handled=False, auth_data=principal)


def tls_context(cert: Any, key: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def smtp_listener(process: Process, host: str, port: int) -> Controller:
    """A listener of ``process`` on ``host:port``, not started (``start()``, ``stop()``)."""
    settings = process.settings
    use_tls = settings.smtp_tls_cert is not None and settings.smtp_tls_key is not None
    return Controller(
        Handler(Inbound(process, DrainWatch(process.db))),
        hostname=host,
        port=port,
        server_hostname=settings.email_domain,
        data_size_limit=settings.smtp_message_limit,
        tls_context=tls_context(settings.smtp_tls_cert, settings.smtp_tls_key) if use_tls else None,
        authenticator=ApiKeyLogin(process),
        auth_required=settings.smtp_require_auth,
        auth_require_tls=not settings.smtp_auth_without_tls,
        ident="Quarry",
    )
