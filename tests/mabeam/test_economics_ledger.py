"""Accounts and transactions: settlement rules and conservation of money."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam.errors import Conflict, NotFound

from .conftest import Proposer


def test_settlement_moves_money_and_publishes(run):
    run("account.create", id="a", balance=100)
    run("account.create", id="b", balance=0)
    assert run("transaction.submit", id="t1", **{"from": "a", "to": "b"}, amount=30, reference="r") == {
        "transaction_id": "t1",
        "status": "pending",
    }
    run("transaction.settle", ids=["t1"])
    assert run.state.ledger.balances == {"a": 70, "b": 30}
    tx = run.state.ledger.transaction("t1")
    assert tx["status"] == "completed" and tx["settled_at"] == run.now
    event = run.state.events.events[-1]
    assert event["topic"] == "economics.transaction.completed"
    assert event["data"] == {"transaction_id": "t1", "from": "a", "to": "b", "amount": 30, "reference": "r"}


@pytest.mark.parametrize(
    "source, target, amount, reason",
    [("a", "b", 101, "insufficient_funds"), ("a", "ghost", 1, "unknown_account"), ("ghost", "a", 1, "unknown_account")],
)
def test_failed_settlement_changes_nothing(run, source, target, amount, reason):
    run("account.create", id="a", balance=100)
    run("account.create", id="b", balance=0)
    run("transaction.submit", id="t1", **{"from": source, "to": target}, amount=amount)
    run("transaction.settle", ids=["t1"])
    assert run.state.ledger.balances == {"a": 100, "b": 0}
    tx = run.state.ledger.transaction("t1")
    assert tx["status"] == "failed" and tx["reason"] == reason
    assert run.state.events.events[-1]["data"]["reason"] == reason


def test_settling_twice_is_a_no_op(run):
    run("account.create", id="a", balance=10)
    run("account.create", id="b", balance=0)
    run("transaction.submit", id="t1", **{"from": "a", "to": "b"}, amount=10)
    run("transaction.settle", ids=["t1"])
    assert run("transaction.settle", ids=["t1"]) == {"settled": []}
    assert run.state.ledger.balances == {"a": 0, "b": 10}


def test_duplicate_account_and_unknown_reads(run):
    run("account.create", id="a", balance=1)
    with pytest.raises(Conflict):
        run("account.create", id="a", balance=5)
    assert run.state.ledger.balances["a"] == 1
    with pytest.raises(NotFound):
        run.state.ledger.account("zzz")
    with pytest.raises(NotFound):
        run.state.ledger.transaction("zzz")


accounts = st.sampled_from(["a", "b", "c", "d", "ghost"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 500)),
        st.tuples(st.just("pay"), accounts, accounts, st.integers(1, 300)),
        st.tuples(st.just("settle"), st.integers(1, 5)),
    ),
    max_size=60,
)


@settings(max_examples=200)
@given(steps)
def test_money_is_conserved_under_any_transaction_sequence(plan):
    run = Proposer()
    n = 0
    for step in plan:
        if step[0] == "create":
            try:
                run("account.create", id=step[1], balance=step[2])
            except Conflict:
                pass
        elif step[0] == "pay":
            if step[1] == step[2]:
                continue
            n += 1
            run("transaction.submit", id=f"t{n}", **{"from": step[1], "to": step[2]}, amount=step[3])
        else:
            run("transaction.settle", ids=list(run.state.ledger.pending)[: step[1]])
        ledger = run.state.ledger
        assert sum(ledger.balances.values()) == ledger.minted
        assert all(balance >= 0 for balance in ledger.balances.values())
    run("transaction.settle", ids=list(run.state.ledger.pending))
    completed = [t for t in run.state.ledger.transactions.values() if t["status"] == "completed"]
    events = [e for e in run.state.events.events if e["topic"] == "economics.transaction.completed"]
    assert len(completed) == len(events)
    assert not run.state.ledger.pending
