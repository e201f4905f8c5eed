"""Scenario tests of the pure Raft core, each driven message by message.

A tiny in-test network (``Net``) queues messages FIFO and lets a test drop,
hold or reorder them, crash and restart nodes from their persisted storage, and
cut links. No clocks: time is ``tick()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.raft import (
    PLANTED_BUGS,
    AppendEntries,
    AppendResponse,
    BecameLeader,
    ConfigChanged,
    ConfigChangeRejected,
    HardState,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    LogEntry,
    MemoryStorage,
    Message,
    NotLeader,
    PersistentState,
    RaftNode,
    ReadFailed,
    ReadReady,
    Role,
    Snapshot,
    SnapshotResponse,
    SteppedDown,
    VoteRequest,
    VoteResponse,
    message_from_dict,
)
from mabeam.raft.output import AppendOp, Output, Proposal, SnapshotOp, TruncateOp
from mabeam.raft.proposals import COMMITTED, SUPERSEDED, UNKNOWN, ProposalTracker

ELECTION = 10


class Net:
    """Nodes plus a FIFO wire the test controls."""

    def __init__(
        self,
        ids: Iterable[str],
        *,
        bug: str | None = None,
        pre_vote: bool = True,
        max_batch: int = 64,
        heartbeat_ticks: int = 1,
    ) -> None:
        self.ids = list(ids)
        self.kw = dict(
            election_ticks=ELECTION,
            heartbeat_ticks=heartbeat_ticks,
            planted_bug=bug,
            pre_vote=pre_vote,
            max_batch=max_batch,
        )
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.nodes: dict[str, RaftNode] = {}
        self.applied: dict[str, dict[int, LogEntry]] = {}
        self.snapshots: dict[str, list[Snapshot]] = {}
        self.effects: dict[str, list] = {}
        self.queue: list[Message] = []
        self.delivered: list[Message] = []
        self.cut: set[frozenset[str]] = set()
        self.incarnation: dict[str, int] = {}
        for i in self.ids:
            self.boot(i, self.ids)

    # nodes ---------------------------------------------------------------------
    def boot(self, i: str, voters: Iterable[str]) -> RaftNode:
        self.incarnation[i] = self.incarnation.get(i, 0) + 1
        self.storage.setdefault(i, MemoryStorage())
        node = RaftNode(
            i,
            tuple(voters),
            seed=f"{i}/{self.incarnation[i]}",
            state=self.storage[i].state(),
            **self.kw,
        )
        self.nodes[i] = node
        self.applied.setdefault(i, {})
        self.snapshots.setdefault(i, [])
        self.effects.setdefault(i, [])
        return node

    def crash(self, i: str) -> None:
        del self.nodes[i]

    def restart(self, i: str) -> RaftNode:
        return self.boot(i, self.ids)

    def handle(self, i: str, out: Output) -> Output:
        self.storage[i].apply(out)
        self.queue.extend(out.messages)
        if out.snapshot is not None:
            self.snapshots[i].append(out.snapshot)
        for e in out.committed:
            self.applied[i][e.index] = e
        self.effects[i].extend(out.effects)
        return out

    def call(self, i: str, method: str, *args, **kwargs) -> Output:
        return self.handle(i, getattr(self.nodes[i], method)(*args, **kwargs))

    # wire ----------------------------------------------------------------------
    def isolate(self, *group: str) -> None:
        """Cut every link between ``group`` and the other nodes."""
        for a in group:
            for b in self.ids:
                if b not in group:
                    self.cut.add(frozenset((a, b)))

    def heal(self) -> None:
        self.cut.clear()

    def deliver(
        self,
        *,
        drop: Callable[[Message], bool] = lambda m: False,
        hold: Callable[[Message], bool] = lambda m: False,
    ) -> int:
        """Deliver queued messages (and what they trigger) until only held ones remain."""
        held: list[Message] = []
        count = 0
        while self.queue:
            m = self.queue.pop(0)
            if hold(m):
                held.append(m)
                continue
            if m.dst not in self.nodes or frozenset((m.src, m.dst)) in self.cut or drop(m):
                continue
            count += 1
            self.delivered.append(m)
            self.handle(m.dst, self.nodes[m.dst].receive(m))
        self.queue = held
        return count

    def tick(self, n: int = 1, *, only: Iterable[str] | None = None, deliver: bool = True) -> None:
        for _ in range(n):
            for i in list(only or self.nodes):
                if i in self.nodes:
                    self.call(i, "tick")
            if deliver:
                self.deliver()
            else:
                self.queue.clear()

    # queries -------------------------------------------------------------------
    def leaders(self) -> list[str]:
        return [i for i, n in self.nodes.items() if n.is_leader]

    def run_until_leader(self, limit: int = 20 * ELECTION) -> str:
        for _ in range(limit):
            if self.leaders():
                return max(self.leaders(), key=lambda i: self.nodes[i].term)
            self.tick()
        raise AssertionError(f"no leader after {limit} ticks: {self.roles()}")

    def elect(
        self,
        candidate: str,
        among: Iterable[str],
        *,
        drop: Callable[[Message], bool] = lambda m: False,
    ) -> None:
        """Make ``candidate`` win with the votes of ``among`` only (the rest of the
        cluster is cut off until ``heal()``)."""
        group = set(among) | {candidate}
        self.heal()
        self.isolate(*group)
        for _ in range(5):
            self.call(candidate, "campaign")
            self.deliver(drop=drop)
            if self.nodes[candidate].is_leader:
                return
        raise AssertionError(f"{candidate} could not win among {sorted(group)}: {self.roles()}")

    def roles(self) -> dict[str, str]:
        return {i: f"{n.role.value}@{n.term}" for i, n in self.nodes.items()}

    def effects_of(self, i: str, kind: type) -> list:
        return [e for e in self.effects[i] if isinstance(e, kind)]


def settle(net: Net, ticks: int = 3) -> None:
    net.tick(ticks)


def forget_leader(net: Net, *ids: str) -> None:
    """Let ``ids`` sit past the leader lease without campaigning (their messages
    go nowhere), so they will listen to a new candidate."""
    net.tick(2 * ELECTION, only=ids, deliver=False)


# -- elections -------------------------------------------------------------------


def test_three_nodes_elect_exactly_one_leader_known_to_all() -> None:
    net = Net("abc")
    leader = net.run_until_leader()
    settle(net)
    assert net.leaders() == [leader]
    assert {n.term for n in net.nodes.values()} == {1}, "pre-vote: the first election is term 1"
    assert all(n.leader_id == leader for n in net.nodes.values())
    assert net.effects_of(leader, BecameLeader) == [BecameLeader(1)]
    for i in net.ids:  # the new leader's NOOP commits everywhere
        assert net.applied[i][1].kind == "noop"
        assert net.nodes[i].has_quorum()


def test_proposals_commit_in_order_on_every_node() -> None:
    net = Net("abcde")
    leader = net.run_until_leader()
    proposals = [net.call(leader, "propose", {"n": k}).proposal for k in range(5)]
    settle(net)
    for p, k in zip(proposals, range(5), strict=False):
        for i in net.ids:
            e = net.applied[i][p.index]
            assert (e.term, e.data) == (p.term, {"n": k})


def test_followers_refuse_proposals_and_name_the_leader() -> None:
    net = Net("abc")
    leader = net.run_until_leader()
    follower = next(i for i in net.ids if i != leader)
    with pytest.raises(NotLeader) as err:
        net.nodes[follower].propose("x")
    assert err.value.leader_id == leader


def test_split_vote_is_resolved_by_a_later_term() -> None:
    net = Net("abcd")
    net.call("a", "campaign")
    net.call("b", "campaign")
    # Pre-votes are granted to both (no leader yet); hold their real vote requests.
    net.deliver(hold=lambda m: isinstance(m, VoteRequest) and not m.pre_vote)
    assert net.nodes["a"].role is Role.CANDIDATE and net.nodes["b"].role is Role.CANDIDATE
    assert net.nodes["a"].term == net.nodes["b"].term == 1
    # c hears a first, d hears b first: 2 votes each out of 4, nobody wins term 1.
    first = {("a", "c"), ("b", "d")}
    net.deliver(hold=lambda m: isinstance(m, VoteRequest) and (m.src, m.dst) not in first)
    net.deliver()
    assert net.leaders() == []
    granted = [m for m in net.delivered if isinstance(m, VoteResponse) and m.granted and not m.pre_vote]
    assert sorted((m.src, m.dst) for m in granted) == [("c", "a"), ("d", "b")]
    leader = net.run_until_leader()
    assert net.nodes[leader].term >= 2
    settle(net)
    assert net.leaders() == [leader]


def test_candidate_with_stale_log_cannot_win() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.call("a", "propose", "x")
    net.deliver(drop=lambda m: m.dst == "c")  # only b gets the entry
    net.crash("a")
    forget_leader(net, "b", "c")
    for _ in range(3):
        net.call("c", "campaign")
        net.deliver()
    assert not net.nodes["c"].is_leader, "b's log is longer: it must refuse c"
    net.elect("b", "c")
    assert net.nodes["b"].is_leader


def test_restarted_node_remembers_its_vote() -> None:
    net = Net("abc")
    net.call("a", "campaign")
    net.deliver(drop=lambda m: m.dst == "c" or m.src == "c")  # a wins with b's vote
    assert net.nodes["a"].is_leader and net.nodes["b"].voted_for == "a"
    term = net.nodes["b"].term
    net.crash("b")
    b = net.restart("b")
    assert b.hard_state() == HardState(term, "a")
    out = net.call("b", "receive", VoteRequest("c", "b", term, False, 99, term))
    assert [m.granted for m in out.messages] == [False], "one vote per term, even after a crash"


def test_higher_term_vote_request_ignored_while_leader_is_alive() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    settle(net)
    out = net.call("b", "receive", VoteRequest("c", "b", 7, False, 99, 1))
    assert out.messages == [] and net.nodes["b"].term == 1 and net.nodes["b"].leader_id == "a"


# -- pre-vote and check-quorum ---------------------------------------------------------


def test_pre_vote_keeps_a_partitioned_node_from_disrupting_on_heal() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.isolate("c")
    net.tick(10 * ELECTION)
    assert net.nodes["c"].term == 1, "pre-vote never succeeds alone, so the term never moves"
    assert net.nodes["c"].role is Role.PRE_CANDIDATE
    net.heal()
    settle(net, 5)
    assert net.leaders() == ["a"] and net.nodes["a"].term == 1
    assert net.effects_of("a", SteppedDown) == []
    assert net.nodes["c"].leader_id == "a"


def test_without_pre_vote_the_same_partition_deposes_the_leader() -> None:
    net = Net("abc", pre_vote=False)
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.isolate("c")
    net.tick(10 * ELECTION)
    assert net.nodes["c"].term > 3, "each timeout bumped c's term"
    net.heal()
    settle(net, 5)
    assert [e.reason for e in net.effects_of("a", SteppedDown)] == ["higher_term"]


def test_isolated_leader_steps_down_after_an_election_timeout() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    a = net.nodes["a"]
    assert a.has_quorum() and a.leader_contact_age() <= 2
    net.isolate("a")
    net.tick(ELECTION, only="a")
    assert a.is_leader and a.has_quorum(), "still within the election timeout"
    assert a.leader_contact_age() == ELECTION
    net.tick(2, only="a")
    assert not a.is_leader and not a.has_quorum() and a.leader_id is None
    assert [e.reason for e in net.effects_of("a", SteppedDown)] == ["check_quorum"]
    with pytest.raises(NotLeader):
        a.propose("late")
    new = net.run_until_leader()
    assert new in "bc" and net.nodes[new].term == 2


def test_follower_cut_from_the_leader_reports_no_quorum() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    b = net.nodes["b"]
    assert b.has_quorum() and b.leader_contact_age() == 0
    net.isolate("b")
    net.tick(ELECTION - 1)
    assert b.has_quorum() and b.leader_contact_age() == ELECTION - 1
    net.tick(1)
    assert not b.has_quorum() and b.leader_contact_age() == ELECTION
    assert net.nodes["c"].has_quorum(), "c still hears a"


# -- log replication -----------------------------------------------------------------


def test_conflicting_suffix_is_truncated_with_fast_backoff() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    # a, cut off, takes 30 writes that can never commit.
    net.isolate("a")
    lost = [net.call("a", "propose", f"lost{k}").proposal for k in range(30)]
    net.deliver()
    # b and c move on (terms 2 and then 3, so the new leader's log is long and
    # its first probe of a lands inside a's conflicting suffix).
    forget_leader(net, "b", "c")
    net.elect("b", "c")
    kept = [net.call("b", "propose", f"kept{k}").proposal for k in range(20)]
    net.deliver()
    assert net.nodes["b"].commit_index == kept[-1].index
    net.crash("b")
    net.restart("b")
    forget_leader(net, "b", "c")
    net.elect("c", "b")
    net.delivered.clear()
    net.heal()
    settle(net, 6)
    a, c = net.nodes["a"], net.nodes["c"]
    assert not a.is_leader and a.leader_id == "c"
    assert list(a.log.entries()) == list(c.log.entries())
    rejects = [m for m in net.delivered if isinstance(m, AppendResponse) and not m.success]
    assert len(rejects) == 1, "one hint skips the 20 conflicting entries at once"
    assert (rejects[0].reject_index, rejects[0].hint_term) == (kept[-1].index, 1)
    assert not {e.data for e in net.applied["a"].values()} & {f"lost{k}" for k in range(30)}
    # The lost proposals' indexes were taken by entries of another term: superseded.
    assert net.applied["a"][lost[0].index].term != lost[0].term
    assert [e.data for e in net.storage["a"].state().entries if e.kind == "command"] == [f"kept{k}" for k in range(20)]


def test_follower_far_behind_catches_up_in_batches() -> None:
    net = Net("abc", max_batch=4)
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.crash("c")
    for k in range(25):
        net.call("a", "propose", k)
    net.deliver()
    net.restart("c")
    settle(net, 12)
    assert net.nodes["c"].commit_index == net.nodes["a"].commit_index == 26
    assert max(len(m.entries) for m in net.delivered if isinstance(m, AppendEntries)) <= 4


@pytest.mark.parametrize("bug", [None, "commit_previous_term"])
def test_figure_8_old_term_entry_is_not_committed_by_counting(bug: str | None) -> None:
    """Raft paper, Figure 8: an entry from an older term replicated on a majority
    can still be overwritten, so the leader must not count it as committed."""
    net = Net(["s1", "s2", "s3", "s4", "s5"], bug=bug, max_batch=1)
    net.elect("s1", ["s2", "s3", "s4", "s5"])
    net.heal()
    settle(net)
    # (a) s1 (term 1) gets X at index 2 onto s2 only, then crashes.
    x = net.call("s1", "propose", "X").proposal
    net.deliver(drop=lambda m: m.src == "s1" and m.dst != "s2")
    assert x.index == 2 and net.nodes["s2"].log.term_at(2) == x.term
    net.crash("s1")
    # (b) s5 wins term 2 with s3 and s4; its NOOP at index 2 reaches nobody; it crashes.
    forget_leader(net, "s2", "s3", "s4", "s5")
    quiet = lambda m: isinstance(m, (AppendEntries, Heartbeat))  # noqa: E731
    net.elect("s5", ["s3", "s4"], drop=quiet)
    assert net.nodes["s5"].log.term_at(2) == net.nodes["s5"].term == 2
    assert net.nodes["s3"].log.last_index == 1
    net.crash("s5")
    # (c) s1 restarts, wins term 3 with s2 and s3, and gets X onto s3 but not its
    # own NOOP (max_batch=1 and the follow-up append to s3 is lost).
    net.restart("s1")
    forget_leader(net, "s1", "s2", "s3")

    def not_noop_to_s3(m: Message) -> bool:
        """Once s3 holds X, lose the append that would bring it s1's NOOP."""
        return isinstance(m, AppendEntries) and m.dst == "s3" and net.nodes["s3"].log.last_index >= 2

    net.elect("s1", ["s2", "s3"], drop=not_noop_to_s3)
    assert net.nodes["s1"].term == 3
    assert net.nodes["s3"].log.term_at(2) == x.term and net.nodes["s3"].log.last_index == 2
    assert all(net.nodes[i].log.term_at(2) == x.term for i in ("s1", "s2", "s3")), "X is on a majority"
    s1_commit = net.nodes["s1"].commit_index
    # (d) s1 crashes; s5 comes back and wins with s3 and s4 (its last term 2 beats their 1).
    net.crash("s1")
    net.restart("s5")
    net.heal()
    forget_leader(net, "s3", "s4", "s5")
    net.elect("s5", ["s3", "s4"])
    settle(net, 4)
    s5 = net.nodes["s5"]
    assert s5.commit_index >= 2 and s5.log.term_at(2) == 2, "X was overwritten at index 2"
    assert net.applied["s3"][2] == net.applied["s5"][2] != LogEntry(2, 1, "command", "X")
    if bug is None:
        assert s1_commit < x.index, "the term-3 leader must not count X as committed"
        assert 2 not in net.applied["s1"]
    else:
        assert s1_commit == 2 and net.applied["s1"][2].data == "X"
        assert net.applied["s1"][2] != net.applied["s5"][2], "two nodes applied different entries"


