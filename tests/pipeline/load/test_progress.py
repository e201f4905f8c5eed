"""Progress lines, the tables and the plot, from a real Locust run's files."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.load.config import load
from pipeline.load.plot import plot_pattern
from pipeline.load.progress import pattern_table, progress_line, summary_table
from pipeline.load.results import evaluate
from pipeline.load.stats import read_stats
from pipeline.load.telemetry import Sample
from tests.pipeline.load.test_results import LIMIT, NODES

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load(ROOT / "pipeline.toml")


def test_a_progress_line_from_the_growing_history(locust_run, tmp_path):
    line = progress_line("burst", locust_run.run.files["history"], 2.0, 4.0, 35.0)
    assert re.match(r"\[burst\] 2/4 s  users \d+  [\d.]+ ops/s \(target 35.0\)  p95 \S+ ms  errors \d+ ", line), line
    assert progress_line("burst", tmp_path / "none.csv", 0.4, 3, 35.0) == "[burst] 0/3 s  starting"


def test_the_tables(locust_run):
    pattern = CONFIG.pattern("multi_agent_coordination_burst").scaled(4)
    result = evaluate(CONFIG, pattern, read_stats(locust_run.run.files["stats"]), NODES, duration_s=3, limit=LIMIT)
    table = pattern_table(result)
    assert "== Multi-Agent Coordination Burst (multi_agent_coordination_burst)" in table
    for word in ("coordinate_agents", "setup:start_agent", "overall", "p95", "target", "memory: "):
        assert word in table
    assert "multi_agent_coordination_burst" in summary_table([result])


def test_one_png_per_pattern(locust_run, tmp_path):
    history = locust_run.run.files["history"]
    from pipeline.load.stats import read_history

    t = read_history(history)[0].timestamp
    samples = [Sample(t + i, i, "n1", True, {"cpu_percent": 10.0 * i}) for i in range(4)]
    path = plot_pattern(tmp_path / "p.png", "burst", history, samples, target_ops=35)
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_pattern(tmp_path / "q.png", "x", tmp_path / "none.csv", [], target_ops=1) is None
