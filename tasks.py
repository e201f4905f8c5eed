"""invoke tasks: the pipeline's entry points (``invoke --list``; docs/pipeline.md).

Exit codes: 0 pass, 1 fail, 2 configuration or usage error, 3 unknown (a stage's
measurement could not be trusted), 130 interrupted.
"""

from __future__ import annotations

import json
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


@task(
    help={
        "branch-type": _BRANCH_TYPE,
        "branch": _BRANCH,
        "config": _CONFIG,
        "stage": _STAGE,
        "check": "open the page in headless Chromium, check it and save reports/index.png (exit 1 on a problem)",
    }
)
def report(c, branch_type=None, branch=None, config=None, stage="", check=False):
    """Write the HTML page from what is in reports/."""
    options = runner.Options(branch_type, branch, config, "", _stages(stage))
    steps = (runner.load, runner.discover, runner.collect, runner.judge, _page_step(check))
    _finish(runner.execute(steps, runner.start(options, "report")))


def _page_step(check: bool):
    """The last step of ``invoke report``: the page only (the gate's summaries stay as they are)."""

    def write_page(state: runner.State) -> int:
        from pipeline.report import html

        assert state.config is not None and state.verdict is not None
        reports = state.config.reports
        meta = {
            "mode": "report",
            "branch_type": state.branch_type,
            "branch": state.options.branch,
            "stages_selected": list(state.options.stages),
            "config": state.config.source,
            "started_at": state.started_at,
            "elapsed_s": None,
        }
        try:  # the run that made these reports: its start and wall time, when its summary says
            earlier = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
            if not earlier.get("stages_selected"):  # a whole run, not one CI stage job
                meta.update({k: earlier[k] for k in ("started_at", "elapsed_s") if k in earlier})
        except (OSError, ValueError):
            pass
        page = html.write(state.verdict, meta, reports)
        print(f"report: {page} (verdict {state.verdict.verdict})", file=state.out)
        return _check_page(page) if check else 0

    return write_page


def _check_page(page) -> int:
    from pipeline.report import browser

    try:
        result = browser.check_page(page)
        shot = browser.screenshot(page, page.with_suffix(".png"))
    except browser.BrowserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in result.problems:
        print(f"page problem: {problem}", file=sys.stderr)
    print(
        f"browser: verdict {result.verdict}, {result.stages} stage rows, {len(result.images)} images, "
        f"{len(result.links)} anchors, {len(result.files)} file links; screenshot {shot}"
    )
    return 0 if result.ok else 1


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


@task(
    help={
        "mode": "auto (registry if python:3.11-slim can be had, else offline), registry or offline",
        "force": "rebuild even if the image for this source already exists",
    }
)
def image(c, mode="auto", force=False):
    """Build the node image for containers (cached per source)."""
    import time
    from pathlib import Path

    from pipeline.containers import image as node_image

    started = time.monotonic()
    try:
        tag = node_image.ensure_image(Path(__file__).parent, mode=mode, force=force)
    except ValueError as exc:
        print(f"error: --mode: {exc}", file=sys.stderr)
        raise Exit(code=EXIT_CONFIG) from None
    except node_image.ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise Exit(code=1) from None
    print(f"{tag} ({time.monotonic() - started:.1f} s)")
