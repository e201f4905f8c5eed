"""Network partitions (seed §2.1): majorities work, minorities refuse, heals converge.

The partitions are real: the toolkit cuts the Toxiproxy links between the
groups (``drop``: connections hang, like a lost network) and verifies the cut
by a failed exchange before returning.  Clients keep running through the
fault, so the history holds operations that raced the partition, timed out or
were refused; the checkers then say whether what the clients were told is
consistent with one order and whether anything acknowledged went missing.
"""

from __future__ import annotations

from pipeline.testing.eventually import eventually
from suites.multinode.checks import verify
from suites.multinode.recording import RecordingClient
from suites.multinode.steps import Money, Registry, final_registry_reads, start_agents
from suites.multinode.workload import Workers
from suites.service.client import uid

# "within about 1 s" (docs/api.md), as a deadline a loaded 2-core machine meets
REFUSE_WITHIN_S = 10.0


def refuses(client: RecordingClient, node: str, ref: str, refused: list[str]) -> bool:
    """A write on ``node`` is answered ``503 no_quorum`` (the client's own
    timeout bounds the answer; a hang is an ``unknown`` op and fails this).
    The name goes to ``refused``: the final reads check it never appears."""
    name = uid("refused")
    refused.append(name)
    op, answer = client.register(node, name, ref)
    assert answer.status == 503 and answer.code == "no_quorum", (
        f"POST /registry on {node}: expected 503 no_quorum, got {answer.status} {answer.body or answer.error}"
    )
    assert op.failed, op
    return True


def test_majority_serves_minority_refuses_then_heals(mabeam, history, seed):
    """5 nodes cut 3|2: the majority keeps registering (and moving money),
    the minority reports ``partition_detected`` and answers writes with
    ``503 no_quorum``; after the heal every node sees the majority's
    registration and all digests are equal."""
    cluster = mabeam(5, "mesh")
    admin = RecordingClient(history, "admin", cluster.urls)
    names = cluster.names
    registry = Registry.setup(admin, names)
    refused: list[str] = []
    money = Money.setup(admin, names)

    def step(client, rng, node, n):
        (registry.step if rng.random() < 0.7 else money.step)(client, rng, node, n)

    with Workers(history, cluster.urls, step, seed=seed, threads=3, max_ops=60, max_seconds=30):
        fault = cluster.handle.faults.partition_majority_minority(mode="drop")
        majority, minority = (list(g) for g in fault.params["groups"])
        assert len(majority) == 3 and len(minority) == 2, fault.params
        cluster.wait_modes(minority, "partition_detected", timeout=REFUSE_WITHIN_S)
        for node in minority:
            eventually(
                lambda node=node: refuses(admin, node, registry.agents[0], refused),
                timeout=REFUSE_WITHIN_S,
                description=f"{node} refuses writes with no_quorum",
            )
            read, answer = admin.lookup(node, registry.keys[0])
            assert read.failed and answer.status == 503 and answer.code == "no_quorum", (
                f"GET /registry/{registry.keys[0]}?consistent=true on minority {node}: {answer}"
            )
            _, answer = admin.lookup(node, registry.keys[0], consistent=False)
            assert answer.status in (200, 404) and (answer.headers or {}).get("X-Mabeam-Stale") == "maybe", (
                f"a local read on minority {node} must be served and marked stale: {answer}"
            )

        name = uid("majority")
        ref = registry.agents[1]
        for node in majority:
            eventually(
                lambda node=node: admin.register(node, f"{name}-{node}", ref)[0].ok,
                timeout=15,
                description=f"the majority registers through {node}",
            )
        assert cluster.leader(majority) in majority
        cluster.wait_modes(majority, "normal", timeout=10)

        cluster.handle.faults.heal()
    cluster.wait_modes(names, "normal", timeout=15)
    leader = cluster.leader()
    assert leader in names
    written = [f"{name}-{node}" for node in majority]
    eventually(
        lambda: all(admin.lookup(n, key, consistent=False)[0].result == ref for n in names for key in written),
        timeout=15,
        description="every node sees the majority's registrations",
    )
    money.final_reads(cluster, admin, names)
    cluster.wait_converged(timeout=15)
    final_registry_reads(admin, names, [*registry.keys, *written, *refused])
    verify(history, "linearizable", "lost_writes", "money")


