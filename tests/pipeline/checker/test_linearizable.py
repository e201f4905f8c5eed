"""Linearizability of per-key registers: hand-written cases, a brute-force oracle, properties."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
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
    o("r", "read", "k", at=101, to=102, result=99)
    r = verdict(o, max_steps=5)
    assert not r.valid and r.inconclusive and "budget" in r.notes[0]
    assert not verdict(o).inconclusive


# --- a brute-force oracle -----------------------------------------------------------------


def _oracle(ops: list[Op]) -> bool:
    """Linearizable? by trying every subset of unknown ops and every order (tiny histories only)."""
    ops = [o for o in ops if not o.failed and not (o.unknown and o.f == "read")]
    definite = [o for o in ops if o.ok]
    maybe = [o for o in ops if o.unknown]
    for n in range(len(maybe) + 1):
        for chosen in itertools.combinations(maybe, n):
            for order in itertools.permutations(definite + list(chosen)):
                if any(
                    order[j].end_ns < order[i].invoke_ns for i in range(len(order)) for j in range(i + 1, len(order))
                ):
                    continue
                if _sequential_ok(order):
                    return True
    return False


def _sequential_ok(order) -> bool:
    state = None
    for o in order:
        if o.f == "read":
            if state != o.result:
                return False
        elif o.f == "write":
            state = o.value
        elif o.f == "delete":
            state = None
        elif o.f == "create":
            if o.unknown:
                state = o.value if state is None else state
            elif o.result is False:
                if state is None:
                    return False
            elif state is not None:
                return False
            else:
                state = o.value
        elif o.f == "cas":
            old, new = o.value
            if o.unknown:
                state = new if state == old else state
            elif o.result:
                if state != old:
                    return False
                state = new
            elif state == old:
                return False
    return True


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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


# --- simulated correct registers ------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 6), p_unknown=st.sampled_from([0.0, 0.1, 0.3]))
def test_simulated_correct_register_is_linearizable(seed, clients, p_unknown):
    h = simulate_register(random.Random(seed), ops=150, clients=clients, keys=("a", "b"), p_unknown=p_unknown)
    r = check_linearizable(h)
    assert r.valid, r.explanation


@settings(max_examples=25, deadline=None)
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
