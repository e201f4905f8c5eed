"""The performance stage, one pattern at a time: a fresh cluster, Locust as
its own process against every node, telemetry every second, results, a plot;
the cluster torn down and Locust stopped whatever happens.

Per pattern, under ``reports/performance/<pattern>/``: ``locust_stats.csv``,
``locust_stats_history.csv``, ``locust_failures.csv``, ``report.html``,
``locust.log``, ``telemetry.csv``, ``<pattern>.png``, ``result.json`` and the
cluster's node logs (``cluster/<run-id>/``).  Then ``reports/performance.xml``.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests

from pipeline.cluster.config import cluster_config
from pipeline.cluster.manager import ClusterManager
from pipeline.load.config import LoadConfig, PatternConfig
from pipeline.load.junit import write_report
from pipeline.load.locust import LocustOptions, locust_command, locust_env, run_locust
from pipeline.load.plot import plot_pattern
from pipeline.load.progress import pattern_table, progress_line, summary_table
from pipeline.load.results import PatternResult, evaluate
from pipeline.load.stats import read_history, read_stats
from pipeline.load.telemetry import Sampler, lookup, summarise

__all__ = ["RunOptions", "run_stage", "run_pattern", "replay_command"]


@dataclass(frozen=True)
class RunOptions:
    seed: int
    full: bool = False
    duration_s: float | None = None
    users: int | None = None
    patterns: tuple[str, ...] = ()
    locust: LocustOptions = LocustOptions()
    provider: str = "local"


def replay_command(options: RunOptions) -> str:
    parts = ["nox -s performance --", f"--seed {options.seed}"]
    if options.full:
        parts.append("--full")
    for name in options.patterns:
        parts.append(f"--pattern {name}")
    if options.duration_s is not None:
        parts.append(f"--duration {options.duration_s:g}")
    if options.users is not None:
        parts.append(f"--users {options.users}")
    if options.locust.processes:
        parts.append(f"--processes {options.locust.processes}")
    if options.provider != "local":
        parts.append(f"--provider {options.provider}")
    return " ".join(parts)


def _say(text: str) -> None:
    print(text, flush=True)


def run_stage(
    config: LoadConfig, options: RunOptions, *, say: Callable[[str], None] = _say, manager: ClusterManager | None = None
) -> tuple[list[PatternResult], Path]:
    """Every selected pattern in turn, then the stage's JUnit report."""
    names = options.patterns or config.names
    patterns = [config.pattern(n).scaled(options.users) for n in names]
    replay = replay_command(options)
    say(f"performance: seed={options.seed} (replay: {replay}); patterns: {', '.join(names)}")
    results: list[PatternResult] = []
    t0 = time.monotonic()
    try:
        for pattern in patterns:
            duration = options.duration_s or (pattern.duration_s if options.full else pattern.ci_duration_s)
            try:
                result = run_pattern(config, pattern, duration, options, say=say, manager=manager)
            except Exception as exc:  # a broken run is a result too (an error case); Ctrl-C is not caught
                result = PatternResult(
                    pattern, duration, {}, None, {}, {}, {}, "", error=f"{type(exc).__name__}: {exc}"
                )
            results.append(result)
            say(pattern_table(result))
    finally:
        if results:
            path = write_report(
                config.junit,
                results,
                config.stage_thresholds,
                seed=options.seed,
                replay=replay,
                extra=[("performance.wall_s", f"{time.monotonic() - t0:.1f}")],
                injected=_injected(),
            )
            say("\n" + summary_table(results))
            say(
                f"performance: {len(results)} pattern(s) in {time.monotonic() - t0:.0f} s; report {path}; "
                f"seed={options.seed} (replay: {replay})"
            )
    return results, config.junit


def _injected() -> str:
    stage = os.environ.get("PIPELINE_STAGE", "performance")
    names = {n.strip() for n in os.environ.get("PIPELINE_INJECT_FAILURE", "").split(",") if n.strip()}
    return f"failure injected into stage {stage!r} by PIPELINE_INJECT_FAILURE" if stage in names else ""