def test_even_split_puts_every_node_in_safe_mode(mabeam, history, seed):
    """4 nodes cut 2|2: no side has a majority, so every node reports
    ``safe_mode`` and refuses writes; after the heal every node is
    ``normal`` again, the cluster writes, and the replicas converge."""
    cluster = mabeam(4, "mesh")
    admin = RecordingClient(history, "admin", cluster.urls)
    names = cluster.names
    registry = Registry.setup(admin, names)
    refused: list[str] = []

    with Workers(history, cluster.urls, registry.step, seed=seed, threads=3, max_ops=40, max_seconds=25):
        cluster.handle.faults.partition_halves(mode="drop")
        cluster.wait_modes(names, "safe_mode", timeout=REFUSE_WITHIN_S)
        for node in names:
            eventually(
                lambda node=node: refuses(admin, node, registry.agents[0], refused),
                timeout=REFUSE_WITHIN_S,
                description=f"{node} refuses writes in safe mode",
            )
        cluster.handle.faults.heal()

    cluster.wait_modes(names, "normal", timeout=15)
    cluster.leader()
    after = uid("healed")
    eventually(
        lambda: admin.register(names[-1], after, registry.agents[0])[0].ok,
        timeout=10,
        description="the healed cluster accepts a write",
    )
    cluster.wait_converged(timeout=15)
    final_registry_reads(admin, names, [*registry.keys, after, *refused])
    verify(history, "linearizable", "lost_writes")


def test_leader_cut_off_in_a_minority_loses_nothing_it_acknowledged(mabeam, history, seed, rng):
    """The dangerous side of a 3|2 cut is the one holding the *old leader*:
    until it notices, clients still reach it.  Whatever it acknowledged must
    survive the heal.  Clients register fresh names (never contended, so
    nothing can mask a loss) on the old leader across the cut; then the
    majority's new leader takes over, the heal truncates the old leader's
    uncommitted tail, and every node's final reads must hold every name any
    client was told was registered.  A leader that commits without a
    majority acknowledges names here that the heal then erases."""
    cluster = mabeam(5, "mesh")
    admin = RecordingClient(history, "admin", cluster.urls)
    names = cluster.names
    agent = start_agents(admin, names, 1, uid("holder"))[0]
    old = cluster.leader()
    buddy = rng.choice([n for n in names if n != old])
    minority = [old, buddy]
    majority = [n for n in names if n not in minority]
    written: list[str] = []

    def step(client, rng, node, n):
        name = f"{client.name}-{n}-{uid('w')}"
        written.append(name)  # list.append is atomic: safe across client threads
        client.register(node, name, agent)

    with Workers(
        history, cluster.urls, step, seed=seed, threads=3, max_ops=40, max_seconds=20, targets=[old]
    ) as workers:
        cluster.handle.faults.partition([minority, majority], mode="drop")
        cluster.wait_modes(minority, "partition_detected", timeout=REFUSE_WITHIN_S)
        workers.aim(majority)
        new = cluster.leader(majority)
        assert new in majority, f"the majority {majority} elected {new}"
        eventually(
            lambda: admin.register(new, uid("after-cut"), agent)[0].ok,
            timeout=15,
            description=f"the majority's leader {new} accepts writes",
        )
        cluster.handle.faults.heal()
    try:
        cluster.wait_modes(names, "normal", timeout=15)
        cluster.leader()
        cluster.wait_converged(timeout=15)
    finally:
        # the checkers run even when the replicas never converged: "these
        # acknowledged names are gone from n1..n3" says more than unequal digests
        final_registry_reads(admin, names, written)
        verify(history, "linearizable", "lost_writes")
