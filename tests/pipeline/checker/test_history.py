"""The history recorder: outcomes, thread safety, persistence, excerpts."""

from __future__ import annotations

import itertools
import threading

import pytest

from pipeline.checker.history import FAIL, OK, UNKNOWN, History, Op, format_ops


def ticking_clock(step: int = 1_000_000):
    """A fake monotonic clock advancing 1 ms per call, so times are deterministic."""
    counter = itertools.count(0, step)
    return lambda: next(counter)


def test_ok_records_result_and_both_times():
    h = History(clock=ticking_clock())
    with h.op(client="c1", f="write", key="k", value=3, node="n1") as op:
        op.ok("done")
    (rec,) = h.ops()
    assert (rec.client, rec.f, rec.key, rec.value, rec.status, rec.result, rec.node) == (
        "c1",
        "write",
        "k",
        3,
        OK,
        "done",
        "n1",
    )
    assert rec.invoke_ns < rec.complete_ns


def test_fail_keeps_reason_and_means_not_applied():
    h = History(clock=ticking_clock())
    with h.op("c1", "write", "k", 1) as op:
        op.fail("no_quorum")
    (rec,) = h.ops()
    assert rec.status == FAIL and rec.error == "no_quorum" and rec.failed


def test_exception_becomes_unknown_and_propagates():
    h = History(clock=ticking_clock())
    with pytest.raises(TimeoutError):
        with h.op("c1", "write", "k", 1):
            raise TimeoutError("read timed out")
    (rec,) = h.ops()
    assert rec.status == UNKNOWN
    assert rec.error == "TimeoutError: read timed out"
    assert rec.end_ns == float("inf")  # may take effect at any time later


def test_suppressed_exception_types_are_recorded_and_swallowed():
    h = History(clock=ticking_clock(), suppress=(TimeoutError,))
    with h.op("c1", "write", "k", 1):
        raise TimeoutError("slow")
    with pytest.raises(KeyError):
        with h.op("c1", "write", "k", 2):
            raise KeyError("a bug in the client is not swallowed")
    assert [o.status for o in h.ops()] == [UNKNOWN, UNKNOWN]


def test_exception_after_an_outcome_keeps_the_outcome():
    h = History(clock=ticking_clock())
    with pytest.raises(ValueError):
        with h.op("c1", "write", "k", 1) as op:
            op.ok()
            raise ValueError("later failure in the test itself")
    assert h.ops()[0].status == OK


def test_block_without_outcome_is_unknown_and_complains():
    h = History(clock=ticking_clock())
    with pytest.raises(RuntimeError, match="ended without"):
        with h.op("c1", "read", "k"):
            pass
    assert h.ops()[0].status == UNKNOWN


def test_completing_twice_is_an_error():
    h = History(clock=ticking_clock())
    op = h.invoke("c1", "write", "k", 1)
    op.ok()
    with pytest.raises(RuntimeError, match="already completed"):
        op.fail("late")
    assert h.ops()[0].status == OK


def test_pending_ops_read_as_unknown():
    h = History(clock=ticking_clock())
    h.invoke("c1", "write", "k", 1)
    (rec,) = h.ops()
    assert rec.status == UNKNOWN and rec.complete_ns is None and rec.error == "still pending"


def test_indices_follow_invocation_order_not_completion():
    h = History(clock=ticking_clock())
    a = h.invoke("c1", "write", "k", 1)
    b = h.invoke("c2", "write", "k", 2)
    b.ok()
    a.ok()
    assert [(o.index, o.value) for o in h.ops()] == [(0, 1), (1, 2)]


def test_concurrent_recording_loses_nothing():
    h = History()
    threads, per_thread = 8, 200
    barrier = threading.Barrier(threads)

    def client(c: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            with h.op(f"c{c}", "write", "k", (c, i)) as op:
                op.ok()

    workers = [threading.Thread(target=client, args=(c,)) for c in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ops = h.ops()
    assert [o.index for o in ops] == list(range(threads * per_thread))
    assert all(o.status == OK for o in ops)
    assert sorted(tuple(o.value) for o in ops) == sorted((c, i) for c in range(threads) for i in range(per_thread))


def test_record_appends_completed_ops_with_given_times():
    h = History(clock=ticking_clock())
    d = h.record("s1", "deliver", "t.a", "e1", invoke_ns=5, complete_ns=5)
    r = h.record("c1", "read", "k", status=OK, result=2, invoke_ns=7, complete_ns=9)
    assert (d.invoke_ns, d.complete_ns, r.result) == (5, 5, 2)
    assert d.precedes(r) and not r.precedes(d)


def test_op_rejects_bad_status_and_reversed_times():
    with pytest.raises(ValueError, match="status"):
        Op(0, "c", "read", status="maybe")
    with pytest.raises(ValueError, match="before it is invoked"):
        Op(0, "c", "read", invoke_ns=10, complete_ns=5)


def test_save_load_round_trip(tmp_path):
    h = History(meta={"seed": 7, "test": "x"}, clock=ticking_clock())
    with h.op("c1", "write", "k", {"ref": "a1", "meta": [1, 2]}) as op:
        op.ok()
    with h.op("c2", "read", "k", node="n2") as op:
        op.ok({"ref": "a1", "meta": [1, 2]})
    with h.op("c3", "write", "k", 5) as op:
        op.fail("no_quorum")
    h.invoke("c4", "delete", "k")
    path = h.save(tmp_path / "sub" / "h.jsonl")
    loaded = History.load(path)
    assert loaded.ops() == h.ops()
    assert loaded.meta == {"seed": 7, "test": "x"}
    assert loaded.t0_ns == h.t0_ns
    assert path.read_text().count("\n") == 5  # header + 4 ops


def test_load_names_file_and_line_on_error(tmp_path):
    h = History(clock=ticking_clock())
    h.record("c1", "read", "k")
    path = h.save(tmp_path / "h.jsonl")
    path.write_text(path.read_text() + '{"index": 1, "client": "c", "f": "read", "bogus": 1}\n')
    with pytest.raises(ValueError, match=r"h\.jsonl:3: unknown op fields \['bogus'\]"):
        History.load(path)
    other = tmp_path / "other.jsonl"
    other.write_text('{"format": "something-else"}\n')
    with pytest.raises(ValueError, match="not a pipeline.checker.history file"):
        History.load(other)


def test_excerpt_reads_like_the_spec():
    h = History(clock=ticking_clock())
    with h.op("c1", "write", "k", 3, node="n1") as op:
        op.ok()
    with pytest.raises(TimeoutError):
        with h.op("c2", "read", "k"):
            raise TimeoutError()
    text = h.excerpt()
    lines = text.splitlines()
    assert lines[0].strip() == "#0 c1 @n1 write 'k' 3 -> ok [+1.000ms..+2.000ms]"
    assert lines[1].strip() == "#1 c2 read 'k' -> unknown (TimeoutError) [+3.000ms..?]"
    assert repr(h) == "History(2 ops: 1 ok, 0 fail, 1 unknown)"
    assert format_ops([]) == ""
