"""The shipped Grafana dashboard and Prometheus alert rules (docs/grafana, docs/prometheus;
docs/operations.md) reference only metrics lro exports: every `lro_*` name in their
PromQL is checked against the families of a real `/metrics` scrape, so a renamed or
removed metric breaks this test instead of an operator's dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lro import LRO, JobContext, Settings
from lro.testing import run

DOCS = Path(__file__).resolve().parents[2] / "docs"
DASHBOARD = DOCS / "grafana" / "lro-dashboard.json"
ALERTS = DOCS / "prometheus" / "lro-alerts.yml"

NAME = re.compile(r"\b(lro_[a-zA-Z0-9_]*)")
"""An lro metric name in PromQL (label names, functions and Grafana variables never
start with `lro_`)."""

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def names_in(exprs: list[str]) -> set[str]:
    return {m for e in exprs for m in NAME.findall(e)}


async def exported(tmp_path: Path) -> set[str]:
    """Every series name a scrape can carry, from the families' names and types (so a
    family with no samples yet, a histogram nobody observed, still counts)."""
    app = LRO(settings=Settings(result_dir=str(tmp_path / "results")))

    @app.operation("limited", concurrency=1)
    async def limited(ctx: JobContext) -> None:
        pass

    async with run(app, path=tmp_path) as t:
        await t.submit("limited")
        await t.run_until_idle()
        async with t.background_worker():  # its slots gauge is reported while it runs
            text = (await t.client.get("/metrics")).text
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
        names |= {s.name for s in family.samples}
    return names


async def test_every_metric_the_dashboard_and_alerts_use_is_exported(tmp_path: Path) -> None:
    used = names_in(dashboard_exprs()) | names_in([r["expr"] for r in alert_rules()])
    assert len(used) >= 10  # the parse found the expressions at all
    missing = sorted(used - await exported(tmp_path))
    assert missing == [], f"referenced but not exported: {missing}"


def test_the_dashboard_has_the_panels_operations_md_promises() -> None:
    board = json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in board["panels"]}
    assert {
        "Throughput by outcome",
        "p95 run time by operation",
        "Queue lag by operation",
        "Held back by reason",
        "Worker saturation",
        "Live workers",
        "Webhook deliveries pending",
        "Schedule lag",
    } <= titles
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        assert all(t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"])


def test_the_alert_rules_cover_what_operations_md_promises() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == {
        "LroQueueLagHigh",
        "LroFailureRateHigh",
        "LroNoLiveWorkers",
        "LroStoreDown",
        "LroScheduleLate",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["for"]
        assert rule["expr"].count("(") == rule["expr"].count(")")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
