"""Property-based fuzzing of the whole API from its own OpenAPI document (HTTP-CONTRACT §7,
§10), with schemathesis: every generated request, valid or not, must get an answer the
document describes (status listed explicitly, media type, body schema, documented headers),
never a 5xx, and every error must be an RFC 9457 problem whose `status` is the HTTP status.

Twice: with auth off, and with API keys (most cases send alice's key; some bob's, the
admin's, none, or a wrong one, so the 401 answers and foreign-job 404s are checked too;
`ignored_auth` re-sends every 2xx without a key and with a wrong one).

Every operation is fuzzed, through schemathesis' examples, coverage and fuzzing phases:
positive and negative data, undocumented methods, wrong content types, plus hostile values
from `HOSTILE` and lone surrogates in JSON bodies (`spoil`). Half of the cases on one job
are pointed at seeded jobs in every state (tests/fuzz/targets.py), so the 200/204/304/409/
410 answers are reached, not only 404s. Nothing is excluded; two things are bounded: an
event stream is read up to its first event (a queued job's stream never ends by itself),
and `?wait` / `Prefer: wait` hold a request at most 0.1 s (LRO_MAX_WAIT_SECONDS).

Bounded and deterministic: MAX_EXAMPLES per operation in the fuzzing phase
(QUICK_EXAMPLES in `make test`, the full run in `make test-slow`), derandomized
Hypothesis without an example database, no deadline (CI machines vary), a fixed
schemathesis seed, picks made from a stable digest of each generated case, and a submit
rate limit that does not refill during the run; the app runs in-process (ASGI transport)
on a SQLite store of its own in a temporary directory. Two runs send the same requests and
get the same statuses.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    is_unexpected_http_status_case,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.fuzz.targets import Seeds, Target, digest

from lro.api.problems import PROBLEM_MEDIA_TYPE

KEYS = {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789", "admin": "admin-key-0123"}
MAX_EXAMPLES = 40
"""Per operation in the fuzzing phase of the full run (`make test-slow`); `make test` runs
QUICK_EXAMPLES, the same derandomized cases cut short (a bounded sample)."""
QUICK_EXAMPLES = 12


def problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx is application/problem+json with type, title, status and detail,
    and its `status` member is the HTTP status (RFC 9457, HTTP-CONTRACT §7)."""
    if response.status_code < 400:
        return None
    ctype = (response.headers.get("content-type") or [""])[0]
    assert ctype.split(";")[0].strip().lower() == PROBLEM_MEDIA_TYPE, (
        f"error {response.status_code} is {ctype!r}, not {PROBLEM_MEDIA_TYPE}"
    )
    body = response.json()
    assert isinstance(body, dict), f"problem body is {type(body).__name__}"
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], f"problem has no {key!r}: {body}"
    assert body.get("status") == response.status_code, (
        f"problem status {body.get('status')!r} != HTTP {response.status_code}"
    )
    return True


