"""check_all, assert_valid and the replay command: failures that reproduce."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.checker import CheckResult, assert_valid, check_all, format_report
from pipeline.checker.__main__ import main
from pipeline.checker.history import OK, History
from pipeline.checker.report import history_path

MS = 1_000_000
REPO = Path(__file__).resolve().parents[3]


def record(h, client, f, key=None, value=None, *, at, to=None, result=None, node=None, status=OK):
    return h.record(
        client,
        f,
        key,
        value,
        status=status,
        result=result,
        node=node,
        invoke_ns=at * MS,
        complete_ns=(at if to is None else to) * MS,
    )


def mixed_history(stale: bool) -> History:
    """Registry calls, a bank and an event bus in one history, as a multi-node suite records."""
    h = History(meta={"seed": 1234})
    h.t0_ns = 0
    record(h, "c1", "register", "svc", "a1", at=0, to=1, result=True)
    record(h, "c1", "unregister", "svc", at=2, to=3)
    record(h, "c2", "lookup", "svc", at=4, to=5, result="a1" if stale else None)
    record(h, "c3", "open_account", "a", 10, at=0, to=1)
    record(h, "c3", "open_account", "b", 0, at=0, to=1)
    record(h, "c3", "transfer", None, {"from": "a", "to": "b", "amount": 4}, at=2, to=3)
    record(h, "s1", "subscribe", "t.*", at=0, to=1)
    record(h, "p", "publish", "t.x", "e1", at=2, to=3)
    record(h, "s1", "deliver", "t.x", "e1", at=4)
    for n in ("n1", "n2"):
        record(h, "f", "final_read", None, at=10, to=11, result={}, node=n)
        record(h, "f", "final_balances", None, at=10, to=11, result={"a": 6, "b": 4}, node=n)
    return h


def test_check_all_runs_the_applicable_checkers():
    report = check_all(mixed_history(stale=False))
    assert report.valid, format_report(report)
    assert [r.checker for r in report.results] == ["linearizable", "lost_writes", "money", "events"]
    assert repr(report) == ("CheckReport(valid: linearizable=valid, lost_writes=valid, money=valid, events=valid)")


def test_check_all_only_restricts_and_rejects_unknown_names():
    report = check_all(mixed_history(stale=True), only=["money"])
    assert report.valid and [r.checker for r in report.results] == ["money"]
    with pytest.raises(ValueError, match="unknown checker"):
        check_all(mixed_history(stale=True), only=["linearisable"])


def test_assert_valid_passes_quietly_on_valid_results(tmp_path):
    assert_valid(check_all(mixed_history(stale=False)), directory=tmp_path)
    assert not list(tmp_path.iterdir())


def test_assert_valid_saves_history_and_prints_the_replay_command(tmp_path):
    report = check_all(mixed_history(stale=True))
    assert not report.valid and report.failures[0].checker == "linearizable"
    with pytest.raises(AssertionError) as info:
        assert_valid(report, name="suite::test_registry[3 nodes]", directory=tmp_path)
    message = str(info.value)
    saved = tmp_path / "suite_test_registry_3_nodes.jsonl"
    assert saved.exists()
    assert f"history saved to {saved}" in message
    assert f"reproduce with: python -m pipeline.checker {saved}" in message
    assert "[linearizable] INVALID" in message
    assert "#2 c2 lookup 'svc' -> ok 'a1' [+4.000ms..+5.000ms]" in message
    assert History.load(saved).ops() == report.history.ops()


def test_assert_valid_on_a_single_result_names_the_checker(tmp_path):
    h = mixed_history(stale=True)
    result = check_all(h, only=["linearizable"]).results[0]
    with pytest.raises(AssertionError, match=r"--only linearizable --config my.models:cfg"):
        assert_valid(result, history=h, name="t", directory=tmp_path, config="my.models:cfg")


def test_assert_valid_without_a_history_says_how_to_get_one():
    bad = CheckResult.violation("custom", "it broke", [])
    with pytest.raises(AssertionError, match="pass history="):
        assert_valid(bad)


def test_inconclusive_fails_unless_allowed():
    unsure = CheckResult.unsure("linearizable", "budget exhausted")
    with pytest.raises(AssertionError, match="inconclusive"):
        assert_valid(unsure)
    assert_valid(unsure, allow_inconclusive=True)


def test_history_path_uses_the_current_pytest_test(monkeypatch):
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "suites/multinode/test_x.py::test_split[5] (call)")
    assert history_path() == Path("reports/history/suites_multinode_test_x.py_test_split_5.jsonl")


def test_cli_replays_a_saved_history(tmp_path, capsys):
    bad = mixed_history(stale=True).save(tmp_path / "bad.jsonl")
    good = mixed_history(stale=False).save(tmp_path / "good.jsonl")
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "[linearizable] INVALID" in out and "Key 'svc' is not linearizable" in out
    assert main([str(good), "--only", "money"]) == 0
    assert "[money] valid" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.jsonl")]) == 2


def not_a_dict():
    return ["register"]


def unknown_argument():
    return {"registr": None}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("bad", "--config must be module:function, got 'bad'"),
        ("no_such_module_xyz:f", "--config no_such_module_xyz:f: cannot import 'no_such_module_xyz'"),
        ("json:no_such_attr", "--config json:no_such_attr: module 'json' has no 'no_such_attr'"),
        ("json:dumps", "--config json:dumps: calling it with no arguments failed"),
        (f"{__name__}:not_a_dict", "must give a dict of check_all arguments"),
        (f"{__name__}:unknown_argument", "unknown check_all argument(s) registr; allowed: register, auctions"),
    ],
)
def test_cli_bad_config_is_a_usage_error_naming_it(tmp_path, capsys, spec, message):
    good = mixed_history(stale=False).save(tmp_path / "good.jsonl")
    assert main([str(good), "--config", spec]) == 2
    assert message in capsys.readouterr().err


def test_cli_max_steps_below_one_is_a_usage_error(tmp_path, capsys):
    good = mixed_history(stale=False).save(tmp_path / "good.jsonl")
    with pytest.raises(SystemExit) as info:
        main([str(good), "--max-steps", "0"])
    assert info.value.code == 2 and "--max-steps: must be >= 1, got 0" in capsys.readouterr().err


def test_cli_as_a_module_process(tmp_path):
    bad = mixed_history(stale=True).save(tmp_path / "bad.jsonl")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.checker", str(bad), "--only", "linearizable"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"consistency: INVALID \(1 checkers\)", proc.stdout)


def test_result_repr_reads_like_the_spec():
    r = CheckResult.violation("money", "created", [])
    assert repr(r) == "CheckResult(money: INVALID)"
    assert repr(CheckResult.ok("events", notes=["x"])) == "CheckResult(events: valid, 1 notes)"
