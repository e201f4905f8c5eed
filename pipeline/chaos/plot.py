"""The timeline of one scenario (PNG, matplotlib Agg): availability and latency
per second, every fault window shaded and labelled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from pipeline.chaos.metrics import Second, Span

__all__ = ["plot_timeline"]


def plot_timeline(
    path: Path, title: str, seconds: Sequence[Second], spans: Sequence[Span], *, start_ns: int
) -> Path | None:
    """Draw into ``path``; None (nothing written) without matplotlib or data."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not seconds:
        return None
    xs = [s.t_s + 0.5 for s in seconds]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6.5))
    top.plot(xs, [s.availability for s in seconds], drawstyle="steps-mid", label="availability (per second)")
    top.set_ylim(-0.05, 1.12)
    top.set_ylabel("served / attempted")
    top.set_title(title)
    bottom.plot(xs, [s.p50_ms for s in seconds], label="p50")
    bottom.plot(xs, [s.p95_ms for s in seconds], label="p95")
    bottom.set_ylabel("latency of served ops (ms)")
    bottom.set_xlabel("seconds since the workload started")
    finite = [v for s in seconds for v in (s.p95_ms,) if math.isfinite(v)]
    if finite and max(finite) > 50 * max(1.0, min(finite)):
        bottom.set_yscale("log")
    colours = ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
    lanes: list[float] = []  # end time of the last label in each lane, so labels do not overlap
    for i, span in enumerate(spans):
        x0 = (span.start_ns - start_ns) / 1e9
        x1 = (span.end_ns - start_ns) / 1e9
        colour = colours[i % len(colours)]
        for ax in (top, bottom):
            ax.axvspan(x0, max(x1, x0 + 0.05), alpha=0.15, color=colour, linewidth=0)
        lane = next((k for k, end in enumerate(lanes) if end <= x0), len(lanes))
        if lane == len(lanes):
            lanes.append(x1)
        else:
            lanes[lane] = x1
        top.text(
            x0 + 0.2, 1.08 - 0.09 * lane, f"{span.id} {span.label}", fontsize=7, color=colour, va="top", clip_on=True
        )
    top.legend(loc="lower left", fontsize="small")
    bottom.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
