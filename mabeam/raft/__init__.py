"""Raft consensus core for the mabeam cluster node: pure, deterministic, no I/O.

The node wrapper owns the clock, the sockets and the disk; this package owns the
protocol. One ``RaftNode`` per process, driven from a single task.

Driving a node
==============

Create it with the bootstrap configuration (identical on every start of every
initial member; a node that joins later passes ``voters=()``) and whatever
storage held::

    node = RaftNode("n1", ("n1", "n2", "n3"), seed=..., election_ticks=10,
                    heartbeat_ticks=1, state=persisted_state_or_None)

``seed`` only feeds the randomized election timeout: use a fresh random value
per process start in production (fixed seeds are for tests). ``state`` is
``None`` on the very first start. Call ``node.tick()`` every tick period. Suggested: 50 ms, so the election
timeout is 10-20 ticks = 0.5-1 s (randomised per node from the seed) and the
leader heartbeats every tick. Raise ``election_ticks`` if the network's round
trip is more than a fraction of it. Every call returns an ``Output`` to be
handled IN THIS ORDER (see ``output.py``):

1. persist ``out.hard_state`` (term, vote) and ``out.log_ops`` (append /
   truncate / snapshot, in order) durably. ``MemoryStorage.apply`` is the
   reference; ``PersistentState`` (``to_dict``/``from_dict``) is what to reload.
2. send ``out.messages``: each is a frozen dataclass with ``src``, ``dst``,
   ``term``; ``m.to_dict()`` is the JSON body, ``message_from_dict(body)`` on
   the receiving side (it raises ``ValueError`` on garbage -> HTTP 400), then
   ``node.receive(m)``. Loss, duplication, delay and reordering are all fine.
3. if ``out.snapshot`` is set, replace the state machine by
   ``out.snapshot.data``; then apply ``out.committed`` entries in order. Only
   ``kind == "command"`` entries carry application data; ``"noop"`` and
   ``"config"`` entries just advance the applied index.
4. react to ``out.effects``: ``BecameLeader``, ``SteppedDown(reason)``,
   ``LeaderChanged(leader_id)``, ``ConfigChanged(voters)``, ``ReadReady``,
   ``ReadFailed``.

Writes
======

``node.propose(command)`` (any JSON value) on the leader returns an Output whose
``proposal`` is ``Proposal(index, term)``; elsewhere it raises
``NotLeader(leader_id)`` — forward the request to ``leader_id`` (None: no leader
known, answer 503). The proposal is **committed** when an entry with the same
index AND term comes out in ``Output.committed``; an entry at that index with a
different term means it was **superseded** (retry or fail the request). If the
node steps down first the outcome is unknown until that index commits. Put a
request id in the command if the application must de-duplicate retries.
``node.propose_many([c1, c2, ...])`` is group commit: the commands become
consecutive entries in one ``AppendOp`` (one storage write) and each follower
gets one AppendEntries for the lot; ``out.proposals`` lists where each landed,
and each commits under the same rule as a single proposal.
``ProposalTracker`` does this bookkeeping: ``tracker.track(out.proposal, token)``
after proposing, ``tracker.resolve(out)`` on every Output yields
``Outcome(token, "committed" | "superseded" | "unknown", entry)``.

Leader and quorum state
=======================

``node.leader_id``, ``node.is_leader``, ``node.role``, ``node.term``,
``node.voters``, ``node.commit_index``, ``node.applied_index``, ``node.status()``.
``node.has_quorum()`` is False on a leader that has not heard from a majority
for an election timeout (it steps down with ``SteppedDown("check_quorum")`` at
the same moment) and on a follower without a live leader: report
``partition_detected`` and refuse writes (503 ``no_quorum``).
``node.leader_contact_age()`` gives the same in ticks.

Linearizable reads (ReadIndex)
==============================

``node.read_index(read_id)`` on the leader (``NotLeader`` elsewhere: forward).
Later an effect ``ReadReady(read_id, index)`` arrives once a heartbeat round sent
after the call was acknowledged by a majority: serve the read when the state
machine has applied ``index``. ``ReadFailed(read_id, reason)`` if leadership is
lost first. A fresh leader answers only after committing its first entry.

Membership
==========

``node.change_membership(add="n4")`` / ``(remove="n2")`` on the leader, one voter
at a time. It raises ``ConfigChangeRejected`` while another change is pending
(``node.config_pending()``) or before the leader committed in its term. The new
configuration is in force as soon as it is appended (``ConfigChanged``).
``node.peer_contact_ages()`` (leader) tells how long each voter has been silent:
remove one past a grace period, add a restarted/joining node when it shows up
(it must have been removed first if it lost its disk). A leader that removes
itself steps down (``SteppedDown("removed")``) when the change commits; a removed
node never campaigns.

Snapshots
=========

``node.compact(index, data)`` with ``index <= node.applied_index`` and ``data``
the application's state at exactly ``index``: the log up to it is dropped
(``SnapshotOp`` in ``log_ops``). A follower that needs compacted entries is sent
``InstallSnapshot`` automatically and surfaces it as ``Output.snapshot``. On
restart the wrapper restores the state machine from ``state.snapshot.data``;
committed entries after it are re-delivered as the commit index is re-learned.

Errors
======

``NotLeader`` and ``ConfigChangeRejected`` are answers to the caller (nothing
changed). ``RaftInvariantError`` means the node found its own state impossible
(e.g. asked to truncate a committed entry): stop the process and let it restart
from storage; never keep serving.

``node.campaign()`` starts an election at once (e.g. when an operator wants to
move leadership); a leader or a non-voter ignores it.

Testing
=======

``mabeam.raft.sim`` runs whole clusters on a seeded faulty network with safety
checkers; ``PLANTED_BUGS`` names deliberate bugs (``planted_bug=`` constructor
argument, never set in production) that the simulator must catch.
"""

