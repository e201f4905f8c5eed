"""The chaos stage, one scenario at a time.

Per scenario: compile the schedule and write ``schedule.json`` (before
anything starts); start a fresh cluster; set up the workload; start the
clients and the GC sampler; warm up (the *before* phase); execute the
schedule through ``cluster.faults``; end every fault; measure the recovery
(every live node healthy with equal digests) while the clients go on; cool
down (the *after* phase); stop the clients, wait for convergence, let the
workload make its final reads; check the history; judge the criteria; plot;
tear the cluster down whatever happened.

Files under ``reports/chaos/<scenario>/``: ``schedule.json``,
``history.jsonl``, ``missed_slots.json`` (timetable slots the clients could
not keep), ``faults.log``, ``executed.json`` (what ran, with the node
``leader`` resolved to), ``result.json``, ``timeline.png``, ``cluster/`` (node
logs).  Then ``reports/chaos.xml``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.chaos.config import ChaosConfig
from pipeline.chaos.execute import Executor
from pipeline.chaos.junit import write_report
from pipeline.chaos.metrics import gc_pressure, lost_slots, per_second, phase_metrics
from pipeline.chaos.plot import plot_timeline
from pipeline.chaos.probe import Probe, Sampler
from pipeline.chaos.progress import phase_of, progress_line, scenario_table, summary_table
from pipeline.chaos.result import ScenarioResult
from pipeline.chaos.schedule import Schedule, compile_schedule, load_schedule
from pipeline.chaos.workload import Driver, load_factory
from pipeline.checker import check_all, format_report
from pipeline.checker.history import History
from pipeline.cluster.config import cluster_config
from pipeline.cluster.manager import ClusterManager
from pipeline.report.threshold import check_all as check_thresholds

__all__ = ["RunOptions", "plan", "run_stage", "run_scenario", "replay_command", "fresh_seed"]

SETUP_CLIENT = "setup"


@dataclass(frozen=True)
class RunOptions:
    seed: int | None = None
    scenarios: tuple[str, ...] = ()
    replay: Path | None = None
    dry_run: bool = False
    provider: str = "local"


def fresh_seed() -> int:
    return random.SystemRandom().randrange(2**31)


def _say(text: str) -> None:
    print(text, flush=True)


def topology(config: ChaosConfig, nodes: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The node names and directed peer links of a scenario's cluster (no cluster started)."""
    spec = cluster_config(nodes, "mesh", command=config.node_command())
    return spec.names, tuple(str(link) for link in spec.links)


def plan(config: ChaosConfig, options: RunOptions, env_seed: int | None = None) -> list[Schedule]:
    """The schedules to run: the replayed one, or one per selected scenario.

    A scenario's seed: ``--seed``, else ``$PIPELINE_SEED`` (``env_seed``),
    else the scenario's own ``seed``, else a fresh one."""
    if options.replay is not None:
        return [load_schedule(options.replay)]
    out = []
    for name in options.scenarios or config.names:
        s = config.scenario(name)
        seed = next((x for x in (options.seed, env_seed, s.seed) if x is not None), None)
        seed = fresh_seed() if seed is None else seed
        nodes, links = topology(config, s.nodes)
        out.append(compile_schedule(s, seed, nodes, links))
    return out


def replay_command(path: Path, root: Path, provider: str = "local") -> str:
    try:
        shown = path.resolve().relative_to(root.resolve())
    except ValueError:
        shown = path
    where = "" if provider == "local" else f" --provider {provider}"
    return f"nox -s chaos -- --replay {shown}{where}"


def run_stage(
    config: ChaosConfig,
    options: RunOptions,
    *,
    env_seed: int | None = None,
    say: Callable[[str], None] = _say,
    manager: ClusterManager | None = None,
) -> tuple[list[ScenarioResult], Path | None]:
    """Every selected scenario in turn (or only their schedules, with ``dry_run``), then the JUnit report."""
    schedules = plan(config, options, env_seed)
    results: list[ScenarioResult] = []
    t0 = time.monotonic()
    if options.dry_run:
        for schedule in schedules:
            path = config.reports / schedule.scenario.name / "schedule.json"
            schedule.write(path)
            say(schedule.describe())
            say(f"written to {path} (dry run: nothing started)\n")
        return results, None
    say(f"chaos: {len(schedules)} scenario(s): " + ", ".join(f"{s.scenario.name} (seed {s.seed})" for s in schedules))
    try:
        for schedule in schedules:
            try:
                result = run_scenario(config, schedule, say=say, manager=manager, provider=options.provider)
            except Exception as exc:  # a broken run is a result (an error case); Ctrl-C is not caught
                path = config.reports / schedule.scenario.name / "schedule.json"
                result = ScenarioResult(
                    schedule.scenario,
                    schedule.seed,
                    error=f"{type(exc).__name__}: {exc}",
                    replay=replay_command(path, config.root, options.provider),
                )
            results.append(result)
            say(scenario_table(result) + "\n")
    finally:
        if results:
            path = write_report(config.junit, results, injected=_injected())
            say(summary_table(results))
            say(f"chaos: {len(results)} scenario(s) in {time.monotonic() - t0:.0f} s; report {path}")
    return results, config.junit


