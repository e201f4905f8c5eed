"""How long the linearizability check takes: ``python -m pipeline.checker.bench``.

Prints figures, asserts nothing (tests never time things).  Each row is a
simulated correct register history (``simulate_register``), checked as is and
again with one planted stale read (which also pays for shrinking the excerpt).
"""

from __future__ import annotations

import argparse
import random
import time

from pipeline.checker.linearizable import check_linearizable
from pipeline.checker.simulate import plant_stale_read, simulate_register


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--ops-per-key", type=int, default=200)
    parser.add_argument("--unknown", type=float, default=0.1)
    parser.add_argument("--clients", type=int, nargs="+", default=[3, 5, 10, 20])
    parser.add_argument(
        "--values", type=int, default=None, help="draw written values from range(N) (default: unique values)"
    )
    args = parser.parse_args(argv)
    print(
        f"seed={args.seed} keys={args.keys} ops/key={args.ops_per_key} unknown={args.unknown:.0%} "
        f"values={'unique' if args.values is None else args.values}"
    )
    print(f"{'clients':>7} {'valid check':>12} {'steps':>9} {'planted check':>14} {'steps':>9} {'excerpt':>8}")
    for clients in args.clients:
        rng = random.Random(args.seed * 1000 + clients)
        keys = [f"k{i}" for i in range(args.keys)]
        history = simulate_register(
            rng,
            ops=args.keys * args.ops_per_key,
            clients=clients,
            keys=keys,
            p_unknown=args.unknown,
            values=args.values,
        )
        start = time.perf_counter()
        ok = check_linearizable(history)
        ok_s = time.perf_counter() - start
        planted = plant_stale_read(history, rng)
        bad_cell, bad_steps, excerpt = "-", "-", "-"
        if planted is not None:
            start = time.perf_counter()
            bad = check_linearizable(planted[0])
            bad_cell = f"{time.perf_counter() - start:.3f}s {bad.verdict[:3]}"
            bad_steps, excerpt = str(bad.stats["steps"]), str(len(bad.excerpt))
        print(
            f"{clients:>7} {ok_s:>8.3f}s {ok.verdict[:3]} {ok.stats['steps']:>9} {bad_cell:>14} "
            f"{bad_steps:>9} {excerpt:>8}"
        )


if __name__ == "__main__":
    main()