# -- membership -------------------------------------------------------------------------


def test_add_a_new_voter_then_one_change_at_a_time() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    for k in range(5):
        net.call("a", "propose", k)
    net.ids.append("d")
    net.boot("d", ())  # a joining node starts with no configuration
    assert not net.nodes["d"].voters
    out = net.call("a", "change_membership", add="d")
    assert net.nodes["a"].voters == ("a", "b", "c", "d"), "in force as soon as appended"
    assert net.nodes["a"].quorum() == 3
    with pytest.raises(ConfigChangeRejected):
        net.nodes["a"].change_membership(remove="b")
    settle(net, 6)
    assert net.nodes["a"].commit_index >= out.proposal.index
    for i in "abcd":
        assert net.nodes[i].voters == ("a", "b", "c", "d")
        assert net.effects_of(i, ConfigChanged)[-1].voters == ("a", "b", "c", "d")
    assert [net.applied["d"][i].data for i in range(2, 7)] == [0, 1, 2, 3, 4]
    # Now removing one is allowed again.
    net.call("a", "change_membership", remove="b")
    settle(net, 4)
    assert net.nodes["c"].voters == ("a", "c", "d")


def test_change_waits_for_the_leader_to_commit_in_its_term() -> None:
    net = Net("abc")
    net.call("a", "campaign")
    net.deliver(hold=lambda m: isinstance(m, (AppendEntries, Heartbeat)))
    assert net.nodes["a"].is_leader and net.nodes["a"].commit_index == 0
    with pytest.raises(ConfigChangeRejected):
        net.nodes["a"].change_membership(remove="c")


