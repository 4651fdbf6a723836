"""What the listener reads from a mail itself, before any document reader does: its Message-ID
(the call's reference), its ``From`` addresses and the ``inboundEmail`` summary events carry.
Headers only: the body is the reader's business, in a worker."""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from quarry.documents.readers.mail import header

MAX_REFERENCE_CHARS = 256  # ``calls.call_reference_id``


def headers_of(data: bytes) -> EmailMessage:
    message = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def reference_id(message: EmailMessage) -> str | None:
    """The Message-ID without its angle brackets; None without one, or when it is too long to be
    a reference (the call is made, without a reference)."""
    value = (header(message, "Message-ID") or "").strip().removeprefix("<").removesuffix(">").strip()
    return value if value and len(value) <= MAX_REFERENCE_CHARS else None


def addresses(message: EmailMessage, name: str) -> list[str]:
    """The addresses of header ``name`` (every occurrence), in lower case."""
    try:
        values = [str(value) for value in message.get_all(name, [])]
    except Exception:  # a header the policy cannot parse: read as written
        values = [str(value) for key, value in message.raw_items() if key.lower() == name.lower()]
    return [address.lower() for _, address in email.utils.getaddresses(values) if "@" in address]


def inbound_email(message: EmailMessage, recipient: str, envelope_sender: str) -> dict[str, str]:
    """bem's ``InboundEmailEvent``: ``from`` the address of the ``From`` header (the envelope's
    sender without one), ``to`` the address Quarry received it at; ``deliveredTo`` the first ``To``
    address when it is another one: the message was forwarded to Quarry from there."""
    summary = {
        "from": next(iter(addresses(message, "From")), envelope_sender.lower()),
        "to": recipient,
        "subject": header(message, "Subject") or "",
    }
    original = next(iter(addresses(message, "To")), None)
    if original is not None and original != recipient:
        summary["deliveredTo"] = original
    return summary
