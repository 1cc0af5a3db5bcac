"""Which URLs a webhook may be sent to: no server-side request forgery.

A carrier names the URL, our dispatcher calls it from inside our network, so a URL that
points back inside (loopback, link-local such as cloud metadata at 169.254.169.254,
private ranges, anything not globally routable) is refused, and so is plain http. The
check runs when an endpoint is registered or changed (API) and again on the addresses
the name resolves to just before every delivery (dispatcher), since DNS may change in
between. Hosts on `WEBHOOK_ALLOWED_INSECURE_TARGETS` (tests, a local receiver) may use
http and any address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


class WebhookTargetSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    webhook_allowed_insecure_targets: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9.:\[\],-]*$",
        description="Comma-separated hosts webhooks may reach over http and at private, "
        "loopback or link-local addresses (tests, a local receiver); empty: none.",
    )

    @property
    def insecure_hosts(self) -> frozenset[str]:
        hosts = self.webhook_allowed_insecure_targets.split(",")
        return frozenset(h.strip().lower() for h in hosts if h.strip())


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


async def resolve(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _refused_address(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, flagged in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved or ip.is_unspecified),
    ):
        if flagged:
            return f"{address} is a {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


def check_url(url: str, insecure_hosts: frozenset[str]) -> tuple[str, int, bool]:
    """(host, port, allowlisted) of a well-formed target URL; raises TargetRefused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetRefused("must be an absolute URL with a host")
    if parts.username or parts.password:
        raise TargetRefused("must not carry credentials")
    allowlisted = host in insecure_hosts
    if parts.scheme != "https" and not (allowlisted and parts.scheme == "http"):
        raise TargetRefused("must use https")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("has an invalid port") from None
    return host, port, allowlisted


async def check_target(
    url: str,
    insecure_hosts: frozenset[str],
    resolver: Resolver = resolve,
    must_resolve: bool = True,
) -> None:
    """Refuses a URL that is not https or that reaches inside; raises TargetRefused.

    `must_resolve=False` (registration) accepts a name that does not resolve yet; the
    dispatcher checks again on every delivery with `must_resolve=True`.
    """
    host, port, allowlisted = check_url(url, insecure_hosts)
    if allowlisted:
        return
    try:
        addresses: Sequence[str] = [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError:
            if must_resolve:
                raise TargetRefused(f"{host} does not resolve") from None
            return
    for address in addresses:
        if (why := _refused_address(address)) is not None:
            raise TargetRefused(f"{host} resolves to a refused address: {why}")
