"""Cluster mode: the Raft core (``mabeam.raft``) wired to sockets, disk and the node.

``raftlog.ReplicatedLog`` is the ``Log`` a node uses when started with peers;
``transport`` carries messages between nodes, ``storage`` keeps the Raft state
in the data dir, ``modes`` turns quorum and reachability into the reported
mode, ``membership`` removes silent members and adds returning ones.
"""

from .raftlog import ClusterOptions, ReplicatedLog

__all__ = ["ClusterOptions", "ReplicatedLog"]