def status_listed(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every status the server means to send is listed explicitly.

    Each operation also documents a `default` problem response (for an unexpected 500),
    which makes schemathesis' own status check accept any status at all; this one does
    not count `default`. Server errors are `not_a_server_error`'s business, and the
    request-shape probes (an undocumented method, a wrong Content-Type) have no
    operation to document them: those answers are checked by `problem_json` only."""
    if response.status_code >= 500 or is_unexpected_http_status_case(case):
        return None
    listed = {str(code) for code in case.operation.responses.status_codes} - {"default"}
    status = str(response.status_code)
    assert status in listed or f"{status[0]}XX" in listed, (
        f"{response.status_code} is not listed for {case.operation.label}: {sorted(listed)}"
    )
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    status_listed,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    problem_json,
]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HOSTILE: dict[str, list[Any]] = {
    # JSON strings: NUL, bidi and BOM, a number too long to parse, a long string. (Lone
    # surrogates cannot go through a dictionary, whose entries schemathesis validates
    # with jsonschema_rs: `spoil` puts them into bodies after generation.)
    "strings": ["\x00", "\u202e\ufeff", "9" * 400, "a" * 5000],
    "urls": [
        "http://[::1",
        "http://h:99999999/",
        "http://" + "a" * 300 + "/",
        "http://127.0.0.1:9/hook",
        "http://[fe80::1%25eth0]/",
        "http://a\x00b/",
        "http://xn--/",
        "ftp://example/",
    ],
    "numbers": [2**63, 2**64, -(2**63) - 1, 10**30, 1.7976931348623157e308, 5e-324],
    "prefer": ["wait=" + "9" * 400, "wait=" + "9" * 5000, "wait=99999999999999999999", 'wait="1"'],
    "event-ids": ["9" * 19, "9" * 5000, "\xb2", "-1", "0"],
    "ranges": [
        "bytes=0-" + "9" * 5000,
        "bytes=" + "9" * 30 + "-",
        "bytes=-0",
        "bytes=" + ",".join(["0-0"] * 300),
        "bytes=5-1",
        "items=0-1",
    ],
    "etags": ['"""', "*", "W/", '"' + "x" * 5000 + '"'],
    "cursors": [
        _b64("99999999999999999999:x"),
        _b64("-99999999999999999999:x"),
        _b64("1:\x00"),
        "%%%",
        "a" * 5000,
    ],
    "digits": ["9" * 15, "9" * 16, "9" * 5000, "\xb2", "0"],
    "ids": ["a" * 10000, "\x00", "..", "%", "\u2028", "9" * 400],
}
"""Values random generation rarely reaches, offered to the fields that parse them."""

BINDINGS = {
    "body.text": "strings",
    "body.operation": "strings",
    "body.to.city": "strings",
    "body.callback_url": "urls",
    "body.count": "numbers",
    "body.priority": "numbers",
    "body.weight_kg": "numbers",
    "body.delay_seconds": "numbers",
    "header.Prefer": "prefer",
    "header.Last-Event-ID": "event-ids",
    "header.Range": "ranges",
    "header.If-None-Match": "etags",
    "query.cursor": "cursors",
    "query.limit": "numbers",
    "query.wait": "numbers",
    "query.expires": "digits",
    "query.sig": "digits",
    "path.job_id": "ids",
    "path.delivery_id": "ids",
}


def config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20261129,
            "suppress-health-check": ["all"],
            # One event is enough to check an event stream's answer; a non-terminal job's
            # stream would otherwise stay open. The timeout only backs that up.
            "max-stream-events": 1,
            "request-timeout": 10,
            "generation": {"mode": "all", "deterministic": True, "database": "none"},
            "dictionaries": {name: {"values": values} for name, values in HOSTILE.items()},
            "parameters": {
                key: {"dictionary": name, "probability": 0.2} for key, name in BINDINGS.items()
            },
        }
    )


def aim(case: Case, seeds: Seeds) -> int:
    """Point half of the cases on one job at a seeded job of this operation's own group
    (the rest keep the generated id: unknown, odd, huge). Returns the case's digest."""
    h = digest((case.path_parameters, case.query, case.headers, case.body))
    group = seeds.groups.get(case.operation.label)
    params = case.path_parameters
    if group is None or params is None or "job_id" not in params or h % 2:
        return h
    # A new dict: generated cases may share theirs (a change would leak into the next).
    names = sorted(group.jobs)
    params = {**params, "job_id": group.jobs[names[(h >> 1) % len(names)]]}
    if "delivery_id" in params and group.deliveries and (h >> 8) % 2:
        params["delivery_id"] = group.deliveries[0]
    case.path_parameters = params
    return h


LONE_SURROGATE = "\udc80"


