"""Node failures (seed §2.1 "cascading failures"): crashes, a leader's death,
a restart from the node's own data.

Crashes are SIGKILL (the toolkit reaps the process before returning).  The
tests wait on what the cluster *says* (its leader, its member list, its
digests) with deadlines; the clients keep writing throughout and the history
checkers judge every answer they got.
"""

from __future__ import annotations

from pipeline.testing.eventually import eventually
from suites.multinode.checks import verify
from suites.multinode.recording import RecordingClient
from suites.multinode.steps import Registry, final_registry_reads
from suites.multinode.workload import Workers
from suites.service.client import uid

# The member grace period of the progressive-failure cluster: short, so the
# test is quick, and well above the election timeout (0.5-1 s at 50 ms ticks).
GRACE_S = 1.5
NEW_LEADER_WITHIN_S = 10.0


def write_ok(client: RecordingClient, node: str, ref: str, written: list[str]) -> bool:
    """One recorded registration through ``node`` is acknowledged."""
    name = uid("w")
    op, answer = client.register(node, name, ref)
    assert op.ok and op.result == ref, f"POST /registry on {node}: {answer.status} {answer.body or answer.error}"
    written.append(name)
    return True


def test_progressive_failures_shrink_membership_and_keep_serving(mabeam, history, seed, rng):
    """6 nodes started with ``--member-grace-s 1.5``; three are crashed one
    after another, each once the leader has dropped the previous one from the
    membership (i.e. spaced past the grace period, which is what keeps a
    majority: 6 -> 5 -> 4 -> 3 members).  The three survivors keep serving
    writes and agree on the membership."""
    cluster = mabeam(6, "mesh", member_grace_s=GRACE_S)
    admin = RecordingClient(history, "admin", cluster.urls)
    names = list(cluster.names)
    registry = Registry.setup(admin, names)
    victims = rng.sample(names, 3)
    alive = [n for n in names if n not in victims]
    print(f"crash order: {victims}")
    written: list[str] = []

    with Workers(history, cluster.urls, registry.step, seed=seed, threads=3, max_ops=80, max_seconds=45) as workers:
        down: list[str] = []
        for victim in victims:
            cluster.handle.faults.crash(victim)
            down.append(victim)
            workers.aim([n for n in names if n not in down])
            survivors = [n for n in names if n not in down]

            def dropped(survivors: list[str] = survivors) -> list[str]:
                leader = cluster.leader(survivors, timeout=2.0)
                members = cluster.members(leader)
                assert members is not None, f"GET /cluster/members on {leader} did not answer"
                assert not set(down) & set(members), f"leader {leader} still counts {set(down) & set(members)}"
                return members

            members = eventually(
                dropped,
                timeout=GRACE_S + 15,
                interval=0.1,
                description=f"the leader drops {victim} from the membership",
            )
            assert sorted(members) == sorted(survivors), f"members {members}, expected {survivors}"

        for node in alive:
            eventually(
                lambda node=node: write_ok(admin, node, registry.agents[0], written),
                timeout=10,
                description=f"survivor {node} serves writes",
            )
        for node in alive:
            health = cluster.health(node)
            assert health is not None and sorted(health["members"]) == sorted(alive), health
            assert health["mode"] == "normal", health

    cluster.wait_converged(alive, timeout=15)
    final_registry_reads(admin, alive, [*registry.keys, *written])
    verify(history, "linearizable", "lost_writes")


def test_leader_crash_new_leader_serves_writes(mabeam, history, seed):
    """The leader of 5 nodes is crashed while clients write; the four left
    elect a new leader that serves writes within a deadline; the old leader,
    restarted with its data dir, follows it and catches up."""
    cluster = mabeam(5, "mesh")
    admin = RecordingClient(history, "admin", cluster.urls)
    names = list(cluster.names)
    registry = Registry.setup(admin, names)
    old = cluster.leader()
    rest = [n for n in names if n != old]
    written: list[str] = []

    with Workers(history, cluster.urls, registry.step, seed=seed, threads=3, max_ops=50, max_seconds=30) as workers:
        cluster.handle.faults.crash(old)
        workers.aim(rest)

        def new_leader_writes() -> str:
            leader = cluster.leader(rest, timeout=1.0)
            write_ok(admin, rest[len(written) % len(rest)], registry.agents[1], written)
            return leader

        new = eventually(
            new_leader_writes, timeout=NEW_LEADER_WITHIN_S, interval=0.1, description="a new leader serves writes"
        )
        assert new != old
        cluster.handle.faults.restart(old)
        workers.aim(names)

    cluster.leader()  # all five agree on one leader again
    cluster.wait_modes(names, "normal", timeout=15)
    cluster.wait_converged(timeout=15)
    final_registry_reads(admin, names, [*registry.keys, *written])
    verify(history, "linearizable", "lost_writes")


def test_restarted_node_catches_up_from_its_data_dir(mabeam, history, seed, rng):
    """A follower is crashed, the others take writes it never saw, and it is
    restarted with its data dir: it rejoins as the same member and its state
    becomes equal to the others' (same digest, same registrations)."""
    cluster = mabeam(3, "mesh")
    admin = RecordingClient(history, "admin", cluster.urls)
    names = list(cluster.names)
    registry = Registry.setup(admin, names)
    leader = cluster.leader()
    victim = rng.choice([n for n in names if n != leader])
    rest = [n for n in names if n != victim]
    written: list[str] = []

    cluster.handle.faults.crash(victim)
    with Workers(history, cluster.urls, registry.step, seed=seed, threads=3, max_ops=20, max_seconds=20, targets=rest):
        for i in range(6):
            write_ok(admin, rest[i % 2], registry.agents[i % len(registry.agents)], written)
    cluster.handle.faults.restart(victim)

    members = cluster.members(cluster.leader()) or []
    assert victim in members, f"{victim} is no longer a member after its restart: {members}"
    digest = cluster.wait_converged(timeout=20)
    assert digest
    for name in written:
        op, answer = admin.lookup(victim, name, consistent=False)
        assert op.ok and op.result is not None, f"{victim} lacks {name} after catching up: {answer}"
    final_registry_reads(admin, names, [*registry.keys, *written])
    verify(history, "linearizable", "lost_writes")
