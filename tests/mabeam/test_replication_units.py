"""The replication pieces that need no network: storage, modes, auth, peers parsing."""

from __future__ import annotations

import pytest

from mabeam.__main__ import parse_args, parse_peers
from mabeam.raft import AppendOp, HardState, LogEntry, Output, Snapshot, SnapshotOp, TruncateOp
from mabeam.replication import modes
from mabeam.replication.auth import sign, verify
from mabeam.replication.raftlog import remote_error
from mabeam.replication.storage import DiskStorage


def entries(*pairs: tuple[int, int]) -> tuple[LogEntry, ...]:
    return tuple(LogEntry(i, t, "command", {"op": "x", "i": i}) for i, t in pairs)


def test_disk_storage_reloads_term_vote_log_and_snapshot(tmp_path) -> None:
    disk = DiskStorage(tmp_path)
    assert disk.empty
    disk.save(Output(hard_state=HardState(2, "n1"), log_ops=[AppendOp(entries((1, 1), (2, 1), (3, 2)))]))
    disk.save(Output(log_ops=[TruncateOp(3), AppendOp(entries((3, 2), (4, 2)))]))
    disk.close()
    again = DiskStorage(tmp_path)
    state = again.state()
    assert not again.empty
    assert state.hard_state == HardState(2, "n1")
    assert [(e.index, e.term) for e in state.entries] == [(1, 1), (2, 1), (3, 2), (4, 2)]
    again.save(Output(log_ops=[SnapshotOp(Snapshot(3, 2, ("n1", "n2"), b"state-at-3"))]))
    again.close()
    third = DiskStorage(tmp_path).state()
    assert third.snapshot == Snapshot(3, 2, ("n1", "n2"), b"state-at-3")
    assert [e.index for e in third.entries] == [4]
    assert (tmp_path / "log.jsonl").read_bytes().count(b"\n") == 1  # rewritten after the snapshot


def test_a_torn_last_line_is_ignored(tmp_path) -> None:
    disk = DiskStorage(tmp_path)
    disk.save(Output(log_ops=[AppendOp(entries((1, 1)))]))
    disk.close()
    with open(tmp_path / "log.jsonl", "ab") as f:
        f.write(b'{"append": [{"index": 2, "te')
    assert [e.index for e in DiskStorage(tmp_path).state().entries] == [1]


@pytest.mark.parametrize(
    "quorum, voters, reach, expected",
    [
        (True, ["n1", "n2", "n3"], set(), "normal"),
        (False, ["n1", "n2", "n3"], set(), "partition_detected"),
        (False, ["n1", "n2", "n3"], {"n2"}, "partition_detected"),  # 2 of 3 but no leader yet
        (False, ["n1", "n2", "n3", "n4"], {"n2"}, "safe_mode"),
        (False, ["n1", "n2", "n3", "n4"], set(), "partition_detected"),
        (False, ["n1", "n2"], set(), "safe_mode"),
        (False, [], {"n2"}, "partition_detected"),
        (True, ["n2", "n3"], {"n2", "n3"}, "partition_detected"),  # removed: a leader talks to us, we are no member
    ],
)
def test_mode_rule(quorum, voters, reach, expected) -> None:
    assert modes.mode(quorum, "n1", voters, reach) == expected


def test_reachability_window() -> None:
    assert modes.reachable([{"a": 10.0, "b": 8.0}, {"c": 9.5}], 1.0, now=10.4) == {"a", "c"}


def test_signature_binds_secret_method_path_and_body() -> None:
    good = sign(b"s", "POST", "/raft/message", b"{}")
    assert verify(b"s", "POST", "/raft/message", b"{}", good)
    assert not verify(b"other", "POST", "/raft/message", b"{}", good)
    assert not verify(b"s", "POST", "/raft/propose", b"{}", good)
    assert not verify(b"s", "POST", "/raft/message", b"{ }", good)
    assert not verify(b"s", "POST", "/raft/message", b"{}", None)


def test_remote_errors_keep_status_code_field_and_extras() -> None:
    exc = remote_error(409, {"error": "closed", "detail": "auction closed", "field": "id", "winner": "a"})
    assert exc.status == 409
    assert exc.body() == {"error": "closed", "detail": "auction closed", "field": "id", "winner": "a"}


def test_peers_are_parsed_and_checked() -> None:
    assert parse_peers("n2=127.0.0.1:1,n3=127.0.0.1:2") == {"n2": "127.0.0.1:1", "n3": "127.0.0.1:2"}
    assert parse_peers("") == {}
    for bad in ("n2", "n2=host", "n2=:1", "=h:1", "n2=h:x", "n2=h:1,n2=h:2"):
        with pytest.raises(ValueError):
            parse_peers(bad)
    with pytest.raises(SystemExit):
        parse_args(["--node-id", "n1", "--port", "0", "--peers", "n1=127.0.0.1:5"])


def test_a_broken_raft_invariant_stops_the_node(monkeypatch):
    """An impossible Raft state must end the process (exit 70), never be logged
    and served on: the driver's catch-all would otherwise swallow it."""
    from mabeam.raft import RaftInvariantError
    from mabeam.replication import raftlog

    def corrupt():
        raise RaftInvariantError("log entry 3 has term 5 after term 7")

    def fake_exit(code):
        raise SystemExit(code)

    monkeypatch.setattr(raftlog.os, "_exit", fake_exit)
    monkeypatch.setattr(raftlog.logging, "shutdown", lambda: None)
    node = type("N", (), {"node_id": "n1"})()
    with pytest.raises(SystemExit) as stopped:
        raftlog.ReplicatedLog._core(node, corrupt)
    assert stopped.value.code == raftlog.EXIT_INVARIANT_BROKEN == 70
    assert raftlog.ReplicatedLog._core(node, lambda x: x + 1, 1) == 2
