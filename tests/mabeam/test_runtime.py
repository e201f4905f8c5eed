"""Background drivers, run by a real in-process node with a controllable clock."""

from __future__ import annotations

from .httpkit import drive, until


class Clock:
    def __init__(self, now: float = 5_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_bids_and_transactions_are_decided_in_the_background():
    async def scenario(client, node):
        auction = await node.submit(
            "auction.create",
            id="u",
            spec={"type": "sealed_bid", "item": "x", "seller": None, "reserve_price": 0, "duration_s": 60},
        )
        await node.submit("auction.bid", auction_id=auction["id"], bid_id="b1", bidder="p", amount=5, items=None)
        await node.submit("account.create", id="a", balance=10)
        await node.submit("account.create", id="b", balance=0)
        await node.submit("transaction.submit", id="t1", **{"from": "a", "to": "b"}, amount=4, reference=None)
        await until(node, lambda: node.state.auctions.bids["b1"]["status"] == "accepted")
        await until(node, lambda: node.state.ledger.transactions["t1"]["status"] == "completed")
        assert node.state.ledger.balances == {"a": 6, "b": 4}

    drive(scenario)


def test_auctions_and_ballots_expire_when_the_clock_passes_their_deadline():
    clock = Clock()

    async def scenario(client, node):
        await node.submit(
            "auction.create",
            id="u",
            spec={
                "type": "english",
                "item": "x",
                "seller": None,
                "reserve_price": 0,
                "duration_s": 30,
                "starting_price": 1,
                "min_increment": 1,
                "buy_now_price": None,
            },
        )
        await node.submit("auction.bid", auction_id="u", bid_id="b1", bidder="p", amount=3, items=None)
        await node.submit(
            "consensus.start",
            id="c",
            proposal=None,
            rule="majority",
            voters=["v1", "v2"],
            weights=None,
            threshold=0.5,
            timeout_s=10,
        )
        clock.now += 11
        await until(node, lambda: node.state.consensus.by_id["c"]["status"] == "expired")
        assert node.state.auctions.auctions["u"]["status"] == "open"
        clock.now += 20
        await until(node, lambda: node.state.auctions.auctions["u"]["status"] == "closed")
        auction = node.state.auctions.auctions["u"]
        assert auction["winner"] == "p" and auction["close_reason"] == "expired"

    drive(scenario, clock=clock)


def test_group_failure_detection_replacement_and_rounds():
    async def scenario(client, node):
        for agent_id in ("a1", "a2", "a3", "spare"):
            await node.submit("agent.start", id=agent_id, kind="w", meta={})
        await node.submit(
            "coordination.start",
            id="g",
            agents=["a1", "a2", "a3"],
            task={"type": "work", "rounds": 3, "round_ms": 20},
            heartbeat_timeout_ms=500,
        )
        group = node.state.groups.by_id["g"]
        await node.submit("agent.crash", id="a2")
        await until(node, lambda: group["failed_agents"] == ["a2"])
        assert group["status"] == "recovering" and group["recovery_initiated"]
        done_while_short = group["rounds_done"]
        await node.submit("coordination.replace", id="g", agent_id="spare")
        await until(node, lambda: group["status"] == "completed")
        assert group["rounds_done"] == 3 and group["results"]["spare"] >= 3 - done_while_short

    drive(scenario)


def test_drivers_stay_idle_on_a_follower():
    class FollowerLog:
        def __init__(self, machine):
            self.machine = machine

        async def submit(self, command):
            return self.machine.apply(command)

        async def start(self):
            return None

        async def stop(self):
            return None

        def is_leader(self):
            return False

        def mode(self):
            return "normal"

    async def scenario(client, node):
        await node.submit("account.create", id="a", balance=10)
        await node.submit("account.create", id="b", balance=0)
        await node.submit("transaction.submit", id="t1", **{"from": "a", "to": "b"}, amount=4, reference=None)
        # A leader would settle at once; give the follower's driver several polls.
        await node.submit("events.publish", topic="probe.one", data=None)
        for _ in range(3):
            await node.news.wait(0.3)
        assert node.state.ledger.transactions["t1"]["status"] == "pending"

    drive(scenario, log_factory=FollowerLog)
