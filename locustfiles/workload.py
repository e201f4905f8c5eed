"""What the workload patterns share: where each user sends its requests, its
seeded random choices, the operation mix and how an answer is judged.

Imported by the pattern locustfiles only; it uses nothing but Locust and the
standard library (Locust monkey-patches the process with gevent, so nothing
that brings its own network stack belongs here).

Environment (set by ``python -m pipeline.load``; every one optional, so a
locustfile also runs as a plain ``locust -f locustfiles/<pattern>.py --host URL``):

``LOAD_NODES``
    comma-separated base URLs of the cluster's nodes; user *i* talks to node
    *i mod n* (default: Locust's ``--host``).
``LOAD_SEED``
    the seed of every random choice (default: a fresh one, printed).  User *i*
    draws from ``random.Random(f"{seed}/{i}")``, so a seed replays the same
    auctions, bids, groups and votes per user.
``LOAD_RATES``
    JSON ``{"operation": per-user rate per second}``; default: the pattern's
    seed rates divided by its seed user count.  Each user runs the operations
    at their summed rate (``constant_throughput``), choosing one per step with
    the rates as weights, so *users x per-user rate* is the pattern's target.
``LOAD_WORKERS``
    how many Locust worker processes share the users (``--processes N``), so
    user indexes stay distinct across workers (default 1).

Each operation reports under one Locust name (``place_bid``, not one name per
URL); the extra requests an operation makes beyond its first are named
``<operation>:<step>`` (e.g. ``consensus_voting:vote``) so the operation's own
count is its rate.  Setup requests (``on_start``) are named ``setup:<what>``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from locust import FastHttpUser, constant_throughput, events, task
from locust import stats as locust_stats

# the stats CSVs are flushed every 2 s (Locust's default 10 s): the runner's
# progress lines read the history file while the pattern runs
locust_stats.CSV_STATS_FLUSH_INTERVAL_SEC = 2

__all__ = ["PatternUser", "seed", "nodes", "per_user_rates", "judge", "ITEMS", "EXPECTED_CONFLICTS"]

# Domain answers that are the workload's normal outcome, not a node failure
# (docs/api.md: 409 is "the request is well formed but the domain rule says no").
EXPECTED_CONFLICTS = frozenset({"bid_too_low", "auction_closed", "already_voted", "closed", "already_exists"})

ITEMS = (
    "Server Resources",
    "Data Processing",
    "ML Training",
    "Storage",
    "GPU hours (A100)",
    "GPU hours (H100)",
    "Bandwidth 10 Gbit/s",
    "Object storage 5 TB",
    "Inference endpoint",
    "Batch compute slot",
    "Vector index shard",
    "Dataset licence",
)
REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-northeast")
AGENT_KINDS = ("trader", "planner", "monitor", "allocator", "negotiator")
RESOURCE_NAMES = ("cpu", "memory_gb", "gpu", "bandwidth_mbps")


def _env_seed() -> int:
    text = os.environ.get("LOAD_SEED", "").strip()
    if text:
        try:
            return int(text)
        except ValueError:
            raise SystemExit(f"LOAD_SEED: must be an integer, got {text!r}") from None
    return random.SystemRandom().randrange(2**31)


_SEED = _env_seed()
_counter = itertools.count()


def seed() -> int:
    """This run's seed (``LOAD_SEED`` or a fresh one)."""
    return _SEED


def nodes(default: str | None) -> list[str]:
    """The node base URLs users are spread over (``LOAD_NODES``, else ``default``)."""
    text = os.environ.get("LOAD_NODES", "")
    urls = [u.strip().rstrip("/") for u in text.split(",") if u.strip()]
    if not urls and default:
        urls = [default.rstrip("/")]
    return urls


