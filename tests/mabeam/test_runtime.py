"""Background drivers, run by a real in-process node with a controllable clock."""

from __future__ import annotations

import asyncio

from mabeam.node import Node

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


def test_stop_ends_every_driver_even_when_woken_in_the_same_instant():
    """A driver parked on a timed wait (here the deadline driver: an auction is
    open) that is woken in the very loop iteration it is cancelled in must still
    stop. ``asyncio.wait_for`` on 3.11 returns the woken result and swallows
    that cancellation, which left a loaded node ignoring SIGTERM."""

    async def main() -> None:
        node = Node("t1", seed=1)
        await node.start()
        await node.submit(
            "auction.create",
            id="u",
            spec={"type": "sealed_bid", "item": "x", "seller": None, "reserve_price": 0, "duration_s": 600},
        )
        for _ in range(5):  # let every driver run its round and park again
            await asyncio.sleep(0)
        for wake in node.runtime._wake.values():
            wake.set()  # news arrives ...
        try:
            await asyncio.wait_for(node.runtime.stop(), 5)  # ... as the node is told to stop
        except TimeoutError:
            raise AssertionError("a driver outlived Runtime.stop") from None
        assert not node.runtime._tasks

    asyncio.run(main())


def test_the_group_watcher_does_not_rescan_live_groups_when_nothing_happened():
    """Many live work groups, none due and no agent down: a watcher round looks
    at no group (it used to scan every group every 50 ms, whatever happened)."""
    clock = Clock()

    async def scenario(client, node):
        agents = [f"a{i}" for i in range(20)]
        for agent_id in agents:
            await node.submit("agent.start", id=agent_id, kind="w", meta={})
        for g in range(200):
            await node.submit(
                "coordination.start",
                id=f"g{g}",
                agents=agents[g % 10 : g % 10 + 3],
                task={"type": "work", "rounds": 5, "round_ms": 600_000},
                heartbeat_timeout_ms=500,
            )
        runtime = node.runtime
        await runtime._watch_groups()  # whatever was pending is handled now
        looked: list[str] = []
        running = node.state.agents.is_running
        node.state.agents.is_running = lambda agent_id: looked.append(agent_id) or running(agent_id)  # type: ignore[method-assign]
        wait = await runtime._watch_groups()
        assert looked == [] and wait is not None and wait > 0

        await node.submit("agent.crash", id="a1")  # a down agent: its groups are looked at, once
        await until(node, lambda: all("a1" not in g["active_agents"] for g in node.state.groups.by_id.values()))
        failed = [g for g in node.state.groups.by_id.values() if "a1" in g["failed_agents"]]
        holding = [g for g in range(200) if "a1" in agents[g % 10 : g % 10 + 3]]
        assert len(failed) == len(holding) and all(g["status"] == "recovering" for g in failed)

        clock.now += 601  # every group's first round is due
        await until(node, lambda: all(g["next_round_at"] > clock.now for g in node.state.groups.by_id.values()))
        done = {g["id"]: g["rounds_done"] for g in node.state.groups.by_id.values()}
        assert sum(done.values()) == 200 - len(failed)  # full-strength groups counted their round

    drive(scenario, clock=clock)


def test_a_followers_deadline_heaps_do_not_grow_with_history():
    """A follower's drivers never pop their heaps; closed auctions and past
    rounds must still not pile up in them."""

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
        spec = {"type": "sealed_bid", "item": "x", "seller": None, "reserve_price": 0, "duration_s": 600}
        for i in range(3000):
            await node.submit("auction.create", id=f"u{i}", spec=spec)
            await node.submit("auction.close", auction_id=f"u{i}")
        await node.submit("agent.start", id="a", kind="w", meta={})
        await node.submit(
            "coordination.start",
            id="g",
            agents=["a"],
            task={"type": "work", "rounds": 1_000_000, "round_ms": 10},
            heartbeat_timeout_ms=500,
        )
        for _ in range(3000):  # rounds decided by "the leader", applied here
            await node.submit("coordination.round", id="g")
        runtime = node.runtime
        assert len(runtime.auction_deadlines) <= 2 * len(node.state.auctions.open) + 1024 + 1
        assert len(runtime.round_deadlines) <= 2 * len(node.state.groups.live) + 1024 + 1

    drive(scenario, log_factory=FollowerLog)