def test_unreachable_voter_is_removed_then_readded_after_restart() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.crash("c")
    net.tick(3 * ELECTION)
    ages = net.nodes["a"].peer_contact_ages()
    assert ages["c"] >= 3 * ELECTION and ages["b"] <= 2
    net.call("a", "change_membership", remove="c")
    settle(net)
    assert net.nodes["a"].voters == ("a", "b") and not net.nodes["a"].config_pending()
    p = net.call("a", "propose", "without c").proposal
    settle(net)
    assert net.applied["b"][p.index].data == "without c"
    # c comes back still believing it is a voter; it cannot disturb the cluster.
    net.restart("c")
    net.tick(6 * ELECTION)
    assert net.leaders() == ["a"] and net.nodes["a"].term == 1 and net.nodes["c"].term == 1
    net.call("a", "change_membership", add="c")
    settle(net, 6)
    assert net.nodes["c"].voters == ("a", "b", "c")
    assert net.applied["c"][p.index].data == "without c"


def test_leader_removing_itself_steps_down_once_committed() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.call("a", "change_membership", remove="a")
    assert net.nodes["a"].is_leader, "keeps leading until the change commits"
    settle(net, 2)
    assert [e.reason for e in net.effects_of("a", SteppedDown)] == ["removed"]
    new = net.run_until_leader()
    assert new in "bc"
    term = net.nodes["a"].term
    net.tick(5 * ELECTION)
    assert net.nodes["a"].term == term and net.nodes["a"].role is Role.FOLLOWER


