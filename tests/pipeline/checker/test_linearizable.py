"""Linearizability of per-key registers: hand-written cases, a brute-force oracle, properties."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.checker.history import FAIL, OK, UNKNOWN, History, Op
from pipeline.checker.linearizable import RegisterModel, check_key, check_linearizable
from pipeline.checker.simulate import plant_stale_read, simulate_register

MS = 1_000_000


class Ops:
    """Terse hand-written histories: times in milliseconds."""

    def __init__(self) -> None:
        self.h = History()
        self.h.t0_ns = 0

    def __call__(self, client, f, key, value=None, *, at, to=None, status=OK, result=None) -> Op:
        end = at if to is None else to
        return self.h.record(
            client, f, key, value, status=status, result=result, invoke_ns=at * MS, complete_ns=end * MS
        )


def verdict(ops: Ops, **kw):
    return check_linearizable(ops.h, **kw)


# --- hand-written histories ---------------------------------------------------------------


def test_sequential_write_then_read_is_valid():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c2", "read", "k", at=2, to=3, result=1)
    o("c2", "read", "x", at=2, to=3, result=None)
    r = verdict(o)
    assert r.valid and r.stats["keys"] == 2 and not r.excerpt


def test_stale_read_after_acknowledged_write_is_invalid():
    o = Ops()
    w1 = o("c1", "write", "k", 1, at=0, to=1)
    w2 = o("c1", "write", "k", 2, at=2, to=3)
    r1 = o("c2", "read", "k", at=4, to=5, result=1)
    o("c3", "write", "other", 9, at=0, to=9)
    r = verdict(o)
    assert not r.valid and not r.inconclusive
    assert set(r.excerpt) == {w1, w2, r1}
    assert "'k'" in r.explanation and "returned 1" in r.explanation and "could only be 2" in r.explanation
    # the excerpt alone still fails
    assert not check_linearizable(r.excerpt).valid


def test_concurrent_read_may_see_old_or_new_value():
    for seen in (1, 2):
        o = Ops()
        o("c1", "write", "k", 1, at=0, to=1)
        o("c1", "write", "k", 2, at=2, to=10)
        o("c2", "read", "k", at=3, to=4, result=seen)
        assert verdict(o).valid, seen


def test_reads_cannot_go_back_in_time():
    # Both reads overlap the write, but once one read saw the new value, a
    # later read (invoked after it completed) may not see the old one.
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c1", "write", "k", 2, at=2, to=20)
    o("c2", "read", "k", at=3, to=4, result=2)
    o("c3", "read", "k", at=5, to=6, result=1)
    assert not verdict(o).valid


def test_unknown_write_may_land_after_the_client_gave_up_or_never():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c2", "write", "k", 2, at=2, to=3, status=UNKNOWN)
    o("c3", "read", "k", at=10, to=11, result=1)
    o("c3", "read", "k", at=12, to=13, result=2)  # landed late: fine
    assert verdict(o).valid
    o2 = Ops()
    o2("c1", "write", "k", 1, at=0, to=1)
    o2("c2", "write", "k", 2, at=2, to=3, status=UNKNOWN)
    o2("c3", "read", "k", at=10, to=11, result=1)  # never landed: fine
    assert verdict(o2).valid


def test_unknown_write_cannot_land_before_its_invoke():
    o = Ops()
    o("c3", "read", "k", at=0, to=1, result=2)
    o("c2", "write", "k", 2, at=5, to=6, status=UNKNOWN)
    r = verdict(o)
    assert not r.valid


def test_failed_write_must_not_be_visible():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1, status=FAIL)
    o("c2", "read", "k", at=2, to=3, result=1)
    r = verdict(o)
    assert not r.valid
    assert "returned 1" in r.explanation


def test_delete_makes_reads_absent():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c1", "delete", "k", at=2, to=3)
    o("c2", "read", "k", at=4, to=5, result=None)
    assert verdict(o).valid
    o("c2", "read", "k", at=6, to=7, result=1)
    assert not verdict(o).valid


def test_register_if_absent_admits_one_winner():
    o = Ops()
    o("a1", "register", "name", "a1", at=0, to=5, result=True)
    o("a2", "register", "name", "a2", at=1, to=6, result=True)
    r = verdict(o)
    assert not r.valid and "create succeeded as if it were absent" in r.explanation


def test_already_registered_needs_a_holder():
    o = Ops()
    o("a1", "register", "name", "a1", at=0, to=1, result=False)
    r = verdict(o)
    assert not r.valid and "already present" in r.explanation
    o2 = Ops()
    o2("a1", "register", "name", "a1", at=0, to=1, result=True)
    o2("a2", "register", "name", "a2", at=2, to=3, result=False)
    o2("c", "lookup", "name", at=4, to=5, result="a1")
    o2("a1", "unregister", "name", at=6, to=7)
    o2("a2", "register", "name", "a2", at=8, to=9, result=True)
    o2("c", "lookup", "name", at=10, to=11, result="a2")
    assert verdict(o2).valid


def test_compare_and_set():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c2", "cas", "k", [1, 2], at=2, to=3, result=True)
    o("c3", "cas", "k", [1, 3], at=4, to=5, result=False)
    o("c3", "read", "k", at=6, to=7, result=2)
    assert verdict(o).valid
    o("c4", "cas", "k", [2, 4], at=8, to=9, result=False)  # the value was 2: must succeed
    assert not verdict(o).valid


def test_dict_values_compare_structurally_and_survive_json(tmp_path):
    o = Ops()
    o("c1", "write", "k", {"ref": "a", "meta": [1, 2]}, at=0, to=1)
    o("c2", "read", "k", at=2, to=3, result={"meta": [1, 2], "ref": "a"})
    path = o.h.save(tmp_path / "h.jsonl")
    assert verdict(o).valid and check_linearizable(History.load(path)).valid


def test_violation_reports_only_the_offending_key():
    o = Ops()
    for i, key in enumerate(["a", "b", "c"]):
        o("c1", "write", key, i, at=10 * i, to=10 * i + 1)
        o("c2", "read", key, at=10 * i + 2, to=10 * i + 3, result=i)
    o("c3", "read", "b", at=40, to=41, result=None)  # b was never deleted
    r = verdict(o)
    assert not r.valid
    assert {op.key for op in r.excerpt} == {"b"}
    assert r.stats["invalid_keys"] == ["b"]


def test_unknown_and_foreign_ops_are_ignored_where_they_say_nothing():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c2", "read", "k", at=2, to=3, status=UNKNOWN)  # no answer: no constraint
    o("c2", "bid", "k", {"amount": 3}, at=2, to=3)  # not a register op
    o("c2", "read", None, at=2, to=3, result={"k": 7})  # whole-map read: not per key
    assert verdict(o).valid


def test_custom_vocabulary():
    model = RegisterModel(
        reads=frozenset({"get"}), writes=frozenset({"set"}), deletes=frozenset(), creates=frozenset(), cas=frozenset()
    )
    o = Ops()
    o("c1", "set", "k", 1, at=0, to=1)
    o("c1", "get", "k", at=2, to=3, result=0)
    assert not check_linearizable(o.h, model).valid
    with pytest.raises(ValueError, match="two meanings"):
        RegisterModel(reads=frozenset({"read"}), writes=frozenset({"read"}))


def test_exhausted_budget_is_inconclusive_not_a_verdict():
    o = Ops()
    for c in range(8):
        o(f"c{c}", "write", "k", c, at=0, to=100)
    o("r", "read", "k", at=101, to=102, result=3)
    o("r", "read", "k", at=103, to=104, result=5)  # the writes were over: the value cannot change
    r = verdict(o, max_steps=5)
    assert not r.valid and r.inconclusive and "budget" in r.notes[0]
    assert not verdict(o).inconclusive


# --- null is absent, JSON types are JSON types ----------------------------------------------


@pytest.mark.parametrize("read_null_elsewhere", [False, True])
def test_writing_null_deletes_whatever_else_is_read(read_null_elsewhere):
    # The verdict on a write of null must not depend on whether some read elsewhere returns null.
    o = Ops()
    if read_null_elsewhere:
        o("c3", "read", "k", at=0, to=1, result=None)
    o("c1", "write", "k", "a", at=2, to=3)
    o("c1", "write", "k", None, at=4, to=5)
    o("c2", "register", "k", "b", at=6, to=7, result=True)  # it was absent: created
    assert verdict(o).valid
    o("c2", "register", "k", "c", at=8, to=9, result=True)  # now "b" is there
    assert not verdict(o).valid


def test_an_unknown_write_of_null_may_be_what_let_a_create_succeed():
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c1", "write", "k", None, at=2, to=3, status=UNKNOWN)
    o("c2", "create", "k", 2, at=9, to=10, result=True)
    assert verdict(o).valid


@pytest.mark.parametrize(
    ("written", "read"),
    [(1, True), (True, 1), (0, False), (False, 0), ({"a": 1}, ["{}", [["a", 1]]]), ([1], {"1": 1}), ("1", 1)],
)
def test_a_read_of_another_json_type_is_not_the_value_written(written, read):
    o = Ops()
    o("c1", "write", "k", written, at=0, to=1)
    o("c2", "read", "k", at=2, to=3, result=read)
    r = verdict(o)
    assert not r.valid and not r.inconclusive


def test_numbers_compare_by_value_and_objects_by_content():
    o = Ops()
    o("c1", "write", "k", {"n": 1, "v": [1.0, True]}, at=0, to=1)
    o("c2", "read", "k", at=2, to=3, result={"v": [1, True], "n": 1.0})
    assert verdict(o).valid


def test_keys_of_different_json_types_are_not_merged(tmp_path):
    o = Ops()
    o("c1", "write", 1, "one", at=0, to=1)
    o("c1", "write", True, "true", at=2, to=3)
    o("c1", "write", "1", "string", at=2, to=3)
    o("c2", "read", 1, at=4, to=5, result="one")
    o("c2", "read", True, at=4, to=5, result="true")
    o("c2", "read", "1", at=4, to=5, result="string")
    r = verdict(o)
    assert r.valid and r.stats["keys"] == 3
    assert check_linearizable(History.load(o.h.save(tmp_path / "h.jsonl"))).valid


# --- a read nothing could have written: found up front -----------------------------------


def test_a_read_of_a_value_nobody_wrote_is_proved_by_that_read_alone():
    o = Ops()
    for c in range(12):  # a search over these takes far more than the budget
        o(f"c{c}", "write", "k", c % 3, at=0, to=100, status=UNKNOWN if c % 2 else OK)
    for c in range(6):
        o(f"r{c}", "read", "k", at=1, to=99, result=c % 3)
    read = o("r", "read", "k", at=50, to=102, result=99)
    r = verdict(o, max_steps=1000)
    assert not r.valid and not r.inconclusive
    assert r.excerpt == (read,) and r.stats["steps"] == 0
    assert "no operation wrote 99" in r.explanation
    assert not check_linearizable(r.excerpt).valid


def test_a_read_of_a_value_written_only_after_it_returned_is_proved_up_front():
    o = Ops()
    for c in range(12):
        o(f"c{c}", "write", "k", c % 3, at=0, to=100, status=UNKNOWN if c % 2 else OK)
    for c in range(6):
        o(f"r{c}", "read", "k", at=1, to=99, result=c % 3)
    read = o("r", "read", "k", at=50, to=60, result=7)
    late = o("w", "write", "k", 7, at=61, to=62)
    o("w", "write", "k", 7, at=70, to=71)
    r = verdict(o, max_steps=1000)
    assert not r.valid and not r.inconclusive
    assert r.excerpt == (read, late) and r.stats["steps"] == 0
    assert "invoked only after the read had completed" in r.explanation
    assert not check_linearizable(r.excerpt).valid


def test_a_read_of_the_initial_value_needs_no_writer():
    model = RegisterModel(initial=0)
    o = Ops()
    o("c1", "read", "k", at=0, to=1, result=0)
    o("c1", "read", "k", at=2, to=3, result=None)  # absent: nothing deleted it
    r = check_linearizable(o.h, model)
    assert not r.valid and [op.result for op in r.excerpt] == [None]
    o2 = Ops()
    o2("c1", "read", "k", at=0, to=1, result=0)
    assert check_linearizable(o2.h, model).valid


# --- the excerpt: honest, and shrunk within the budget asked for ---------------------------


def test_excerpt_keeps_the_delete_that_explains_a_read_of_absent():
    o = Ops()
    w = o("c1", "write", "k", 1, at=0, to=1)
    d = o("c1", "delete", "k", at=2, to=3)
    o("c0", "read", "k", at=10, to=20, result=None)  # fine: after the delete
    stale = o("c1", "read", "k", at=10, to=19, result=1)  # the violation: 1 was deleted
    r = verdict(o)
    assert not r.valid
    assert set(r.excerpt) == {w, d, stale} and "returned 1" in r.explanation
    _assert_honest_excerpt(r.excerpt, list(o.h))


def test_excerpt_keeps_the_writer_of_a_value_read_concurrently():
    o = Ops()
    w4 = o("c1", "write", "k", 4, at=0, to=1)
    w6 = o("c1", "write", "k", 6, at=2, to=3)
    stale = o("c2", "read", "k", at=10, to=12, result=4)  # the violation: 6 was there
    o("c3", "read", "k", at=11, to=20, result=31)  # fine: 31 was being written
    o("c4", "write", "k", 31, at=15, to=16)
    r = verdict(o)
    assert not r.valid
    assert set(r.excerpt) == {w4, w6, stale} and "returned 4" in r.explanation
    _assert_honest_excerpt(r.excerpt, list(o.h))


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), values=st.sampled_from([None, 2, 3]))
def test_every_excerpt_explains_its_reads(seed, values):
    rng = random.Random(seed)
    h = simulate_register(
        rng, ops=rng.randint(10, 60), clients=rng.randint(2, 6), p_unknown=0.2, p_delete=0.15, values=values
    )
    planted = plant_stale_read(h, rng)
    if planted is None:
        return
    r = check_linearizable(planted[0])
    assert not r.valid and not r.inconclusive
    _assert_honest_excerpt(r.excerpt, list(planted[0]))


def test_shrinking_gets_the_budget_that_was_asked_for(monkeypatch, tmp_path):
    import pipeline.checker.linearizable as lin
    from pipeline.checker.__main__ import main

    budgets = []
    shrink = lin._shrink

    def spy(kops, initial, search, budget):
        budgets.append(budget)
        return shrink(kops, initial, search, budget)

    monkeypatch.setattr(lin, "_shrink", spy)
    o = Ops()
    o("c1", "write", "k", 1, at=0, to=1)
    o("c1", "write", "k", 2, at=2, to=3)
    o("c2", "read", "k", at=4, to=5, result=1)
    check_linearizable(o.h, max_steps=5_000_000)
    check_linearizable(o.h, max_steps=5_000_000, shrink_steps=7)
    assert main([str(o.h.save(tmp_path / "h.jsonl")), "--max-steps", "3000000"]) == 1
    assert budgets == [5_000_000, 7, 3_000_000]


# --- a brute-force oracle -----------------------------------------------------------------
#
# Written from the spec, sharing nothing with the search: JSON values compare as
# JSON (``true`` is not ``1``, an array is never an object), ``null`` is absent
# (writing it deletes), and every real-time-respecting order of the completed ops
# plus any subset of the unknown ones is tried, depth first.


def _same(value) -> str | None:
    """A JSON value's identity (``None`` for null/absent): equal exactly when the JSON values are."""
    return None if value is None else json.dumps(value, sort_keys=True)


