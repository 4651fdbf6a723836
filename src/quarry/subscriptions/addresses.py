"""Where webhooks may go: http(s) URLs whose host does not resolve to a link-local or cloud
metadata address (unless ``QUARRY_WEBHOOK_ALLOWED_NETWORKS`` allows it) — a subscription must
not turn Quarry into a way to read the metadata service of the machine it runs on."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BLOCKED_NETWORKS: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "169.254.0.0/16",  # IPv4 link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OpenStack metadata)
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",  # "this host"
    )
)


class AddressRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """``QUARRY_WEBHOOK_ALLOWED_NETWORKS``: comma-separated CIDRs."""
    if not text:
        return ()
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ValueError(f"QUARRY_WEBHOOK_ALLOWED_NETWORKS: {exc}") from None


def check_url(url: str) -> str:
    """The URL's host, when the URL has a form webhooks can use; ``AddressRefused`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("a webhook URL must be http or https")
    if not parts.hostname:
        raise AddressRefused("a webhook URL needs a host")
    if parts.username or parts.password:
        raise AddressRefused("a webhook URL must not carry credentials; use the signing secret")
    return parts.hostname


def check_address(host: str, allowed: tuple[Network, ...] = (), *, resolve: bool = True) -> None:
    """Refuse a host that is, or resolves to, a blocked address not in ``allowed``.

    ``resolve=False`` checks only a literal IP (for validating a URL when it is stored: a name
    may resolve differently later, so deliveries check again, resolving)."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise AddressRefused(f"the host {host!r} cannot be resolved: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:169.254.169.254 reaches the IPv4 address
        if any(address in network for network in allowed):
            continue
        if any(address in network for network in BLOCKED_NETWORKS):
            raise AddressRefused(f"{host} is {address}, a link-local or cloud-metadata address")
