"""The seed's three end-to-end workflows (§3.1), every step, against one node.

(a) auction creation through settlement: auction -> market data -> a bidding
    agent group -> bids recorded -> close -> payment -> completion event ->
    analytics -> telemetry;
(b) multi-agent resource allocation: pool, ten agents, fair share, every agent
    served, changes produce reallocation events;
(c) recovery after coordinated agent failure: five agents working, two crash,
    failure detected, recovery initiated, two replacements, full strength,
    completion.

Steps that the seed waits for are waited for with deadlines (``eventually``,
long-poll), never with sleeps.
"""

from __future__ import annotations

import pytest

from pipeline.testing.eventually import eventually
from suites.service.client import uid
from suites.service.helpers import (
    accepted_bid,
    auction,
    balance,
    coordination,
    counters,
    create_account,
    create_auction,
    ops_touched,
    read_market,
    settled,
    start_agent,
    start_agents,
    wait_coordination,
)

pytestmark = pytest.mark.timeout(90)


def about(cid):
    """Event predicate: the event's data names coordination ``cid``."""
    return lambda e: cid in (e["data"].get("coordination_id"), e["data"].get("id"))


def test_auction_creation_through_settlement(node, events):
    before = counters(node)
    mark = events.head()

    # Accounts: the seller, and one per bidding agent (an agent bids as itself).
    seller = create_account(node, 0)
    bidders = start_agents(node, 3, kind="bidder")
    for agent in bidders:
        create_account(node, 100, account_id=agent)
    # Bidders announce themselves in the registry, as a market service would find them.
    names = [uid("bidder-svc") for _ in bidders]
    for name, agent in zip(names, bidders, strict=True):
        node.post("/registry", {"name": name, "ref": agent, "meta": {"role": "bidder"}}).expect(201)

    # Step 1: create auction (a vickrey auction: every sealed bid is accepted in any order).
    spec = {"item": uid("compute-slot"), "seller": seller, "reserve_price": 5, "duration_s": 600}
    auction_id = create_auction(node, "vickrey", **spec)["id"]

    # Step 2: market data shows it.
    def in_market():
        active = read_market(node)
        assert auction_id in active, f"{auction_id} not among {sorted(active)[:10]}"
        return active[auction_id]

    assert eventually(in_market, timeout=5)["type"] == "vickrey"

    # Step 3: coordinate the bidding agents.
    amounts = dict(zip(bidders, [12, 40, 25], strict=True))
    started = node.post(
        "/coordinations", {"agents": bidders, "task": {"type": "bid", "auction_id": auction_id, "amounts": amounts}}
    ).expect(201)
    cid = started["id"]

    # Step 4: the agents place their bids; the group completes when all are decided.
    done = wait_coordination(node, cid, "completed", timeout=10)
    assert set(done["results"]) == set(bidders)
    assert all(r["status"] == "accepted" and r["bid_id"] for r in done["results"].values()), done

    # A human bidder joins through the API directly (below the second price: loses).
    late = uid("human")
    create_account(node, 100, account_id=late)
    accepted_bid(node, auction_id, late, 9)

    # Step 5: bids recorded.
    eventually(lambda: len(auction(node, auction_id)["bids"]) >= 4, timeout=5, description="4 bids recorded")
    assert {b["bidder"] for b in auction(node, auction_id)["bids"]} == {*bidders, late}

    # Step 6: close: the highest bidder wins and pays the second-highest amount.
    result = node.post(f"/auctions/{auction_id}/close").expect(200)
    winner = bidders[1]
    assert (result["winner"], result["price"]) == (winner, 25)
    payment = result["winning_transaction"]
    assert payment == {"from": winner, "to": seller, "amount": 25, "reference": auction_id}

    # Step 7: process the payment.
    tid = node.post("/transactions", payment).expect(202)["transaction_id"]

    # Step 8: the transaction completes, and says so on the event bus.
    completed = events.wait_for(
        "economics.transaction.completed", lambda e: e["data"].get("transaction_id") == tid, after=mark
    )
    assert completed[0]["data"]["amount"] == 25
    assert settled(node, tid)["status"] == "completed"
    assert (balance(node, winner), balance(node, seller)) == (75, 25)
    assert all(balance(node, loser) == 100 for loser in (bidders[0], bidders[2], late))

    # Step 9: analytics report the auction.
    def in_report():
        report = node.get("/analytics/recent_auctions", params={"window": "last_hour"}).expect(200)
        found = [a for a in report["completed_auctions"] if a["auction_id"] == auction_id]
        assert found, f"{auction_id} not in recent_auctions"
        return found[0]

    entry = eventually(in_report, timeout=5)
    assert (entry["winner"], entry["price"], entry["type"]) == (winner, 25, "vickrey")

    # The bidders leave the registry once the auction is settled.
    for name in names:
        node.delete(f"/registry/{name}").expect(200)

    # Step 10: telemetry counted every op the workflow used.
    used = {
        "account.create",
        "registry.register",
        "auction.create",
        "coordination.start",
        "auction.bid",
        "auction.close",
        "transaction.submit",
        "registry.unregister",
    }
    touched = eventually(
        lambda: used <= (t := ops_touched(before, counters(node))) and t,
        timeout=5,
        description=f"ops {sorted(used)} counted in telemetry",
    )
    assert len(touched) >= 8, touched
    histograms = node.get("/telemetry").expect(200)["histograms"]
    assert all(histograms[op]["count"] >= 1 for op in used), sorted(histograms)