def spoil(case: Case, h: int) -> None:
    """In one JSON body in eight, end the first string (a value or a key, depth first)
    with a lone surrogate: a legal JSON escape (`\\udc80`) that is no text."""
    if h % 8 != 3 or not isinstance(case.body, dict | list):
        return
    body = copy.deepcopy(case.body)  # generated cases may share their bodies

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            for key in list(node):
                if isinstance(node[key], str):
                    node[key] += LONE_SURROGATE
                    return True
                if walk(node[key]):
                    return True
            if node:
                first = next(iter(node))
                node[first + LONE_SURROGATE] = node.pop(first)
                return True
        elif isinstance(node, list):
            return any(walk(item) for item in node)
        return False

    if walk(body):
        # As the JSON text itself: schemathesis validates a body it is given as data with
        # jsonschema_rs, which cannot take a lone surrogate; bytes it sends as they are.
        case.body = json.dumps(body).encode()


def run(case: Case, who: str | None = None) -> None:
    if who is None:
        case.call_and_validate(checks=CHECKS)
        return
    # Whatever was generated, the credentials are the ones this case is about; given as
    # the call's own headers, they count as real credentials for ignored_auth: a 2xx with
    # a key is sent again without one and with a made-up one, and both must be refused.
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    auth = {} if who == "none" else {"Authorization": f"Bearer {KEYS.get(who, 'not-a-key')}"}
    case.call_and_validate(headers=auth, checks=[*CHECKS, ignored_auth])


HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
QUICK = settings(HYPOTHESIS, max_examples=QUICK_EXAMPLES)


# -- auth off ----------------------------------------------------------------------------
OPEN = Target("open")
open_schema = schemathesis.openapi.from_dict(OPEN.openapi(), config=config())
open_schema.app = OPEN.app  # in-process: schemathesis' ASGI transport


def fuzz_auth_off(case: Case) -> None:
    spoil(case, aim(case, OPEN.seeds))
    run(case)


@open_schema.parametrize()
@QUICK
def test_fuzz_auth_off(case: Case) -> None:
    fuzz_auth_off(case)


@pytest.mark.slow
@open_schema.parametrize()
@HYPOTHESIS
def test_fuzz_auth_off_at_length(case: Case) -> None:
    fuzz_auth_off(case)


# -- API keys ----------------------------------------------------------------------------
KEYED = Target(
    "keys",
    owner="alice",
    stranger="bob",
    api_keys=",".join(f"{p}:{k}" for p, k in KEYS.items()),
    result_link_secret="fuzz-link-secret",
    # alice's first 30 submits go through, the rest get 429s (with Retry-After); so slow a
    # refill that which ones does not depend on how fast the machine is.
    submit_burst=30,
    submit_rate_per_second=0.001,
)
keyed_schema = schemathesis.openapi.from_dict(KEYED.openapi(), config=config())
keyed_schema.app = KEYED.app

# Most cases are alice's (the owner of the seeded jobs); the rest check the others' views
# and the 401 answers.
WHO = ["alice"] * 6 + ["bob", "admin", "none", "wrong"]


@pytest.fixture(scope="module", autouse=True)
def targets() -> Iterator[None]:
    """Seed both stores before the first case; remove them after the last."""
    for target in (OPEN, KEYED):
        target.open()
    yield
    for target in (OPEN, KEYED):
        target.close()


def fuzz_api_keys(case: Case) -> None:
    h = aim(case, KEYED.seeds)
    spoil(case, h)
    run(case, who=WHO[(h >> 4) % len(WHO)])


@keyed_schema.parametrize()
@QUICK
def test_fuzz_api_keys(case: Case) -> None:
    fuzz_api_keys(case)


@pytest.mark.slow
@keyed_schema.parametrize()
@HYPOTHESIS
def test_fuzz_api_keys_at_length(case: Case) -> None:
    fuzz_api_keys(case)


def test_every_operation_on_a_job_has_seeded_jobs() -> None:
    """Guard for `aim`: the seeding keys its groups by schemathesis' own labels."""
    for target, schema in ((OPEN, open_schema), (KEYED, keyed_schema)):
        labels = {result.ok().label for result in schema.get_all_operations()}
        assert set(target.seeds.groups) == {label for label in labels if "{job_id}" in label}
