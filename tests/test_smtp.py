"""Inbound email: mail sent with ``smtplib`` to the real SMTP listener of the test server starts
calls, read back through the HTTP API as a client would."""

from __future__ import annotations

import dataclasses
import datetime
import email.policy
import smtplib
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import bem
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from quarry.config import Settings, SettingsError
from quarry.smtp.listener import smtp_listener
from tests import documents
from tests.calls_client import create_workflow, events_of, list_calls, wait_for
from tests.conftest import Server, Tenant
from tests.harness.ports import free_port
from tests.helpers import create_function

Listen = Callable[..., int]
"""Start a listener with these settings changed; its port."""


@pytest.fixture
def listen(server: Server) -> Iterator[Listen]:
    started = []

    def start(**settings: Any) -> int:
        port = free_port()
        process = dataclasses.replace(server.process, settings=dataclasses.replace(server.settings, **settings))
        listener = smtp_listener(process, "127.0.0.1", port)
        listener.start()
        started.append(listener)
        return port

    yield start
    for listener in started:
        listener.stop()


@pytest.fixture
def port(listen: Listen) -> int:
    return listen()


def _extractor(api: httpx.Client, name: str = "invoices") -> dict[str, Any]:
    body = {"functionName": name, "type": "transform", "outputSchemaName": "Invoice", "outputSchema": documents.SCHEMA}
    return create_function(api, body)


def _invoice_mail(to: str, message_id: str, sender: str = "billing@northwind.example") -> EmailMessage:
    """The test invoice, only in an attached PDF."""
    message = EmailMessage()
    message["From"] = f"{documents.SELLER} <{sender}>"
    message["To"] = to
    message["Subject"] = "Your documents"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content("Hello,\nplease find our invoice attached.\n")
    message.add_attachment(documents.pdf(), maintype="application", subtype="pdf", filename="invoice.pdf")
    return message


def _calls(api: httpx.Client) -> list[dict[str, Any]]:
    return list_calls(api)["calls"]


def _blob_files(server: Server) -> set[Path]:
    return {path for path in (server.settings.data_dir / "blobs").rglob("*") if path.is_file()}


def test_a_mail_with_a_pdf_to_a_workflow_address_is_a_call_of_its_extraction(
    api: httpx.Client, sdk: bem.Bem, port: int
) -> None:
    _extractor(api)
    workflow = create_workflow(api, "mailed-invoices", "invoices")
    address = workflow["emailAddress"]
    with smtplib.SMTP("127.0.0.1", port) as client:
        refused = client.send_message(_invoice_mail(f"Invoices <{address}>", "inv-42@northwind.example"))
    assert refused == {}
    (call,) = _calls(api)
    assert call["callType"] == "workflow" and call["workflowName"] == "mailed-invoices"
    assert call["callReferenceID"] == "inv-42@northwind.example"  # the Message-ID
    finished = wait_for(api, call["callID"])
    assert finished["status"] == "completed"
    (event,) = events_of(api, call["callID"])
    assert event["inputType"] == "email"
    assert event["transformedContent"]["invoiceNumber"] == documents.NUMBER  # read from the attached PDF
    assert event["transformedContent"]["totalAmount"] == pytest.approx(documents.TOTAL)
    assert event["inboundEmail"] == {"from": "billing@northwind.example", "to": address, "subject": "Your documents"}
    (output,) = sdk.calls.retrieve(call["callID"]).call.outputs  # v3, read by the strict SDK
    assert output.inbound_email is not None and output.inbound_email.from_ == "billing@northwind.example"


def test_a_mail_to_a_function_address_calls_the_function(api: httpx.Client, port: int) -> None:
    address = _extractor(api)["emailAddress"]
    message = _invoice_mail("accounts@customer.example", "fwd-1@customer.example")  # forwarded: To is not Quarry's
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(message, "accounts@customer.example", [address])
    (call,) = _calls(api)
    assert call["callType"] == "function" and call["functionName"] == "invoices"
    assert wait_for(api, call["callID"])["status"] == "completed"
    (event,) = events_of(api, call["callID"])
    assert event["inboundEmail"]["to"] == address
    assert event["inboundEmail"]["deliveredTo"] == "accounts@customer.example"


def test_a_mail_to_several_addresses_starts_a_call_of_each(api: httpx.Client, server: Server, port: int) -> None:
    function = _extractor(api)["emailAddress"]
    workflow = create_workflow(api, "mailed-invoices", "invoices")["emailAddress"]
    unknown = f"nobody-12345678@{server.settings.email_domain}"
    with smtplib.SMTP("127.0.0.1", port) as client:
        refused = client.send_message(
            _invoice_mail(function, "two@northwind.example"), to_addrs=[function, workflow, unknown]
        )
    assert list(refused) == [unknown] and refused[unknown][0] == 550
    calls = _calls(api)
    assert sorted(call["callType"] for call in calls) == ["function", "workflow"]
    for call in calls:
        assert call["callReferenceID"] == "two@northwind.example"
        assert wait_for(api, call["callID"])["status"] == "completed"


def test_the_same_message_delivered_again_starts_no_second_call(api: httpx.Client, port: int) -> None:
    address = _extractor(api)["emailAddress"]
    message = _invoice_mail(address, "once@northwind.example")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(message)
        client.send_message(message)
    assert len(_calls(api)) == 1


