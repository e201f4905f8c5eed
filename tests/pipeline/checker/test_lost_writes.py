"""Acknowledged writes survive in the final reads from every node."""

from __future__ import annotations

from pipeline.checker.history import FAIL, OK, UNKNOWN, History
from pipeline.checker.lost_writes import check_no_lost_writes

MS = 1_000_000


class Ops:
    def __init__(self) -> None:
        self.h = History()

    def __call__(self, client, f, key, value=None, *, at, to=None, status=OK, result=None, node=None):
        return self.h.record(
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


def test_last_acknowledged_write_visible_everywhere_is_valid():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c1", "write", "k", 2, at=2, to=3)
    o("c2", "write", "gone", 5, at=0, to=1)
    o("c2", "delete", "gone", at=2, to=3)
    for n in ("n1", "n2", "n3"):
        o("final", "final_read", None, at=10, to=11, result={"k": 2}, node=n)
    r = check_no_lost_writes(o.h)
    assert r.valid, r.explanation
    assert r.stats == {"keys": 2, "final_reads": 3}


def test_lost_acknowledged_write_is_reported_with_node_and_write():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    w2 = o("c1", "write", "k", 2, at=2, to=3)
    o("final", "final_read", "k", at=10, to=11, result=2, node="n1")
    bad = o("final", "final_read", "k", at=10, to=11, result=1, node="n2")
    r = check_no_lost_writes(o.h, require_agreement=False)
    assert not r.valid
    assert bad in r.excerpt and w2 in r.excerpt
    assert "node n2 finally reads 1" in r.explanation and "lost" in r.explanation
    assert "stale replica" in r.explanation


def test_key_missing_from_a_snapshot_is_a_lost_write():
    o = Ops()
    o("c1", "register", "svc", "a1", at=0, to=1, result=True)
    o("final", "final_read", None, at=5, to=6, result={}, node="n1")
    r = check_no_lost_writes(o.h)
    assert not r.valid and "finally reads absent" in r.explanation


def test_concurrent_or_unknown_writes_may_win():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=10)
    o("c2", "write", "k", 2, at=5, to=6)  # concurrent with 1: either may be last
    o("c3", "write", "k", 3, at=7, to=8, status=UNKNOWN)  # may land any time, or never
    for final in (1, 2, 3):
        o2 = Ops()
        o2.h = History.from_ops(o.h.ops())
        o2("f", "final_read", "k", at=20, to=21, result=final, node="n1")
        assert check_no_lost_writes(o2.h).valid, final


def test_failed_write_never_counts():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c2", "write", "k", 2, at=2, to=3, status=FAIL)
    o("f", "final_read", "k", at=5, to=6, result=2, node="n1")
    r = check_no_lost_writes(o.h)
    assert not r.valid


def test_value_nobody_wrote():
    o = Ops()
    o("f", "final_read", None, at=5, to=6, result={"ghost": 1}, node="n1")
    r = check_no_lost_writes(o.h)
    assert not r.valid and "no operation ever wrote 1" in r.explanation


def test_nodes_must_agree_after_healing():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=10)
    o("c2", "write", "k", 2, at=5, to=6)
    o("f", "final_read", "k", at=20, to=21, result=1, node="n1")
    o("f", "final_read", "k", at=20, to=21, result=2, node="n2")
    r = check_no_lost_writes(o.h)
    assert not r.valid and "disagree" in r.explanation and len(r.excerpt) == 2
    assert check_no_lost_writes(o.h, require_agreement=False).valid


def test_already_registered_is_not_a_write():
    o = Ops()
    o("a1", "register", "svc", "a1", at=0, to=1, result=True)
    o("a2", "register", "svc", "a2", at=2, to=3, result=False)
    o("f", "final_read", None, at=5, to=6, result={"svc": "a1"}, node="n1")
    assert check_no_lost_writes(o.h).valid


def test_without_final_reads_nothing_is_proved():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    r = check_no_lost_writes(o.h)
    assert not r.valid and r.inconclusive


def test_written_key_not_read_at_the_end_is_noted():
    o = Ops()
    o("c1", "write", "a", 1, at=0, to=1)
    o("c1", "write", "b", 1, at=0, to=1)
    o("f", "final_read", "a", at=5, to=6, result=1, node="n1")
    r = check_no_lost_writes(o.h)
    assert r.valid and any("'b'" in n and "not checked" in n for n in r.notes)
