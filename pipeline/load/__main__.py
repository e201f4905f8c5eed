"""``python -m pipeline.load``: run the performance stage (see ``--help``).

Exit codes: 0 every pattern ran and met its criteria, 1 a criterion failed or
a run broke, 2 a configuration or usage error, 3 nothing failed but a
measurement cannot be trusted (the load generator was the bottleneck), 130
interrupted.  The gate (``invoke gate``) judges ``reports/performance.xml``
the same way.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from pathlib import Path

from pipeline.cluster import select
from pipeline.load.config import ConfigError, load
from pipeline.load.locust import LocustOptions
from pipeline.load.runner import RunOptions, run_stage
from pipeline.run.signals import interrupt_once_on_sigterm

EPILOG = """\
Load from several machines: run this with --expect-workers N (and --master-bind-host
an address the workers reach), then on each worker machine:
  LOAD_NODES=<node urls> LOAD_SEED=<seed> LOAD_WORKERS=N \\
    locust -f locustfiles/<pattern>.py --worker --master-host <this machine>
(the nodes must be reachable from the workers: a provider that binds them beyond 127.0.0.1).
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.load",
        description="Run the performance stage: "
        "workload patterns in Locust against a fresh cluster, gated and plotted.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default="pipeline.toml", help="configuration file (default: pipeline.toml)")
    p.add_argument("--full", action="store_true", help="the seed's durations (default: the CI scale)")
    p.add_argument("--pattern", action="append", default=[], metavar="NAME", help="run only this pattern (repeatable)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="seconds per pattern (overrides --full)")
    p.add_argument("--users", type=int, metavar="N", help="users per pattern (each keeps its rate: the target scales)")
    p.add_argument("--seed", type=int, help="seed of every random choice (default: $PIPELINE_SEED or fresh)")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="Locust worker processes on this machine (-1: one per core; default from the config)",
    )
    p.add_argument(
        "--expect-workers",
        type=int,
        default=0,
        metavar="N",
        help="run Locust as a master and wait for N workers (see below)",
    )
    p.add_argument("--master-bind-host", default="127.0.0.1", help="where the master listens for workers")
    p.add_argument("--master-bind-port", type=int, default=5557)
    select.add_options(p)
    p.add_argument("--color", default=None, help=argparse.SUPPRESS)  # the pipeline runner's --color=yes: ignored
    p.add_argument(
        "--locust-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more argument for Locust (repeatable), e.g. --locust-arg=--loglevel=DEBUG",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        config = load(Path(args.config))
        for name in args.pattern:
            config.pattern(name)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.users is not None and args.users < 1:
        print("error: --users: must be >= 1", file=sys.stderr)
        return 2
    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        print(f"error: --duration: must be a finite number of seconds > 0, got {args.duration:g}", file=sys.stderr)
        return 2
    processes = config.processes if args.processes is None else args.processes
    if processes < -1:
        print("error: --processes: must be -1, 0 or a positive number", file=sys.stderr)
        return 2
    seed = args.seed
    if seed is None and os.environ.get("PIPELINE_SEED", "").strip():
        try:
            seed = int(os.environ["PIPELINE_SEED"])
        except ValueError:
            print("error: PIPELINE_SEED: must be an integer", file=sys.stderr)
            return 2
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    try:
        provider, skip_reason = select.choose(args.provider, args.skip_without_docker)
    except (select.ProviderChoiceError, select.ProviderUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = RunOptions(
        provider=provider,
        seed=seed,
        full=args.full,
        duration_s=args.duration,
        users=args.users,
        patterns=tuple(args.pattern),
        locust=LocustOptions(
            processes=processes,
            expect_workers=args.expect_workers,
            master_bind_host=args.master_bind_host,
            master_bind_port=args.master_bind_port,
            stop_timeout_s=config.stop_timeout_s,
            extra_args=tuple(args.locust_arg),
        ),
    )

    if skip_reason is not None:
        from pipeline.report.junit import write_skipped

        names = list(args.pattern) or list(config.names)
        path = write_skipped(config.junit, "performance", names, f"skipped without Docker: {skip_reason}")
        print(f"performance: skipped without Docker ({skip_reason}); {path}", file=sys.stderr)
        return 0

    interrupt_once_on_sigterm()  # a second signal cannot cut the teardown short
    try:
        select.prepare(provider)
        results, _ = run_stage(config, options, manager=select.manager(provider))
    except KeyboardInterrupt:
        print("performance: interrupted; Locust stopped and the cluster torn down", file=sys.stderr)
        return 130
    except select.ProviderUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if _failed_injection(results) or any(r.error or (r.trusted and not r.passed) for r in results):
        return 1
    if any(not r.trusted for r in results):
        return 3
    return 0


def _failed_injection(results: object) -> bool:
    stage = os.environ.get("PIPELINE_STAGE", "performance")
    return stage in {n.strip() for n in os.environ.get("PIPELINE_INJECT_FAILURE", "").split(",")}


if __name__ == "__main__":
    sys.exit(main())