def _installs(o: Op):
    """(True, identity) for the value ``o`` may install, or (False, None) when it installs nothing."""
    if o.f == "write":
        return True, _same(o.value)
    if o.f == "delete":
        return True, None
    if o.f == "create" and (o.unknown or o.result is not False):
        return True, _same(o.value)
    if o.f == "cas" and (o.unknown or o.result is True):
        return True, _same(o.value[1])
    return False, None


def _apply(state, o: Op):
    """The register's answer to ``o`` in ``state``: (allowed, next state)."""
    if o.f == "read":
        return state == _same(o.result), state
    if o.f == "write":
        return True, _same(o.value)
    if o.f == "delete":
        return True, None
    if o.f == "create":
        if o.unknown:
            return True, _same(o.value) if state is None else state
        if o.result is False:
            return state is not None, state
        return state is None, _same(o.value)
    old, new = _same(o.value[0]), _same(o.value[1])
    if o.unknown:
        return True, new if state == old else state
    if o.result:
        return state == old, new
    return state != old, state


def _oracle_key(ops: list[Op]) -> bool:
    ops = [o for o in ops if not o.failed and not (o.unknown and o.f == "read")]
    left = {i for i, o in enumerate(ops) if o.ok}

    def dfs(placed: frozenset, state) -> bool:
        if left <= placed:
            return True
        for i, o in enumerate(ops):
            if i in placed:
                continue
            # o may go next only if no unplaced completed op finished before it began
            if any(j not in placed and ops[j].end_ns < o.invoke_ns for j in left):
                continue
            allowed, after = _apply(state, o)
            if allowed and dfs(placed | {i}, after):
                return True
        return False

    return dfs(frozenset(), None)


