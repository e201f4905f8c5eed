"""Every node's telemetry, once a second, while a pattern runs (the seed's
``collect_cluster_metrics``), into ``telemetry.csv`` beside the Locust report.

One thread per node asks the node's configured paths (``/telemetry`` and
``/health`` for mabeam) and keeps the configured fields; ``cpu_seconds``,
``requests`` and ``gc_collections`` become per-second rates between two
samples.  Three more rows per second describe the machine the load ran on: ``host``
(whole-machine CPU %, summed over cores), ``generator`` (the Locust process
and its workers: CPU % and RSS) and ``others`` (every process that is neither
this runner nor one of its descendants), so a verdict can tell a busy node
from a busy load generator or a noisy neighbour.

The sampler's own requests are counted by the nodes (one per path per second).
"""

from __future__ import annotations

import csv
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from pipeline.load.config import TelemetryConfig

__all__ = ["lookup", "Sample", "Sampler", "summarise", "NodeSummary", "COLUMNS_FIXED", "HOST", "GENERATOR", "OTHERS"]

HOST = "host"
OTHERS = "others"
GENERATOR = "generator"
COLUMNS_FIXED = ("time", "elapsed_s", "node", "ok", "cpu_percent", "requests_per_s", "gc_per_s")
_RATES = {
    "cpu_seconds": ("cpu_percent", 100.0),
    "requests": ("requests_per_s", 1.0),
    "gc_collections": ("gc_per_s", 1.0),
}


def lookup(data: Any, dotted: str) -> Any:
    """``dotted`` inside ``data``.  Keys may themselves hold dots
    (``counters`` then ``ops.auction.create``).  A trailing ``*`` sums the
    numbers under every key starting with what precedes it
    (``counters.ops.*``); a list of numbers is summed.  ``None`` when absent."""
    if not isinstance(data, Mapping):
        return _sum_list(data) if not dotted else None
    if dotted.endswith("*"):
        prefix = dotted[:-1]
        found = [v for k, v in data.items() if isinstance(k, str) and k.startswith(prefix)]
        if found:
            return sum(v for v in found if isinstance(v, (int, float)) and not isinstance(v, bool))
    elif dotted in data:
        return _sum_list(data[dotted])
    for key, value in data.items():
        if isinstance(key, str) and dotted.startswith(key + "."):
            result = lookup(value, dotted[len(key) + 1 :])
            if result is not None:
                return result
    return None


def _sum_list(value: Any) -> Any:
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return sum(value)
    return value


@dataclass
class Sample:
    time: float
    elapsed_s: float
    node: str
    ok: bool
    values: dict[str, Any] = field(default_factory=dict)


