"""Turning command-line words into what the client needs: job parameters, status filters,
the server address. Pure functions, so the awkward cases are unit-tested without a server.

Parameters come as `key=value` words whose value is JSON when it parses (`rows=100` is a
number, `name=bob` a string), or as one JSON object after `--json` (`'{"rows": 5}'`,
`@file.json`, or `-` for stdin); words given as well override the object's keys.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8000"
STATUSES = ("queued", "processing", "completed", "failed", "cancelled")


class UsageError(Exception):
    """The command line cannot be turned into a request; exit status 2, like argparse."""


def parse_value(text: str) -> Any:
    """JSON when the text parses as JSON (numbers, true/false/null, quoted strings, objects),
    else the text itself: people type `name=bob`, not `name='"bob"'`."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(words: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {word!r}")
        params[key] = parse_value(value)
    return params


def is_params_source(text: str) -> bool:
    """Whether a word after `--json` supplies the parameters (a JSON object, `@file`, `-`)
    rather than being the operation or a KEY=VALUE word that merely follows the flag."""
    stripped = text.lstrip()
    return stripped.startswith(("{", "[", "@")) or text == "-"


def load_params_source(source: str) -> dict[str, Any]:
    """Read the JSON object named by `--json`: inline text, `@path`, or `-` for stdin."""
    if source == "-":
        text, where = sys.stdin.read(), "stdin"
    elif source.startswith("@"):
        path = source[1:]
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UsageError(f"cannot read parameters from {path!r}: {exc.strerror}") from None
        where = path
    else:
        text, where = source, "--json"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the parameters in {where} are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError(f"the parameters in {where} must be a JSON object, not {value!r:.40}")
    return value


class JsonFlag(argparse.Action):
    """`--json [PARAMS]` on `submit`: always selects JSON output; a following JSON object,
    `@file` or `-` also supplies the parameters. Any other word it swallowed (argparse
    takes the next word for an optional value) is handed back as a positional word."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        namespace.json = True
        if isinstance(values, str):
            if is_params_source(values):
                namespace.params_source = values
            else:
                namespace.spilled_words = [*getattr(namespace, "spilled_words", []), values]


def split_operation(words: Sequence[str]) -> tuple[str, list[str]]:
    """The one word without `=` is the operation; the rest are KEY=VALUE parameters."""
    names = [w for w in words if "=" not in w]
    if not names:
        raise UsageError("name the OPERATION to run, e.g. `lro submit reports.generate rows=10`")
    if len(names) > 1:
        raise UsageError(f"expected one OPERATION and KEY=VALUE words, got {names!r}")
    return names[0], [w for w in words if "=" in w]


def status_list(text: str) -> list[str]:
    """argparse type for `--status`: one status or a comma-separated list of them."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in STATUSES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown status {', '.join(unknown) or text!r}; use {', '.join(STATUSES)}"
        )
    return names


def page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError("must be between 1 and 200")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be more than zero seconds")
    return value


def server_url(flag: str | None) -> str:
    """`--url`, else LRO_URL, else the local default; checked here so a typo is a usage
    error rather than a confusing transport failure."""
    url = (flag or os.environ.get("LRO_URL") or DEFAULT_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"the server URL {url!r} must look like http://host:port")
    return url


def api_key(flag: str | None) -> str | None:
    return flag or os.environ.get("LRO_API_KEY") or None
