"""API compatibility of the embedded Toxiproxy: status codes, JSON shapes, defaults.

Driven three ways: raw HTTP (exact codes and bodies), raw toxiproxy-python
(the library as published, global host/port), and our ToxiproxyClient.
"""

from __future__ import annotations

import socket

import pytest
import requests
import toxiproxy
from toxiproxy import api as tp_api

from pipeline.toxiproxy import EmbeddedToxiproxy
from pipeline.toxiproxy.testing import EchoServer, connect, recv_exact, wait_for

PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}
TOXIC_KEYS = {"name", "type", "stream", "toxicity", "attributes"}


@pytest.fixture(scope="module")
def server():
    tp = EmbeddedToxiproxy(seed=1234).start()
    yield tp
    tp.stop()


@pytest.fixture
def url(server):
    yield server.url
    for name in list(requests.get(server.url + "/proxies", timeout=5).json()):
        requests.delete(f"{server.url}/proxies/{name}", timeout=5)


@pytest.fixture(scope="module")
def echo():
    with EchoServer() as e:
        yield e


def http(method, url, **kw):
    kw.setdefault("timeout", 5)
    return requests.request(method, url, **kw)


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def echoes(port: int, payload: bytes = b"ping") -> bool:
    with connect(port) as s:
        s.sendall(payload)
        return recv_exact(s, len(payload)) == payload


def test_version_is_json(url):
    r = http("GET", url + "/version")
    assert r.status_code == 200
    assert r.json()["version"].startswith("2.")


