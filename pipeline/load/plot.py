"""One PNG per pattern: throughput and p50/p95 per second (Locust's stats
history), with every node's CPU (the telemetry samples).  matplotlib with the
Agg backend: no display needed."""

from __future__ import annotations

import math
from pathlib import Path

from pipeline.load.stats import read_history
from pipeline.load.telemetry import HOST, OTHERS, Sample

__all__ = ["plot_pattern"]


def plot_pattern(path: Path, title: str, history: Path, samples: list[Sample], *, target_ops: float) -> Path | None:
    """Draw the pattern's figure into ``path``; ``None`` (and nothing written)
    when matplotlib is not installed or there is nothing to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = read_history(history)
    if not rows:
        return None
    t0 = rows[0].timestamp
    xs = [r.timestamp - t0 for r in rows]
    fig, (top, middle, bottom) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    top.plot(xs, [r.rps for r in rows], label="requests/s (every request)")
    top.plot(xs, [r.fps for r in rows], label="failures/s", color="tab:red")
    top.axhline(target_ops, linestyle="--", color="grey", label=f"target {target_ops:g}/s (the operations)")
    top.set_ylabel("ops/s")
    top.legend(loc="upper left", fontsize="small")
    top.set_title(title)
    middle.plot(xs, [r.p50_ms if math.isfinite(r.p50_ms) else float("nan") for r in rows], label="p50")
    middle.plot(xs, [r.p95_ms if math.isfinite(r.p95_ms) else float("nan") for r in rows], label="p95")
    middle.set_ylabel("ms")
    middle.legend(loc="upper left", fontsize="small")
    # telemetry is on the runner's clock; align it on Locust's by wall time
    by_node: dict[str, tuple[list[float], list[float]]] = {}
    for s in samples:
        cpu = s.values.get("cpu_percent")
        if not isinstance(cpu, (int, float)):
            continue
        xs_n, ys_n = by_node.setdefault(s.node, ([], []))
        xs_n.append(s.time - t0)
        ys_n.append(float(cpu))
    for node, (xs_n, ys_n) in sorted(by_node.items()):
        if node == HOST:
            bottom.plot(xs_n, ys_n, label="machine (all processes)", linestyle=":", color="grey")
        else:
            bottom.plot(xs_n, ys_n, label="other processes" if node == OTHERS else node)
    bottom.set_ylabel("CPU % (of a core)")
    bottom.set_xlabel("seconds")
    if by_node:
        bottom.legend(loc="upper left", fontsize="small", ncol=4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