def _oracle(ops: list[Op]) -> bool:
    """Linearizable? Each key (keys compared as JSON) alone, by brute force (tiny histories only)."""
    by_key: dict = {}
    for o in ops:
        by_key.setdefault(_same(o.key), []).append(o)
    return all(_oracle_key(key_ops) for key_ops in by_key.values())


def _explainable(read: Op, ops) -> bool:
    """Could something in ``ops`` have given ``read`` its answer (a writer not invoked after it
    returned, or the initial absence with no completed mutation before the read)?"""
    value = _same(read.result)
    ops = [o for o in ops if not o.failed and _same(o.key) == _same(read.key)]
    for o in ops:
        installs, what = _installs(o)
        if o is not read and installs and what == value and o.invoke_ns <= read.end_ns:
            return True
    before = any(o.ok and _installs(o)[0] and o.end_ns < read.invoke_ns for o in ops)
    return value is None and not before


def _assert_honest_excerpt(excerpt, ops) -> None:
    """The excerpt fails on its own, and every read the history could explain it explains too."""
    assert excerpt
    # the oracle is exponential: past a handful of ops, ask the checker itself
    alone = _oracle(list(excerpt)) if len(excerpt) <= 8 else check_linearizable(excerpt).valid
    assert alone is False, "the excerpt alone is linearizable"
    for o in excerpt:
        if o.ok and o.f == "read" and _explainable(o, ops):
            assert _explainable(o, excerpt), f"the excerpt drops what explains {o!r}"


