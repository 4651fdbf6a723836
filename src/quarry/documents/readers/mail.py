"""Emails (.eml): headers, the body (plain text preferred, else HTML), attachments parsed in turn."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage

from quarry.documents.input_types import input_type_for
from quarry.documents.limits import MAX_ATTACHMENTS
from quarry.documents.model import Attachment, Document, DocumentError, text_document
from quarry.documents.readers.markup import html_text

HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date")

ParseAttachment = Callable[[str, bytes], Document]


def read(data: bytes, parse_attachment: ParseAttachment) -> Document:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys() or message.defects and not message.get("From"):
        raise DocumentError("the file is not an RFC 822 email: it has no headers")
    fields = [(name, str(message[name])) for name in HEADERS if message[name]]
    lines = [f"{name}: {value}" for name, value in fields]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        content = _content(body)
        lines.append(html_text(content) if body.get_content_type() == "text/html" else content.replace("\r\n", "\n"))
    attachments = [_attachment(part, parse_attachment) for part in _attachment_parts(message, body)]
    if len(attachments) > MAX_ATTACHMENTS:
        raise DocumentError(f"the email has {len(attachments)} attachments; at most {MAX_ATTACHMENTS} are read")
    return text_document("email", "\n".join(lines), fields=fields, attachments=attachments)


def _attachment_parts(message: EmailMessage, body: EmailMessage | None) -> list[EmailMessage]:
    return [part for part in message.iter_attachments() if part is not body]


def _content(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read what can be read
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    return content if isinstance(content, str) else content.decode("utf-8", errors="replace")


def _attachment(part: EmailMessage, parse_attachment: ParseAttachment) -> Attachment:
    filename = part.get_filename() or "(unnamed)"
    input_type = input_type_for(filename, part.get_content_type())
    if part.get_content_type() == "message/rfc822":  # a forwarded email, kept whole as a message object
        input_type, payload = "email", part.get_payload()[0].as_bytes()
    elif input_type is None:
        return Attachment(filename, None, error=f"attachments of type {part.get_content_type()} are not read")
    else:
        payload = part.get_payload(decode=True) or b""
    try:
        return Attachment(filename, input_type, document=parse_attachment(input_type, payload))
    except DocumentError as exc:
        return Attachment(filename, input_type, error=str(exc))
