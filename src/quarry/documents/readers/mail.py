"""Emails (.eml): headers, the body (plain text preferred, else HTML), attachments parsed in turn."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

from quarry.documents.input_types import input_type_for
from quarry.documents.limits import MAX_ATTACHMENTS
from quarry.documents.model import Attachment, Document, DocumentError, describe, text_document
from quarry.documents.readers.markup import html_text

HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")

ParseAttachment = Callable[[str, bytes], Document]


def read(data: bytes, parse_attachment: ParseAttachment) -> Document:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys() or message.defects and not header(message, "From"):
        raise DocumentError("the file is not an RFC 822 email: it has no headers")
    fields = [(name, value) for name in HEADERS if (value := header(message, name))]
    lines = [f"{name}: {value}" for name, value in fields]
    body = _body(message)
    if body is not None:
        content = _content(body)
        lines.append(html_text(content) if body.get_content_type() == "text/html" else content.replace("\r\n", "\n"))
    parts = _attachment_parts(message, body)
    if len(parts) > MAX_ATTACHMENTS:  # counted before any is parsed: each may cost seconds (OCR)
        raise DocumentError(f"the email has {len(parts)} attachments; at most {MAX_ATTACHMENTS} are read")
    attachments = [_attachment(part, parse_attachment) for part in parts]
    return text_document("email", "\n".join(lines), fields=fields, attachments=attachments)


def header(message: EmailMessage, name: str) -> str | None:
    """A header's value as the policy parses it (encoded words decoded); as written when the
    parser fails on it (malformed addresses have raised IndexError, HeaderParseError…)."""
    try:
        value = message[name]
        return str(value) if value else None
    except Exception:
        raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), None)
        return (" ".join(str(raw).split()) or None) if raw else None


def _body(message: EmailMessage) -> EmailMessage | None:
    try:
        return message.get_body(preferencelist=("plain", "html"))
    except Exception:  # a malformed Content-Type or Content-Disposition on the way to it
        return None


def _attachment_parts(message: EmailMessage, body: EmailMessage | None) -> list[EmailMessage]:
    try:
        return [part for part in message.iter_attachments() if part is not body]
    except Exception as exc:
        raise DocumentError(f"the email's parts cannot be read: {describe(exc)}") from None


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except Exception:  # an unknown charset, a broken transfer encoding: read what can be read
        try:
            payload = part.get_payload(decode=True) or b""
        except Exception:
            payload = b""
        content = payload if isinstance(payload, bytes) else str(payload).encode()
    return content if isinstance(content, str) else content.decode("utf-8", errors="replace")


def _attachment(part: EmailMessage, parse_attachment: ParseAttachment) -> Attachment:
    """An attachment read, or the reason it could not be: whatever goes wrong with one attachment
    (its headers, its encoding, its parsing, its transcription) does not fail the email."""
    try:
        filename = part.get_filename() or "(unnamed)"
    except Exception:
        filename = "(unnamed)"
    input_type = None
    try:
        input_type = input_type_for(filename, part.get_content_type())
        if part.get_content_type() == "message/rfc822":  # a forwarded email, kept whole as a message object
            inner = part.get_payload()
            if not isinstance(inner, list) or not inner:
                return Attachment(filename, "email", error="the attached email is empty")
            input_type, payload = "email", inner[0].as_bytes()
        elif input_type is None:
            return Attachment(filename, None, error=f"attachments of type {part.get_content_type()} are not read")
        else:
            payload = part.get_payload(decode=True) or b""
        return Attachment(filename, input_type, document=parse_attachment(input_type, payload))
    except DocumentError as exc:
        return Attachment(filename, input_type, error=str(exc))
    except Exception as exc:
        return Attachment(filename, input_type, error=describe(exc))
