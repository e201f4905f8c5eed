"""Money conservation through the API: a batch of transactions, some of which
must fail (overdrafts, unknown accounts), leaves the total of all balances
unchanged, no balance negative, and every balance equal to what the completed
transactions say — whatever order the node settled them in.
"""

from __future__ import annotations

import random

import pytest

from suites.service.client import uid
from suites.service.helpers import create_account, settled

pytestmark = pytest.mark.timeout(90)


def total(node) -> float:
    return node.get("/accounts").expect(200)["total"]


@pytest.mark.parametrize("seed", [7, 2024])
def test_batch_of_transactions_conserves_money(node, events, seed):
    rng = random.Random(seed)
    initial = {create_account(node, rng.randint(0, 60)): None for _ in range(6)}
    for account in initial:
        initial[account] = node.get(f"/accounts/{account}").expect(200)["balance"]
    accounts = list(initial)
    before = total(node)
    mark = events.head()

    submitted: dict[str, dict] = {}
    refused_at_submit = 0
    for i in range(40):
        source, target = rng.sample(accounts, 2)
        if i % 10 == 3:
            target = uid("nobody")  # must fail: unknown account
        amount = rng.choice([1, 5, 13, 40, 90])  # 90 always overdraws
        payload = {"from": source, "to": target, "amount": amount, "reference": f"batch-{i}"}
        reply = node.post("/transactions", payload)
        if reply.status == 404:
            reply.error(404, "unknown_account")
            refused_at_submit += 1
            continue
        submitted[reply.expect(202)["transaction_id"]] = payload

    outcomes = {tid: settled(node, tid) for tid in submitted}
    completed = [tx for tx in outcomes.values() if tx["status"] == "completed"]
    failed = [tx for tx in outcomes.values() if tx["status"] == "failed"]
    assert len(completed) + len(failed) == len(submitted)
    assert completed, "the batch should move some money"
    assert any(tx["amount"] == 90 for tx in failed), "an overdraft must fail"
    assert {tx["reason"] for tx in failed} <= {"insufficient_funds", "unknown_account"}
    assert refused_at_submit + sum(tx["reason"] == "unknown_account" for tx in failed) == 4

    assert total(node) == pytest.approx(before), "money created or destroyed"
    expected = dict(initial)
    for tx in completed:
        expected[tx["from"]] -= tx["amount"]
        expected[tx["to"]] += tx["amount"]
    for account, amount in expected.items():
        got = node.get(f"/accounts/{account}").expect(200)["balance"]
        assert got >= 0, f"{account} negative: {got}"
        assert got == pytest.approx(amount), f"{account}: {got} != {amount}"

    # every settlement announced exactly once, with the matching outcome
    events.wait_for(
        "economics.transaction.*",
        lambda e: e["data"].get("transaction_id") in submitted,
        after=mark,
        count=len(submitted),
    )
    announced = [
        e
        for e in events.read_all("economics.transaction.*", after=mark)
        if e["data"].get("transaction_id") in submitted
    ]
    by_id: dict[str, list[str]] = {}
    for event in announced:
        by_id.setdefault(event["data"]["transaction_id"], []).append(event["topic"])
    for tid, tx in outcomes.items():
        assert by_id.get(tid) == [f"economics.transaction.{tx['status']}"], (tid, by_id.get(tid))