def _injected() -> str:
    stage = os.environ.get("PIPELINE_STAGE", "chaos")
    names = {n.strip() for n in os.environ.get("PIPELINE_INJECT_FAILURE", "").split(",") if n.strip()}
    return f"failure injected into stage {stage!r} by PIPELINE_INJECT_FAILURE" if stage in names else ""


def _prepare(out: Path, schedule: Schedule) -> Path:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    return schedule.write(out / "schedule.json")


def run_scenario(
    config: ChaosConfig,
    schedule: Schedule,
    *,
    say: Callable[[str], None] = _say,
    manager: ClusterManager | None = None,
    provider: str = "local",
) -> ScenarioResult:
    s = schedule.scenario
    out = config.reports / s.name
    schedule_path = _prepare(out, schedule)
    replay = replay_command(schedule_path, config.root, provider)
    started = time.monotonic()
    factory = load_factory(config.workload(s.workload.name))
    env = dict(config.env)
    if config.secret_env:
        env[config.secret_env] = f"{random.SystemRandom().getrandbits(128):032x}"
    resources = {"memory_mb": s.memory_mb, "memory_limit": "data"} if s.memory_mb else None
    spec = cluster_config(
        s.nodes,
        "mesh",
        command=config.node_command(),
        env=env,
        cwd=str(config.root),
        resources=resources,
        health_path=config.health_path,
        ready_timeout=config.ready_timeout_s,
        stop_timeout=5.0,
        report_dir=str(out / "cluster"),
        seed=schedule.seed,
    )
    total = s.warmup_s + s.duration_s + s.cooldown_s
    say(
        f"[{s.name}] {s.label}: {s.nodes} nodes, warm-up {s.warmup_s:g} s, window {s.duration_s:g} s, "
        f"cool-down {s.cooldown_s:g} s; seed {schedule.seed}; schedule {schedule_path}"
    )
    result = ScenarioResult(s, schedule.seed, replay=replay)
    handle = (manager or ClusterManager()).start(spec, seed=schedule.seed)
    history = History(meta={"scenario": s.name, "seed": schedule.seed, "workload_seed": schedule.workload_seed})
    driver: Driver | None = None
    sampler: Sampler | None = None
    probe = Probe(config, handle.urls)
    try:
        names = list(handle.names)
        waited, why = probe.wait_converged(names, config.ready_timeout_s, interval=0.1)
        if waited is None:
            raise RuntimeError(f"cluster not ready within {config.ready_timeout_s:g} s: {why}")
        if config.leader_field and probe.wait_leader(names, config.ready_timeout_s) is None:
            raise RuntimeError(f"no leader agreed on within {config.ready_timeout_s:g} s")
        workload = factory(history, dict(handle.urls), schedule.workload_seed, s.workload.timeout_s)
        workload.setup(names)
        sampler = Sampler(config, handle.urls, max_seconds=total + s.recovery_timeout_s + 120).start()
        driver = Driver(
            workload,
            names,
            seed=schedule.workload_seed,
            rate_ops=s.workload.rate_ops,
            threads=s.workload.threads,
            max_seconds=total + s.recovery_timeout_s + 60,
        )
        windows = [(w.id, w.label, w.start_s, w.end_s) for w in schedule.windows]
        stop = threading.Event()
        executor: Executor | None = None

        def tick(elapsed: float) -> None:
            in_window = elapsed - s.warmup_s
            say(
                progress_line(
                    s.name,
                    phase_of(in_window, windows, s.duration_s),
                    elapsed,
                    total,
                    history.ops(),
                    config.progress_interval_s,
                )
            )

        run_start = time.monotonic_ns()
        driver.start()
        executor = Executor(
            handle,
            schedule,
            driver,
            probe,
            stop=stop,
            tick=lambda t: tick(t + s.warmup_s),
            tick_s=config.progress_interval_s,
        )
        # warm-up: the timetable's before phase, ticking progress
        window_start = run_start + int(s.warmup_s * 1e9)
        executor.warm_up(window_start)
        executor.run(window_start)
        faults_end = executor.end_all()
        # recovery_time runs from the end of the last fault (its restart, resume or revert was issued)
        waited, recovery_note = probe.wait_converged(names, s.recovery_timeout_s)
        recovery = None if waited is None else (time.monotonic_ns() - faults_end) / 1e9
        say(
            f"[{s.name}] faults ended; "
            + (
                f"recovered in {recovery:.2f} s ({recovery_note})"
                if recovery is not None
                else f"NOT recovered: {recovery_note}"
            )
        )
        # cool-down (the after phase): cooldown_s from the end of the last fault, the clients going on
        remaining = (faults_end / 1e9 + s.cooldown_s) - time.monotonic()
        if remaining > 0:
            stop.wait(remaining)  # the after phase's length: the clients keep going
        run_end = time.monotonic_ns()
        driver.stop()
        sampler.stop()
        # the final reads wait for convergence, bounded; a cluster that never converges is a finding
        # (recovery_time never; the checkers see replicas that disagree), not an untrusted measurement
        settled, settle_note = probe.wait_converged(names, 30.0)
        if settled is None:
            say(f"[{s.name}] the nodes did not converge for the final reads: {settle_note}")
        workload.finish(names)
        if driver.errors:
            raise RuntimeError(f"the workload raised: {driver.errors[0]!r}") from driver.errors[0]
        history.save(out / "history.jsonl")
        report = check_all(history, only=workload.checkers or None)
        consistent = report.valid
        inconclusive = [r.checker for r in report.results if r.inconclusive]
        if inconclusive:
            result.problems += (f"checker(s) {', '.join(inconclusive)} inconclusive: nothing proved",)
        if not consistent:
            result.consistency = (
                format_report(report, history.t0_ns)
                + f"\nhistory: {out / 'history.jsonl'} (re-check: python -m pipeline.checker {out / 'history.jsonl'})"
            )
        clients = {f"c{i + 1}" for i in range(s.workload.threads)}
        ops = [o for o in history.ops() if o.client in clients]
        spans = executor.spans()
        lost = lost_slots(ops, driver.missed)
        (out / "missed_slots.json").write_text(
            json.dumps([{"client": c, "at_ns": t} for c, t in sorted(driver.missed, key=lambda m: m[1])]) + "\n",
            encoding="utf-8",
        )
        metrics = phase_metrics(ops, lost, spans, start_ns=run_start, end_ns=run_end)
        metrics["recovery_time"] = recovery if recovery is not None else math.inf
        metrics["data_consistency"] = 1.0 if consistent else 0.0
        pressure, gc_rate = gc_pressure(sampler.samples)
        metrics["gc_pressure"] = pressure
        metrics["gc_collections_per_s"] = gc_rate
        # the workload's rate before any fault: below min_rate_ratio the client, not the service, is measured
        first = min((sp.start_ns for sp in spans), default=run_end)
        before = [o for o in ops if o.invoke_ns < first]
        before_s = (first - run_start) / 1e9
        target = s.workload.rate_ops * before_s
        metrics["workload_rate_ratio"] = len(before) / target if target > 0 else math.nan
        if target > 0 and len(before) < s.workload.min_rate_ratio * target:
            result.problems += (
                f"the workload sent {len(before) / before_s:.1f} ops/s before any fault, under "
                f"{s.workload.min_rate_ratio:.0%} of its {s.workload.rate_ops:g} ops/s: it could not run at its rate",
            )
        result.problems += tuple(f"fault not in effect: {p}" for p in executor.problems)
        result.metrics = metrics
        result.checks = check_thresholds(s.criteria, metrics)
        picture = plot_timeline(
            out / "timeline.png",
            f"{s.label} (seed {schedule.seed}): {result.verdict}",
            per_second(ops, lost, start_ns=run_start, end_ns=run_end),
            spans,
            start_ns=run_start,
        )
        files = {"schedule": str(schedule_path), "history": str(out / "history.jsonl")}
        if picture is not None:
            files["timeline"] = str(picture)
        (out / "executed.json").write_text(json.dumps(executor.executed, indent=2) + "\n", encoding="utf-8")
        files["executed"] = str(out / "executed.json")
        result.files = files
    finally:
        stopped: list[str] = []
        if driver is not None and driver.running:
            try:
                driver.stop(10.0)
            except RuntimeError as exc:
                stopped.append(str(exc))
        if sampler is not None:
            sampler.stop()
        probe.close()
        try:
            (out / "faults.log").write_text(handle.faults.log.format() + "\n", encoding="utf-8")
        finally:
            handle.close()  # whatever the disk says
        result.files["faults"] = str(out / "faults.log")
        result.files["node_logs"] = str(out / "cluster")
        result.elapsed_s = time.monotonic() - started
    _write_result(out / "result.json", result)
    return result


def _finite(metrics: Mapping[str, float | None]) -> dict[str, Any]:
    return {k: (v if v is None or math.isfinite(v) else str(v)) for k, v in metrics.items()}


def _write_result(path: Path, result: ScenarioResult) -> None:
    data = {
        "scenario": result.name,
        "seed": result.seed,
        "verdict": result.verdict,
        "trusted": result.trusted,
        "problems": list(result.problems),
        "error": result.error,
        "metrics": _finite(result.metrics),
        "checks": [
            {"threshold": repr(c.threshold), "measured": _finite({"m": c.measured})["m"], "passed": c.passed}
            for c in result.checks
        ],
        "replay": result.replay,
        "files": result.files,
        "elapsed_s": round(result.elapsed_s, 3),
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