def _small_history(rng: random.Random, n: int) -> list[Op]:
    values = [1, 2]
    ops = []
    for i in range(n):
        start = rng.randint(0, 12)
        end = start + rng.randint(0, 6)
        f = rng.choice(["read", "read", "write", "write", "delete", "create", "cas"])
        status = rng.choices([OK, UNKNOWN, FAIL], weights=[6, 3, 1])[0]
        value = result = None
        if f in ("write", "create"):
            value = rng.choice(values)
        if f == "cas":
            value = [rng.choice(values), rng.choice(values)]
        if status == OK:
            if f == "read":
                result = rng.choice([None, *values])
            elif f in ("create", "cas"):
                result = rng.random() < 0.5
        ops.append(Op(i, f"c{i}", f, "k", value, status, result, start, end))
    return ops


@settings(
    max_examples=400, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 7))
def test_search_agrees_with_brute_force(seed, n):
    rng = random.Random(seed)
    ops = _small_history(rng, n)
    expected = _oracle(ops)
    got = check_key("k", ops)
    assert got.linearizable is expected, "\n".join(repr(o) for o in ops)
    if not expected:
        assert got.excerpt and _oracle(list(got.excerpt)) is False


def test_oracle_cases_cover_both_verdicts():
    """The brute-force comparison is only meaningful if both verdicts occur."""
    seen = {True: 0, False: 0}
    rng = random.Random(20240607)
    for _ in range(200):
        seen[_oracle(_small_history(rng, rng.randint(1, 6)))] += 1
    assert seen[True] > 20 and seen[False] > 20


