"""Telemetry: histogram arithmetic and the Prometheus rendering."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mabeam.exposition import render
from mabeam.telemetry import RING, Histogram, Telemetry


def test_histogram_buckets_sum_and_percentiles():
    h = Histogram()
    for ms in range(1, 101):
        h.observe(ms / 1000)
    s = h.summary()
    assert s["count"] == 100 and abs(s["sum_ms"] - 5050) < 1e-6 and abs(s["avg_ms"] - 50.5) < 1e-6
    assert 49 <= s["p50_ms"] <= 52 and 94 <= s["p95_ms"] <= 97 and 98 <= s["p99_ms"] <= 100
    assert s["buckets"]["0.001"] == 1 and s["buckets"]["0.01"] == 10 and s["buckets"]["+Inf"] == 100


def test_percentiles_follow_recent_samples():
    h = Histogram()
    for _ in range(RING):
        h.observe(1.0)
    for _ in range(RING):
        h.observe(0.001)
    assert h.percentile(0.99) == 0.001 and h.count == 2 * RING


def test_counters_gauges_and_render_parse():
    t = Telemetry('n"1')
    t.observe("auction.create", 0.002)
    t.observe("auction.create", 0.2)
    t.count("errors.bid_too_low")
    t.gauge("auctions_open", lambda: 3)
    snap = t.snapshot()
    assert snap["counters"] == {"ops.auction.create": 2, "errors.bid_too_low": 1}
    assert snap["gauges"] == {"auctions_open": 3}
    families = {f.name: f for f in text_string_to_metric_families(render(t))}
    assert families["mabeam_requests"].samples[0].labels == {"node": 'n"1', "op": "auction.create"}
    buckets = [s for s in families["mabeam_request_duration_seconds"].samples if s.name.endswith("_bucket")]
    assert [s.value for s in buckets if s.labels["le"] in ("0.0025", "0.25", "+Inf")] == [1, 2, 2]
    assert families["mabeam_auctions_open"].samples[0].value == 3
    gc = [s for s in families["python_gc_collections"].samples]
    assert {s.labels["generation"] for s in gc} == {"0", "1", "2"}
