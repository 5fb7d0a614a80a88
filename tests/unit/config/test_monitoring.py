"""The Grafana dashboard and the Prometheus alert rules in k8s/monitoring/ refer only to
metrics that exist: cutstream's own (registered by ``streams.metrics``, with the suffixes
Prometheus adds) or the few documented external ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import streams.metrics  # noqa: F401  (registers the metrics)

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "k8s" / "monitoring"
EXTERNAL = {"kafka_consumergroup_lag": "a Kafka exporter", "up": "Prometheus itself"}
"""Metrics the dashboard and rules use that cutstream does not export, and who does."""
_FUNCTIONS = {
    "sum", "rate", "increase", "histogram_quantile", "max", "deriv", "and", "or", "unless",
    "avg", "min", "count",
}  # fmt: skip


def exported() -> set[str]:
    """Every sample name cutstream's processes can export (``_bucket``, ``_total``…)."""
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def metrics_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, grouping labels, strings and
    ranges removed)."""
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", stripped)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", stripped))
    return {word for word in words if word not in _FUNCTIONS}


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def rules() -> list[dict[str, object]]:
    data = yaml.safe_load((MONITORING / "prometheus-rules.yaml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.mark.parametrize(
    "expr", dashboard_exprs() + [str(rule["expr"]) for rule in rules()], ids=lambda e: e[:60]
)
def test_every_metric_referenced_exists(expr: str) -> None:
    unknown = metrics_in(expr) - exported() - set(EXTERNAL)
    assert not unknown, f"{expr!r} uses metrics nothing exports: {sorted(unknown)}"


def test_the_check_catches_a_misspelt_metric() -> None:
    assert metrics_in('sum(rate(cutstream_request_total{outcome="x"}[5m]))') - exported() == {
        "cutstream_request_total"
    }


def test_the_dashboard_covers_what_an_operator_needs() -> None:
    used = set().union(*(metrics_in(expr) for expr in dashboard_exprs()))
    for needed in (
        "cutstream_requests_total",  # throughput
        "cutstream_processing_seconds_bucket",  # latency percentiles
        "cutstream_in_flight_requests",
        "kafka_consumergroup_lag",
        "cutstream_retries_total",
        "cutstream_dead_letters_total",
        "cutstream_webhook_attempts_total",
        "cutstream_model_seconds_bucket",
    ):
        assert needed in used, needed


def test_every_rule_is_an_alert_with_severity_and_summary() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    assert {
        "CutstreamLagGrowing",
        "CutstreamDeadLetters",
        "CutstreamWebhooksExhausted",
        "CutstreamWorkerStalled",
    } <= set(names)
    for rule in rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict)
        assert isinstance(annotations, dict)
        assert labels["severity"] in ("warning", "critical")
        assert annotations["summary"]
