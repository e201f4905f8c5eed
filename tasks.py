"""invoke tasks: the pipeline's entry points (``invoke --list``; docs/pipeline.md).

Exit codes: 0 pass, 1 fail, 2 configuration or usage error, 3 unknown (a stage's
measurement could not be trusted), 130 interrupted.
"""

from __future__ import annotations

import sys

from invoke import Exit, task

from pipeline.report.gate import EXIT_CONFIG
from pipeline.run import runner
from pipeline.run.config import ConfigError
from pipeline.run.matrix import matrix as matrix_entries
from pipeline.run.matrix import matrix_json

_BRANCH_TYPE = "feature, main or release (default: feature; --branch wins)"
_BRANCH = "a git ref such as refs/heads/main or refs/tags/v1.2; picks the branch type"
_CONFIG = "configuration file (default: pipeline.toml, then [tool.pipeline] in pyproject.toml)"
_STAGE = "only these stages, comma-separated (a CI stage job); their failure fails, even if optional"


def _stages(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _finish(code: int) -> None:
    if code:
        raise Exit(code=code)


@task(
    help={
        "branch-type": _BRANCH_TYPE,
        "branch": _BRANCH,
        "config": _CONFIG,
        "stage": _STAGE,
        "pytest-args": 'extra pytest arguments for every stage, e.g. "-k auction -x"',
    }
)
def pipeline(c, branch_type=None, branch=None, config=None, pytest_args="", stage=""):
    """Run the policy's stages, merge their JUnit, judge the gate."""
    _finish(runner.pipeline(runner.Options(branch_type, branch, config, pytest_args, _stages(stage))))


@task(help={"config": _CONFIG, "pytest-args": "extra pytest arguments for every stage"})
def release_gate(c, config=None, pytest_args=""):
    """Run every stage as required (release policy), judge the gate."""
    _finish(runner.pipeline(runner.Options("release", None, config, pytest_args)))


@task(help={"branch-type": _BRANCH_TYPE, "branch": _BRANCH, "config": _CONFIG, "stage": _STAGE})
def gate(c, branch_type=None, branch=None, config=None, stage=""):
    """Judge the reports already in reports/, running nothing."""
    _finish(runner.gate(runner.Options(branch_type, branch, config, "", _stages(stage))))


@task(help={"branch": _BRANCH, "branch-type": _BRANCH_TYPE, "config": _CONFIG})
def matrix(c, branch=None, branch_type=None, config=None):
    """Print the CI matrix for --branch REF as one line of JSON."""
    try:
        cfg, branch_type, _ = runner.plan_for(runner.Options(branch_type, branch, config))
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise Exit(code=EXIT_CONFIG) from None
    print(matrix_json(matrix_entries(cfg, branch_type)))


@task(
    help={
        "run": "clean only this run id (default: every run whose runner is gone)",
        "dry-run": "only say what would be removed",
    }
)
def cluster_clean(c, run="", dry_run=False):
    """Remove what crashed cluster runs left behind."""
    from pipeline.cluster import clean

    _finish(clean.main([*(["--run", run] if run else []), *(["--dry-run"] if dry_run else [])]))
