"""A whole run as a short sequence of plain functions, each taking the previous
state and returning the next one, or an ``int``: the exit code that ends the run.

``invoke pipeline``:  load -> discover -> run_stages -> judge -> write_outputs
``invoke gate``:      load -> discover -> collect    -> judge -> write_outputs
"""

from __future__ import annotations

import dataclasses
import datetime
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipeline.report import gate as gates
from pipeline.report import html, junit, summary
from pipeline.run.branch import branch_type_from_ref, check_branch_type
from pipeline.run.config import Config, ConfigError, Stage, load_config
from pipeline.run.sessions import SessionListError, list_sessions
from pipeline.run.stage import (
    INTERRUPTED,
    MISSING,
    NOT_RUN,
    SKIPPED,
    UNRECORDED,
    Interrupted,
    StageRun,
    clear_outputs,
    interruptible,
    posargs,
    read_record,
    run_stage,
    write_record,
)

PIPELINE, GATE = "pipeline", "gate"


@dataclass(frozen=True)
class Options:
    """What the user asked for (the invoke tasks' options)."""

    branch_type: str | None = None  # feature | main | release
    branch: str | None = None  # a git ref; wins over branch_type
    config: str | None = None  # a configuration file; default: see config.load_config
    pytest_args: str = ""  # extra pytest arguments for every stage (shell words)
    stages: tuple[str, ...] = ()  # run or judge only these stages (a CI stage job)
    root: Path | None = None  # where to look for the configuration; default: cwd


@dataclass(frozen=True)
class State:
    options: Options
    mode: str = PIPELINE
    out: IO[str] = field(default=sys.stdout, repr=False)
    started_at: str = ""
    t0: float = 0.0
    config: Config | None = None
    branch_type: str = "feature"
    plan: tuple[tuple[Stage, str], ...] = ()
    sessions: frozenset[str] | None = None
    runs: tuple[StageRun, ...] = ()
    interrupted: bool = False
    verdict: gates.Verdict | None = None


Step = Callable[[State], "State | int"]


def execute(steps: Sequence[Step], state: State) -> int:
    """Run ``steps`` in order; an ``int`` returned by one of them is the exit code."""
    for step in steps:
        result = step(state)
        if isinstance(result, int):
            return result
        state = result
    raise RuntimeError("the last step must return the exit code")


def start(options: Options, mode: str, out: IO[str] | None = None) -> State:
    return State(
        options,
        mode,
        out or sys.stdout,
        datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        time.monotonic(),
    )


def pipeline(options: Options, out: IO[str] | None = None) -> int:
    """Run the stages the policy selects, then judge and report them."""
    return execute((load, discover, run_stages, judge, write_outputs), start(options, PIPELINE, out))


def gate(options: Options, out: IO[str] | None = None) -> int:
    """Judge the reports already in the reports folder, running nothing."""
    return execute((load, discover, collect, judge, write_outputs), start(options, GATE, out))


def plan_for(options: Options) -> tuple[Config, str, tuple[tuple[Stage, str], ...]]:
    """Configuration, branch type and (stage, requirement) plan; ``ConfigError``/``ValueError`` if bad."""
    config = load_config(options.config, options.root)
    if options.branch is not None:  # given, even empty: an empty ref is an error, not "feature"
        branch_type = branch_type_from_ref(options.branch)
    else:
        branch_type = check_branch_type("feature" if options.branch_type is None else options.branch_type)
    names = [s.name for s in config.stages]
    for name in options.stages:
        if name not in names:
            raise ValueError(f"--stage: unknown stage {name!r}; allowed: {', '.join(names)}")
    try:
        shlex.split(options.pytest_args)
    except ValueError as exc:
        raise ValueError(f"--pytest-args: cannot split {options.pytest_args!r}: {exc}") from None
    policy = config.policy(branch_type)
    chosen = [s for s in config.stages if not options.stages or s.name in options.stages]
    return config, branch_type, tuple((s, policy.requirement(s.name)) for s in chosen)


# ---------------------------------------------------------------- steps


def load(state: State) -> State | int:
    try:
        config, branch_type, plan = plan_for(state.options)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return gates.EXIT_CONFIG
    _say(
        state,
        f"pipeline: {branch_type} policy"
        + (f" for {state.options.branch}" if state.options.branch else "")
        + f", configuration: {config.source}",
    )
    return dataclasses.replace(state, config=config, branch_type=branch_type, plan=plan)


def discover(state: State) -> State | int:
    assert state.config is not None
    try:
        if not state.config.noxfile.is_file():  # name the key, not just the path nox could not open
            raise SessionListError(f"{state.config.source}: pipeline.noxfile: no such file {state.config.noxfile}")
        sessions = list_sessions(state.config.noxfile, state.config.root)
    except SessionListError as exc:
        if state.mode == PIPELINE:
            print(f"error: {exc}", file=sys.stderr)
            return gates.EXIT_CONFIG
        _say(state, f"note: {exc}; stages without a report are judged as not run")
        sessions = None
    return dataclasses.replace(state, sessions=sessions)