from .core import PLANTED_BUGS, RaftNode, Role
from .entries import COMMAND, CONFIG, NOOP, HardState, LogEntry, Snapshot
from .log import RaftLog
from .messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    Message,
    SnapshotResponse,
    VoteRequest,
    VoteResponse,
    message_from_dict,
)
from .output import (
    AppendOp,
    BecameLeader,
    ConfigChanged,
    ConfigChangeRejected,
    LeaderChanged,
    NotLeader,
    Output,
    Proposal,
    RaftError,
    RaftInvariantError,
    ReadFailed,
    ReadReady,
    SnapshotOp,
    SteppedDown,
    TruncateOp,
)
from .proposals import COMMITTED, SUPERSEDED, UNKNOWN, Outcome, ProposalTracker
from .storage import MemoryStorage, PersistentState

__all__ = [
    "COMMAND",
    "COMMITTED",
    "CONFIG",
    "NOOP",
    "PLANTED_BUGS",
    "SUPERSEDED",
    "UNKNOWN",
    "AppendEntries",
    "AppendOp",
    "AppendResponse",
    "BecameLeader",
    "ConfigChangeRejected",
    "ConfigChanged",
    "HardState",
    "Heartbeat",
    "HeartbeatResponse",
    "InstallSnapshot",
    "LeaderChanged",
    "LogEntry",
    "MemoryStorage",
    "Message",
    "NotLeader",
    "Outcome",
    "Output",
    "PersistentState",
    "Proposal",
    "ProposalTracker",
    "RaftError",
    "RaftInvariantError",
    "RaftLog",
    "RaftNode",
    "ReadFailed",
    "ReadReady",
    "Role",
    "Snapshot",
    "SnapshotOp",
    "SnapshotResponse",
    "SteppedDown",
    "TruncateOp",
    "VoteRequest",
    "VoteResponse",
    "message_from_dict",
]
