"""The timeline PNG."""

from __future__ import annotations

from pipeline.chaos.metrics import Second, Span
from pipeline.chaos.plot import plot_timeline

S = 1_000_000_000


def test_a_png_with_shaded_windows_is_written(tmp_path):
    seconds = [Second(float(k), 10, 1.0 if k < 5 else 0.5, 10.0, 20.0 + k) for k in range(12)]
    spans = [Span("w1", "crash n2", 5 * S, 8 * S), Span("w2", "latency 100-200 ms", 6 * S, 11 * S)]
    path = plot_timeline(tmp_path / "timeline.png", "t", seconds, spans, start_ns=0)
    assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_to_draw_writes_nothing(tmp_path):
    assert plot_timeline(tmp_path / "t.png", "t", [], [], start_ns=0) is None and not (tmp_path / "t.png").exists()