# --- mixed JSON types, null writes, unknown outcomes: the search against the oracle ----------

# Values chosen to collide under Python's ``==`` (``True == 1``, ``False == 0``) or
# under a careless frozen form (an array shaped like a frozen object or boolean).
JSON_VALUES = (
    None,
    0,
    1,
    True,
    False,
    "1",
    "a",
    [],
    [1],
    [True],
    {},
    {"a": 1},
    {"a": True},
    ["{}", [["a", 1]]],
    ["bool", True],
    [None],
)
FUNCTIONS = ("read", "read", "write", "write", "delete", "create", "cas")


def _op(i, f, value=None, status=OK, result=None, at=0, to=None, key="k") -> Op:
    """An op for ``@example``: times in whole units, ``to`` defaults to ``at``."""
    return Op(i, f"c{i}", f, key, value, status, result, at, at if to is None else to)


def _h(*specs: tuple) -> list[Op]:
    """``_h(("write", 1), ("read", None, OK, True, 2))``: (f, value, status, result, at, to, key)."""
    return [_op(i, *spec) for i, spec in enumerate(specs)]


@st.composite
def mixed_histories(draw, keys=("k",)) -> list[Op]:
    pool = draw(st.lists(st.sampled_from(JSON_VALUES), min_size=1, max_size=3, unique_by=_same))
    value = st.sampled_from(pool)
    ops = []
    for i in range(draw(st.integers(1, 7))):
        f = draw(st.sampled_from(FUNCTIONS))
        status = draw(st.sampled_from((OK, OK, OK, UNKNOWN, UNKNOWN, FAIL)))
        arg = result = None
        if f in ("write", "create"):
            arg = draw(value)
        elif f == "cas":
            arg = [draw(value), draw(value)]
        if status == OK:
            if f == "read":
                result = draw(value)
            elif f in ("create", "cas"):
                result = draw(st.booleans())
        at = draw(st.integers(0, 10))
        to = at + draw(st.integers(0, 5))
        ops.append(Op(i, f"c{i}", f, draw(st.sampled_from(keys)), arg, status, result, at, to))
    return ops


