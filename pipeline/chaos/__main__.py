"""``python -m pipeline.chaos``: run the chaos stage (see ``--help``).

Exit codes: 0 every scenario ran and met its criteria, 1 a criterion failed or
a run broke, 2 a configuration or usage error, 3 nothing failed but a
measurement cannot be trusted (a fault not verified effective, a workload
that could not keep its rate), 130 interrupted.  The gate (``invoke gate``)
judges ``reports/chaos.xml`` the same way.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.chaos.config import ConfigError, load
from pipeline.chaos.model import ScenarioError
from pipeline.chaos.runner import RunOptions, run_stage
from pipeline.cluster import select
from pipeline.run.signals import interrupt_once_on_sigterm

EPILOG = """\
examples:
  python -m pipeline.chaos --dry-run                         every scenario's schedule, nothing started
  python -m pipeline.chaos --scenario leader_kill --seed 7   one scenario, another seed
  python -m pipeline.chaos --replay reports/chaos/leader_kill/schedule.json   exactly that schedule again
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.chaos",
        description="Run the chaos stage: seeded fault schedules against a fresh cluster per scenario, "
        "a recorded background workload, criteria per phase, JUnit and timeline plots.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default="pipeline.toml", help="configuration file (default: pipeline.toml)")
    p.add_argument(
        "--scenario", action="append", default=[], metavar="NAME", help="run only this scenario (repeatable)"
    )
    p.add_argument("--seed", type=int, help="seed of every choice (default: $PIPELINE_SEED, else the scenario's)")
    p.add_argument("--replay", type=Path, metavar="SCHEDULE", help="run exactly this schedule.json again")
    p.add_argument("--dry-run", action="store_true", help="write and print the schedules; start nothing")
    select.add_options(p)
    p.add_argument("--color", default=None, help=argparse.SUPPRESS)  # the pipeline runner's --color=yes: ignored
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.replay is not None and (args.scenario or args.seed is not None):
        print("error: --replay: runs the schedule as written; it takes no --scenario or --seed", file=sys.stderr)
        return 2
    if args.seed is not None and args.seed < 0:
        print("error: --seed: must be >= 0", file=sys.stderr)
        return 2
    env_seed = None
    if os.environ.get("PIPELINE_SEED", "").strip():
        try:
            env_seed = int(os.environ["PIPELINE_SEED"])
        except ValueError:
            print("error: PIPELINE_SEED: must be an integer", file=sys.stderr)
            return 2
    try:
        config = load(Path(args.config))
        for name in args.scenario:
            config.scenario(name)
        provider, skip_reason = select.choose(args.provider, args.skip_without_docker)
        options = RunOptions(
            seed=args.seed,
            scenarios=tuple(args.scenario),
            replay=args.replay,
            dry_run=args.dry_run,
            provider=provider,
        )
        if skip_reason is not None and not args.dry_run:
            from pipeline.report.junit import write_skipped

            names = list(args.scenario) or list(config.names)
            path = write_skipped(config.junit, "chaos", names, f"skipped without Docker: {skip_reason}")
            print(f"chaos: skipped without Docker ({skip_reason}); {path}", file=sys.stderr)
            return 0

        interrupt_once_on_sigterm()  # a second signal cannot cut the teardown short
        try:
            if not args.dry_run:
                select.prepare(provider)
            results, _ = run_stage(config, options, env_seed=env_seed, manager=select.manager(provider))
        except KeyboardInterrupt:
            print("chaos: interrupted; the cluster was torn down", file=sys.stderr)
            return 130
        except select.ProviderUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    except (ConfigError, ScenarioError, select.ProviderChoiceError, select.ProviderUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return 0
    stage = os.environ.get("PIPELINE_STAGE", "chaos")
    injected = stage in {n.strip() for n in os.environ.get("PIPELINE_INJECT_FAILURE", "").split(",")}
    if injected or any(r.verdict in ("error", "fail") for r in results):
        return 1
    if any(r.verdict == "unknown" for r in results):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