def test_multi_agent_coordination_with_resource_allocation(node, events):
    # Step 1: resource pool.
    capacity = {"cpu": 100, "memory": 1000}
    pool = node.post("/pools", {"id": uid("pool"), "resources": capacity}).expect(201)
    assert pool["available"] == capacity

    # Step 2: ten agents needing resources (demands deliberately uneven).
    agents = start_agents(node, 10, kind="resource-user")
    demands = {agent: {"cpu": 4 + 3 * i, "memory": 40 + 30 * i} for i, agent in enumerate(agents)}

    # Step 3: fair-share allocation.
    body = node.post(
        "/allocations",
        {"pool_id": pool["id"], "strategy": "fair_share", "agents": [{"id": a, "demand": demands[a]} for a in agents]},
    ).expect(201)
    aid = body["id"]

    # Steps 4-5: every agent received resources, within its demand, max-min fair.
    allocation = node.get(f"/allocations/{aid}").expect(200)
    check_max_min_fair(allocation["allocations"], demands, capacity)
    for agent in agents:
        mine = node.get(f"/agents/{agent}/resources").expect(200)["allocated_resources"]
        assert sum(mine.values()) > 0, f"{agent} got nothing: {mine}"
        assert mine == pytest.approx(allocation["allocations"][agent])

    # Steps 6-7: usage changes: demand change, a join, a leave, an agent crash.
    mark = events.head()
    demands[agents[0]] = {"cpu": 30, "memory": 10}
    node.patch(f"/allocations/{aid}/agents/{agents[0]}", {"demand": demands[agents[0]]}).expect(200)
    newcomer = start_agent(node, "resource-user")
    demands[newcomer] = {"cpu": 15, "memory": 150}
    node.post(f"/allocations/{aid}/agents", {"id": newcomer, "demand": demands[newcomer]}).expect(200)
    node.delete(f"/allocations/{aid}/agents/{agents[1]}").expect(200)
    del demands[agents[1]]
    node.post(f"/agents/{agents[2]}/crash").expect(200)
    del demands[agents[2]]

    reallocated = events.wait_for(
        "coordination.resources.reallocated",
        lambda e: e["data"].get("allocation_id") == aid,
        after=mark,
        count=4,
        timeout=10,
    )
    assert len(reallocated) >= 2  # the seed's bar; docs/api.md promises one per change

    def settled_allocation():
        current = node.get(f"/allocations/{aid}").expect(200)["allocations"]
        served = {a for a, r in current.items() if sum(r.values()) > 0}
        assert served == set(demands), f"served {sorted(served)} != {sorted(demands)}"
        return current

    final = eventually(settled_allocation, timeout=5, description="crashed agent dropped")
    check_max_min_fair(final, demands, capacity)
    assert reallocated[-1]["data"]["allocations"] == final
    gone = node.get(f"/agents/{agents[1]}/resources").expect(200)["allocated_resources"]
    assert sum(gone.values()) == 0