class Sampler:
    """Samples ``urls`` (``name -> base URL``) every ``config.interval_s`` until
    :meth:`stop`; rows go to ``path`` as they come.  ``generator_pid``: the
    Locust process, read (with its children) for the generator row; may be set
    later with :meth:`watch_generator`."""

    def __init__(
        self,
        urls: Mapping[str, str],
        config: TelemetryConfig,
        path: Path,
        *,
        max_seconds: float,
        timeout: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = dict(urls)
        self.config = config
        self.path = path
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.samples: list[Sample] = []
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._t0 = 0.0
        self._generator: psutil.Process | None = None
        self._fields = [name for name, _ in config.fields]
        self.columns = list(COLUMNS_FIXED) + [f for f in self._fields if f not in COLUMNS_FIXED]
        self._file: Any = None
        self._writer: Any = None

    def watch_generator(self, pid: int) -> None:
        try:
            self._generator = psutil.Process(pid)
        except psutil.Error:
            self._generator = None

    def start(self) -> Sampler:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._t0 = self._clock()
        psutil.cpu_percent(None)  # prime the machine-wide counter
        for name, url in self.urls.items():
            self._threads.append(
                threading.Thread(target=self._node_loop, args=(name, url), daemon=True, name=f"telemetry-{name}")
            )
        self._threads.append(threading.Thread(target=self._local_loop, daemon=True, name="telemetry-local"))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 2)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        return list(self.samples)

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ loops

    def _ticks(self) -> Any:
        """Yield once per interval until stopped or past ``max_seconds`` (bounded)."""
        interval = self.config.interval_s
        limit = int(self.max_seconds / interval) + 1
        next_at = self._clock()
        for _ in range(limit):
            if self._stop.is_set():
                return
            yield
            next_at += interval
            # pace to the interval; wakes at once on stop()
            if self._stop.wait(max(0.0, next_at - self._clock())):
                return

    def _record(self, sample: Sample) -> None:
        row = {
            "time": f"{sample.time:.3f}",
            "elapsed_s": f"{sample.elapsed_s:.3f}",
            "node": sample.node,
            "ok": int(sample.ok),
        }
        row.update({k: _cell(v) for k, v in sample.values.items()})
        with self._lock:
            self.samples.append(sample)
            if self._writer is not None:
                self._writer.writerow(row)
                self._file.flush()

    def _node_loop(self, name: str, url: str) -> None:
        session = requests.Session()
        paths = dict(self.config.paths)
        last: tuple[float, dict[str, float]] | None = None
        try:
            for _ in self._ticks():
                now = self._clock()
                answers: dict[str, Any] = {}
                ok = True
                for key, path in paths.items():
                    try:
                        response = session.get(url + path, timeout=self.timeout)
                        answers[key] = response.json() if response.status_code == 200 else None
                        ok = ok and response.status_code == 200
                    except (requests.RequestException, ValueError):
                        answers[key], ok = None, False
                values: dict[str, Any] = {}
                for column, spec in self.config.fields:
                    source, _, dotted = spec.partition(":")
                    values[column] = lookup(answers.get(source), dotted)
                raw = {k: float(values[k]) for k in _RATES if isinstance(values.get(k), (int, float))}
                if last is not None:
                    dt = now - last[0]
                    for key, (column, scale) in _RATES.items():
                        if key in raw and key in last[1] and dt > 0:
                            values[column] = round((raw[key] - last[1][key]) / dt * scale, 3)
                last = (now, raw) if raw else last
                self._record(Sample(time.time(), now - self._t0, name, ok, values))
        finally:
            session.close()

    def _local_loop(self) -> None:
        last_gen: tuple[float, dict[int, float]] | None = None
        last_other: tuple[float, dict[int, float]] | None = None
        me = os.getpid()
        for _ in self._ticks():
            now = self._clock()
            host = psutil.cpu_percent(None) * (psutil.cpu_count() or 1)
            self._record(Sample(time.time(), now - self._t0, HOST, True, {"cpu_percent": round(host, 1)}))
            last_other = self._sample_others(now, me, last_other)
            proc = self._generator
            if proc is None:
                continue
            try:
                procs = [proc] + proc.children(recursive=True)
            except psutil.Error:
                continue
            seconds: dict[int, float] = {}
            rss = 0
            for p in procs:
                try:
                    times = p.cpu_times()
                    seconds[p.pid] = times.user + times.system
                    rss += p.memory_info().rss
                except psutil.Error:
                    continue
            values: dict[str, Any] = {"cpu_seconds": round(sum(seconds.values()), 3), "rss_bytes": rss}
            if last_gen is not None:
                values["cpu_percent"] = _percent(now, seconds, last_gen)
            last_gen = (now, seconds)
            self._record(Sample(time.time(), now - self._t0, GENERATOR, True, values))

    def _sample_others(
        self, now: float, me: int, last: tuple[float, dict[int, float]] | None
    ) -> tuple[float, dict[int, float]]:
        """The ``others`` row: CPU of every process on the machine that is not this
        runner or one of its descendants (the nodes, Locust): a noisy host shows here."""
        try:
            ours = {me} | {c.pid for c in psutil.Process(me).children(recursive=True)}
        except psutil.Error:
            ours = {me}
        seconds: dict[int, float] = {}
        for p in psutil.process_iter():
            if p.pid in ours:
                continue
            try:
                times = p.cpu_times()
                seconds[p.pid] = times.user + times.system
            except psutil.Error:
                continue
        if last is not None:
            self._record(
                Sample(time.time(), now - self._t0, OTHERS, True, {"cpu_percent": _percent(now, seconds, last)})
            )
        return now, seconds


def _percent(now: float, seconds: dict[int, float], last: tuple[float, dict[int, float]]) -> float:
    """CPU % of a changing set of processes between two samples (``pid -> CPU
    seconds``): a process seen both times counts its increase; one that started
    since counts what it used (at most the interval); one that ended drops out."""
    interval = now - last[0]
    if interval <= 0:
        return 0.0
    used = 0.0
    for pid, t in seconds.items():
        before = last[1].get(pid)
        used += max(0.0, t - before) if before is not None else min(t, interval)
    return round(used / interval * 100, 1)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, (dict, list)):
        return ""
    return value


@dataclass(frozen=True)
class NodeSummary:
    """One node's (or ``host``/``generator``/``others``) telemetry over the run.
    ``cpu_per_s``: its per-second CPU samples (% of one core) in the order taken,
    from ``skip_first_s`` on: what a verdict needs to tell a node busy for part
    of the run from one idle throughout (the mean hides it); empty when only
    the summary figures are known."""

    node: str
    samples: int
    failed_samples: int
    cpu_mean: float
    cpu_max: float
    rss_first: float
    rss_max: float
    rss_last: float
    cpu_per_s: tuple[float, ...] = ()


def summarise(samples: list[Sample], *, skip_first_s: float = 0.0) -> dict[str, NodeSummary]:
    """Per node (and ``host``/``generator``): CPU mean and max (and every
    per-second CPU sample), RSS first/max/last."""
    by_node: dict[str, list[Sample]] = {}
    for s in samples:
        by_node.setdefault(s.node, []).append(s)
    out = {}
    for node, rows in by_node.items():
        cpus = [
            float(r.values["cpu_percent"])
            for r in rows
            if r.elapsed_s >= skip_first_s and isinstance(r.values.get("cpu_percent"), (int, float))
        ]
        # 0: the process was gone when sampled (Locust exiting)
        rss = [float(v) for r in rows if isinstance(v := r.values.get("rss_bytes"), (int, float)) and v > 0]
        out[node] = NodeSummary(
            node,
            len(rows),
            sum(1 for r in rows if not r.ok),
            sum(cpus) / len(cpus) if cpus else math.nan,
            max(cpus) if cpus else math.nan,
            rss[0] if rss else math.nan,
            max(rss) if rss else math.nan,
            rss[-1] if rss else math.nan,
            tuple(cpus),
        )
    return out
