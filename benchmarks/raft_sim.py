"""Soak the Raft core in the seeded cluster simulator, beyond the test budget.

Runs consecutive seeds (each a whole chaos-then-heal cluster run, see
``mabeam/raft/sim.py``), reports failures with their replay command, the
throughput, and how long the cluster took to commit again after healing.
With ``--bugs`` it instead measures, for every planted bug, how many seeds the
checkers need to catch it and what share of seeds catch it.

    python benchmarks/raft_sim.py --seeds 20000 [--start 0] [--chaos-ticks 600] [--jobs 2]
    python benchmarks/raft_sim.py --bugs --seeds 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mabeam.raft.core import PLANTED_BUGS  # noqa: E402
from mabeam.raft.sim import SimFailure, replay_command, run_seed  # noqa: E402


def _chunk(args: tuple[int, int, int | None, str | None]) -> dict:
    """Run seeds [start, stop) in one worker; return failures and aggregates."""
    start, stop, chaos, bug = args
    failures: list[tuple[int, str, str]] = []
    stats: Counter[str] = Counter()
    heal: list[tuple[float, int]] = []
    for seed in range(start, stop):
        try:
            report = run_seed(seed, planted_bug=bug, chaos_ticks=chaos)
        except SimFailure as failure:
            failures.append((seed, failure.kind, str(failure)))
            continue
        stats.update(report.stats)
        heal.append((report.commit_after_heal / report.config.liveness_ticks, seed))
    return {"failures": failures, "stats": stats, "heal": heal}


def _run(start: int, count: int, chaos: int | None, bug: str | None, jobs: int) -> dict:
    step = max(1, min(200, count // max(jobs, 1) or 1))
    chunks = [(s, min(s + step, start + count), chaos, bug) for s in range(start, start + count, step)]
    merged: dict = {"failures": [], "stats": Counter(), "heal": []}
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_chunk, chunks))
    else:
        parts = [_chunk(c) for c in chunks]
    for part in parts:
        merged["failures"] += part["failures"]
        merged["stats"].update(part["stats"])
        merged["heal"] += part["heal"]
    merged["failures"].sort()
    return merged


def soak(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    result = _run(args.start, args.seeds, args.chaos_ticks, None, args.jobs)
    elapsed = time.perf_counter() - t0
    for seed, _kind, text in result["failures"][:20]:
        print(f"FAIL {text}\n  replay: {replay_command(seed)}")
    heal = sorted(result["heal"]) or [(0.0, 0)]
    s = result["stats"]
    print(
        f"{args.seeds - len(result['failures'])}/{args.seeds} seeds passed "
        f"(seeds {args.start}..{args.start + args.seeds - 1}) in {elapsed:.1f} s "
        f"({args.seeds / elapsed:.0f} seeds/s)"
    )
    print(
        f"events: {s['elections']} elections, {s['crashes']} crashes, {s['partitions']} partitions, "
        f"{s['committed']} acked writes, {s['superseded']} superseded, {s['reads_served']} reads, "
        f"{s['snapshots_installed']} snapshot installs, {s['removals']}+{s['additions']} config changes"
    )
    print(
        "commit after heal, as a share of the liveness bound: "
        f"median {statistics.median(h for h, _ in heal):.2f}, "
        f"p99 {heal[int(0.99 * (len(heal) - 1))][0]:.2f}, max {heal[-1][0]:.2f} (seed {heal[-1][1]})"
    )
    return 1 if result["failures"] else 0


def bugs(args: argparse.Namespace) -> int:
    missed = 0
    for bug in sorted(PLANTED_BUGS):
        t0 = time.perf_counter()
        result = _run(args.start, args.seeds, args.chaos_ticks, bug, args.jobs)
        caught = result["failures"]
        kinds = Counter(kind for _seed, kind, _text in caught)
        first = caught[0][0] if caught else None
        print(
            f"{bug:26s} caught by {len(caught):5d}/{args.seeds} seeds; first seed {first} "
            f"({'-' if first is None else first - args.start + 1} seeds); verdicts {dict(kinds)} "
            f"[{time.perf_counter() - t0:.1f} s]"
        )
        missed += not caught
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5000, help="how many consecutive seeds")
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--chaos-ticks", type=int, default=None, help="longer chaos phase per run")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--bugs", action="store_true", help="measure planted-bug detection instead")
    args = p.parse_args(argv)
    return bugs(args) if args.bugs else soak(args)


if __name__ == "__main__":
    sys.exit(main())
