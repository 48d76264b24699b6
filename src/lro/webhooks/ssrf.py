"""The SSRF guard: a callback URL may only reach globally routable addresses.

A webhook makes the server send a request wherever a client points it, so an attacker who
can submit jobs could otherwise make it call its own loopback services, the private
network behind it or the cloud metadata endpoint. `check_url` therefore refuses a URL when
its host is, or resolves to, ANY address that `classify` rejects, and returns the addresses
it checked so that the sender connects to exactly those (a second DNS lookup could answer
differently: DNS rebinding).

The address tables are written out here instead of using `ipaddress`'s `is_private` /
`is_global`, whose tables changed between Python versions; the guard must not.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lro.errors import LROError

if TYPE_CHECKING:
    from lro.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[Sequence[str]]]
"""`async (host) -> addresses as text`; injectable so tests can stand in for DNS."""

_V4, _V6 = ipaddress.IPv4Network, ipaddress.IPv6Network

# Instance metadata services: credentials live there, so they stay refused even when
# private targets are allowed. AWS (IMDS, ECS, DNS, NTP, IPv6 IMDS), GCP/Azure/OCI/DO
# (169.254.169.254), Alibaba (100.100.100.200), Oracle (192.0.0.192), Azure WireServer.
CLOUD_METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.169.123",
        "169.254.170.2",
        "169.254.170.23",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd00:ec2::123",
    )
)

# Categories `allow_private` (or a host in `allowed_hosts`) lifts; every other one stays.
PRIVATE_KINDS = frozenset(
    {"loopback", "private", "link-local", "carrier-grade NAT", "unique local"}
)

_V4_TABLE: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "reserved"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

_V6_TABLE: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "private"),  # local-use NAT64
    (_V6("100::/64"), "reserved"),  # discard-only
    (_V6("2001:2::/48"), "benchmarking"),
    (_V6("2001:10::/28"), "reserved"),  # ORCHID
    (_V6("2001:20::/28"), "reserved"),  # ORCHIDv2
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "unique local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "private"),  # deprecated site-local
    (_V6("ff00::/8"), "multicast"),
)
_V6_GLOBAL_UNICAST = _V6("2000::/3")
_NAT64 = _V6("64:ff9b::/96")
_V4_COMPATIBLE = _V6("::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo
    client): a packet to it may end up at that IPv4 address, so it is judged as one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _V4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def classify(ip: IPAddress) -> str | None:
    """Why `ip` is refused as a webhook target ("loopback", "private", "cloud metadata",
    ...), or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(int(ip))  # the zone does not change what the address is
    if ip in CLOUD_METADATA:
        return "cloud metadata"
    if isinstance(ip, ipaddress.IPv4Address):
        return next((kind for net, kind in _V4_TABLE if ip in net), None)
    kind = next((kind for net, kind in _V6_TABLE if ip in net), None)
    if kind is not None:
        return kind
    inner = embedded_ipv4(ip)
    if inner is not None:
        return classify(inner)
    return None if ip in _V6_GLOBAL_UNICAST else "reserved"


_V4_PART = re.compile(r"0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*")


def parse_numeric_host(host: str) -> IPAddress | None:
    """The address a numeric host spelling stands for, as the C resolver reads it:
    `2130706433`, `0x7f.1`, `017700000001` and `127.1` are all 127.0.0.1; IPv6 literals
    as usual. None for a host name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.lower().split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.fullmatch(p) for p in parts):
        return None
    values = [_part(p) for p in parts]
    # inet_aton: every part but the last is one byte; the last fills the remaining bytes.
    last_bits = 8 * (5 - len(parts))
    if any(v > 255 for v in values[:-1]) or values[-1] >= 1 << last_bits:
        return None
    number = values[-1]
    for i, v in enumerate(values[:-1]):
        number |= v << (24 - 8 * i)
    return ipaddress.IPv4Address(number)


def _part(p: str) -> int:
    if p.startswith("0x"):
        return int(p[2:], 16)
    return int(p, 8) if p.startswith("0") else int(p)


class TargetRefused(LROError):
    """The guard will not call this URL. `reason` is one sentence for the client;
    `transient` marks failures that may heal (DNS did not answer), as opposed to a
    refused address or a malformed URL, which never will."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class ResolvedAddress:
    """One checked address of a callback URL: connect to `ip`, speak to `host`."""

    host: str
    ip: IPAddress
    port: int


def normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Which targets are allowed: `allow_private` lifts loopback, private, link-local,
    carrier-grade NAT and unique-local addresses for every host (development, tests);
    `allowed_hosts` lifts them for the named hosts only. Nothing lifts the rest."""

    allow_private: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    resolve_timeout: float = 5.0

    def __post_init__(self) -> None:
        hosts = frozenset(normalise_host(h) for h in self.allowed_hosts if h.strip())
        object.__setattr__(self, "allowed_hosts", hosts)

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetPolicy:
        hosts = settings.webhook_allowed_hosts.split(",")
        return cls(allow_private=settings.webhook_allow_private, allowed_hosts=frozenset(hosts))

    def refusal(self, host: str, ip: IPAddress) -> str | None:
        """The category `ip` is refused for as the address of `host`, or None."""
        kind = classify(ip)
        if kind in PRIVATE_KINDS and (self.allow_private or host in self.allowed_hosts):
            return None
        return kind


async def system_resolver(host: str) -> list[str]:
    """The event loop's getaddrinfo (in a thread), TCP answers only."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(
    url: str, policy: TargetPolicy, resolver: Resolver | None = None
) -> list[ResolvedAddress]:
    """Every address `url` leads to, all of them allowed by `policy`; else TargetRefused.

    A numeric host (any spelling) is used as is; a name is resolved, and one refused
    answer refuses the URL, since the connection could go to any of them.
    """
    host, port = split_target(url)
    literal = parse_numeric_host(host)
    if literal is not None:
        ips = [literal]
    else:
        ips = await _resolve(host, policy.resolve_timeout, resolver or system_resolver)
    for ip in ips:
        kind = policy.refusal(host, ip)
        if kind is not None:
            raise TargetRefused(_sentence(host, ip, kind, named=literal is None))
    return [ResolvedAddress(host, ip, port) for ip in ips]


def split_target(url: str) -> tuple[str, int]:
    """The host (lower case, no trailing dot) and port of an acceptable URL's shape."""
    if any(c.isspace() or ord(c) < 32 or c in "\\\x7f" for c in url):
        raise TargetRefused(
            "callback_url must not contain spaces, control characters or backslashes"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused(
            "callback_url is not a valid URL (check the host and a port from 1 to 65535)"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        shown = f"a {scheme}: URL" if scheme else "a relative URL"
        raise TargetRefused(f"callback_url must be an absolute http or https URL, not {shown}")
    if "@" in parts.netloc:
        raise TargetRefused("callback_url must not contain user information (user:password@)")
    host = normalise_host(parts.hostname or "")
    if not host:
        raise TargetRefused("callback_url has no host")
    if port == 0:
        raise TargetRefused("callback_url port must be from 1 to 65535")
    try:
        host.encode("idna")
    except UnicodeError:
        raise TargetRefused(f"callback_url host {host!r} is not a valid host name") from None
    return host, port or (443 if scheme == "https" else 80)


async def _resolve(host: str, timeout: float, resolver: Resolver) -> list[IPAddress]:
    try:
        async with asyncio.timeout(timeout):
            answers = await resolver(host)
    except TimeoutError:
        raise TargetRefused(
            f"callback_url host {host!r} did not resolve within {timeout:g} s", transient=True
        ) from None
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
        raise TargetRefused(
            f"callback_url host {host!r} does not resolve ({why})", transient=True
        ) from None
    ips: list[IPAddress] = []
    for answer in answers:
        try:
            ip = ipaddress.ip_address(answer)
        except ValueError:
            raise TargetRefused(
                f"callback_url host {host!r} resolves to {answer!r}, which is not an address"
            ) from None
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise TargetRefused(f"callback_url host {host!r} resolves to no address", transient=True)
    return ips


def _sentence(host: str, ip: IPAddress, kind: str, *, named: bool) -> str:
    shown = str(ip)
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        shown += f" (IPv4 {inner})"
    article = "an" if kind[0] in "aeio" or kind.startswith("unsp") else "a"
    if named:
        what = f"resolves to {shown}, {article} {kind} address"
    elif shown == host:
        what = f"is {article} {kind} address"
    else:
        what = f"is {shown}, {article} {kind} address"
    if kind in PRIVATE_KINDS:
        hint = (
            "; set LRO_WEBHOOK_ALLOW_PRIVATE=1 (or list the host in "
            "LRO_WEBHOOK_ALLOWED_HOSTS) to allow private targets"
        )
    else:
        hint = "; such targets are always refused"
    return f"callback_url host {host!r} {what}{hint}"
