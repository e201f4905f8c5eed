"""ToxiproxyClient: the toxiproxy-python wrapper and the quirks it fixes.

Client ``a`` talks to the server under test (embedded, or ``TOXIPROXY_URL``);
``b`` always to an embedded server of its own, to show two clients stay apart.
"""

from __future__ import annotations

import socket
import threading

import pytest
import toxiproxy.exceptions as tp_exc
from toxiproxy import api as tp_api

from pipeline.toxiproxy import (
    BadRequest,
    Conflict,
    EmbeddedToxiproxy,
    NotFound,
    ProxyExists,
    ToxicExists,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyUnavailable,
)
from pipeline.toxiproxy.testing import EchoServer, connect, recv_exact

SEED = 1


@pytest.fixture(scope="module")
def other_server():
    b = EmbeddedToxiproxy(seed=2).start()
    yield b
    b.stop()


@pytest.fixture
def clients(target, fresh, other_server):
    a, b = ToxiproxyClient(target.url, timeout=5), ToxiproxyClient(other_server.url, timeout=5)
    yield a, b
    for name in b.proxies():
        b.delete_proxy(name)


@pytest.fixture(scope="module")
def echo():
    with EchoServer() as e:
        yield e


def test_per_instance_address_leaves_library_global_alone(clients, echo):
    a, b = clients
    before = (tp_api.APIConsumer.host, tp_api.APIConsumer.port)
    a.create_proxy("only_a", echo.address)
    b.create_proxy("only_b", echo.address)
    assert "only_a" in a.proxies() and "only_b" not in a.proxies()
    assert set(b.proxies()) == {"only_b"}
    assert (tp_api.APIConsumer.host, tp_api.APIConsumer.port) == before


def test_create_get_update_delete(clients, echo):
    c, _ = clients
    p = c.create_proxy("p", echo.address)
    assert p.enabled and p.port != 0 and p.host == "127.0.0.1" and p.toxics == ()
    assert c.get_proxy("p") == p
    with connect(p.port) as s:
        s.sendall(b"hi")
        assert recv_exact(s, 2) == b"hi"
    assert c.disable("p").enabled is False
    assert c.enable("p").enabled is True
    moved = c.update_proxy("p", listen="127.0.0.1:0")
    assert moved.port != p.port
    c.delete_proxy("p")
    with pytest.raises(NotFound):
        c.get_proxy("p")
    with pytest.raises(NotFound):
        c.delete_proxy("p")


def test_conflicts_are_distinguished(clients, echo):
    c, _ = clients
    c.create_proxy("dup", echo.address)
    with pytest.raises(ProxyExists) as e:
        c.create_proxy("dup", echo.address)
    assert isinstance(e.value, Conflict) and isinstance(e.value, tp_exc.ProxyExists)
    assert e.value.status == 409
    c.add_toxic("dup", "latency", latency=1)
    with pytest.raises(ToxicExists) as e2:
        c.add_toxic("dup", "latency", latency=1)
    assert isinstance(e2.value, Conflict) and not isinstance(e2.value, tp_exc.ProxyExists)


def test_toxic_lifecycle_with_patch(clients, echo):
    c, _ = clients
    c.create_proxy("tx", echo.address)
    t = c.add_toxic("tx", "latency", latency=5, jitter=1)
    assert (t.name, t.type, t.stream, t.toxicity) == ("latency_downstream", "latency", "downstream", 1.0)
    assert t.attributes == {"latency": 5, "jitter": 1}
    u = c.update_toxic("tx", "latency_downstream", latency=50)
    assert u.attributes == {"latency": 50, "jitter": 1}
    u = c.update_toxic("tx", "latency_downstream", toxicity=0.25)
    assert u.toxicity == 0.25 and u.attributes["latency"] == 50
    named = c.add_toxic("tx", "limit_data", stream="upstream", name="cap", toxicity=0.5, bytes=10)
    assert [x.name for x in c.toxics("tx")] == ["cap", "latency_downstream"]  # upstream chain first
    assert c.get_toxic("tx", "cap") == named
    assert c.get_proxy("tx").toxics == (named, u)
    c.remove_toxic("tx", "cap")
    with pytest.raises(NotFound):
        c.remove_toxic("tx", "cap")
    c.reset()
    assert c.toxics("tx") == []


def test_bad_request_names_field(clients, echo):
    c, _ = clients
    c.create_proxy("bad", echo.address)
    with pytest.raises(BadRequest) as e:
        c.add_toxic("bad", "latency", latency="slow")
    assert e.value.field == "attributes.latency" and e.value.status == 400
    assert isinstance(e.value, tp_exc.InvalidToxic)
    with pytest.raises(BadRequest) as e:
        c.add_toxic("bad", "latency", stream="sideways")
    assert e.value.field == "stream"
    with pytest.raises(BadRequest) as e:
        c.add_toxic("bad", "latency", toxicity="high")
    assert e.value.field == "toxicity"
    with pytest.raises(BadRequest) as e:
        c.create_proxy("", echo.address)
    assert e.value.field == "name"


def test_populate_and_version(clients, echo):
    c, _ = clients
    assert c.version().startswith("2.")
    made = c.populate(
        [
            {"name": "x1", "upstream": echo.address, "listen": "127.0.0.1:0"},
            {"name": "x2", "upstream": echo.address, "listen": "127.0.0.1:0", "enabled": False},
        ]
    )
    assert {p.name: p.enabled for p in made} == {"x1": True, "x2": False}
    with pytest.raises(BadRequest):
        c.populate([{"name": "x3"}])


def test_unreachable_and_silent_servers_raise_unavailable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(ToxiproxyUnavailable):
        ToxiproxyClient(f"http://127.0.0.1:{dead}", timeout=1).version()

    silent = socket.socket()  # accepts, never answers: only a timeout ends the call
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    held = []
    t = threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True)
    t.start()
    try:
        with pytest.raises(ToxiproxyUnavailable) as e:
            ToxiproxyClient(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3).proxies()
        assert isinstance(e.value, ToxiproxyError)
    finally:
        t.join(5)
        for c in held:
            c.close()
        silent.close()


@pytest.mark.parametrize("name", ["run1:n1->n2", "with space", "pct%41", "q?x#y", "dot.ted"])
def test_names_are_escaped_in_paths(clients, echo, name):
    c, _ = clients
    c.create_proxy(name, echo.address)
    assert c.get_proxy(name).name == name
    c.add_toxic(name, "latency", name=name + "!")
    assert [t.name for t in c.toxics(name)] == [name + "!"]
    c.remove_toxic(name, name + "!")
    c.delete_proxy(name)
    assert name not in c.proxies()


@pytest.mark.embedded_only("Toxiproxy creates such a proxy and then cannot reach it")
def test_a_name_with_a_slash_is_a_bad_request(clients, echo):
    c, _ = clients
    with pytest.raises(BadRequest) as e:
        c.create_proxy("slash/name", echo.address)
    assert e.value.field == "name" and e.value.status == 400
    assert "slash/name" not in c.proxies()


@pytest.mark.parametrize(
    "message, field",
    [
        (
            "bad request body: json: cannot unmarshal string into Go struct field LatencyToxic.attributes.latency"
            " of type int64",
            "attributes.latency",
        ),
        ("bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string", "name"),
        ("bad request body: json: cannot unmarshal array into Go value of type proxy.Proxy", "body"),
        ("bad request body: EOF", "body"),
        ("missing required field: upstream at proxy 2", "upstream"),
    ],
)
def test_field_is_found_in_real_toxiproxy_messages(message, field):
    from pipeline.toxiproxy.client import _field_of

    assert _field_of(message) == field
