"""A received mail made into calls: one per function or workflow address it is sent to, each with
the whole message as its ``email`` input, submitted as ``POST /v2/calls`` submits one
(``calls.submission``: the files stored, the calls recorded in one transaction, then enqueued).

What the SMTP dialogue checks lives here too, so that every refusal is decided in one place:
only Quarry's own domain (never a relay), a known address, the environment of the API key a
client logged in with, the senders an environment takes mail from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from quarry.bootstrap import Process
from quarry.calls import service
from quarry.calls.service import InputFile, NewCall
from quarry.calls.submission import submit_calls
from quarry.engine.upgrades import DrainWatch
from quarry.errors import QuarryError
from quarry.smtp.messages import addresses, headers_of, inbound_email, reference_id
from quarry.tenancy.service import Principal, acting_in

ACTING_AS = "email"
"""The name of the principal a mail from a client that did not log in acts as."""

UNKNOWN_ADDRESS = "550 5.1.1 No function or workflow has this address"
NOT_NOW = "451 4.3.2 Quarry is not taking calls just now (starting, stopping or drained for an upgrade): try later"


class Refusal(Exception):
    """An SMTP reply refusing a command, as sent: code, enhanced status (RFC 3463), reason."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


def sender_allowed(allowed: tuple[str, ...], address: str) -> bool:
    """Whether ``address`` is listed, or its domain as ``@domain``.

    >>> sender_allowed(("ap@acme.com", "@partner.org"), "Bob@Partner.org"), sender_allowed(("@acme.com",), "x@evil.com")
    (True, False)
    """
    address = address.lower()
    return address in allowed or "@" + address.rpartition("@")[2] in allowed


@dataclass
class Inbound:
    """Mail in, calls out, for one process (its database, blob store and queue)."""

    process: Process
    drain: DrainWatch

    def recipient(self, address: str, sender: str, logged_in: Principal | None) -> None:
        """Check ``RCPT TO: address`` of a mail from envelope sender ``sender``; a ``Refusal`` if not."""
        address = address.lower()
        domain = self.process.settings.email_domain
        if address.rpartition("@")[2] != domain:
            raise Refusal(f"550 5.7.1 Relaying denied: this server takes mail for @{domain} only")
        with self.process.db.read() as session:
            target = service.email_target(session, address)
            if target is None:
                raise Refusal(UNKNOWN_ADDRESS)
            principal = self._principal(session, target, logged_in)
        if logged_in is None:
            self._check_senders(principal, [sender], "sender")

    def deliver(self, data: bytes, sender: str, recipients: list[str], logged_in: Principal | None) -> list[str]:
        """Start a call of each recipient's function or workflow with message ``data``; their IDs.
        A recipient that has already had this message (same Message-ID) is not called again.
        Nothing is stored when any recipient refuses it."""
        if not self.process.engine.ready or self.drain.drained():
            raise Refusal(NOT_NOW)
        message = headers_of(data)
        reference = reference_id(message)
        from_addresses = addresses(message, "From")
        batches: dict[str, tuple[Principal, list[NewCall]]] = {}
        try:
            with self.process.db.read() as session:
                for address in dict.fromkeys(recipient.lower() for recipient in recipients):
                    target = service.email_target(session, address)
                    if target is None:  # deleted since RCPT TO
                        raise Refusal(UNKNOWN_ADDRESS)
                    principal = self._principal(session, target, logged_in)
                    if logged_in is None:
                        self._check_senders(principal, from_addresses, "From address")
                    if reference and service.started_by_mail(session, principal.environment_id, reference, target):
                        continue
                    new = service.prepare_call(reference, _the_message(data), target)
                    new.inbound_email = inbound_email(message, address, sender)
                    batches.setdefault(principal.environment_id, (principal, []))[1].append(new)
        except QuarryError as exc:  # a target that cannot be called now (e.g. its workflow changed)
            raise Refusal(f"550 5.7.0 {' '.join(str(exc).split())}") from None  # a reply is one line
        call_ids = []
        for principal, new_calls in batches.values():
            created, _ = submit_calls(
                principal, new_calls, self.process.blobs, self.process.db.write, self.process.enqueue_calls
            )
            call_ids += [call.id for call, _ in created]
        return call_ids

    def _principal(self, session: Session, target: service.Target, logged_in: Principal | None) -> Principal:
        environment_id = target[1].environment_id
        if logged_in is None:
            return acting_in(session, environment_id, ACTING_AS)
        if logged_in.environment_id != environment_id:
            raise Refusal("550 5.7.1 This address is not of the environment of the API key logged in with")
        return logged_in

    def _check_senders(self, principal: Principal, senders: list[str], what: str) -> None:
        """Refuse mail whose senders the environment's allow-list (QUARRY_SMTP_ALLOWED_SENDERS)
        does not name; a mail without a sender, where there is a list."""
        allowed = self.process.settings.smtp_allowed_senders.get(principal.environment_name)
        if allowed is None:
            return
        if not senders or not all(sender and sender_allowed(allowed, sender) for sender in senders):
            raise Refusal(f"550 5.7.1 The {what} may not send mail to this environment's addresses")


def _the_message(data: bytes) -> Callable[[], tuple[list[InputFile], bool]]:
    return lambda: ([InputFile("email", data)], False)