def per_user_rates(seed_rates: dict[str, float], seed_users: int) -> dict[str, float]:
    """Per-user rate of each operation: ``LOAD_RATES`` if set, else the seed's
    rates over its users."""
    text = os.environ.get("LOAD_RATES", "").strip()
    if not text:
        return {op: rate / seed_users for op, rate in seed_rates.items()}
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise SystemExit(f"LOAD_RATES: not JSON: {exc}") from None
    if not isinstance(given, dict) or not given:
        raise SystemExit("LOAD_RATES: must be a JSON object of operation -> per-user rate")
    unknown = sorted(set(given) - set(seed_rates))
    if unknown:
        raise SystemExit(f"LOAD_RATES: unknown operation(s) {unknown}; allowed: {sorted(seed_rates)}")
    rates = {}
    for op, rate in given.items():
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
            raise SystemExit(f"LOAD_RATES: {op}: must be a number >= 0, got {rate!r}")
        rates[op] = float(rate)
    if sum(rates.values()) <= 0:
        raise SystemExit("LOAD_RATES: the rates must not all be 0")
    return rates


def judge(response: Any, ok: tuple[int, ...], conflicts: frozenset[str] = EXPECTED_CONFLICTS) -> Any:
    """Mark a ``catch_response`` answer: success for the statuses in ``ok`` and
    for a 409 whose code is an expected domain outcome; otherwise a failure
    named by status and error code (not the detail, so failures group by kind).
    Returns the decoded JSON body, or None."""
    body: Any = None
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    status = response.status_code
    if status in ok:
        response.success()
    elif status == 409 and code in conflicts:
        response.success()
    elif status == 0 or status is None:
        response.failure(f"no answer: {type(response.error).__name__ if response.error else 'connection'}")
    else:
        response.failure(f"HTTP {status} {code or ''}".rstrip())
    return body


class PatternUser(FastHttpUser):
    """A user of one workload pattern: subclasses set ``SEED_RATES`` (the
    seed's rate per operation, per second, for the whole pattern),
    ``SEED_USERS`` and one method per operation named like it."""

    abstract = True
    SEED_RATES: ClassVar[dict[str, float]] = {}
    SEED_USERS: ClassVar[int] = 1
    RATES: ClassVar[dict[str, float]] = {}
    # FastHttpUser: one connection per user is what a client of a node holds
    concurrency = 1
    network_timeout = 30.0
    connection_timeout = 10.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.SEED_RATES:
            missing = [op for op in cls.SEED_RATES if not callable(getattr(cls, op, None))]
            if missing:
                raise TypeError(f"{cls.__name__}: no method for operation(s) {missing}")
            cls.RATES = per_user_rates(cls.SEED_RATES, cls.SEED_USERS)
            cls.wait_time = constant_throughput(sum(cls.RATES.values()))

    def __init__(self, environment: Any) -> None:
        runner = environment.runner
        worker = getattr(runner, "worker_index", 0) or 0
        workers = max(1, int(os.environ.get("LOAD_WORKERS", "1") or 1))
        self.index = next(_counter) * workers + worker
        urls = nodes(environment.host or self.host)
        if not urls:
            raise SystemExit("no node to load: set LOAD_NODES or --host")
        self.host = urls[self.index % len(urls)]
        self.node_number = self.index % len(urls)
        self.rng = random.Random(f"{_SEED}/{self.index}")
        super().__init__(environment)
        self._ops: list[Callable[[], None]] = [getattr(self, op) for op in self.RATES]
        self._weights = list(self.RATES.values())

    @task
    def step(self) -> None:
        """One operation, chosen with this user's seeded generator, weighted by rate."""
        self.rng.choices(self._ops, weights=self._weights)[0]()


class SharedAuctions:
    """Auctions opened in this Locust process (by any user, on any node), for
    bidders to pick from; bounded, newest kept.  Stands for "a random active
    auction" of the seed without fetching the whole market for each bid."""

    def __init__(self, size: int = 500) -> None:
        self._items: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, auction: dict[str, Any]) -> None:
        self._items.append(auction)

    def pick(self, rng: random.Random) -> dict[str, Any] | None:
        if not self._items:
            return None
        # favour recent auctions: most bidding happens while an auction is fresh
        n = len(self._items)
        return self._items[n - 1 - min(n - 1, int(rng.expovariate(1 / 40)))]

    def __len__(self) -> int:
        return len(self._items)


