"""One delivery attempt against real receivers on loopback (HTTP-CONTRACT §8)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from tests.webhooks.receiver import Received, Receiver, head, reply

from lro.webhooks import Resolver, TargetPolicy, check_url, generate_secret, headers_for, send
from lro.webhooks.sender import DEFAULT_MAX_RESPONSE_BYTES, parse_retry_after

DEV = TargetPolicy(allow_private=True)
BODY = b'{"type":"job.completed","data":{"job_id":"j1"}}'
HEADERS = {"webhook-id": "msg_1"}


def dns(answers: dict[str, Sequence[str]], calls: list[str] | None = None) -> Resolver:
    async def resolve(host: str) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    return resolve


async def test_a_2xx_is_delivered_with_signed_headers_and_a_user_agent() -> None:
    secret = generate_secret()
    headers = headers_for("msg_42", int(time.time()), BODY.decode(), [secret])
    async with Receiver(reply(204)) as receiver:
        result = await send(receiver.url(), BODY, headers, policy=DEV, timeout=10)
    assert result.ok and result.status_code == 204
    assert result.error is None and not result.permanent and result.retry_after is None
    assert 0 < result.duration_ms < 10_000
    [got] = receiver.requests
    assert (got.method, got.target, got.body) == ("POST", "/hook", BODY)
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("lro-webhooks/")
    assert Webhook(secret).verify(got.body, got.headers) is not None


async def test_a_500_is_a_failed_attempt_with_the_answer_in_the_error() -> None:
    async with Receiver(reply(500, b"database is down\n")) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert not result.ok and result.status_code == 500 and not result.permanent
    assert result.error == "receiver answered 500 Internal Server Error: database is down"


async def test_410_gone_is_permanent() -> None:
    async with Receiver(reply(410)) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert (result.ok, result.status_code, result.permanent) == (False, 410, True)
    assert result.error is not None and "410 Gone" in result.error


async def test_retry_after_is_honoured_on_429_and_503_only() -> None:
    async with Receiver(reply(429, headers={"retry-after": "7"})) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert (result.ok, result.status_code, result.retry_after) == (False, 429, 7.0)
    async with Receiver(reply(503, headers={"retry-after": "120"})) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert (result.status_code, result.retry_after, result.permanent) == (503, 120.0, False)
    async with Receiver(reply(500, headers={"retry-after": "7"})) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert result.retry_after is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("Wed, 01 May 2024 12:02:00 GMT", now) == 120.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0
    for unreadable in (None, "", "soon", "-5", "1.5", "²"):
        assert parse_retry_after(unreadable, now) is None


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "/other"])
async def test_a_redirect_is_a_failure_and_is_not_followed(location: str) -> None:
    async with Receiver(reply(302, headers={"location": location})) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=10)
    assert not result.ok and result.status_code == 302 and not result.permanent
    assert result.error is not None and "redirects are not followed" in result.error
    assert location in result.error
    assert [r.target for r in receiver.requests] == ["/hook"]


async def test_a_slow_receiver_times_out_within_the_timeout() -> None:
    async def never_answers(request: Received, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async with Receiver(never_answers) as receiver:
        result = await send(receiver.url(), BODY, HEADERS, policy=DEV, timeout=0.5)
    assert result.status_code is None and not result.ok and not result.permanent
    assert result.error is not None and "within 0.5 s" in result.error
    assert 400 < result.duration_ms < 5_000
    assert len(receiver.requests) == 1


async def test_only_the_cap_of_an_endless_response_body_is_read() -> None:
    sent = 0

    async def endless(request: Received, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(head(500, {"content-type": "text/plain"}))  # no length: until close
        chunk = b"x" * 65_536
        while True:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)

    async with Receiver(endless) as receiver:
        result = await send(
            receiver.url(), BODY, HEADERS, policy=DEV, timeout=20, max_response_bytes=1000
        )
    # Reading it all would have run into the 20 s timeout instead.
    assert result.status_code == 500 and result.duration_ms < 10_000
    assert result.error is not None and result.error.endswith("x" * 100)
    assert DEFAULT_MAX_RESPONSE_BYTES == 65_536


async def test_dns_rebinding_is_refused_at_send_time() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str) -> Sequence[str]:
        return next(answers)

    policy = TargetPolicy()
    async with Receiver(reply(200)) as receiver:
        url = receiver.url(host="rebind.example")
        assert await check_url(url, policy, rebinding)  # at submit: a public address
        result = await send(url, BODY, HEADERS, policy=policy, timeout=10, resolver=rebinding)
    assert result.status_code is None and result.permanent and not result.ok
    assert result.error is not None
    assert "'rebind.example' resolves to 127.0.0.1, a loopback address" in result.error
    assert receiver.requests == []


async def test_a_refused_target_at_send_time_is_permanent_without_any_request() -> None:
    result = await send("http://169.254.169.254/", BODY, HEADERS, policy=DEV, timeout=10)
    assert result.permanent and result.status_code is None
    assert result.error is not None and "cloud metadata" in result.error


async def test_unresolvable_at_send_time_is_a_retryable_failure() -> None:
    result = await send(
        "https://gone.example/", BODY, HEADERS, policy=DEV, timeout=10, resolver=dns({})
    )
    assert result.status_code is None and not result.permanent
    assert result.error is not None and "does not resolve" in result.error


async def test_the_request_goes_to_the_checked_address_with_the_original_host() -> None:
    calls: list[str] = []
    resolver = dns({"receiver.test": ["127.0.0.1"]}, calls)
    async with Receiver(reply(200)) as receiver:
        url = receiver.url(host="receiver.test")
        result = await send(url, BODY, HEADERS, policy=DEV, timeout=10, resolver=resolver)
    assert result.ok, result.error
    # receiver.test exists in no DNS: only the checked 127.0.0.1 can have been used.
    assert calls == ["receiver.test"]
    [got] = receiver.requests
    assert got.headers["host"] == f"receiver.test:{receiver.port}"


async def test_the_next_checked_address_is_tried_when_one_refuses_connections() -> None:
    resolver = dns({"receiver.test": ["127.0.0.2", "127.0.0.1"]})
    async with Receiver(reply(200)) as receiver:  # listens on 127.0.0.1 only
        url = receiver.url(host="receiver.test")
        result = await send(url, BODY, HEADERS, policy=DEV, timeout=10, resolver=resolver)
    assert result.ok, result.error
    assert len(receiver.requests) == 1


async def test_a_refused_connection_is_a_retryable_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the attempt: nobody listens
    result = await send(f"http://127.0.0.1:{port}/", BODY, HEADERS, policy=DEV, timeout=10)
    assert result.status_code is None and not result.permanent and not result.ok
    assert result.error is not None
    assert result.error.startswith(f"could not connect to 127.0.0.1 (127.0.0.1:{port})")


# -- https: the certificate is checked against the host name, not the pinned IP ----------
def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command line tool")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("cert_name", "delivered"), [("receiver.test", True), ("other.test", False)]
)
async def test_https_checks_the_certificate_against_the_url_host(
    tmp_path: Path, cert_name: str, delivered: bool
) -> None:
    cert, key = _certificate(tmp_path, cert_name)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = dns({"receiver.test": ["127.0.0.1"]})
    async with Receiver(reply(200), ssl_context=server) as receiver:
        url = receiver.url(host="receiver.test")
        result = await send(
            url, BODY, HEADERS, policy=DEV, timeout=10, resolver=resolver, verify=trust
        )
    assert result.ok is delivered, result.error
    if delivered:
        assert receiver.requests[0].headers["host"] == f"receiver.test:{receiver.port}"
    else:
        assert result.status_code is None and result.error is not None
        assert "certificate" in result.error.lower()
        assert receiver.requests == []
