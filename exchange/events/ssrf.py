"""Refusing webhook URLs that would make the hub send requests inside its own network (server-side request
forgery, OWASP SSRF prevention cheat sheet): checked when a subscription is made and again at every delivery,
on every address the host name resolves to; the delivery then connects to an address it checked."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """The URL cannot be used for webhooks; the message says why and how to fix it."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the address to connect to."""

    url: SplitResult
    host: str
    port: int
    address: str


def check_syntax(url: str) -> SplitResult:
    """Scheme http or https, a host, no user name or password, no fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UnsafeUrl(f"The URL cannot be read: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("The URL must not carry a user name or password; authenticate with the signature instead.")
    if parts.fragment:
        raise UnsafeUrl("The URL must not have a #fragment.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeUrl("The URL must not contain spaces or control characters.")
    return parts


def resolve(url: str, allow_private: bool) -> Target:
    """Check ``url`` and every address its host resolves to; return the first address to connect to."""
    parts = check_syntax(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"The host name {host!r} cannot be resolved.") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise UnsafeUrl(f"The host name {host!r} resolves to no address.")
    if not allow_private:
        for address in addresses:
            reason = forbidden(address)
            if reason:
                raise UnsafeUrl(f"The host {host!r} resolves to {address}, a {reason} address: webhooks go only to "
                                "public addresses.")
    return Target(parts, host, port, addresses[0])


def forbidden(address: str) -> str | None:
    """Why an address must not receive webhooks (None when it is a public unicast address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, hit in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                        ("multicast", ip.is_multicast), ("unspecified", ip.is_unspecified),
                        ("reserved", ip.is_reserved), ("private", ip.is_private or not ip.is_global)):
        if hit:
            return reason
    return None
