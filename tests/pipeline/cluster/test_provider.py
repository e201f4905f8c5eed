"""Port picking for nodes (pipeline/cluster/provider.py)."""

from __future__ import annotations

import socket

from pipeline.cluster.provider import ephemeral_range, free_port


def test_ephemeral_range_is_read_from_the_kernel_file_or_defaults(tmp_path):
    path = tmp_path / "ip_local_port_range"
    path.write_text("40000\t50000\n")
    assert ephemeral_range(str(path)) == (40000, 50000)
    assert ephemeral_range(str(tmp_path / "missing")) == (32768, 60999)
    path.write_text("garbage\n")
    assert ephemeral_range(str(path)) == (32768, 60999)


def test_node_ports_avoid_the_ephemeral_range_are_free_and_never_repeat():
    """A restarted node keeps its port; an outgoing connection's source port
    is drawn from the ephemeral range, so a node port there could be taken
    while the node is down."""
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports)
    if low > 21000:
        assert all(20000 <= p < low for p in ports), ports
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free: raises if not
