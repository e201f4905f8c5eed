"""Toxic behaviour over real sockets: client -> proxy -> echo server.

The proxy is the embedded server, or ``TOXIPROXY_URL`` when set (``conftest.py``).
Timing assertions are lower bounds only (a toxic must delay at least as much as
configured); waits are conditions with deadlines.
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from pipeline.toxiproxy import EmbeddedToxiproxy, ToxiproxyClient
from pipeline.toxiproxy.testing import (
    EchoServer,
    ReplyOnEofServer,
    closed_by_peer,
    connect,
    recv_exact,
    recv_until_eof,
    wait_for,
)

SEED = 4242


@pytest.fixture(scope="module")
def echo():
    with EchoServer() as e:
        yield e


@pytest.fixture
def client(target, fresh):
    return target.client()


@pytest.fixture
def proxy(client, echo):
    """Port of a fresh proxy in front of the echo server."""
    return client.create_proxy("echo", echo.address).port


def rtt(sock: socket.socket, payload: bytes = b"x" * 64) -> float:
    t0 = time.monotonic()
    sock.sendall(payload)
    assert recv_exact(sock, len(payload)) == payload
    return time.monotonic() - t0


def test_fast_path_integrity_and_half_close(proxy):
    data = os.urandom(4 << 20)
    with connect(proxy) as s:
        s.sendall(data[:1000])
        assert recv_exact(s, 1000) == data[:1000]
        s.sendall(data)
        assert recv_exact(s, len(data)) == data
        s.shutdown(socket.SHUT_WR)  # our FIN: the proxy closes both sides
        assert closed_by_peer(s) == "eof"


@pytest.mark.parametrize("toxic", [None, "latency"])
def test_client_half_close_closes_both_sides_and_the_reply_is_lost(client, toxic):
    """Toxiproxy never half-closes: the client's FIN makes it close the upstream
    socket, and then the client's, so a reply sent after the FIN never arrives."""
    with ReplyOnEofServer(b"too late") as server:
        port = client.create_proxy("halfclose", server.address).port
        if toxic:
            client.add_toxic("halfclose", toxic, stream="upstream", latency=50)
        with connect(port) as s:
            s.sendall(b"request")
            s.shutdown(socket.SHUT_WR)
            data, _ = recv_until_eof(s)
        assert data == b""
        wait_for(lambda: server.requests, message="the request reached the server")
        assert server.requests == [b"request"]


def test_server_close_closes_the_client_after_the_data(client):
    """The other way round: the server's FIN arrives after its data, and the
    client's side is closed too (writing more gets nowhere)."""
    with EchoServer(close_after_reply=True) as closer:
        port = client.create_proxy("serverclose", closer.address).port
        with connect(port) as s:
            s.sendall(b"once")
            data, _ = recv_until_eof(s)
        assert data == b"once"


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_is_a_lower_bound(client, proxy, stream):
    client.add_toxic("echo", "latency", stream=stream, latency=150)
    with connect(proxy) as s:
        for _ in range(3):
            assert rtt(s) >= 0.150


def test_latency_both_ways_and_jitter(client, proxy):
    client.add_toxic("echo", "latency", stream="upstream", latency=100, jitter=40)
    client.add_toxic("echo", "latency", stream="downstream", latency=100, jitter=40)
    with connect(proxy) as s:
        for _ in range(4):
            assert rtt(s) >= 2 * 0.060


def test_toxics_change_live_connections(client, proxy):
    with connect(proxy) as s:
        rtt(s)  # connection is up on the fast path
        client.add_toxic("echo", "latency", latency=100)
        assert rtt(s) >= 0.100
        client.update_toxic("echo", "latency_downstream", latency=250)
        assert rtt(s) >= 0.250
        # Data held by a toxic is released, not dropped, when the toxic goes away.
        client.update_toxic("echo", "latency_downstream", latency=600_000)
        s.sendall(b"held")
        client.remove_toxic("echo", "latency_downstream")
        assert recv_exact(s, 4, timeout=10) == b"held"
        assert rtt(s, b"after") >= 0


def test_order_survives_toxics_coming_and_going(client, proxy):
    def batch(k):
        return b"".join(b"%06d;" % (k * 100 + i) for i in range(100))

    expected = b""
    with connect(proxy) as s:
        steps = [
            lambda: client.add_toxic("echo", "latency", latency=30),
            lambda: client.add_toxic("echo", "slicer", average_size=7, size_variation=3),
            lambda: client.update_toxic("echo", "latency_downstream", latency=5),
            lambda: client.remove_toxic("echo", "latency_downstream"),
            lambda: client.add_toxic("echo", "latency", stream="upstream", latency=20),
            lambda: client.remove_toxic("echo", "slicer_downstream"),
            lambda: client.remove_toxic("echo", "latency_upstream"),
        ]
        for k, step in enumerate(steps):
            s.sendall(batch(k))
            expected += batch(k)
            step()
        s.sendall(batch(99))
        expected += batch(99)
        assert recv_exact(s, len(expected)) == expected


