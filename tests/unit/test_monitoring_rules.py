"""Alert rules and dashboards, checked without a running Prometheus or Grafana.

Issue #7: ``promtool check rules`` passes (Debian's prometheus package; the
test fails, never skips, without it), every alert carries a summary, a
description and a runbook line, every dashboard panel uses a provisioned
data source, and every metric a query names is one the code exports. The
query extraction the integration test relies on is checked here on its own.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prometheus_harness import (
    ALERTS,
    DASHBOARDS,
    alert_promql,
    alert_queries,
    alert_rules,
    dashboard_promql,
    exported_families,
    require_binary,
    sample_names,
    split_top_level,
    strip_parens,
)

ROOT = Path(__file__).resolve().parents[2]
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yml"
OUR_METRIC = re.compile(r"\b(?:regsosek|faust|process|python)_[a-z0-9_]+\b")


def test_promtool_checks_the_rule_files() -> None:
    promtool = require_binary("promtool")
    files = sorted(str(path) for path in ALERTS.glob("*.yml"))
    assert files, "no rule files in monitoring/alerts/"
    result = subprocess.run(
        [promtool, "check", "rules", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_summary_description_runbook_and_severity() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook"):
            assert str(annotations.get(key, "")).strip(), f"{rule['alert']}: no {key}"
        assert "\n" not in annotations["runbook"].strip(), f"{rule['alert']}: one runbook line"
        assert annotations["runbook"].startswith("docs/monitoring.md#")
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule.get("for"), f"{rule['alert']}: fire only when it lasts"


def test_runbook_anchors_exist_in_the_docs() -> None:
    docs = (ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in docs.splitlines()
        if line.startswith("#")
    }
    for rule in alert_rules():
        anchor = rule["annotations"]["runbook"].split(":", 1)[0].split("#", 1)[1]
        assert anchor in headings, f"{rule['alert']}: docs/monitoring.md has no #{anchor}"


def test_the_issue_asks_for_these_alerts() -> None:
    exprs = {rule["alert"]: str(rule["expr"]) for rule in alert_rules()}
    assert "regsosek_consumer_lag_messages" in exprs["RegsosekConsumerLagGrowing"]
    assert "> 0.1" in exprs["RegsosekRejectionRateHigh"]
    assert "regsosek_sink_failing" in exprs["RegsosekSinkFailing"]
    silent = exprs["RegsosekDistrictSilent"]
    assert "regsosek_district_submissions_total" in silent and "hour()" in silent
    assert 'absent(up{job="worker"})' in exprs["RegsosekWorkerDown"]


@pytest.mark.parametrize(
    ("expr", "queries"),
    [
        ("a > 0.1", ["a"]),
        ("sum(rate(x[5m])) / sum(rate(y[5m])) > 0.1", ["sum(rate(x[5m])) / sum(rate(y[5m]))"]),
        ('up{job="w"} == 0 or absent(up{job="w"})', ['up{job="w"}', 'up{job="w"}']),
        ("a > 1000 and b > 0", ["a", "b"]),
        ("a == 0 and on () (hour() >= 3 and hour() < 10)", ["a", "hour()", "hour()"]),
        ("x_or_y > bool 2 unless ignoring(i) z", ["x_or_y", "z"]),
        ('m{l=~"a|b", k!="or"} >= -1e3', ['m{l=~"a|b", k!="or"}']),
        ("sum by (district) (increase(c[2h]))", ["sum by (district) (increase(c[2h]))"]),
    ],
)
def test_alert_queries_are_what_the_condition_compares(expr: str, queries: list[str]) -> None:
    assert alert_queries(expr) == queries


def test_split_and_parens_helpers() -> None:
    assert strip_parens("((a) + (b))") == "(a) + (b)"
    assert strip_parens("(a) + (b)") == "(a) + (b)"
    assert split_top_level("a >= 1", [">=", ">"]) == ["a", "1"]
    assert split_top_level("f(a > 1)", [">"]) == ["f(a > 1)"]


def _dashboards() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(DASHBOARDS.glob("*.json"))
    ]


def test_two_dashboards_with_provisioned_data_sources() -> None:
    provisioned = {
        source["uid"]: source["type"]
        for source in yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    }
    boards = dict(_dashboards())
    assert set(boards) == {"pipeline-health.json", "census-progress.json"}
    expected = {"pipeline-health.json": "prometheus", "census-progress.json": "clickhouse"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            where = f"{name} / {panel.get('title')}"
            assert panel.get("title") and panel.get("description"), where
            assert panel["targets"], where
            for target in [panel, *panel["targets"]]:
                source = target["datasource"]
                assert source["uid"] == expected[name], where
                assert provisioned[source["uid"]] == source["type"], where


def test_pipeline_health_covers_what_operators_watch() -> None:
    text = " ".join(expr for _where, expr in dashboard_promql())
    for family in (
        "regsosek_events_in_total",  # throughput
        "regsosek_consumer_lag_messages",  # lag
        "regsosek_kafka_to_row_seconds_bucket",  # latency
        "regsosek_rejections_total",  # rejections
        "regsosek_sink_batches_total",  # sink batches
        "regsosek_worker_up",  # worker status
    ):
        assert family in text, family


def test_every_metric_a_query_names_is_exported() -> None:
    known = sample_names(exported_families())
    used = {
        name
        for _where, expr in [*dashboard_promql(), *alert_promql()]
        for name in OUR_METRIC.findall(expr)
    }
    assert used, "no query names a metric"
    assert not used - known, f"queries name metrics nobody exports: {sorted(used - known)}"
