"""Where a download may go: http/https only, public addresses only, checked after DNS.

The ingestor fetches URLs that came from third-party data, so a URL (or a redirect)
could point at this machine, the VPC or the cloud metadata service. The defences:

* :func:`checked_url` refuses anything but ``http``/``https`` with a host, and checks an
  IP-literal host at once (aiohttp does not resolve those);
* :class:`SafeResolver` is the connector's resolver: it resolves a host name itself and
  refuses the connection if any address is not public, so the socket connects to an
  address that was checked (no second lookup can swap it: DNS rebinding);
* the downloader follows redirects itself and sends every hop through both again.

Addresses that are not global (loopback, private, link-local, CGNAT, reserved,
unspecified, multicast; IPv4 addresses embedded in IPv6 count as themselves) are
refused unless a network in the allowlist contains them (tests use loopback servers).
Cloud metadata addresses are refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # ECS task metadata and credentials
        "169.254.170.23",  # EKS pod identity agent
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # EKS pod identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """A URL the ingestor must not fetch; the message says why."""


class BlockedAddress(OSError):
    """A host resolved to an address downloads may not reach (raised inside the connector)."""


def _embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), else ``ip``."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _kind(ip: IPAddress) -> str:
    for attr, name in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_private", "a private"),
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(ip, attr):
            return name
    return "a non-public"


class AddressPolicy:
    """Which addresses downloads may reach.

    Parameters
    ----------
    allowed_networks:
        CIDRs allowed although not public (loopback servers in tests); never the
        cloud metadata addresses.
    """

    def __init__(self, allowed_networks: Iterable[str] = ()) -> None:
        self._allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be reached, or None if it may."""
        inner = _embedded(ip)
        if ip in METADATA_ADDRESSES or inner in METADATA_ADDRESSES:
            return f"{ip} is a cloud metadata address"
        if any(ip in net or inner in net for net in self._allowed):
            return None
        for candidate in (inner, ip):
            if not candidate.is_global or candidate.is_multicast:
                return f"{ip} is {_kind(candidate)} address"
        return None

    def check_ip(self, ip: IPAddress, host: str) -> None:
        reason = self.refusal(ip)
        if reason is not None:
            raise BlockedAddress(f"refusing to connect to {host}: {reason}")

    def checked_url(self, url: str | URL) -> URL:
        """``url`` parsed, if it may be fetched at all; :class:`UnsafeUrl` otherwise."""
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError) as exc:
            raise UnsafeUrl(f"not a valid URL: {exc}") from exc
        if parsed.scheme.lower() not in ("http", "https"):
            raise UnsafeUrl(f"only http and https URLs are fetched, not {parsed.scheme or 'a relative'} URL")
        host = parsed.raw_host
        if not host:
            raise UnsafeUrl("the URL has no host")
        try:
            literal = ipaddress.ip_address(host.strip("[]").split("%")[0])
        except ValueError:
            return parsed  # a name: SafeResolver checks what it resolves to
        reason = self.refusal(literal)
        if reason is not None:
            raise UnsafeUrl(f"refusing {host}: {reason}")
        return parsed


class SafeResolver(AbstractResolver):
    """A resolver that only hands the connector addresses the policy allows.

    If any address of a name is refused the whole name is (a name that mixes public
    and internal addresses is an attack, not a CDN).
    """

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results:
            raise OSError(f"{host} has no address")
        for result in results:
            self._policy.check_ip(ipaddress.ip_address(result["host"].split("%")[0]), host)
        return results

    async def close(self) -> None:
        await self._inner.close()