def test_bandwidth_lower_bound(client, proxy):
    client.add_toxic("echo", "bandwidth", rate=100)  # KB/s, KB = 1000 bytes
    data = os.urandom(50_000)
    with connect(proxy) as s:
        t0 = time.monotonic()
        s.sendall(data)
        assert recv_exact(s, len(data)) == data
        assert time.monotonic() - t0 >= 50_000 / 100_000


def test_slicer_splits_a_write_into_several_reads(client, proxy):
    client.add_toxic("echo", "slicer", average_size=100, size_variation=20, delay=10_000)
    data = os.urandom(1000)
    with connect(proxy) as s:
        s.sendall(data)
        got, reads = bytearray(), 0
        s.settimeout(10)
        while len(got) < len(data):
            chunk = s.recv(65536)
            assert chunk, "EOF before all data"
            got += chunk
            reads += 1
    assert bytes(got) == data
    assert reads >= 3


def test_timeout_zero_blackholes_until_removed(client, proxy, echo):
    with connect(proxy) as s:
        rtt(s)
        client.add_toxic("echo", "timeout", timeout=0)
        sent_before = echo.sent
        s.sendall(b"lost")
        wait_for(lambda: echo.sent >= sent_before + 4, message="echo server replied")
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(10)  # the reply was swallowed
        client.remove_toxic("echo", "timeout_downstream")
        # Toxiproxy closes connections a removed timeout blackholed: their stream has a hole.
        assert closed_by_peer(s) in ("eof", "reset")
    with connect(proxy) as s2:  # and data flows again
        assert rtt(s2, b"flows") >= 0


def test_timeout_upstream_never_reaches_server(client, proxy, echo):
    client.add_toxic("echo", "timeout", stream="upstream", timeout=0)
    with connect(proxy) as s:
        before = echo.received
        s.sendall(b"x" * 100)
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(10)
        assert echo.received == before


def test_timeout_closes_after_delay(client, proxy):
    client.add_toxic("echo", "timeout", timeout=200)
    # The toxic's clock starts when the proxy accepts, which can be before
    # connect() returns here (the proxy runs on a thread of this process and
    # may take the GIL first), so the lower bound is measured from before connect.
    t0 = time.monotonic()
    with connect(proxy) as s:
        assert closed_by_peer(s) == "eof"
        assert time.monotonic() - t0 >= 0.200


@pytest.mark.parametrize("delay_ms", [0, 100])
def test_reset_peer_resets(client, proxy, delay_ms):
    client.add_toxic("echo", "reset_peer", timeout=delay_ms)
    with connect(proxy) as s:
        t0 = time.monotonic()
        s.sendall(b"trigger")
        s.settimeout(5)
        with pytest.raises(ConnectionResetError):
            s.recv(10)
        assert time.monotonic() - t0 >= delay_ms / 1000


def test_limit_data_downstream_closes_after_n_bytes(client, proxy):
    client.add_toxic("echo", "limit_data", bytes=10)
    with connect(proxy) as s:
        s.sendall(b"0123456789abcdefghij" * 5)
        data, _ = recv_until_eof(s)
    assert data == b"0123456789"


def test_limit_data_upstream_caps_what_server_gets(client, proxy, echo):
    client.add_toxic("echo", "limit_data", stream="upstream", bytes=25)
    before = echo.received
    with connect(proxy) as s:
        s.sendall(b"y" * 100)
        # The whole connection closes once 25 bytes went up (as in Toxiproxy,
        # where the reply racing that close is usually lost).
        assert closed_by_peer(s) in ("eof", "reset")
    wait_for(lambda: echo.received - before >= 25, message="25 bytes at the server")
    assert echo.received - before == 25


def test_slow_close_delays_the_close(client):
    with EchoServer(close_after_reply=True) as closer:
        port = client.create_proxy("closer", closer.address).port
        client.add_toxic("closer", "slow_close", delay=300)
        with connect(port) as s:
            t0 = time.monotonic()
            s.sendall(b"bye")
            assert recv_exact(s, 3) == b"bye"
            assert closed_by_peer(s) == "eof"
            assert time.monotonic() - t0 >= 0.300


def test_disable_closes_live_connections_and_refuses_new(client, proxy):
    with connect(proxy) as s:
        rtt(s)
        client.disable("echo")
        assert closed_by_peer(s) in ("eof", "reset")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy), timeout=2)
    client.enable("echo")
    with connect(proxy) as s:
        assert rtt(s) >= 0


def test_delete_closes_live_connections(client, proxy):
    with connect(proxy) as s:
        rtt(s)
        client.delete_proxy("echo")
        assert closed_by_peer(s) in ("eof", "reset")


