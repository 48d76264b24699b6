"""The SSRF guard (HTTP-CONTRACT §8): what is refused at check time, and why."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence

import pytest

from lro import Settings
from lro.webhooks.ssrf import (
    ResolvedAddress,
    Resolver,
    TargetPolicy,
    TargetRefused,
    check_url,
    classify,
    parse_numeric_host,
)

STRICT = TargetPolicy()
DEV = TargetPolicy(allow_private=True)
PUBLIC_IP = "93.184.215.14"


def dns(answers: dict[str, Sequence[str]]) -> Resolver:
    """A resolver standing in for DNS: fixed answers, NXDOMAIN for anything else."""

    async def resolve(host: str) -> Sequence[str]:
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


NO_DNS = dns({})  # literal hosts must never reach the resolver


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%2", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("fd12:3456::1", "unique local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "cloud metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo client 127.0.0.1
        ("100::1", "reserved"),
        ("4000::1", "reserved"),  # outside global unicast 2000::/3
    ],
)
def test_classify_names_why_an_address_is_refused(address: str, kind: str) -> None:
    assert classify(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", PUBLIC_IP, "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111",
     "2001:4860:4860::8888", "::ffff:8.8.8.8", "2002:808:808::1"],
)  # fmt: skip
def test_public_addresses_pass(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "spelling", ["2130706433", "0x7f000001", "0x7F000001", "127.1", "0x7f.1", "017700000001",
                 "0177.0.0.01", "127.0.1", "0x7f.0.0.1"],
)  # fmt: skip
def test_numeric_spellings_are_the_addresses_they_stand_for(spelling: str) -> None:
    assert parse_numeric_host(spelling) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize("name", ["example.com", "0x", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "1e3"])
def test_names_and_impossible_numbers_are_not_numeric(name: str) -> None:
    assert parse_numeric_host(name) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/hook", "'127.0.0.1' is a loopback address"),
        ("http://[::1]:8080/hook", "'::1' is a loopback address"),
        ("http://10.0.0.1/", "a private address"),
        ("http://172.16.0.1/", "a private address"),
        ("https://192.168.1.1/", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://100.64.0.1/", "a carrier-grade NAT address"),
        ("http://0.0.0.0:8000/", "an unspecified address"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://[::ffff:127.0.0.1]/", "(IPv4 127.0.0.1), a loopback address"),
        ("http://[::ffff:7f00:1]/", "(IPv4 127.0.0.1), a loopback address"),
        ("http://2130706433/", "'2130706433' is 127.0.0.1, a loopback address"),
        ("http://0x7f000001/", "is 127.0.0.1, a loopback address"),
        ("http://127.1/", "'127.1' is 127.0.0.1, a loopback address"),
        ("http://017700000001/", "is 127.0.0.1, a loopback address"),
        ("http://0x7f.1:9000/", "is 127.0.0.1, a loopback address"),
        ("http://127.0.0.1./", "a loopback address"),
        ("ftp://example.com/hook", "http or https URL, not a ftp: URL"),
        ("file:///etc/passwd", "not a file: URL"),
        ("gopher://example.com:70/_x", "not a gopher: URL"),
        ("javascript:alert(1)", "not a javascript: URL"),
        ("//example.com/hook", "not a relative URL"),
        ("example.com/hook", "not a relative URL"),
        ("http://user:secret@example.com/", "must not contain user information"),
        ("http://user@example.com/", "must not contain user information"),
        ("http://example.com@127.0.0.1/", "must not contain user information"),
        ("http:///hook", "has no host"),
        ("http://example.com:0/", "port must be from 1 to 65535"),
        ("http://example.com:65536/", "not a valid URL"),
        ("http://example.com:http/", "not a valid URL"),
        ("http://example.com\\@127.0.0.1/", "backslashes"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/\r\nX-Injected: 1", "control characters"),
    ],
)
async def test_refused_at_check_time_with_a_readable_reason(url: str, expected: str) -> None:
    with pytest.raises(TargetRefused) as caught:
        await check_url(url, STRICT, NO_DNS)
    assert expected in caught.value.reason
    assert not caught.value.transient


async def test_private_refusals_say_how_to_allow_them_and_metadata_ones_do_not() -> None:
    with pytest.raises(TargetRefused) as loopback:
        await check_url("http://127.0.0.1/", STRICT, NO_DNS)
    assert "LRO_WEBHOOK_ALLOW_PRIVATE=1" in loopback.value.reason
    with pytest.raises(TargetRefused) as metadata:
        await check_url("http://169.254.169.254/", DEV, NO_DNS)
    assert "LRO_WEBHOOK_ALLOW_PRIVATE" not in metadata.value.reason
    assert "always refused" in metadata.value.reason


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    with pytest.raises(TargetRefused) as caught:
        await check_url("http://localhost:8000/hook", STRICT)  # the real getaddrinfo
    assert "callback_url host 'localhost' resolves to" in caught.value.reason
    assert "a loopback address" in caught.value.reason


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    resolver = dns({"evil.example": ["127.0.0.1"]})
    with pytest.raises(TargetRefused) as caught:
        await check_url("https://evil.example/hook", STRICT, resolver)
    assert caught.value.reason.startswith(
        "callback_url host 'evil.example' resolves to 127.0.0.1, a loopback address"
    )


async def test_one_refused_answer_among_public_ones_refuses_the_url() -> None:
    resolver = dns({"mixed.example": [PUBLIC_IP, "2606:4700::1", "10.1.2.3"]})
    with pytest.raises(TargetRefused, match=re.escape("resolves to 10.1.2.3, a private address")):
        await check_url("https://mixed.example/", STRICT, resolver)


async def test_a_public_name_gives_every_checked_address_once() -> None:
    resolver = dns({"hooks.example": [PUBLIC_IP, "2606:4700::1", PUBLIC_IP]})
    got = await check_url("https://Hooks.Example./in", STRICT, resolver)
    assert got == [
        ResolvedAddress("hooks.example", ipaddress.ip_address(PUBLIC_IP), 443),
        ResolvedAddress("hooks.example", ipaddress.ip_address("2606:4700::1"), 443),
    ]
    got = await check_url(f"http://{PUBLIC_IP}:8080/", STRICT, NO_DNS)
    assert got == [ResolvedAddress(PUBLIC_IP, ipaddress.ip_address(PUBLIC_IP), 8080)]


async def test_allow_private_lifts_private_targets_but_never_metadata() -> None:
    for url in ("http://127.0.0.1:9/", "http://[::1]/", "http://10.0.0.1/", "http://100.64.0.1/",
                "http://169.254.1.1/", "http://[fd12::1]/", "http://2130706433/"):  # fmt: skip
        assert await check_url(url, DEV, NO_DNS)
    for url, kind in [
        ("http://169.254.169.254/", "cloud metadata"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://100.100.100.200/", "cloud metadata"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
    ]:
        with pytest.raises(TargetRefused, match=kind):
            await check_url(url, DEV, NO_DNS)
    metadata_name = dns({"metadata.google.internal": ["169.254.169.254"]})
    with pytest.raises(TargetRefused, match="cloud metadata"):
        await check_url("http://metadata.google.internal/", DEV, metadata_name)


async def test_allowed_hosts_lets_one_named_host_through() -> None:
    policy = TargetPolicy.from_settings(Settings(webhook_allowed_hosts=" Hooks.Internal., x.y "))
    assert policy.allowed_hosts == frozenset({"hooks.internal", "x.y"})
    assert not policy.allow_private
    resolver = dns({"hooks.internal": ["10.0.0.5"], "other.internal": ["10.0.0.5"],
                    "meta.internal": ["169.254.169.254"]})  # fmt: skip
    [got] = await check_url("http://hooks.internal:8080/h", policy, resolver)
    assert (got.host, str(got.ip), got.port) == ("hooks.internal", "10.0.0.5", 8080)
    with pytest.raises(
        TargetRefused, match=re.escape("'other.internal' resolves to 10.0.0.5, a private")
    ):
        await check_url("http://other.internal/", policy, resolver)
    meta = TargetPolicy(allowed_hosts=frozenset({"meta.internal"}))
    with pytest.raises(TargetRefused, match="cloud metadata"):
        await check_url("http://meta.internal/", meta, resolver)


async def test_settings_map_to_the_policy() -> None:
    assert TargetPolicy.from_settings(Settings()) == TargetPolicy()
    assert TargetPolicy.from_settings(Settings(webhook_allow_private=True)).allow_private


async def test_a_name_that_does_not_resolve_is_refused_as_transient() -> None:
    with pytest.raises(TargetRefused) as caught:
        await check_url("https://nowhere.example/", STRICT, NO_DNS)
    assert "callback_url host 'nowhere.example' does not resolve" in caught.value.reason
    assert caught.value.transient
    with pytest.raises(TargetRefused, match="resolves to no address"):
        await check_url("https://empty.example/", STRICT, dns({"empty.example": []}))


async def test_a_slow_resolver_is_cut_off() -> None:
    async def stuck(host: str) -> Sequence[str]:
        await asyncio.sleep(30)
        return [PUBLIC_IP]

    policy = TargetPolicy(resolve_timeout=0.05)
    with pytest.raises(TargetRefused, match=re.escape("did not resolve within 0.05 s")) as caught:
        await check_url("https://slow.example/", policy, stuck)
    assert caught.value.transient
