"""Locust as its own process: the command, the environment, the bounds."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pipeline.load.locust import LocustOptions, locust_command, locust_env, run_locust


def test_the_command_is_headless_bounded_and_keeps_every_report(tmp_path):
    command = locust_command(
        Path("locustfiles/x.py"),
        tmp_path,
        users=200,
        spawn_rate=100,
        duration_s=25,
        host="http://127.0.0.1:1",
        options=LocustOptions(processes=2),
    )
    text = " ".join(command)
    for part in (
        "--headless",
        "-u 200",
        "-r 100",
        "-t 25s",
        f"--csv {tmp_path}/locust",
        "--csv-full-history",
        f"--html {tmp_path}/report.html",
        "--processes 2",
        "--reset-stats",
    ):
        assert part in text
    master = locust_command(
        Path("x.py"),
        tmp_path,
        users=1,
        spawn_rate=1,
        duration_s=1,
        host="h",
        options=LocustOptions(expect_workers=3, master_bind_host="0.0.0.0"),
    )
    assert "--master --expect-workers 3 --master-bind-host 0.0.0.0" in " ".join(master)
    assert "--processes" not in master


def test_the_environment_names_nodes_seed_rates_and_workers():
    env = locust_env(["http://a", "http://b"], 42, {"place_bid": 2.5}, 4)
    assert env["LOAD_NODES"] == "http://a,http://b" and env["LOAD_SEED"] == "42"
    assert json.loads(env["LOAD_RATES"]) == {"place_bid": 2.5} and env["LOAD_WORKERS"] == "4"


def test_a_process_past_its_hard_deadline_is_killed(tmp_path):
    # ignores SIGINT, so the stop goes on to SIGTERM
    command = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); [time.sleep(0.1) for _ in range(600)]",
    ]
    t0 = time.monotonic()
    run = run_locust(command, {}, tmp_path, hard_timeout_s=1.0, stop_grace_s=2.0)
    assert run.timed_out and run.exit_code is not None and run.exit_code < 0
    assert "hard deadline" in run.problem
    assert time.monotonic() - t0 < 30  # bounded; not a speed assertion, a did-it-stop one


def test_a_locust_that_fails_to_start_is_a_problem_with_its_output(tmp_path):
    command = [sys.executable, "-c", "import sys; print('bad option --nope'); sys.exit(2)"]
    run = run_locust(command, {}, tmp_path, hard_timeout_s=30)
    assert run.exit_code == 2 and "Locust exited 2: bad option --nope" in run.problem


def test_progress_ticks_while_it_runs(tmp_path):
    ticks: list[float] = []
    command = [sys.executable, "-c", "import time; [time.sleep(0.05) for _ in range(12)]"]
    run = run_locust(command, {}, tmp_path, hard_timeout_s=30, tick_s=0.2, on_tick=ticks.append)
    assert run.exit_code == 0 and ticks and ticks == sorted(ticks)
