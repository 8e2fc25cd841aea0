"""The deployment to copy (deploy/): alert rules that parse, one per alarm, naming only series /metrics exports."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from accounts.alarms.registry import ALARMS
from config.tests.processes import ROOT

DEPLOY = ROOT / "deploy"
# PromQL's own words in our expressions: functions, aggregations, keywords, the label names and the `le` bucket label.
PROMQL_WORDS = {"max", "min", "sum", "by", "absent", "rate", "increase", "histogram_quantile", "le"}
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture
def exported_series(client, settings, db) -> set[str]:
    """Every series name a scrape of /metrics can hold (counters as _total, histograms by their parts)."""
    settings.METRICS_TOKEN = "deploy-test"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer deploy-test").content.decode()
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in SERIES_SUFFIXES.get(family.type, ("",))
    }


def expressions(document: dict) -> list[str]:
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def series_named(expr: str) -> set[str]:
    """The identifiers of an expression that are not PromQL's words, label names or label values."""
    without_matchers = re.sub(r"\{[^}]*\}", "", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_matchers)
    without_grouping = re.sub(r"\bby \([^)]*\)", "by", without_ranges)
    return {word for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_grouping) if word not in PROMQL_WORDS}


def test_alert_rules_parse_with_one_alert_per_alarm_and_each_rule_complete():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "clerk-sync-alerts.yml").read_text())

    all_rules = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all({"alert", "expr", "labels", "annotations"} <= rule.keys() for rule in all_rules)
    alarms_alerted = {match for rule in all_rules for match in re.findall(r'alarm="([a-z_]+)"', rule["expr"])}
    assert alarms_alerted == set(ALARMS)


def test_every_alert_and_dashboard_expression_names_only_series_metrics_exports(exported_series):
    rules = yaml.safe_load((DEPLOY / "prometheus" / "clerk-sync-alerts.yml").read_text())
    dashboard = json.loads((DEPLOY / "grafana" / "clerk-sync-dashboard.json").read_text())
    exprs = expressions(rules) + [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    named = {expr: series_named(expr) for expr in exprs}

    assert all(named.values()), "an expression names no series"
    assert {expr: names - exported_series for expr, names in named.items() if names - exported_series} == {}


def test_the_scrape_config_points_at_metrics_with_a_bearer_token_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())

    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    assert config["rule_files"] == ["clerk-sync-alerts.yml"]


def test_the_units_restart_always_and_the_worker_is_niced():
    web = (DEPLOY / "systemd" / "clerk-sync-web.service").read_text()
    worker = (DEPLOY / "systemd" / "clerk-sync-worker.service").read_text()

    assert "Restart=always" in web and "Restart=always" in worker
    assert re.search(r"^Nice=\d+", worker, re.M)
    assert "PROMETHEUS_MULTIPROC_DIR=" in web and "GUNICORN_CONTROL_SOCKET=" in web