MIXED = settings(max_examples=600, derandomize=True, database=None, deadline=None)


@MIXED
@given(ops=mixed_histories())
# writing null is deleting, whether or not some read returns null
@example(ops=_h(("write", None, OK, None, 0, 1), ("create", "a", OK, True, 2, 3)))
@example(ops=_h(("read", None, OK, None, 0, 1), ("write", None, OK, None, 2, 3), ("create", "a", OK, True, 4, 5)))
@example(ops=_h(("write", None, OK, None, 0, 1), ("create", "a", OK, False, 2, 3)))
@example(ops=_h(("write", 1, OK, None, 0, 1), ("write", None, UNKNOWN, None, 2, 3), ("create", 2, OK, True, 9, 9)))
@example(ops=_h(("write", 1, OK, None, 0, 1), ("cas", [1, None], OK, True, 2, 3), ("create", 2, OK, True, 4, 5)))
# true is not 1, false is not 0, an array is not an object or a boolean
@example(ops=_h(("write", 1, OK, None, 0, 1), ("read", None, OK, True, 2, 3)))
@example(ops=_h(("write", False, OK, None, 0, 1), ("read", None, OK, 0, 2, 3)))
@example(ops=_h(("write", {"a": 1}, OK, None, 0, 1), ("read", None, OK, ["{}", [["a", 1]]], 2, 3)))
@example(ops=_h(("write", True, OK, None, 0, 1), ("read", None, OK, ["bool", True], 2, 3)))
@example(ops=_h(("write", 1, OK, None, 0, 1), ("cas", [True, 2], OK, True, 2, 3)))
# the excerpt keeps what explains the other reads: the delete, the concurrent write of 31
@example(
    ops=_h(
        ("write", 1, OK, None, 0, 1),
        ("delete", None, OK, None, 2, 3),
        ("read", None, OK, None, 10, 20),
        ("read", None, OK, 1, 10, 19),
    )
)
@example(
    ops=_h(
        ("write", 4, OK, None, 0, 1),
        ("write", 6, OK, None, 2, 3),
        ("read", None, OK, 4, 10, 12),
        ("read", None, OK, 31, 11, 20),
        ("write", 31, OK, None, 15, 16),
    )
)
# the one write of the value read was invoked after the read returned
@example(ops=_h(("read", None, OK, "a", 0, 1), ("write", "a", OK, None, 2, 3)))
def test_search_agrees_with_brute_force_on_mixed_json(ops):
    expected = _oracle(ops)
    got = check_key("k", ops)
    assert got.linearizable is expected, "\n".join(repr(o) for o in ops)
    if not expected:
        _assert_honest_excerpt(got.excerpt, ops)