def check_max_min_fair(allocations, demands, capacity):
    """Water-filling invariants per resource: nobody above demand, nobody above
    capacity in total, and anyone short of demand gets at least as much as
    anyone else (else capacity could be moved to it) with nothing left idle."""
    assert set(a for a, r in allocations.items() if sum(r.values()) > 0) == set(demands)
    for resource, total in capacity.items():
        got = {a: allocations[a].get(resource, 0) for a in demands}
        assert sum(got.values()) <= total + 1e-6, (resource, got)
        for agent, amount in got.items():
            assert amount <= demands[agent][resource] + 1e-6, (agent, resource, amount)
        short = [a for a in demands if got[a] < demands[a][resource] - 1e-6]
        if short:
            assert sum(got.values()) == pytest.approx(total), f"{resource} idle while {short} short"
            top = max(got.values())
            assert all(got[a] == pytest.approx(top) for a in short), (resource, got)


def test_system_recovery_after_coordinated_agent_failure(node, events):
    # Step 1: a long-running work coordination over five agents.
    agents = start_agents(node, 5, kind="worker")
    rounds = 20
    mark = events.head()
    started = node.post(
        "/coordinations",
        {"agents": agents, "heartbeat_timeout_ms": 300, "task": {"type": "work", "rounds": rounds, "round_ms": 100}},
    ).expect(201)
    cid = started["id"]

    # Step 2: it runs.
    status = coordination(node, cid)
    assert status["status"] == "running", status
    assert status["target_size"] == 5 and sorted(status["active_agents"]) == sorted(agents)

    # Step 3: two agents crash.
    crashed = agents[:2]
    for agent in crashed:
        node.post(f"/agents/{agent}/crash").expect(200)

    # Step 4: the group detects both failures.
    def failures_seen():
        current = coordination(node, cid)
        assert sorted(current["failed_agents"]) == sorted(crashed), current
        return current

    detected = eventually(failures_seen, timeout=5, description="both crashes detected")
    assert detected["rounds_done"] < rounds, "work finished before the crash: raise `rounds`"
    assert sorted(detected["active_agents"]) == sorted(agents[2:])

    # Step 5: recovery is initiated.
    recovering = eventually(
        lambda: (c := coordination(node, cid))["recovery_initiated"] and c, timeout=10, description="recovery initiated"
    )
    assert recovering["status"] == "recovering", recovering
    failed_events = events.wait_for("coordination.group.agent_failed", about(cid), after=mark, count=2)
    assert sorted(e["data"].get("agent_id") for e in failed_events) == sorted(crashed)
    events.wait_for("coordination.group.recovery_initiated", about(cid), after=mark)

    # Step 6: two replacements join.
    replacements = start_agents(node, 2, kind="worker")
    for agent in replacements:
        node.post(f"/coordinations/{cid}/agents", {"agent_id": agent}).expect(200)

    # Step 7: back to full strength with the new topology.
    def full_strength():
        current = coordination(node, cid)
        assert len(current["active_agents"]) == 5, current
        return current

    restored = eventually(full_strength, timeout=15, description="five active agents again")
    assert sorted(restored["active_agents"]) == sorted(agents[2:] + replacements)
    assert sorted(restored["replacements"]) == sorted(replacements)
    assert restored["status"] in ("running", "completed")
    events.wait_for("coordination.group.agent_replaced", about(cid), after=mark, count=2)

    # Step 8: the work completes.
    done = wait_coordination(node, cid, "completed", timeout=30)
    assert done["rounds_done"] == rounds
    assert sorted(done["failed_agents"]) == sorted(crashed)
    events.wait_for("coordination.group.completed", about(cid), after=mark)
