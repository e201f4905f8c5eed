"""Writes through followers, read back at once through the same follower.

Design guarantee 5 (docs/api.md, "Cluster mode"): a write sent to a follower
is forwarded to the leader, and acknowledged only once *this* node applied it,
so a client that wrote through a node reads its write back through that node,
with a plain (local, non-consistent) read, and handlers that build their answer
from the local state after the write (``POST /auctions/{id}/bids`` does) never
miss it.  Before that guarantee held, a bid through a follower answered
``500 internal`` (``KeyError`` on the bid the follower had not applied yet).

Several clients (bounded in count and time, seeded) write through the two
followers only, as fast as they are answered, and read each write back through
the same node right away: no answer may be a 5xx other than a clean 503, and
every acknowledged write must be visible in the read that follows it.
"""

from __future__ import annotations

import random
import threading

from suites.multinode.checks import verify
from suites.multinode.recording import Answer, RecordingClient
from suites.multinode.steps import Money, Registry, final_registry_reads
from suites.multinode.workload import Workers
from suites.service.client import uid

N = ("n1", "n2", "n3")


class ReadYourWrites:
    """One write through ``node`` and its immediate local read-back there."""

    def __init__(self, auction: str, money: Money, registry: Registry) -> None:
        self.auction = auction
        self.money = money
        self.registry = registry
        self.problems: list[str] = []
        self.writes = 0
        self._lock = threading.Lock()

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def _check_write(self, what: str, node: str, answer: Answer, expected: tuple[int, ...]) -> bool:
        """True when the write was acknowledged; a 5xx other than 503 is a problem."""
        if answer.status in expected:
            with self._lock:
                self.writes += 1
            return True
        if answer.status is not None and answer.status >= 500 and answer.status != 503:
            self._problem(f"{what} via {node}: {answer.why()}")
        return False

    def _check_read(self, what: str, node: str, answer: Answer) -> None:
        if answer.status != 200:
            self._problem(f"read-back of {what} via {node} right after its ack: {answer.why()}")

    def step(self, client: RecordingClient, rng: random.Random, node: str, n: int) -> None:
        roll = rng.randrange(4)
        if roll == 0:  # a bid without wait: the handler itself reads the bid back (the 500 of issue 10)
            answer = client.http(
                node, "POST", f"/auctions/{self.auction}/bids", {"bidder": client.name, "amount": 1 + n}
            )
            if self._check_write("POST /auctions/{id}/bids", node, answer, (202,)):
                bid = answer.body["bid_id"]
                self._check_read(f"bid {bid}", node, client.http(node, "GET", f"/auctions/{self.auction}/bids/{bid}"))
        elif roll == 1:  # an account, read back locally
            account = f"{client.name}-{n}-{uid('ryw')}"
            op, answer = client.create_account(node, account, 5)
            if self._check_write("POST /accounts", node, answer, (201,)):
                self._check_read(f"account {account}", node, client.http(node, "GET", f"/accounts/{account}"))
        elif roll == 2:  # a transaction, read back locally
            src, dst = rng.sample(self.money.accounts, 2)
            answer = client.http(node, "POST", "/transactions", {"from": src, "to": dst, "amount": 1})
            if self._check_write("POST /transactions", node, answer, (202,)):
                tx = answer.body["transaction_id"]
                self._check_read(f"transaction {tx}", node, client.http(node, "GET", f"/transactions/{tx}"))
        else:  # the registry: a recorded register, then a local lookup that must see it (or its rival)
            key = self.registry.keys[rng.randrange(len(self.registry.keys))]
            op, answer = client.register(node, key, self.registry.agents[rng.randrange(len(self.registry.agents))])
            if self._check_write("POST /registry", node, answer, (201, 409)):
                read, seen = client.lookup(node, key, consistent=False)
                if answer.status == 201 and read.result is None:
                    # nobody unregisters here, so a name registered through this node stays
                    self._problem(f"registry {key} registered via {node}, local lookup there: {seen.why()}")


def test_writes_through_followers_are_read_back_there_at_once(mabeam, history, seed):
    cluster = mabeam(3)
    leader = cluster.leader()
    followers = [n for n in N if n != leader]
    admin = RecordingClient(history, "admin", cluster.urls)
    registry = Registry.setup(admin, N, keys=4)
    money = Money.setup(admin, N, count=4, opening=1_000_000)
    op, answer = admin.create_auction(leader, {"type": "english", "item": uid("item"), "starting_price": 1})
    assert op.ok, f"POST /auctions on {leader}: {answer}"
    workload = ReadYourWrites(op.result, money, registry)

    workers = Workers(
        history,
        cluster.urls,
        workload.step,
        seed=seed,
        threads=6,
        max_ops=60,
        max_seconds=20,
        targets=followers,
        prefix="ryw",
    ).run()

    assert not workload.problems, (
        f"{len(workload.problems)} problems in {workers.total} operations through followers {followers} "
        f"(leader {leader}); first ones:\n  " + "\n  ".join(workload.problems[:15])
    )
    assert workload.writes >= workers.total // 2, f"only {workload.writes} of {workers.total} writes acknowledged"
    cluster.wait_converged()
    final_registry_reads(admin, N, registry.keys)
    verify(history, "linearizable", "lost_writes")
