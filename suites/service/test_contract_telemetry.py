"""Telemetry and state contracts: ``/health``, ``/telemetry`` JSON, ``/metrics``
in Prometheus text format (parsed with the reference parser, so a malformed
exposition fails), ``/state/digest`` and ``/coordination/status``; and every
write op counted in both views.
"""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.testing.eventually import eventually
from suites.service.client import uid

pytestmark = pytest.mark.timeout(60)


def metrics(node) -> dict:
    reply = node.get("/metrics")
    assert reply.status == 200, reply
    return {family.name: family for family in text_string_to_metric_families(reply.text)}


def requests_total(families, op) -> float:
    family = families["mabeam_requests"]
    return sum(s.value for s in family.samples if s.name == "mabeam_requests_total" and s.labels.get("op") == op)


def test_health(node):
    body = node.get("/health").expect(200)
    assert body["status"] == "ok" and body["node"] == "n1" and body["mode"] == "normal"
    assert body["uptime_s"] >= 0 and isinstance(body["applied"], int)


def test_coordination_status_mode(node):
    assert node.get("/coordination/status").expect(200) == {"node": "n1", "mode": "normal"}


def test_state_digest_changes_with_a_write(node):
    before = node.get("/state/digest").expect(200)
    assert re.fullmatch(r"[0-9a-f]{64}", before["digest"])
    node.post("/accounts", {"id": uid("acct"), "balance": 1}).expect(201)
    after = node.get("/state/digest").expect(200)
    assert after["applied"] > before["applied"]
    assert after["digest"] != before["digest"]


def test_reads_do_not_change_the_state(node):
    """Reads never change state: with no writes in between, the digest is stable."""
    first = node.get("/state/digest").expect(200)
    for path in ("/market", "/accounts", "/registry", "/agents", "/telemetry"):
        node.get(path).expect(200)
    second = node.get("/state/digest").expect(200)
    # background activity (auction expiry, group rounds) can apply commands;
    # then `applied` moved too, so only an unchanged `applied` pins the digest
    if second["applied"] == first["applied"]:
        assert second["digest"] == first["digest"]


def test_telemetry_json_shape_and_op_counting(node):
    before = node.get("/telemetry").expect(200)
    assert before["node"] == "n1"
    for section in ("counters", "gauges", "histograms", "process"):
        assert isinstance(before[section], dict), section
    process = before["process"]
    for key in ("cpu_percent", "cpu_seconds", "rss_bytes", "memory_percent"):
        assert isinstance(process[key], (int, float)) and process[key] >= 0, key
    assert isinstance(process["gc"], dict)

    node.post("/events", {"topic": f"{uid('t')}.count", "data": None}).expect(201)
    after = node.get("/telemetry").expect(200)
    assert after["counters"]["ops.events.publish"] >= before["counters"].get("ops.events.publish", 0) + 1
    histogram = after["histograms"]["events.publish"]
    old = before["histograms"].get("events.publish", {"count": 0})
    assert histogram["count"] >= old["count"] + 1
    assert histogram["sum_ms"] >= 0 and histogram["avg_ms"] >= 0
    assert histogram["p50_ms"] <= histogram["p95_ms"] <= histogram["p99_ms"]
    counts = list(histogram["buckets"].values())
    assert counts and all(isinstance(c, int) and 0 <= c <= histogram["count"] for c in counts)


def test_metrics_exposition_parses_and_counts_ops(node):
    content_type = node.session.get(node.url + "/metrics", timeout=10).headers["Content-Type"]
    assert content_type.startswith("text/plain") and "0.0.4" in content_type
    families = metrics(node)
    assert families["mabeam_requests"].type == "counter"
    duration = families["mabeam_request_duration_seconds"]
    assert duration.type == "histogram"
    assert any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf" for s in duration.samples)
    assert any(name.startswith("process_") for name in families)
    assert any(name.startswith("python_gc_") for name in families)

    before = requests_total(families, "account.create")
    node.post("/accounts", {"id": uid("acct"), "balance": 0}).expect(201)
    eventually(
        lambda: requests_total(metrics(node), "account.create") >= before + 1,
        timeout=5,
        description="mabeam_requests_total{op=account.create} incremented",
    )
