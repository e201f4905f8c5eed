"""The link layer on a real (embedded) Toxiproxy and real sockets: probes tell
flowing from refused/hanging/closed links, proxies are named per run and
direction, faults are tagged so they come off one by one."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from pipeline.cluster.links import LinkTable, probe_link, proxy_name
from pipeline.cluster.provider import Address
from pipeline.cluster.topology import Link
from pipeline.testing.pingnode import parse_peers
from pipeline.toxiproxy import ToxiproxyClient
from pipeline.toxiproxy.embedded import EmbeddedToxiproxy


@pytest.fixture(scope="module")
def toxiproxy():
    server = EmbeddedToxiproxy().start()
    yield ToxiproxyClient(server.url)
    server.stop()


@pytest.fixture
def http_server():
    """A one-thread HTTP/1.0 answerer on a free port."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield Address("127.0.0.1", srv.server_address[1])
    srv.shutdown()
    srv.server_close()


def test_probe_outcomes_on_real_sockets(http_server):
    assert probe_link(http_server, "/health", 1.0).outcome == "flows"
    assert probe_link(http_server, None, 1.0).outcome == "connected"
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert probe_link(Address("127.0.0.1", port), "/health", 1.0).outcome == "refused"
    with socket.socket() as silent:  # accepts (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        result = probe_link(Address("127.0.0.1", silent.getsockname()[1]), "/health", 0.2)
        assert result.outcome == "timeout" and result.elapsed >= 0.2


def test_link_table_creates_named_proxies_and_peers(toxiproxy, http_server):
    table = LinkTable(toxiproxy, "run-x")
    links = [Link("n1", "n2"), Link("n2", "n1")]
    upstreams = {"n1": http_server, "n2": http_server}
    table.create(links, upstreams, client_nodes=["n1"])
    try:
        names = set(toxiproxy.proxies())
        assert {"run-x:n1->n2", "run-x:n2->n1", "run-x:client->n1"} <= names
        assert proxy_name("run-x", "n1", "n2") == "run-x:n1->n2"
        peers = table.peers_of("n1")
        assert list(peers) == ["n2"] and peers["n2"].port == table.proxy(Link("n1", "n2")).listen.port
        assert table.links == links  # client proxies are not peer links
        assert probe_link(peers["n2"], "/", 1.0).flows
        # the text a node gets parses back to the same addresses
        text = ",".join(f"{k}={v}" for k, v in peers.items())
        assert parse_peers(text) == {"n2": ("127.0.0.1", peers["n2"].port)}
    finally:
        assert table.destroy() == []
    assert not any(n.startswith("run-x:") for n in toxiproxy.proxies())


def test_tagged_faults_come_off_one_by_one(toxiproxy, http_server):
    table = LinkTable(toxiproxy, "run-y")
    link = Link("a", "b")
    table.create([link], {"b": http_server})
    try:
        table.add_toxic(link, "f1", "latency", stream="upstream", latency=1)
        table.add_toxic(link, "f2", "timeout", stream="upstream", suffix="drop", timeout=0)
        assert table.server_view(link) == (True, ["f1-latency-up", "f2-drop-up"])
        assert not table.only_faulted_by(link, "f1")
        table.remove_toxics(link, "f2")
        assert table.server_view(link) == (True, ["f1-latency-up"]) and table.only_faulted_by(link, "f1")
        table.disable(link, "f3")
        table.disable(link, "f4")
        table.enable(link, "f3")
        assert table.server_view(link)[0] is False  # f4 still holds it down
        table.enable(link, "f4")
        assert table.server_view(link)[0] is True
        table.heal_all()
        assert table.server_view(link) == (True, [])
    finally:
        table.destroy()


def test_set_upstream_repoints_every_proxy_towards_a_node(toxiproxy, http_server):
    table = LinkTable(toxiproxy, "run-z")
    table.create(
        [Link("a", "b"), Link("c", "b"), Link("b", "a")], {"a": Address("127.0.0.1", 1), "b": Address("127.0.0.1", 2)}
    )
    try:
        table.set_upstream("b", http_server)
        assert toxiproxy.get_proxy("run-z:a->b").upstream == str(http_server)
        assert toxiproxy.get_proxy("run-z:c->b").upstream == str(http_server)
        assert toxiproxy.get_proxy("run-z:b->a").upstream == "127.0.0.1:1"
        assert probe_link(table.proxy(Link("a", "b")).listen, "/", 1.0).flows
    finally:
        table.destroy()


def test_pingnode_rejects_malformed_peers():
    with pytest.raises(ValueError, match="expected name=host:port"):
        parse_peers("n2=127.0.0.1")
    assert parse_peers("") == {}
    assert sys.modules["pipeline.testing.pingnode"].parse_peers("a=h:1, b=h:2") == {"a": ("h", 1), "b": ("h", 2)}