def test_mixed_histories_cover_both_verdicts_unknowns_and_null_writes():
    """The comparison with the oracle is only meaningful if all of these occur often."""
    seen = {True: 0, False: 0, "unknown": 0, "null write": 0}

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(ops=mixed_histories())
    def probe(ops):
        seen[_oracle(ops)] += 1
        seen["unknown"] += any(o.unknown for o in ops)
        seen["null write"] += any(o.f == "write" and o.value is None for o in ops)

    probe()
    assert seen[True] > 40 and seen[False] > 40 and seen["unknown"] > 40 and seen["null write"] > 10, seen


@settings(MIXED, max_examples=300)
@given(ops=mixed_histories(keys=("k", 1, True, "1")))
# keys 1 and true are different keys: nothing here is stale
@example(
    ops=_h(("write", "a", OK, None, 0, 1, 1), ("write", "b", OK, None, 2, 3, True), ("read", None, OK, "a", 4, 5, 1))
)
def test_keys_of_different_json_types_are_different_keys(ops):
    expected = _oracle(ops)
    got = check_linearizable(ops)
    assert got.valid is expected and not got.inconclusive, "\n".join(repr(o) for o in ops)
    if not expected:
        _assert_honest_excerpt(got.excerpt, ops)


# --- simulated correct registers ------------------------------------------------------------


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 6), p_unknown=st.sampled_from([0.0, 0.1, 0.3]))
def test_simulated_correct_register_is_linearizable(seed, clients, p_unknown):
    h = simulate_register(random.Random(seed), ops=150, clients=clients, keys=("a", "b"), p_unknown=p_unknown)
    r = check_linearizable(h)
    assert r.valid, r.explanation


@settings(max_examples=25, derandomize=True, database=None, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(2, 6))
def test_planted_stale_read_is_caught_and_its_excerpt_still_fails(seed, clients):
    rng = random.Random(seed)
    h = simulate_register(rng, ops=150, clients=clients, keys=("a", "b"), p_unknown=0.1)
    planted = plant_stale_read(h, rng)
    if planted is None:
        return  # no W1 -> W2 -> R triple in this history
    broken, read = planted
    r = check_linearizable(broken)
    assert not r.valid and not r.inconclusive
    assert {o.key for o in r.excerpt} == {read.key}
    assert len(r.excerpt) < len([o for o in broken if o.key == read.key])
    again = check_linearizable(r.excerpt)
    assert not again.valid and not again.inconclusive


def test_a_few_hundred_ops_per_key_are_decided():
    rng = random.Random(11)
    h = simulate_register(rng, ops=1000, clients=5, keys=("a", "b", "c", "d", "e"), p_unknown=0.1)
    r = check_linearizable(h)
    assert r.valid and r.stats["ops"] == 1000