# -- snapshots ------------------------------------------------------------------------


def test_lagging_follower_gets_install_snapshot() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.crash("c")
    for k in range(20):
        net.call("a", "propose", k)
    settle(net)
    applied = net.nodes["a"].applied_index
    net.call("a", "compact", applied, b"state@%d" % applied)
    assert net.nodes["a"].log.snapshot.index == applied and not net.nodes["a"].log.entries()
    assert net.storage["a"].state().snapshot.data == b"state@%d" % applied
    net.restart("c")
    net.delivered.clear()
    settle(net, 4)
    assert [m.snapshot.index for m in net.delivered if isinstance(m, InstallSnapshot)] == [applied]
    assert any(isinstance(m, SnapshotResponse) for m in net.delivered)
    assert net.snapshots["c"][-1].data == b"state@%d" % applied
    assert net.snapshots["c"][-1].voters == ("a", "b", "c")
    p = net.call("a", "propose", "after").proposal
    settle(net)
    assert net.applied["c"][p.index].data == "after"
    # The snapshot is durable: a second restart starts from it.
    net.crash("c")
    c = net.restart("c")
    assert c.log.snapshot.index == applied and c.commit_index >= applied


def test_compact_refuses_what_is_not_applied() -> None:
    net = Net("a")
    net.call("a", "campaign")
    with pytest.raises(ValueError):
        net.nodes["a"].compact(5, b"")