def _wait_ready(config: LoadConfig, urls: dict[str, str], timeout: float) -> None:
    """Until every node reports ``ready_field == ready_value`` (e.g. a leader was
    elected and every node is ``normal``); polled with a deadline."""
    if not config.ready_field:
        return
    source, _, dotted = config.ready_field.partition(":")
    path = dict(config.telemetry.paths)[source]
    deadline = time.monotonic() + timeout
    seen: dict[str, Any] = {}
    with requests.Session() as session:
        while time.monotonic() < deadline:
            for name, url in urls.items():
                try:
                    seen[name] = lookup(session.get(url + path, timeout=1.0).json(), dotted)
                except (requests.RequestException, ValueError):
                    seen[name] = None
            if all(str(seen.get(n)) == config.ready_value for n in urls):
                return
            time.sleep(0.1)  # polling interval of a deadline-bounded wait
    raise RuntimeError(
        f"cluster not ready within {timeout:.0f} s: {config.ready_field} is {seen}, "
        f"expected {config.ready_value!r} on every node"
    )


def run_pattern(
    config: LoadConfig,
    pattern: PatternConfig,
    duration_s: float,
    options: RunOptions,
    *,
    say: Callable[[str], None] = _say,
    manager: ClusterManager | None = None,
) -> PatternResult:
    out = config.reports / pattern.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = random.Random(f"{options.seed}/{pattern.name}")
    env = dict(config.env)
    if config.secret_env:
        env[config.secret_env] = f"{rng.getrandbits(128):032x}"
    resources = {"memory_mb": config.memory_mb} if config.memory_mb else None
    cluster_spec = cluster_config(
        config.nodes,
        command=config.node_command(),
        env=env,
        cwd=str(config.root),
        resources=resources,
        ready_timeout=config.ready_timeout_s,
        link_proxies=config.link_proxies,
        report_dir=str(out / "cluster"),
        seed=options.seed,
    )
    ramp = pattern.ramp_s
    hard = duration_s + ramp + config.stop_timeout_s + config.grace_s
    say(
        f"[{pattern.name}] {pattern.title}: {pattern.users} users, {duration_s:.0f} s, "
        f"target {pattern.target_ops:.1f} ops/s on {config.nodes} nodes"
    )
    empty = PatternResult(pattern, duration_s, {}, None, {}, {}, {}, "", error="")
    handle = (manager or ClusterManager()).start(cluster_spec, seed=options.seed)
    try:
        urls = dict(handle.urls)
        _wait_ready(config, urls, config.ready_timeout_s)
        nodes = [urls[n] for n in handle.names]
        command = locust_command(
            pattern.locustfile,
            out,
            users=pattern.users,
            spawn_rate=max(1.0, pattern.users / ramp),
            duration_s=duration_s,
            host=nodes[0],
            options=options.locust,
        )
        lenv = locust_env(nodes, options.seed, pattern.per_user_rates(), options.locust.workers)
        history = out / "locust_stats_history.csv"
        sampler = Sampler(urls, config.telemetry, out / "telemetry.csv", max_seconds=hard + 10)
        with sampler:
            run = run_locust(
                command,
                lenv,
                out,
                hard_timeout_s=hard,
                stop_grace_s=config.stop_timeout_s + 10,
                cwd=config.root,
                on_start=sampler.watch_generator,
                tick_s=config.progress_interval_s,
                on_tick=lambda t: say(progress_line(pattern.name, history, t, duration_s + ramp, pattern.target_ops)),
            )
        samples = sampler.samples
    finally:
        handle.close()
    files = {k: str(p) for k, p in run.files.items() if p.exists()}
    files["telemetry"] = str(out / "telemetry.csv")
    files["command"] = " ".join(command)
    if run.problem:
        return replace(empty, error=run.problem, files=files)
    stats = read_stats(run.files["stats"])
    result = evaluate(
        config,
        pattern,
        stats,
        summarise(samples, skip_first_s=ramp),
        duration_s=duration_s,
        locust_output=run.output,
        workers=options.locust.workers,
        history=read_history(history) if history.exists() else (),
    )
    picture = plot_pattern(
        out / f"{pattern.name}.png",
        f"{pattern.title}: {pattern.users} users, {duration_s:.0f} s, seed {options.seed}",
        history,
        samples,
        target_ops=pattern.target_ops,
    )
    if picture is not None:
        files["plot"] = str(picture)
    result.files = files
    (out / "result.json").write_text(
        json.dumps(
            {
                "pattern": pattern.name,
                "verdict": result.verdict,
                "trusted": result.trusted,
                "untrusted_reason": result.untrusted_reason,
                "memory_basis": result.memory_basis,
                "metrics": {k: v for k, v in result.metrics.items() if math.isfinite(v)},
                "operations": {
                    op: {"target_ops": rate, "achieved_ops": result.achieved(op)} for op, rate in pattern.operations
                },
                "checks": [
                    {"threshold": repr(c.threshold), "measured": c.measured, "passed": c.passed} for c in result.checks
                ],
                "seed": options.seed,
                "files": files,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return result
