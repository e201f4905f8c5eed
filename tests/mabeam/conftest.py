"""Helpers for driving the pure state machine with hand-made commands."""

from __future__ import annotations

from typing import Any

import pytest

from mabeam.machine import StateMachine


class Proposer:
    """Builds commands the way a node does (op, time, node, fields) and applies
    them; ``at`` sets the clock, ``advance`` moves it, so tests control time."""

    def __init__(self, node: str = "n1", t0: float = 1_000.0) -> None:
        self.machine = StateMachine()
        self.node = node
        self.now = t0
        self.commands: list[dict[str, Any]] = []

    @property
    def state(self):
        return self.machine.state

    def command(self, op: str, **fields: Any) -> dict[str, Any]:
        return {"op": op, "time": self.now, "node": self.node, **fields}

    def __call__(self, op: str, **fields: Any) -> Any:
        cmd = self.command(op, **fields)
        self.commands.append(cmd)
        return self.machine.apply(cmd)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def topics(self, prefix: str = "") -> list[str]:
        return [e["topic"] for e in self.state.events.events if e["topic"].startswith(prefix)]

    # domain shortcuts used by several test modules

    def agent(self, agent_id: str) -> dict[str, Any]:
        return self("agent.start", id=agent_id, kind="worker", meta={})

    def auction(self, auction_id: str, **spec: Any) -> dict[str, Any]:
        spec.setdefault("seller", None)
        spec.setdefault("reserve_price", 0)
        spec.setdefault("duration_s", 3600)
        if spec["type"] == "combinatorial":
            spec.setdefault("items", ["a", "b", "c"])
        else:
            spec.setdefault("item", "thing")
        if spec["type"] == "english":
            spec.setdefault("starting_price", 0)
            spec.setdefault("min_increment", 1)
            spec.setdefault("buy_now_price", None)
        if spec["type"] == "dutch":
            spec.setdefault("tick_s", 1)
            spec.setdefault("floor_price", 0)
        return self("auction.create", id=auction_id, spec=spec)

    def bid(
        self, auction_id: str, bid_id: str, bidder: str, amount: float, items: Any = None, decide: bool = True
    ) -> dict[str, Any]:
        self("auction.bid", auction_id=auction_id, bid_id=bid_id, bidder=bidder, amount=amount, items=items)
        if decide:
            self("auction.decide_bids", bid_ids=[bid_id])
        return self.state.auctions.bids[bid_id]


@pytest.fixture
def run() -> Proposer:
    return Proposer()