def _missing(state: State, stage: Stage) -> StageRun | None:
    if state.sessions is None or stage.session in state.sessions:
        return None
    assert state.config is not None
    return StageRun(stage.name, MISSING, f"no nox session '{stage.session}' in {state.config.noxfile.name}")


def run_stages(state: State) -> State:
    """Run the plan in order; stop at the first failing required stage or at an interruption."""
    config = state.config
    assert config is not None
    policy = config.policy(state.branch_type)
    extra = tuple(shlex.split(state.options.pytest_args))
    runs: dict[str, StageRun] = {}
    halted_by: str | None = None
    interrupted = False
    strict = bool(state.options.stages)
    to_run = [s for s, req in state.plan if req != "skip" and _missing(state, s) is None]
    with interruptible():
        for stage, requirement in state.plan:
            try:
                clear_outputs(config, stage)
                run = _missing(state, stage)
                if requirement == "skip":
                    run = StageRun(stage.name, SKIPPED, f"skipped by the {state.branch_type} policy")
                elif run is not None:
                    pass
                elif interrupted:
                    run = StageRun(stage.name, NOT_RUN, "the run was interrupted")
                elif halted_by:
                    run = StageRun(stage.name, NOT_RUN, f"halted after required stage '{halted_by}' failed")
                else:
                    number = f"[{to_run.index(stage) + 1}/{len(to_run)}]"
                    _say(
                        state,
                        f"==> {number} {stage.name} ({requirement}, budget {stage.budget_s:g} s): "
                        f"nox -s {stage.session}" + _after_dashes(posargs(stage, extra)),
                    )
                    run = run_stage(config, stage, extra, state.out)
                    runs[stage.name] = run
                    interrupted = run.status == INTERRUPTED
                    report = junit.read_report(stage.report, _shown(config, stage.report))
                    a = gates.assess(stage, requirement, run, report, policy, strict)
                    _say(
                        state,
                        f"<== {stage.name}: {a.status} in {run.elapsed_s:.1f} s"
                        + (f" ({a.reason})" if a.reason else ""),
                    )
                    if a.blocks and requirement == "required" and not interrupted:
                        halted_by = stage.name
                if run.status in (SKIPPED, MISSING, NOT_RUN):
                    _say(state, f"--- {stage.name}: {run.status.replace('_', ' ')}: {run.reason}")
            except Interrupted as exc:
                interrupted = True
                run = runs.get(stage.name) or StageRun(
                    stage.name, INTERRUPTED, f"interrupted by {exc} before it finished"
                )
            runs[stage.name] = run
            write_record(config, run)
    return dataclasses.replace(state, runs=tuple(runs[s.name] for s, _ in state.plan), interrupted=interrupted)


def collect(state: State) -> State:
    """The run of each planned stage as recorded by an earlier ``invoke pipeline`` (or CI job)."""
    config = state.config
    assert config is not None
    runs = []
    for stage, requirement in state.plan:
        run = read_record(config, stage.name)
        if run is None:
            missing = None if stage.report.is_file() else _missing(state, stage)
            run = missing or StageRun(stage.name, SKIPPED if requirement == "skip" else UNRECORDED)
        elif run.status == SKIPPED and requirement != "skip":
            run = StageRun(stage.name, NOT_RUN, f"the run that recorded it skipped it ({run.reason})")
        runs.append(run)
    # an interrupted stage fails the gate (exit 1); 130 is only for an interrupted run itself
    return dataclasses.replace(state, runs=tuple(runs))


def judge(state: State) -> State:
    config = state.config
    assert config is not None
    policy = config.policy(state.branch_type)
    strict = bool(state.options.stages)
    assessments = []
    for (stage, requirement), run in zip(state.plan, state.runs, strict=True):
        report = junit.read_report(stage.report, _shown(config, stage.report))
        assessments.append(gates.assess(stage, requirement, run, report, policy, strict))
    return dataclasses.replace(state, verdict=gates.judge(tuple(assessments), state.interrupted))


def write_outputs(state: State) -> int:
    config, verdict = state.config, state.verdict
    assert config is not None and verdict is not None
    meta = {
        "mode": state.mode,
        "branch_type": state.branch_type,
        "branch": state.options.branch,
        "stages_selected": list(state.options.stages),
        "config": config.source,
        "started_at": state.started_at,
        "elapsed_s": round(time.monotonic() - state.t0, 3),
    }
    reports = [(a.stage.name, a.report) for a in verdict.assessments]
    properties = {"pipeline.verdict": verdict.verdict, "pipeline.branch_type": state.branch_type}
    merged = junit.write(junit.merged(reports, gates.junit_cases(verdict), properties), config.reports / "pipeline.xml")
    md, js = summary.write(verdict, meta, config.reports, config.root)
    page = html.write(verdict, meta, config.reports)
    state.out.write(summary.terminal(verdict, meta))
    _say(state, "reports: " + ", ".join(_shown(config, p) for p in (merged, md, js, page)))
    return verdict.exit_code


# ---------------------------------------------------------------- helpers


def _after_dashes(args: list[str]) -> str:
    return f" -- {shlex.join(args)}" if args else ""


def _shown(config: Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def _say(state: State, line: str) -> None:
    state.out.write(line + "\n")
    state.out.flush()
