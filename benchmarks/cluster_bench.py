"""How long a test cluster takes to be ready and to be torn down.

Measures full mesh clusters of ping nodes (one Toxiproxy proxy per directed
link: 6 for 3 nodes, 20 for 5) with the local provider:

* ready    = ``ClusterManager.start`` from call to return: run state, free
  ports, proxies created, nodes spawned, every node healthy;
* teardown = ``close()``: every node stopped (SIGTERM, in parallel), every
  proxy deleted, run state removed, watchdog released.

The Toxiproxy server is located once (as in a test session) and its start-up
is reported on its own line.  Repetitions are bounded (``--reps``, at most 20).
Targets (from the issue): 5 nodes ready <= 2 s, torn down <= 1 s; the script
prints the figures and marks each target; ``--check`` also exits 1 when a
median misses its target.  Tests never assert these times.

    python benchmarks/cluster_bench.py [--reps 5] [--nodes 3 5] [--check]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipeline.cluster.config import cluster_config
from pipeline.cluster.manager import ClusterManager, shared_toxiproxy

PING = [sys.executable, "-m", "pipeline.testing.pingnode", "--name", "{name}", "--port", "{port}", "--peers", "{peers}"]
TARGETS = {5: (2.0, 1.0)}  # nodes -> (ready s, teardown s)


def measure(manager: ClusterManager, nodes: int, reps: int) -> tuple[list[float], list[float]]:
    ready, down = [], []
    config = cluster_config(nodes, "mesh", command=PING)
    for _ in range(reps):
        t0 = time.perf_counter()
        cluster = manager.start(config)
        t1 = time.perf_counter()
        cluster.close()
        t2 = time.perf_counter()
        ready.append(t1 - t0)
        down.append(t2 - t1)
    return ready, down


def row(label: str, values: list[float]) -> str:
    return (
        f"{label:<22} median {statistics.median(values) * 1000:7.0f} ms   "
        f"min {min(values) * 1000:7.0f} ms   max {max(values) * 1000:7.0f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions per size (1-20, default 5)")
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5], help="cluster sizes (default 3 5)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a median misses its target")
    args = parser.parse_args(argv)
    if not 1 <= args.reps <= 20:
        parser.error(f"--reps: must be in [1, 20], got {args.reps}")
    if any(not 1 <= n <= 16 for n in args.nodes):
        parser.error(f"--nodes: each must be in [1, 16], got {args.nodes}")

    t0 = time.perf_counter()
    tp = shared_toxiproxy()
    print(f"toxiproxy ({tp.kind}) ready in {(time.perf_counter() - t0) * 1000:.0f} ms at {tp.url}")
    missed = []
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        manager = ClusterManager(runs_dir=Path(tmp) / "runs", report_root=Path(tmp) / "reports")
        measure(manager, 2, 1)  # warm-up: imports, page cache
        for n in args.nodes:
            ready, down = measure(manager, n, args.reps)
            links = n * (n - 1)
            print(f"\n{n} nodes, mesh, {links} link proxies, {args.reps} runs")
            print(row("  ready", ready))
            print(row("  teardown", down))
            if n in TARGETS:
                for what, values, target in (("ready", ready, TARGETS[n][0]), ("teardown", down, TARGETS[n][1])):
                    ok = statistics.median(values) <= target
                    print(f"  target {what} <= {target:g} s: {'met' if ok else 'MISSED'}")
                    if not ok:
                        missed.append(f"{n} nodes {what}")
    if missed:
        print(f"\nmissed: {', '.join(missed)}")
    return 1 if (missed and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