@events.init.add_listener
def _announce(environment: Any, **_: Any) -> None:
    # one line per process, so the seed of a run is in its Locust log
    print(f"[load] seed={_SEED} (replay with LOAD_SEED={_SEED})", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ economics

AUCTIONS = SharedAuctions()


class AuctionOps(PatternUser):
    """Economics operations: ``create_auction``, ``place_bid``,
    ``check_market_data``, ``generate_reports`` (docs/api.md, "Auctions")."""

    abstract = True
    BID_WAIT: ClassVar[bool] = False  # True: ``?wait=true`` (the final outcome); False: 202, decided later

    def auction_spec(self) -> dict[str, Any]:
        rng = self.rng
        starting = rng.randint(100, 1100)
        return {
            "type": "english",
            "item": f"{rng.choice(ITEMS)} / {rng.choice(REGIONS)}",
            "seller": f"seller_{rng.randint(1, 50)}",
            "starting_price": starting,
            "reserve_price": starting + rng.randint(0, 1500),
            "min_increment": rng.choice((1, 5, 10, 25)),
            "duration_s": rng.randint(300, 3900),  # five minutes to an hour, as the seed's
        }

    def create_auction(self) -> None:
        spec = self.auction_spec()
        with self.client.post("/auctions", json=spec, name="create_auction", catch_response=True) as r:
            body = judge(r, (201,))
        if r.status_code == 201 and isinstance(body, dict) and "id" in body:
            AUCTIONS.add({"id": body["id"], "price": spec["starting_price"], "step": spec["min_increment"]})

    def place_bid(self) -> None:
        auction = AUCTIONS.pick(self.rng)
        if auction is None:  # nothing open yet (the seed's :no_active_auctions): nothing to bid on
            return
        amount = auction["price"] + auction["step"] * (1 + self.rng.randint(0, 3)) + round(self.rng.random(), 2)
        bid = {"bidder": f"bidder_{self.rng.randint(1, 100)}", "amount": amount}
        path = f"/auctions/{auction['id']}/bids" + ("?wait=true" if self.BID_WAIT else "")
        with self.client.post(path, json=bid, name="place_bid", catch_response=True) as r:
            judge(r, (201, 202))
        if r.status_code in (201, 202):
            auction["price"] = max(auction["price"], amount)

    def check_market_data(self) -> None:
        with self.client.get("/market", name="check_market_data", catch_response=True) as r:
            judge(r, (200,))

    def generate_reports(self) -> None:
        report = self.rng.choice(("recent_auctions", "volume"))
        window = self.rng.choice(("last_hour", "last_hour", "last_day", "all"))
        with self.client.get(f"/analytics/{report}?window={window}", name="generate_reports", catch_response=True) as r:
            judge(r, (200,))


# --------------------------------------------------------------- coordination


class CoordinationOps(PatternUser):
    """Coordination operations: ``coordinate_agents``, ``consensus_voting``,
    ``resource_allocation``, ``monitor_system``, ``fault_detection``
    (docs/api.md, "Coordination", "Health, telemetry, state").  Each user starts
    its own agents first (``setup:start_agent``)."""

    abstract = True
    AGENTS_PER_USER: ClassVar[int] = 5

    def on_start(self) -> None:
        self.agents: list[str] = []
        self.groups: deque[str] = deque(maxlen=20)
        for k in range(self.AGENTS_PER_USER):
            agent = {
                "id": f"agent-{_SEED}-{self.index}-{k}",
                "kind": self.rng.choice(AGENT_KINDS),
                "meta": {"region": self.rng.choice(REGIONS), "capacity": self.rng.randint(1, 16)},
            }
            with self.client.post("/agents", json=agent, name="setup:start_agent", catch_response=True) as r:
                judge(r, (201,))
            if r.status_code in (201, 409):
                self.agents.append(agent["id"])

    def _some_agents(self, low: int, high: int) -> list[str]:
        count = min(len(self.agents), self.rng.randint(low, high))
        return self.rng.sample(self.agents, count)

    def coordinate_agents(self) -> None:
        agents = self._some_agents(2, 4)
        if not agents:
            return
        group = {
            "agents": agents,
            "task": {"type": "work", "rounds": self.rng.randint(1, 3), "round_ms": self.rng.choice((50, 100, 200))},
            "heartbeat_timeout_ms": self.rng.choice((500, 1000, 2000)),
        }
        with self.client.post("/coordinations", json=group, name="coordinate_agents", catch_response=True) as r:
            body = judge(r, (201,))
        if r.status_code == 201 and isinstance(body, dict) and "id" in body:
            self.groups.append(body["id"])

    def consensus_voting(self) -> None:
        voters = self._some_agents(3, 5)
        if not voters:
            return
        rule = self.rng.choice(("majority", "majority", "unanimous", "weighted"))
        proposal: dict[str, Any] = {
            "action": self.rng.choice(("scale_out", "rebalance", "adopt_price", "evict_agent")),
            "resource": self.rng.choice(RESOURCE_NAMES),
            "amount": self.rng.randint(1, 64),
        }
        ballot: dict[str, Any] = {"proposal": proposal, "rule": rule, "voters": voters, "timeout_s": 60}
        if rule == "weighted":
            ballot["weights"] = {v: self.rng.randint(1, 5) for v in voters}
        with self.client.post("/consensus", json=ballot, name="consensus_voting", catch_response=True) as r:
            body = judge(r, (201,))
        if r.status_code != 201 or not isinstance(body, dict) or "id" not in body:
            return
        for voter in voters:  # vote until decided, as the seed's simulate_consensus_voting
            vote = {"agent_id": voter, "vote": "approve" if self.rng.random() < 0.8 else "reject"}
            with self.client.post(
                f"/consensus/{body['id']}/votes", json=vote, name="consensus_voting:vote", catch_response=True
            ) as r:
                status = judge(r, (200,))
            if r.status_code != 200 or not isinstance(status, dict) or status.get("status") != "open":
                break

    def resource_allocation(self) -> None:
        pool = {"resources": {name: self.rng.randint(8, 256) for name in self.rng.sample(RESOURCE_NAMES, 2)}}
        with self.client.post("/pools", json=pool, name="resource_allocation:pool", catch_response=True) as r:
            body = judge(r, (201,))
        if r.status_code != 201 or not isinstance(body, dict) or "id" not in body:
            return
        members = self._some_agents(2, 5)
        demands = [
            {
                "id": agent,
                "demand": {name: self.rng.randint(1, 64) for name in pool["resources"]},
                "priority": self.rng.randint(0, 9),
            }
            for agent in members
        ]
        allocation = {
            "pool_id": body["id"],
            "strategy": self.rng.choice(("fair_share", "proportional", "priority")),
            "agents": demands,
        }
        with self.client.post("/allocations", json=allocation, name="resource_allocation", catch_response=True) as r:
            judge(r, (201,))

    def monitor_system(self) -> None:
        with self.client.get("/telemetry", name="monitor_system", catch_response=True) as r:
            judge(r, (200,))

    def fault_detection(self) -> None:
        with self.client.get("/coordination/status", name="fault_detection", catch_response=True) as r:
            judge(r, (200,))
        if self.groups:  # and whether a recent group of this user lost an agent
            group = self.rng.choice(list(self.groups))
            with self.client.get(f"/coordinations/{group}", name="fault_detection:group", catch_response=True) as r:
                judge(r, (200,))