# -- ReadIndex ------------------------------------------------------------------------


def test_read_index_waits_for_a_heartbeat_round() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    p = net.call("a", "propose", "w").proposal
    net.deliver()
    out = net.call("a", "read_index", "r1")
    assert not [e for e in out.effects if isinstance(e, ReadReady)]
    assert any(isinstance(m, Heartbeat) and m.read_seq > 0 for m in out.messages)
    net.deliver()
    assert net.effects_of("a", ReadReady) == [ReadReady("r1", p.index)]
    with pytest.raises(NotLeader) as err:
        net.nodes["b"].read_index("r2")
    assert err.value.leader_id == "a"


def test_partitioned_leader_never_serves_a_read() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    net.isolate("a")
    net.call("a", "read_index", "stale")
    net.tick(2 * ELECTION)
    assert net.effects_of("a", ReadReady) == []
    assert net.effects_of("a", ReadFailed) == [ReadFailed("stale", "check_quorum")]


def test_new_leader_reads_only_after_committing_in_its_term() -> None:
    net = Net("abc")
    net.call("a", "campaign")
    net.deliver(hold=lambda m: isinstance(m, (AppendEntries, Heartbeat)))
    net.call("a", "read_index", "early")
    net.deliver(hold=lambda m: isinstance(m, AppendEntries))
    assert net.effects_of("a", ReadReady) == [], "heartbeats alone do not release it"
    net.deliver()
    net.tick(1)
    assert net.effects_of("a", ReadReady) == [ReadReady("early", 1)]


