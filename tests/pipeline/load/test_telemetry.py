"""Sampling every node's telemetry from a real local server."""

from __future__ import annotations

import csv
import time

from pipeline.load.config import TelemetryConfig
from pipeline.load.telemetry import GENERATOR, HOST, Sampler, lookup, summarise

FIELDS = (
    ("cpu_seconds", "telemetry:process.cpu_seconds"),
    ("rss_bytes", "telemetry:process.rss_bytes"),
    ("gc_collections", "telemetry:process.gc.collections"),
    ("requests", "telemetry:counters.ops.*"),
    ("commit_index", "status:commit_index"),
    ("role", "status:role"),
)


def test_lookup_reads_dotted_keys_wildcards_and_lists():
    data = {
        "counters": {"ops.health": 1, "ops.auction.create": 3, "errors.bid_too_low": 2},
        "process": {"gc": {"collections": [4, 2, 1]}, "rss_bytes": 5},
    }
    assert lookup(data, "counters.ops.*") == 4
    assert lookup(data, "counters.ops.auction.create") == 3
    assert lookup(data, "process.gc.collections") == 7
    assert lookup(data, "process.rss_bytes") == 5
    assert lookup(data, "process.nothing") is None and lookup(None, "a") is None


def until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)  # poll interval of a deadline-bounded wait
    return condition()


def test_every_node_is_sampled_into_the_csv_with_rates(stub_node, tmp_path):
    config = TelemetryConfig(interval_s=0.2, paths=(("telemetry", "/telemetry"), ("status", "/health")), fields=FIELDS)
    down = "http://127.0.0.1:9"  # nothing listens: samples marked not ok, the sampler keeps going
    sampler = Sampler(
        {"a": stub_node.url, "down": down}, config, tmp_path / "telemetry.csv", max_seconds=30, timeout=0.5
    )
    with sampler:
        assert until(lambda: sum(1 for s in list(sampler.samples) if s.node == "a") >= 4)
    rows = list(csv.DictReader((tmp_path / "telemetry.csv").open()))
    a = [r for r in rows if r["node"] == "a"]
    assert a[0]["role"] == "leader" and a[0]["commit_index"] == "7"
    # the stub's CPU seconds grow by 0.5 per read: a positive CPU percentage from the second sample on
    assert a[0]["cpu_percent"] == "" and all(float(r["cpu_percent"]) > 0 for r in a[1:])
    assert all(float(r["requests_per_s"]) > 0 for r in a[1:])
    assert {r["node"] for r in rows} >= {"a", "down", HOST}
    assert all(r["ok"] == "0" for r in rows if r["node"] == "down")
    summary = summarise(sampler.samples)
    assert summary["a"].cpu_mean > 0 and summary["a"].rss_max >= 50_000_000
    assert summary["down"].failed_samples == summary["down"].samples


def test_the_generator_row_follows_a_process_and_its_children(tmp_path):
    import os

    config = TelemetryConfig(interval_s=0.2, paths=(("telemetry", "/telemetry"),), fields=FIELDS[:1])
    sampler = Sampler({}, config, tmp_path / "t.csv", max_seconds=30)
    sampler.watch_generator(os.getpid())
    with sampler:
        assert until(lambda: sum(1 for s in list(sampler.samples) if s.node == GENERATOR) >= 2)
    rows = [s for s in sampler.samples if s.node == GENERATOR]
    assert rows[0].values["rss_bytes"] > 0 and "cpu_percent" in rows[1].values


def test_the_sampler_is_bounded_in_time(tmp_path):
    config = TelemetryConfig(interval_s=0.05, paths=(("telemetry", "/telemetry"),), fields=FIELDS[:1])
    sampler = Sampler({}, config, tmp_path / "t.csv", max_seconds=0.2)
    sampler.start()
    assert until(lambda: not any(t.is_alive() for t in sampler._threads))
    sampler.stop()
    assert len([s for s in sampler.samples if s.node == HOST]) <= 6


def test_cpu_of_a_changing_set_of_processes():
    from pipeline.load.telemetry import _percent

    # pid 1 used 0.5 s in the second, pid 2 started (0.2 s so far), pid 3 ended: 70 %
    assert _percent(11.0, {1: 10.5, 2: 0.2}, (10.0, {1: 10.0, 3: 99.0})) == 70.0
    assert _percent(10.0, {1: 1.0}, (10.0, {1: 0.0})) == 0.0


def test_the_summary_keeps_every_per_second_cpu_sample_after_the_ramp():
    from pipeline.load.telemetry import Sample

    cpus = [50.0, 10.0, 20.0, 150.0, 30.0]
    samples = [Sample(100.0 + t, float(t), "n1", True, {"cpu_percent": c}) for t, c in enumerate(cpus)]
    samples.append(Sample(106.0, 5.0, "n1", False, {}))  # a failed sample: no CPU, counted as failed
    summary = summarise(samples, skip_first_s=1)["n1"]
    assert summary.cpu_per_s == (10.0, 20.0, 150.0, 30.0)  # in order, the ramp's first second left out
    assert summary.cpu_mean == 52.5 and summary.cpu_max == 150.0 and summary.failed_samples == 1
