"""The command line as the people commands read it: KEY=VALUE words, `--json [PARAMS]`,
status filters, the server address. In-process through `lro.cli.build_parser`, the parser
the console script uses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from lro.cli import build_parser
from lro.cli.jobs import options


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def submit_request(*argv: str) -> tuple[str, dict[str, object], bool]:
    """(operation, params, json output) as `lro submit ARGV` would send them."""
    args = parse("submit", *argv)
    operation, pairs = options.split_operation([*args.words, *args.spilled_words])
    params = options.load_params_source(args.params_source) if args.params_source else {}
    params.update(options.parse_pairs(pairs))
    return operation, params, bool(args.json)


def test_values_are_json_when_they_parse_else_strings() -> None:
    assert options.parse_pairs(
        ["rows=100", "delay_seconds=0.5", "name=bob", "ok=true", "none=null", "empty="]
    ) == {"rows": 100, "delay_seconds": 0.5, "name": "bob", "ok": True, "none": None, "empty": ""}
    assert options.parse_pairs(['quoted="100"', 'tags=["a","b"]', "eq=a=b"]) == {
        "quoted": "100",
        "tags": ["a", "b"],
        "eq": "a=b",
    }


@pytest.mark.parametrize("word", ["=5", "rows"])
def test_a_word_that_is_not_key_value_is_refused(word: str) -> None:
    with pytest.raises(options.UsageError, match="KEY=VALUE"):
        options.parse_pairs([word])


def test_key_value_words_may_sit_before_between_and_after_options() -> None:
    assert submit_request("reports.generate", "rows=5", "--wait", "delay_seconds=1") == (
        "reports.generate",
        {"rows": 5, "delay_seconds": 1},
        False,
    )
    args = parse("submit", "--priority", "3", "reports.generate", "rows=5", "--wait")
    assert (args.priority, args.wait, args.words) == (3, True, ["reports.generate", "rows=5"])


def test_bare_json_flag_selects_json_output_without_eating_the_next_word() -> None:
    assert submit_request("--json", "reports.generate", "rows=5") == (
        "reports.generate",
        {"rows": 5},
        True,
    )
    assert submit_request("reports.generate", "--json", "rows=5") == (
        "reports.generate",
        {"rows": 5},
        True,
    )
    assert submit_request("reports.generate", "rows=5", "--json")[2] is True


def test_json_params_inline_from_a_file_and_overridden_by_words(tmp_path: Path) -> None:
    assert submit_request("reports.generate", "--json", '{"rows": 5, "delay_seconds": 2}') == (
        "reports.generate",
        {"rows": 5, "delay_seconds": 2},
        True,
    )
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"rows": 9, "delay_seconds": 2}))
    assert submit_request("reports.generate", "--json", f"@{path}", "delay_seconds=0") == (
        "reports.generate",
        {"rows": 9, "delay_seconds": 0},
        True,
    )
    assert parse("submit", "reports.generate", "--json", "-").params_source == "-"


@pytest.mark.parametrize(
    ("source", "message"),
    [("[1, 2]", "must be a JSON object"), ("{rows: 5}", "not valid JSON"), ("@/no/such", "read")],
)
def test_bad_json_params_are_usage_errors(source: str, message: str) -> None:
    with pytest.raises(options.UsageError, match=message):
        options.load_params_source(source)


def test_exactly_one_operation() -> None:
    with pytest.raises(options.UsageError, match="OPERATION"):
        options.split_operation(["rows=5"])
    with pytest.raises(options.UsageError, match="one OPERATION"):
        options.split_operation(["reports.generate", "other"])


def test_status_filters_repeat_and_take_comma_lists() -> None:
    args = parse("jobs", "--status", "queued,processing", "--status", "failed")
    assert args.status == [["queued", "processing"], ["failed"]]
    with pytest.raises(SystemExit) as exc:
        parse("jobs", "--status", "done")
    assert exc.value.code == 2


def test_server_url_from_flag_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRO_URL", raising=False)
    assert options.server_url(None) == options.DEFAULT_URL
    monkeypatch.setenv("LRO_URL", "http://lro.internal:9000/")
    assert options.server_url(None) == "http://lro.internal:9000"
    assert options.server_url("https://x.example") == "https://x.example"
    with pytest.raises(options.UsageError, match="http://host:port"):
        options.server_url("localhost:8000")