def test_route_email_origin_rules_see_the_sender(api: httpx.Client, port: int) -> None:
    sorter = create_function(
        api,
        {
            "functionName": "sorter",
            "type": "route",
            "description": "Sort mail",
            "routes": [
                {"name": "other", "description": "anything else", "isErrorFallback": True},
                {"name": "partner", "origin": {"email": {"patterns": [r"@partner\.example"]}}},
            ],
        },
    )
    address = sorter["emailAddress"]
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(_invoice_mail(address, "r-1@partner.example", sender="ops@partner.example"))
    (call,) = _calls(api)
    assert wait_for(api, call["callID"])["status"] == "completed"
    (event,) = events_of(api, call["callID"], "route")
    assert event["choice"] == "partner"


def test_an_unknown_address_of_quarrys_domain_is_refused_550(api: httpx.Client, server: Server, port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.send_message(_invoice_mail(f"nobody-12345678@{server.settings.email_domain}", "u@x.example"))
    ((code, _),) = refused.value.recipients.values()
    assert code == 550


def test_mail_for_another_domain_is_refused_no_relay(api: httpx.Client, port: int) -> None:
    address = _extractor(api)["emailAddress"]
    local_part = address.partition("@")[0]
    with smtplib.SMTP("127.0.0.1", port) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.send_message(_invoice_mail(f"{local_part}@elsewhere.example", "relay@x.example"))
    ((code, reply),) = refused.value.recipients.values()
    assert code == 550 and b"Relaying denied" in reply
    assert _calls(api) == []


def test_a_30_mb_mail_is_refused_552_and_nothing_is_stored(api: httpx.Client, server: Server, port: int) -> None:
    address = _extractor(api)["emailAddress"]
    message = _invoice_mail(address, "big@northwind.example")
    message.add_attachment(b"\0" * (30 * 1000 * 1000), maintype="application", subtype="octet-stream")
    data = message.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as on the wire
    blobs_before = _blob_files(server)
    with smtplib.SMTP("127.0.0.1", port) as client:
        # smtplib declares the size (the listener advertises SIZE): refused before a byte is sent
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("billing@northwind.example", [address], data)
        assert refused.value.smtp_code == 552
        # a client that does not declare it: the data is read, discarded, and answered 552
        client.rset()
        assert client.mail("billing@northwind.example")[0] == 250
        assert client.rcpt(address)[0] == 250
        assert client.data(data)[0] == 552
    assert _calls(api) == []
    assert _blob_files(server) == blobs_before


def test_an_environments_allow_list_refuses_other_senders(api: httpx.Client, tenant: Tenant, listen: Listen) -> None:
    port = listen(smtp_allowed_senders={"production": ("@northwind.example", "ap@partner.example")})
    address = _extractor(api)["emailAddress"]
    sandbox = _extractor(tenant.sandbox)["emailAddress"]  # no list for sandbox: anyone
    with smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(_invoice_mail(address, "a@evil.example", sender="mallory@evil.example"))
        assert next(iter(refused.value.recipients.values()))[0] == 550
        # the envelope's sender is allowed, the From header is not
        with pytest.raises(smtplib.SMTPDataError) as forged:
            forgery = _invoice_mail(address, "b@evil.example", sender="mallory@evil.example")
            client.send_message(forgery, "ap@partner.example")
        assert forged.value.smtp_code == 550
        assert _calls(api) == []
        client.send_message(_invoice_mail(address, "c@northwind.example", sender="billing@northwind.example"))
        client.send_message(_invoice_mail(sandbox, "d@evil.example", sender="mallory@evil.example"))
    assert [call["callReferenceID"] for call in _calls(api)] == ["c@northwind.example"]
    assert [call["callReferenceID"] for call in _calls(tenant.sandbox)] == ["d@evil.example"]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert, key_file = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key_file


def test_starttls_and_auth_with_an_api_key(api: httpx.Client, tenant: Tenant, listen: Listen, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    port = listen(smtp_tls_cert=cert, smtp_tls_key=key, smtp_require_auth=True)
    address = _extractor(api)["emailAddress"]
    message = _invoice_mail(address, "tls@northwind.example")
    trusting = ssl.create_default_context(cafile=cert)
    trusting.check_hostname = False
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert not client.has_extn("auth")  # never offered in the clear
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message)
        assert refused.value.smtp_code == 530  # logging in is required
        client.starttls(context=trusting)
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("anyone", "not-a-key")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.starttls(context=trusting)
        client.login("anyone", tenant.keys["sandbox"])
        with pytest.raises(smtplib.SMTPRecipientsRefused):  # a key of another environment
            client.send_message(message)
    assert _calls(api) == []
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.starttls(context=trusting)
        client.login("anyone", tenant.keys["production"])
        client.send_message(message)
    (call,) = _calls(api)
    assert wait_for(api, call["callID"])["status"] == "completed"


@pytest.mark.parametrize(
    "settings",
    [
        {"QUARRY_SMTP_ALLOWED_SENDERS": "production"},  # no senders
        {"QUARRY_SMTP_ALLOWED_SENDERS": "production=acme.com"},  # neither an address nor @domain
        {"QUARRY_SMTP_TLS_CERT": "/etc/cert.pem"},  # without its key
        {"QUARRY_SMTP_REQUIRE_AUTH": "1"},  # API keys would travel in the clear
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(settings: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"QUARRY_SMTP_PORT": "2525", **settings})
    assert next(iter(settings)) in str(refused.value)
