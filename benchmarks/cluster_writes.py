"""Write throughput and CPU per write of a 3-node mabeam cluster (a script, not a test: it prints numbers).

    python benchmarks/cluster_writes.py [--seconds 5] [--clients 8] [--runs 1] [--profile DIR]

Same cluster as ``cluster_failover.py`` (real processes, Toxiproxy links, data
dirs), but only the write load: concurrent clients publishing events (on the
leader, then spread over every node; followers forward to the leader). Besides
ops/s it prints the CPU time each node process used per acknowledged write
(from /proc, so it does not depend on how busy the machine is), which is the
figure to watch on a shared 2-core machine.

``--profile DIR`` records each node with py-spy during the load (py-spy must
be installed: ``uv pip install py-spy``); it writes DIR/<node>-<phase>.txt in
collapsed-stack form, summarised with ``--top``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cluster_failover import COMMAND, leader, write_load  # noqa: E402
from pipeline.cluster import ClusterManager, cluster_config  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def counters(c: Any, n: str) -> dict[str, int]:
    try:
        return requests.get(c.url(n) + "/telemetry", timeout=5).json()["counters"]
    except (requests.RequestException, KeyError, ValueError):
        return {}


def top(path: Path, n: int) -> str:
    """Self and inclusive sample shares of the hottest frames in a collapsed-stack file."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        k = int(count)
        total += k
        frames = stack.split(";")
        own[frames[-1]] += k
        for f in set(frames):
            incl[f] += k
    if not total:
        return "  (no samples)"
    rows = [f"  {'self%':>6} {'incl%':>6}  frame"]
    for frame, k in own.most_common(n):
        rows.append(f"  {100 * k / total:6.1f} {100 * incl[frame] / total:6.1f}  {frame}")
    return "\n".join(rows)


def phase(c: Any, names: list[str], targets: list[str], label: str, args: argparse.Namespace) -> float:
    pids = {n: c.node(n).pid for n in names}
    spies = []
    if args.profile:
        out = Path(args.profile)
        out.mkdir(parents=True, exist_ok=True)
        for n, pid in pids.items():
            spies.append(
                (
                    n,
                    out / f"{n}-{label}.txt",
                    subprocess.Popen(
                        [
                            "py-spy",
                            "record",
                            "--pid",
                            str(pid),
                            "--format",
                            "raw",
                            "--rate",
                            "200",
                            "--nonblocking",
                            "--duration",
                            str(int(args.seconds) + 1),
                            "--output",
                            str(out / f"{n}-{label}.txt"),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    ),
                )
            )
        time.sleep(0.5)
    seen = {n: counters(c, n) for n in names}
    before = {n: cpu_seconds(p) for n, p in pids.items()}
    done = write_load([c.url(n) for n in targets], args.seconds, args.clients)
    used = {n: cpu_seconds(p) - before[n] for n, p in pids.items()}
    later = {n: counters(c, n) for n in names}
    for _, _, spy in spies:
        spy.wait(timeout=30)
    ops = done / args.seconds
    lead = leader(c, names)
    per = "  ".join(f"{n}{'*' if n == lead else ''} {1e6 * used[n] / max(done, 1):5.0f}" for n in names)
    print(
        f"{label:8s} {ops:7.0f} ops/s   node CPU us/write: {per}   total "
        f"{1e6 * sum(used.values()) / max(done, 1):5.0f}",
        flush=True,
    )
    # HTTP requests each node served per acknowledged write, by route (the per-write overhead)
    for route in ("raft.message", "raft.propose"):
        key = "ops." + route
        per = "  ".join(f"{n} {(later[n].get(key, 0) - seen[n].get(key, 0)) / max(done, 1):5.2f}" for n in names)
        print(f"         {route:13s} requests/write: {per}")
    for n, path, _ in spies:
        if path.exists():
            print(f"-- {n}{' (leader)' if n == lead else ''}, {label}\n{top(path, args.top)}")
    return ops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", default=None, help="record each node with py-spy into this directory")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    config = cluster_config(3, "mesh", command=COMMAND, cwd=str(ROOT), env={"MABEAM_CLUSTER_SECRET": "bench"})
    results: dict[str, list[float]] = {"leader": [], "all": []}
    with ClusterManager().start(config) as c:
        names = list(c.names)
        for _ in range(args.runs):
            lead = leader(c, names)
            results["leader"].append(phase(c, names, [lead], "leader", args))
            results["all"].append(phase(c, names, names, "all", args))
    for label, values in results.items():
        print(
            f"write ops/s, clients on {label:6s} median {statistics.median(values):6.0f}  "
            f"({', '.join(f'{v:.0f}' for v in values)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
