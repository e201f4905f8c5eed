"""The state machine: determinism, atomic refusals, no clock or randomness inside."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam.canonical import canonical_bytes
from mabeam.errors import BadRequest, DomainError
from mabeam.machine import OPS, StateMachine

AGENTS = ["a0", "a1", "a2", "a3"]
AUCTIONS = ["u0", "u1", "u2"]
ACCOUNTS = ["x", "y", "z"]
TYPES = ["english", "dutch", "sealed_bid", "vickrey", "combinatorial"]


def _spec(kind: str, duration: float) -> dict:
    spec = {"type": kind, "seller": "x", "reserve_price": 5, "duration_s": duration}
    if kind == "combinatorial":
        spec["items"] = ["i", "j", "k"]
    else:
        spec["item"] = "thing"
    if kind == "english":
        spec.update(starting_price=10, min_increment=2, buy_now_price=90)
    if kind == "dutch":
        spec.update(starting_price=100, decrement=7, tick_s=1, floor_price=20)
    return spec


def generate(seed: int, n: int = 120) -> list[dict]:
    """A seeded mix of every op, including ones the rules refuse."""
    rng = random.Random(seed)
    now, serial, out = 1000.0, 0, []
    agents, auctions, groups = list(AGENTS), list(AUCTIONS), ["g0"]
    for _ in range(n):
        now += rng.choice([0, 0.1, 0.5, 2, 30])
        serial += 1
        kind = rng.randrange(16)
        # Mostly recent ids (which probably exist), sometimes stale or unknown ones.
        a, u = rng.choice(agents[-5:]), rng.choice(auctions[-3:])
        if kind == 0:
            agents.append(f"a{serial}" if rng.random() < 0.8 else a)
            cmd = {"op": "agent.start", "id": agents[-1], "kind": "w", "meta": {}}
        elif kind == 1:
            cmd = {"op": rng.choice(["agent.stop", "agent.crash"]), "id": a}
        elif kind == 2:
            cmd = rng.choice(
                [
                    {"op": "registry.register", "name": rng.choice(["s1", "s2"]), "ref": a, "meta": {}},
                    {"op": "registry.unregister", "name": rng.choice(["s1", "s2"])},
                ]
            )
        elif kind == 3:
            auctions.append(f"u{serial}")
            cmd = {
                "op": "auction.create",
                "id": auctions[-1],
                "spec": _spec(rng.choice(TYPES), rng.choice([5, 60, 3600])),
            }
        elif kind in (4, 5):
            cmd = {
                "op": "auction.bid",
                "auction_id": u,
                "bid_id": f"b{serial}",
                "bidder": a,
                "amount": rng.choice([3, 10, 12, 40, 95]),
                "items": rng.choice([None, ["i"], ["j", "k"], ["i", "k"]]),
            }
        elif kind == 6:
            cmd = {"op": "auction.decide_bids", "bid_ids": [f"b{k}" for k in range(serial - 10, serial)]}
        elif kind == 7:
            cmd = {"op": rng.choice(["auction.close", "auction.cancel"]), "auction_id": u}
        elif kind == 8:
            if rng.random() < 0.8:
                cmd = {"op": "auction.expire", "auction_ids": auctions[-6:]}
            else:  # forget old closed auctions (their ids then answer not_found)
                cmd = {"op": "auction.prune", "keep": rng.choice([0, 1, 3])}
        elif kind == 9:
            cmd = {"op": "account.create", "id": rng.choice(ACCOUNTS), "balance": rng.choice([0, 50, 100])}
        elif kind == 10:
            src, dst = rng.sample(ACCOUNTS, 2)
            cmd = {
                "op": "transaction.submit",
                "id": f"t{serial}",
                "from": src,
                "to": dst,
                "amount": rng.choice([1, 30, 70]),
                "reference": None,
            }
        elif kind == 11:
            if rng.random() < 0.8:
                cmd = {"op": "transaction.settle", "ids": [f"t{k}" for k in range(serial - 10, serial)]}
            else:
                cmd = {"op": "transaction.prune", "keep": rng.choice([0, 1, 3])}
        elif kind == 12:
            groups.append(f"g{serial}")
            cmd = {
                "op": "coordination.start",
                "id": groups[-1],
                "agents": rng.sample(agents[-4:], 2),
                "task": {"type": "work", "rounds": 3, "round_ms": 100},
                "heartbeat_timeout_ms": 500,
            }
        elif kind == 13:
            g = rng.choice(groups[-3:])
            cmd = rng.choice(
                [
                    {"op": "coordination.round", "id": g},
                    {"op": "coordination.agent_failed", "id": g, "agent_id": a},
                    {"op": "coordination.replace", "id": g, "agent_id": a},
                ]
            )
        elif kind == 14:
            cmd = rng.choice(
                [
                    {
                        "op": "consensus.start",
                        "id": f"c{serial % 2}",
                        "proposal": serial,
                        "rule": "majority",
                        "voters": agents[-3:],
                        "weights": None,
                        "threshold": 0.5,
                        "timeout_s": 10,
                    },
                    {
                        "op": "consensus.vote",
                        "id": f"c{rng.randrange(2)}",
                        "agent_id": a,
                        "vote": rng.choice(["approve", "reject"]),
                    },
                    {"op": "consensus.expire", "ids": ["c0", "c1"]},
                ]
            )
        else:
            cmd = rng.choice(
                [
                    {"op": "pool.create", "id": "p0", "resources": {"cpu": 10}},
                    {
                        "op": "allocation.create",
                        "id": f"l{serial % 2}",
                        "pool_id": "p0",
                        "strategy": rng.choice(["fair_share", "proportional", "priority"]),
                        "agents": [
                            {"id": x, "demand": {"cpu": rng.choice([2, 6])}, "priority": 0}
                            for x in rng.sample(agents[-4:], 2)
                        ],
                    },
                    {
                        "op": "allocation.join",
                        "id": f"l{rng.randrange(2)}",
                        "agent": {"id": a, "demand": {"cpu": 3}, "priority": 1},
                    },
                    {"op": "allocation.leave", "id": f"l{rng.randrange(2)}", "agent_id": a},
                    {
                        "op": "allocation.demand",
                        "id": f"l{rng.randrange(2)}",
                        "agent_id": a,
                        "demand": {"cpu": rng.choice([1, 9])},
                        "priority": rng.choice([None, 2]),
                    },
                    {"op": "events.publish", "topic": "app.tick", "data": {"n": serial}},
                ]
            )
        cmd.update(time=now, node=rng.choice(["n1", "n2"]))
        out.append(cmd)
    return out


command_lists = st.builds(generate, st.integers(0, 2**32), st.integers(1, 120))


def _without_applied(machine: StateMachine) -> bytes:
    snap = machine.state.snapshot()
    snap.pop("applied")
    return canonical_bytes(snap)


def test_every_op_is_exercised_by_the_generator():
    seen = {cmd["op"] for seed in range(30) for cmd in generate(seed)}
    assert seen == set(OPS)


@settings(max_examples=60, deadline=None)
@given(command_lists)
def test_same_commands_same_digest(commands):
    first, second = StateMachine(), StateMachine()
    first.apply_all(commands)
    second.apply_all(json.loads(json.dumps(commands)))  # as if read back from a log
    assert first.digest() == second.digest()
    assert first.state.applied == second.state.applied == len(commands)


@settings(max_examples=60, deadline=None)
@given(command_lists)
def test_a_refused_command_changes_nothing_but_the_applied_count(commands):
    machine = StateMachine()
    for cmd in commands:
        before = _without_applied(machine)
        try:
            machine.apply(cmd)
        except DomainError:
            assert _without_applied(machine) == before, cmd


def test_apply_never_reads_the_clock_or_draws_randomness(monkeypatch):
    commands = generate(7, 400)

    def forbidden(*args, **kwargs):
        raise AssertionError("apply used a clock or a random source")

    reference = StateMachine()
    reference.apply_all(commands)
    for target, name in ((time, "time"), (time, "monotonic"), (random, "random"), (random, "randrange")):
        monkeypatch.setattr(target, name, forbidden)
    machine = StateMachine()
    machine.apply_all(commands)
    assert machine.digest() == reference.digest()


def test_digest_does_not_depend_on_hash_seed(tmp_path):
    commands = generate(11, 600)
    path = tmp_path / "commands.json"
    path.write_text(json.dumps(commands))
    local = StateMachine()
    local.apply_all(commands)
    script = (
        "import json,sys; from mabeam.machine import StateMachine; m=StateMachine(); "
        "m.apply_all(json.load(open(sys.argv[1]))); print(m.digest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        digests.add(out.stdout.strip())
    assert digests == {local.digest()}


def test_unknown_op_is_refused_and_counted(run):
    with pytest.raises(BadRequest) as info:
        run("teleport")
    assert info.value.field == "op"
    assert run.state.applied == 1


def test_listeners_see_every_command_with_its_events(run):
    seen = []
    run.machine.add_listener(lambda cmd, result, fresh: seen.append((cmd["op"], [e["topic"] for e in fresh])))
    run.agent("a1")
    with pytest.raises(DomainError):
        run.agent("a1")
    assert seen == [("agent.start", ["coordination.agent.started"]), ("agent.start", [])]


@settings(max_examples=40, deadline=None)
@given(command_lists, st.integers(0, 120))
def test_snapshot_restore_then_continue_reaches_the_same_digest(commands, cut):
    """A replica restored from a snapshot mid-log and fed the rest ends identical."""
    head, tail = commands[:cut], commands[cut:]
    original = StateMachine()
    original.apply_all(head)
    restored = StateMachine()
    restored.restore_bytes(original.snapshot_bytes())
    assert restored.digest() == original.digest()
    original.apply_all(tail)
    restored.apply_all(json.loads(json.dumps(tail)))
    assert restored.digest() == original.digest()
