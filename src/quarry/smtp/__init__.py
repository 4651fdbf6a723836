"""Inbound email: an SMTP listener that starts a call for each mail sent to the address of a
function or workflow (``QUARRY_SMTP_PORT``; in ``quarry serve``, or ``quarry smtp`` on its own).

Like the HTTP API it is an edge of Quarry: it knows the SMTP protocol (aiosmtpd), and submits
calls through ``calls.submission`` as the API does.
"""