def test_single_node_cluster_is_its_own_majority() -> None:
    net = Net("a")
    net.tick(2 * ELECTION)
    assert net.nodes["a"].is_leader
    p = net.call("a", "propose", "solo").proposal
    assert net.applied["a"][p.index].data == "solo"
    out = net.call("a", "read_index", 1)
    assert ReadReady(1, p.index) in out.effects


# -- wire format, storage, flags -------------------------------------------------------------

ids = st.sampled_from(["n1", "n2", "n3"])
terms = st.integers(0, 10**6)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
entries = st.builds(LogEntry, terms, terms, st.sampled_from(["command", "noop"]), json_values)
snapshots = st.builds(Snapshot, terms, terms, st.lists(ids, max_size=3).map(tuple), st.binary(max_size=40))
messages = st.one_of(
    st.builds(VoteRequest, ids, ids, terms, st.booleans(), terms, terms),
    st.builds(VoteResponse, ids, ids, terms, st.booleans(), st.booleans()),
    st.builds(AppendEntries, ids, ids, terms, terms, terms, st.lists(entries, max_size=3).map(tuple), terms),
    st.builds(AppendResponse, ids, ids, terms, st.booleans(), terms, terms, terms, terms),
    st.builds(Heartbeat, ids, ids, terms, terms, terms),
    st.builds(HeartbeatResponse, ids, ids, terms, terms),
    st.builds(InstallSnapshot, ids, ids, terms, snapshots),
    st.builds(SnapshotResponse, ids, ids, terms, terms),
)


