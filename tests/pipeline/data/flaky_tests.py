"""Run by fake_stage.py's ``pytest`` action: one steady test and one that fails
its first attempt only (the attempts are counted in a file beside this one)."""

from pathlib import Path

ATTEMPTS = Path(__file__).with_name("flaky_attempts.txt")


def test_steady():
    assert True


def test_fails_once():
    count = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(count + 1))
    assert count >= 1, "first attempt fails on purpose"
