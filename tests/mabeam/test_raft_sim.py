"""Whole-cluster simulations: thousands of seeds, planted bugs, replay.

``RAFT_SIM_SEEDS`` (default 2000) sets how many seeds the sweep runs and
``RAFT_SIM_SEED_START`` where it starts. A failure names its seed and the exact
command replaying it with a trace:
``RAFT_SIM_SEED=<seed> /work/venv/bin/pytest tests/mabeam/test_raft_sim.py -k replay -s``
(add ``RAFT_SIM_BUG=<name>`` to replay a planted-bug run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from mabeam.raft import LogEntry, RaftNode, Snapshot
from mabeam.raft.sim import (
    Checker,
    LivenessViolation,
    SafetyViolation,
    SimConfig,
    SimFailure,
    Simulation,
    StateMachine,
    replay_command,
    run_seed,
    trace_digest,
)

SEEDS = int(os.environ.get("RAFT_SIM_SEEDS", "2000"))
FIRST = int(os.environ.get("RAFT_SIM_SEED_START", "0"))

# Every fault and feature must show up in at least this share of runs, or the
# sweep is not testing what it claims to.
COVERAGE = {
    "partitions": 0.3,
    "crashes": 0.3,
    "dropped": 0.5,
    "duplicated": 0.5,
    "superseded": 0.05,
    "snapshots_installed": 0.1,
    "removals": 0.05,
    "additions": 0.03,
    "reads_served": 0.3,
    "reads_failed": 0.05,
}


def test_thousands_of_seeds_stay_safe_and_recover_after_heal() -> None:
    failures: list[SimFailure] = []
    runs_with: Counter[str] = Counter()
    elections = 0
    for seed in range(FIRST, FIRST + SEEDS):
        try:
            report = run_seed(seed)
        except SimFailure as failure:
            failures.append(failure)
            print(f"Falsifying seed {seed}: {failure}\n  replay: {replay_command(seed)}")
            if len(failures) >= 5:
                break
            continue
        runs_with.update(k for k, v in report.stats.items() if v)
        elections += report.stats["elections"]
    assert not failures, "\n".join(f"{f}\n  replay: {replay_command(f.seed or 0)}" for f in failures)
    print(f"{SEEDS} seeds from {FIRST}: {elections} elections; runs with {dict(runs_with)}")
    if SEEDS >= 200:
        thin = {k: runs_with[k] for k, share in COVERAGE.items() if runs_with[k] < share * SEEDS}
        assert not thin, f"the sweep barely exercised {thin}"
        assert elections > 2 * SEEDS, "leaders should change several times per run"


# -- planted bugs ------------------------------------------------------------------

#: bug -> (seeds allowed to catch it, checker verdicts that count as catching it)
PLANTED = {
    "double_vote": (100, {"election_safety"}),
    "commit_without_majority": (
        300,
        {"state_machine_safety", "leader_completeness", "log_matching", "lost_write"},
    ),
    "keep_conflicting": (300, {"state_machine_safety", "log_matching", "leader_completeness"}),
    "read_without_quorum": (300, {"stale_read"}),
}


@pytest.mark.parametrize("bug", sorted(PLANTED))
def test_simulator_catches_planted_bug(bug: str) -> None:
    budget, verdicts = PLANTED[bug]
    for seed in range(budget):
        try:
            run_seed(seed, planted_bug=bug)
        except SafetyViolation as violation:
            print(
                f"planted bug {bug!r} caught by seed {seed} ({seed + 1} seeds run): {violation}\n"
                f"  replay: {replay_command(seed, bug)}"
            )
            assert violation.kind in verdicts, f"caught for the wrong reason: {violation}"
            return
    pytest.fail(f"{budget} seeds ran with {bug!r} planted and no checker noticed")


def test_planted_bug_runs_are_reproducible() -> None:
    """The seed that catches a bug catches it again, identically."""
    first = second = None
    for attempt in range(2):
        try:
            run_seed(0, planted_bug="double_vote")
        except SafetyViolation as violation:
            if attempt == 0:
                first = str(violation)
            else:
                second = str(violation)
    assert first is not None and first == second


# -- replay and determinism ------------------------------------------------------------


@pytest.mark.skipif("RAFT_SIM_SEED" not in os.environ, reason="set RAFT_SIM_SEED=<seed> to replay")
def test_replay() -> None:
    seed = int(os.environ["RAFT_SIM_SEED"])
    bug = os.environ.get("RAFT_SIM_BUG") or None
    sim = Simulation(SimConfig.from_seed(seed, planted_bug=bug), trace=True)
    print(sim.cfg)
    try:
        report = sim.run()
    except SimFailure:
        assert sim.trace is not None
        print("\n".join(sim.trace[-300:]))
        raise
    print(f"seed {seed}: ok after {report.ticks} ticks; stats {dict(report.stats)}")
    assert report.commit_after_heal <= sim.cfg.liveness_ticks


def test_a_seed_runs_identically_in_another_process() -> None:
    """Nothing depends on hash randomisation, wall time or global RNG state."""
    here = trace_digest(7)
    assert trace_digest(7) == here
    code = "from mabeam.raft.sim import trace_digest; print(trace_digest(7))"
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == here
    assert trace_digest(8) != here


def test_config_is_a_function_of_the_seed() -> None:
    assert SimConfig.from_seed(5) == SimConfig.from_seed(5)
    configs = {SimConfig.from_seed(s).nodes for s in range(50)}
    assert configs == {3, 5, 7}


# -- the checkers themselves can fail ---------------------------------------------------------


def test_checker_flags_two_leaders_in_one_term() -> None:
    c = Checker()
    c.on_leader("n1", 3, RaftNode("n1", ("n1", "n2")))
    c.on_leader("n1", 3, RaftNode("n1", ("n1", "n2")))  # the same leader again is fine
    with pytest.raises(SafetyViolation, match="election_safety"):
        c.on_leader("n2", 3, RaftNode("n2", ("n1", "n2")))


def test_checker_flags_different_commands_at_one_index() -> None:
    c = Checker()
    c.on_apply("n1", LogEntry(1, 1, "command", "a"), 1)
    c.on_apply("n2", LogEntry(1, 1, "command", "a"), 2)
    with pytest.raises(SafetyViolation, match="state_machine_safety"):
        c.on_apply("n3", LogEntry(1, 2, "command", "b"), 2)


def test_checker_flags_a_leader_missing_a_committed_entry() -> None:
    c = Checker()
    c.on_apply("n1", LogEntry(1, 1, "command", "a"), 1)
    with pytest.raises(SafetyViolation, match="leader_completeness"):
        c.on_leader("n2", 2, RaftNode("n2", ("n1", "n2")))


def test_checker_flags_diverging_logs_and_stale_reads_and_lost_writes() -> None:
    a = RaftNode("a", ("a", "b"))
    b = RaftNode("b", ("a", "b"))
    a.log.append([LogEntry(1, 1, "command", "x"), LogEntry(2, 2, "command", "y")])
    b.log.append([LogEntry(1, 1, "command", "z"), LogEntry(2, 2, "command", "y")])
    c = Checker()
    with pytest.raises(SafetyViolation, match="log_matching"):
        c.check_log_matching([a, b])
    with pytest.raises(SafetyViolation, match="stale_read"):
        c.check_read("a", 4, 5)
    c.acked["w"] = (2, 1)
    with pytest.raises(SafetyViolation, match="lost_write"):
        c.check_durable(StateMachine(2, [[1, 1, "v"]]), "a")


def test_checker_flags_a_snapshot_that_contradicts_history() -> None:
    c = Checker()
    c.on_apply("n1", LogEntry(1, 1, "command", "a"), 1)
    bad = StateMachine(1, [[1, 1, "b"]])
    with pytest.raises(SafetyViolation, match="state_machine_safety"):
        c.on_restore("n2", Snapshot(1, 1, ("n1",), bad.snapshot()), bad)


def test_state_machine_rejects_a_gap() -> None:
    sm = StateMachine()
    sm.apply(LogEntry(1, 1, "noop"))
    with pytest.raises(SafetyViolation, match="apply_gap"):
        sm.apply(LogEntry(3, 1, "command", "x"))


class _NeverHeals(Simulation):
    def _heal(self) -> None:
        super()._heal()
        self.groups = {i: n for n, i in enumerate(self.ids)}  # everyone alone


def test_liveness_check_fails_when_no_majority_can_talk() -> None:
    sim = _NeverHeals(SimConfig.from_seed(3))
    with pytest.raises(LivenessViolation, match="liveness") as err:
        sim.run()
    assert err.value.seed == 3 and err.value.tick >= sim.cfg.chaos_ticks + sim.cfg.liveness_ticks