def test_toxicity_zero_never_applies(client, proxy):
    client.add_toxic("echo", "timeout", stream="upstream", timeout=0, toxicity=0)
    client.add_toxic("echo", "timeout", stream="downstream", timeout=0, toxicity=0)
    for i in range(20):
        with connect(proxy) as s:
            assert rtt(s, b"conn %d" % i) >= 0


def _outcomes(url: str, echo: EchoServer, n: int) -> list[bool]:
    """Per connection: was a toxicity-0.5 limit_data(1 byte) applied?"""
    c = ToxiproxyClient(url)
    port = c.create_proxy("dice", echo.address).port
    c.add_toxic("dice", "limit_data", bytes=1, toxicity=0.5)
    out = []
    for _ in range(n):
        with connect(port) as s:
            s.sendall(b"abcd")
            s.settimeout(10)
            data = b""
            while len(data) < 4:  # poisoned: "a" then the close; else the whole echo
                chunk = s.recv(4 - len(data))
                if not chunk:
                    break
                data += chunk
            assert data in (b"a", b"abcd")
            out.append(data == b"a")
    c.delete_proxy("dice")
    return out


@pytest.mark.embedded_only("compares two embedded servers started with the same seed")
def test_toxicity_is_per_connection_and_seeded(echo):
    with EmbeddedToxiproxy(seed=99) as a, EmbeddedToxiproxy(seed=99) as b:
        first = _outcomes(a.url, echo, 30)
        second = _outcomes(b.url, echo, 30)
    assert any(first) and not all(first)  # some connections poisoned, some not
    assert first == second  # same seed, same connection order: same decisions


def test_chain_under_load_keeps_every_byte(client, proxy):
    client.add_toxic("echo", "latency", latency=20)
    client.add_toxic("echo", "slicer", average_size=1500, size_variation=500)
    client.add_toxic("echo", "bandwidth", stream="upstream", rate=20_000)
    data = os.urandom(1 << 20)
    with connect(proxy) as s:
        s.sendall(data)
        assert recv_exact(s, len(data)) == data


@pytest.mark.embedded_only("reads the embedded server's table of live connections")
@pytest.mark.parametrize("toxic", [None, "latency"])
def test_closed_connections_are_forgotten(target, client, proxy, toxic):
    if toxic:
        client.add_toxic("echo", toxic, latency=1)
    live = target.embedded.server.proxies["echo"].connections
    socks = [connect(proxy) for _ in range(30)]
    for s in socks:
        rtt(s)
    wait_for(lambda: len(live) == 30, message="30 live connections")
    for s in socks[:15]:
        s.shutdown(socket.SHUT_WR)  # polite: FIN, the echo server closes, FIN back
        assert closed_by_peer(s) == "eof"
        s.close()
    for s in socks[15:]:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # rude: RST
    wait_for(lambda: len(live) == 0, message="proxy dropped every closed connection")


def test_unreachable_upstream_closes_the_client(client):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()[1]
    port = client.create_proxy("nowhere", f"127.0.0.1:{dead}").port
    with connect(port) as s:
        assert closed_by_peer(s) in ("eof", "reset")


def test_proxies_are_independent(client, echo, proxy):
    """A toxic on one proxy leaves another proxy to the same upstream untouched."""
    other = client.create_proxy("other", echo.address).port
    client.add_toxic("echo", "timeout", timeout=0)
    with connect(other) as s:
        assert rtt(s, b"free") >= 0


def test_negative_delays_are_no_delay(client, proxy):
    client.add_toxic("echo", "latency", latency=-10_000, jitter=-5)
    client.add_toxic("echo", "slow_close", stream="upstream", delay=-1)
    with connect(proxy) as s:
        assert rtt(s) < 5.0  # not held: the ten seconds were not taken as anything


def test_toxicity_above_one_always_applies_below_zero_never(client, proxy):
    client.add_toxic("echo", "limit_data", name="always", bytes=1, toxicity=1.5)
    client.add_toxic("echo", "timeout", stream="upstream", name="never", timeout=0, toxicity=-0.5)
    for _ in range(5):
        with connect(proxy) as s:
            s.sendall(b"abcd")
            data, _ = recv_until_eof(s)
            assert data == b"a"


def test_noop_toxic_passes_everything(client, proxy):
    client.add_toxic("echo", "noop")
    data = os.urandom(100_000)
    with connect(proxy) as s:
        s.sendall(data)
        assert recv_exact(s, len(data)) == data


@pytest.mark.embedded_only("reads which live links a toxic applies to")
def test_every_update_rolls_toxicity_again(target, client, proxy):
    """Toxiproxy restarts a toxic on every update, and with it the toxicity roll."""
    client.add_toxic("echo", "latency", name="dice", latency=1, toxicity=0.5)
    with connect(proxy) as s:
        rtt(s)
        (conn,) = target.embedded.server.proxies["echo"].connections
        seen = set()
        for i in range(40):
            client.update_toxic("echo", "dice", latency=1 + i % 2)
            seen.add(conn.down.entries["dice"].active)
        assert seen == {True, False}
        assert rtt(s) >= 0