@given(messages)
def test_every_message_survives_a_json_round_trip(m: Message) -> None:
    assert message_from_dict(json.loads(json.dumps(m.to_dict()))) == m


@pytest.mark.parametrize("raw", [{}, {"type": "nope"}, {"type": "heartbeat", "src": "a"}, [], None])
def test_malformed_messages_raise_value_error(raw) -> None:
    with pytest.raises(ValueError):
        message_from_dict(raw)


def test_persistent_state_round_trips_and_storage_replays_ops() -> None:
    snap = Snapshot(3, 2, ("a", "b"), b"\x00\xff")
    store = MemoryStorage()
    e = [LogEntry(i, 2, "command", i) for i in range(1, 7)]
    store.apply(Output(hard_state=HardState(2, "a"), log_ops=[AppendOp(tuple(e))]))
    store.apply(Output(log_ops=[TruncateOp(5), SnapshotOp(snap), AppendOp((LogEntry(5, 3, "noop"),))]))
    st_ = store.state()
    assert st_.hard_state == HardState(2, "a") and st_.snapshot == snap
    assert [x.index for x in st_.entries] == [4, 5] and st_.entries[-1].term == 3
    assert PersistentState.from_dict(json.loads(json.dumps(st_.to_dict()))) == st_
    node = RaftNode("a", state=st_)
    assert node.term == 2 and node.voters == ("a", "b") and node.log.last_index == 5


def test_planted_bugs_are_off_by_default_and_validated() -> None:
    assert RaftNode("a", ("a",))._bug is None
    assert {"commit_without_majority", "double_vote"} <= PLANTED_BUGS
    with pytest.raises(ValueError):
        RaftNode("a", ("a",), planted_bug="typo")


# -- proposal outcomes ------------------------------------------------------------------


def test_tracker_reports_committed_superseded_and_unknown() -> None:
    t = ProposalTracker()
    assert t.track(Proposal(5, 2), "mine") is None
    assert t.track(Proposal(6, 2), "lost") is None
    assert t.track(Proposal(9, 2), "buried") is None
    out = Output(committed=[LogEntry(5, 2, "command", "x"), LogEntry(6, 3, "noop")])
    got = [(o.token, o.status) for o in t.resolve(out)]
    assert got == [("mine", COMMITTED), ("lost", SUPERSEDED)]
    got = [(o.token, o.status) for o in t.resolve(Output(snapshot=Snapshot(10, 3, ("a",))))]
    assert got == [("buried", UNKNOWN)] and len(t) == 0


def test_tracker_supersedes_a_proposal_displaced_at_the_same_index() -> None:
    t = ProposalTracker()
    t.track(Proposal(4, 1), "old")
    displaced = t.track(Proposal(4, 3), "new")
    assert displaced is not None and (displaced.token, displaced.status) == ("old", SUPERSEDED)
    assert [o.token for o in t.abandon()] == ["new"]


def test_tracker_follows_a_real_leader_change() -> None:
    net = Net("abc")
    net.elect("a", "bc")
    net.heal()
    settle(net)
    tracker = ProposalTracker()
    net.isolate("a")
    tracker.track(net.call("a", "propose", "doomed").proposal, "doomed")
    forget_leader(net, "b", "c")
    net.elect("b", "c")
    net.call("b", "propose", "winner")
    outcomes = []
    handle = net.handle

    def resolve_on_a(i: str, out: Output) -> Output:
        if i == "a":
            outcomes.extend(tracker.resolve(out))
        return handle(i, out)

    net.handle = resolve_on_a  # type: ignore[method-assign]
    net.heal()
    settle(net, 6)
    assert [(o.token, o.status) for o in outcomes] == [("doomed", SUPERSEDED)]