def test_create_proxy_201_shape_and_real_port(url, echo):
    r = http("POST", url + "/proxies", json={"name": "p", "upstream": echo.address, "listen": "127.0.0.1:0"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == PROXY_KEYS
    assert body["enabled"] is True and body["toxics"] == [] and body["upstream"] == echo.address
    assert body["listen"].startswith("127.0.0.1:") and port_of(body["listen"]) != 0
    assert echoes(port_of(body["listen"]))
    assert http("GET", url + "/proxies/p").json() == body
    assert http("GET", url + "/proxies").json() == {"p": body}


def test_create_defaults_listen_and_enabled_false(url, echo):
    r = http("POST", url + "/proxies", json={"name": "d", "upstream": echo.address, "enabled": False})
    assert r.status_code == 201
    assert r.json()["enabled"] is False
    assert r.json()["listen"] == "127.0.0.1:0"  # not bound until enabled


def test_duplicate_proxy_409(url, echo):
    body = {"name": "dup", "upstream": echo.address}
    assert http("POST", url + "/proxies", json=body).status_code == 201
    r = http("POST", url + "/proxies", json=body)
    assert r.status_code == 409
    assert r.json() == {"error": "proxy already exists", "status": 409}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"upstream": "127.0.0.1:1"}, "name"),
        ({"name": "x"}, "upstream"),
        ({"name": "x", "upstream": "nohost"}, "upstream"),
        ({"name": "x", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:99999"}, "listen"),
        ({"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_proxy_body_400_names_field(url, body, field):
    r = http("POST", url + "/proxies", json=body)
    assert r.status_code == 400
    data = r.json()
    assert data["status"] == 400 and field in data["error"]


def test_malformed_json_400(url):
    r = http("POST", url + "/proxies", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("bad request body")


def test_unknown_proxy_404(url):
    for method, path in [
        ("GET", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
    ]:
        r = http(method, url + path, json={"type": "latency"} if method == "POST" else None)
        assert r.status_code == 404, path
        assert r.json() == {"error": "proxy not found", "status": 404}


def test_toxic_create_200_defaults_and_shape(url, echo):
    http("POST", url + "/proxies", json={"name": "t", "upstream": echo.address})
    r = http("POST", url + "/proxies/t/toxics", json={"type": "latency", "attributes": {"latency": 10}})
    assert r.status_code == 200
    toxic = r.json()
    assert set(toxic) == TOXIC_KEYS
    assert toxic["name"] == "latency_downstream"
    assert toxic["stream"] == "downstream" and toxic["toxicity"] == 1.0
    assert toxic["attributes"] == {"latency": 10, "jitter": 0}
    assert http("GET", url + "/proxies/t/toxics").json() == [toxic]
    assert http("GET", url + "/proxies/t/toxics/latency_downstream").json() == toxic
    assert http("GET", url + "/proxies/t").json()["toxics"] == [toxic]
    up = http(
        "POST",
        url + "/proxies/t/toxics",
        json={"type": "slicer", "stream": "upstream", "attributes": {"average_size": 4}},
    ).json()
    assert up["name"] == "slicer_upstream"
    assert up["attributes"] == {"average_size": 4, "size_variation": 0, "delay": 0}


@pytest.mark.parametrize(
    "body, status, needle",
    [
        ({"type": "nope"}, 400, "type"),
        ({}, 400, "type"),
        ({"type": "latency", "stream": "sideways"}, 400, "stream"),
        ({"type": "latency", "toxicity": 1.5}, 400, "toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, 400, "latency"),
        ({"type": "latency", "attributes": {"latency": "slow"}}, 400, "latency"),
        ({"type": "bandwidth", "attributes": {"rate": 1.5}}, 400, "rate"),
        ({"type": "slicer", "attributes": {"average_size": 0}}, 400, "average_size"),
        ({"type": "latency", "attributes": []}, 400, "attributes"),
    ],
)
def test_bad_toxic_400_names_field(url, echo, body, status, needle):
    http("POST", url + "/proxies", json={"name": "bt", "upstream": echo.address})
    r = http("POST", url + "/proxies/bt/toxics", json=body)
    assert r.status_code == status
    assert r.json()["status"] == status and needle in r.json()["error"]
    assert http("GET", url + "/proxies/bt/toxics").json() == []


def test_duplicate_toxic_409_and_all_types_accepted(url, echo):
    http("POST", url + "/proxies", json={"name": "ty", "upstream": echo.address})
    for t in ["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "limit_data"]:
        assert http("POST", url + "/proxies/ty/toxics", json={"type": t, "toxicity": 0}).status_code == 200
    r = http("POST", url + "/proxies/ty/toxics", json={"type": "latency", "toxicity": 0})
    assert r.status_code == 409
    assert r.json() == {"error": "toxic already exists", "status": 409}


def test_toxic_update_patch_and_post_partial(url, echo):
    http("POST", url + "/proxies", json={"name": "u", "upstream": echo.address})
    http(
        "POST",
        url + "/proxies/u/toxics",
        json={"type": "latency", "name": "lat", "attributes": {"latency": 10, "jitter": 3}},
    )
    r = http("PATCH", url + "/proxies/u/toxics/lat", json={"attributes": {"latency": 20}})
    assert r.status_code == 200
    assert r.json()["attributes"] == {"latency": 20, "jitter": 3}
    r = http("POST", url + "/proxies/u/toxics/lat", json={"toxicity": 0.5})
    assert r.status_code == 200
    assert r.json()["toxicity"] == 0.5 and r.json()["attributes"]["latency"] == 20
    r = http("PATCH", url + "/proxies/u/toxics/lat", json={"attributes": {"jitter": -2}})
    assert r.status_code == 400 and "jitter" in r.json()["error"]
    assert http("PATCH", url + "/proxies/u/toxics/none", json={}).json() == {"error": "toxic not found", "status": 404}


def test_toxic_delete_204_then_404(url, echo):
    http("POST", url + "/proxies", json={"name": "del", "upstream": echo.address})
    http("POST", url + "/proxies/del/toxics", json={"type": "latency"})
    r = http("DELETE", url + "/proxies/del/toxics/latency_downstream")
    assert r.status_code == 204 and r.content == b""
    r = http("DELETE", url + "/proxies/del/toxics/latency_downstream")
    assert r.status_code == 404 and r.json()["error"] == "toxic not found"


def test_disable_enable_same_port(url, echo):
    p = http("POST", url + "/proxies", json={"name": "en", "upstream": echo.address}).json()
    port = port_of(p["listen"])
    r = http("PATCH", url + "/proxies/en", json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert refused(port)
    r = http("POST", url + "/proxies/en", json={"enabled": True})
    assert r.status_code == 200 and r.json()["enabled"] is True and r.json()["listen"] == p["listen"]
    assert echoes(port)


def test_update_listen_and_upstream_restart(url, echo):
    p = http("POST", url + "/proxies", json={"name": "mv", "upstream": "127.0.0.1:1"}).json()
    old = port_of(p["listen"])
    r = http("PATCH", url + "/proxies/mv", json={"listen": "127.0.0.1:0", "upstream": echo.address})
    assert r.status_code == 200
    new = port_of(r.json()["listen"])
    assert new != old and r.json()["upstream"] == echo.address
    assert refused(old)
    assert echoes(new)


def test_listen_port_in_use_is_an_error(url, echo):
    p = http("POST", url + "/proxies", json={"name": "a", "upstream": echo.address}).json()
    r = http("POST", url + "/proxies", json={"name": "b", "upstream": echo.address, "listen": p["listen"]})
    assert r.status_code == 500 and "bind" in r.json()["error"]
    assert "b" not in http("GET", url + "/proxies").json()


def test_delete_proxy_204_closes_port(url, echo):
    p = http("POST", url + "/proxies", json={"name": "gone", "upstream": echo.address}).json()
    r = http("DELETE", url + "/proxies/gone")
    assert r.status_code == 204
    assert refused(port_of(p["listen"]))
    assert http("GET", url + "/proxies/gone").status_code == 404


def test_reset_enables_and_clears(url, echo):
    p = http("POST", url + "/proxies", json={"name": "r", "upstream": echo.address}).json()
    http("POST", url + "/proxies/r/toxics", json={"type": "timeout"})
    http("PATCH", url + "/proxies/r", json={"enabled": False})
    r = http("POST", url + "/reset")
    assert r.status_code == 204
    after = http("GET", url + "/proxies/r").json()
    assert after["enabled"] is True and after["toxics"] == [] and after["listen"] == p["listen"]
    assert echoes(port_of(p["listen"]))


def test_populate_create_keep_replace(url, echo):
    body = [
        {"name": "p1", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "p2", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0", "enabled": False},
    ]
    r = http("POST", url + "/populate", json=body)
    assert r.status_code == 201
    got = {p["name"]: p for p in r.json()["proxies"]}
    assert set(got) == {"p1", "p2"} and got["p2"]["enabled"] is False
    assert all(set(p) == PROXY_KEYS for p in got.values())
    # Same listen and upstream: kept as is (same port); changed upstream: replaced.
    again = [
        {"name": "p1", "upstream": echo.address, "listen": got["p1"]["listen"]},
        {"name": "p2", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ]
    r = http("POST", url + "/populate", json=again)
    assert r.status_code == 201
    got2 = {p["name"]: p for p in r.json()["proxies"]}
    assert got2["p1"]["listen"] == got["p1"]["listen"]
    assert got2["p2"]["upstream"] == echo.address and got2["p2"]["enabled"] is True
    assert echoes(port_of(got2["p2"]["listen"]))


def test_populate_validates_everything_first(url, echo):
    r = http("POST", url + "/populate", json=[{"name": "ok", "upstream": echo.address}, {"name": "bad"}])
    assert r.status_code == 400 and "upstream" in r.json()["error"]
    assert http("GET", url + "/proxies").json() == {}
    assert http("POST", url + "/populate", json={"name": "x"}).status_code == 400


def test_browsers_refused_and_unknown_routes(url):
    assert http("GET", url + "/proxies", headers={"User-Agent": "Mozilla/5.0"}).status_code == 403
    r = http("GET", url + "/nothing")
    assert r.status_code == 404 and r.json()["status"] == 404
    assert http("PUT", url + "/proxies").status_code == 405


# ------------------------------------------------------------- toxiproxy-python, raw
@pytest.fixture
def library(url, monkeypatch):
    """The published library, pointed at our server through its global host/port."""
    host, port = url.removeprefix("http://").split(":")
    monkeypatch.setattr(tp_api.APIConsumer, "host", host)
    monkeypatch.setattr(tp_api.APIConsumer, "port", int(port))
    return toxiproxy.Toxiproxy()


def test_raw_library_roundtrip(library, echo):
    assert library.running()
    assert b"2." in library.version()
    proxy = library.create(upstream=echo.address, name="lib")
    assert proxy.name == "lib" and proxy.enabled is True and port_of(proxy.listen) != 0
    assert echoes(port_of(proxy.listen))
    with pytest.raises(toxiproxy.server.ProxyExists):
        library.create(upstream=echo.address, name="lib")
    assert set(library.proxies()) == {"lib"}
    proxy.add_toxic(type="latency", attributes={"latency": 1})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", toxicity=0.5, attributes={"rate": 100})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    assert toxics["bw"].stream == "upstream" and toxics["bw"].toxicity == 0.5
    assert toxics["bw"].attributes == {"rate": 100}
    assert proxy.destroy_toxic("bw") is True
    assert set(proxy.toxics()) == {"latency_downstream"}
    with proxy.down():
        assert library.get_proxy("lib").enabled is False
        assert refused(port_of(proxy.listen))
    assert library.get_proxy("lib").enabled is True
    assert library.reset() is True
    assert proxy.toxics() == {}
    assert proxy.destroy() is True
    assert library.get_proxy("lib") is None


def test_raw_library_populate_and_errors(library, echo):
    made = library.populate([{"name": "pop", "upstream": echo.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in made] == ["pop"]
    proxy = library.get_proxy("pop")
    from toxiproxy.exceptions import InvalidToxic, NotFound

    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="wat")
    library.destroy(proxy)
    with pytest.raises(NotFound):
        proxy.destroy()
    library.destroy_all()
    assert library.proxies() == {}


def test_many_concurrent_connections(url, echo):
    p = http("POST", url + "/proxies", json={"name": "many", "upstream": echo.address}).json()
    port = port_of(p["listen"])
    socks = [connect(port) for _ in range(200)]
    try:
        for i, s in enumerate(socks):
            s.sendall(b"%05d" % i)
        for i, s in enumerate(socks):
            assert recv_exact(s, 5) == b"%05d" % i
    finally:
        for s in socks:
            s.close()
    wait_for(lambda: echo.sent >= 1000, message="echo server saw every connection")
