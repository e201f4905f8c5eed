"""API compatibility with Toxiproxy 2.x: status codes, JSON shapes, defaults, what a body may hold.

Driven three ways: raw HTTP (exact codes and bodies), raw toxiproxy-python
(the library as published, global host/port), and our ToxiproxyClient.  Runs
against the embedded server, or against ``TOXIPROXY_URL`` when it is set
(``conftest.py``); ``embedded_only`` tests pin the embedded server's
deliberate differences from the real one.
"""

from __future__ import annotations

import socket

import pytest
import requests
import toxiproxy
from toxiproxy import api as tp_api

from pipeline.toxiproxy.testing import EchoServer, closed_by_peer, connect, recv_exact, wait_for

PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}
TOXIC_KEYS = {"name", "type", "stream", "toxicity", "attributes"}
SEED = 1234


@pytest.fixture
def url(target, fresh):
    """The API under test; proxies a test creates are deleted after it (``fresh``)."""
    return target.url


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
    assert r.json()["listen"] == ""  # as given: not bound until enabled


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
        ({"name": "", "upstream": "127.0.0.1:1"}, "name"),
        ({"name": None, "upstream": "127.0.0.1:1"}, "name"),
        ({"name": "x"}, "upstream"),
        ({"name": "x", "upstream": None}, "upstream"),
        ({"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_proxy_body_400_names_field(url, body, field):
    r = http("POST", url + "/proxies", json=body)
    assert r.status_code == 400
    data = r.json()
    assert data["status"] == 400 and field in data["error"]


@pytest.mark.parametrize("body", [{"name": 5, "upstream": "127.0.0.1:1"}, [], 7])
def test_proxy_body_of_the_wrong_json_type_400(url, body):
    r = http("POST", url + "/proxies", json=body)
    assert r.status_code == 400 and r.json()["status"] == 400
    assert r.json()["error"].startswith("bad request body: ")


def test_upstream_without_port_is_accepted_and_its_connections_closed(url, fresh):
    """Toxiproxy checks an upstream only when a connection dials it."""
    r = http("POST", url + "/proxies", json={"name": "noport", "upstream": "nohost"})
    assert r.status_code == 201 and r.json()["upstream"] == "nohost" and r.json()["enabled"] is True
    with connect(port_of(r.json()["listen"])) as s:
        assert closed_by_peer(s) in ("eof", "reset")
    r = http("PATCH", url + "/proxies/noport", json={"upstream": ""})
    assert r.status_code == 200 and r.json()["upstream"] == ""  # Toxiproxy stores it; dialling fails


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "127.0.0.1"])
def test_bad_listen_is_a_500_when_binding(url, fresh, listen):
    """Toxiproxy passes listen to ``net.Listen``: a bad one is that call's error, a 500."""
    r = http("POST", url + "/proxies", json={"name": "badlisten", "upstream": "127.0.0.1:1", "listen": listen})
    assert r.status_code == 500 and r.json()["status"] == 500
    assert r.json()["error"].startswith("listen tcp")
    assert set(http("GET", url + "/proxies").json()) == fresh
    # Not bound, not checked: a disabled proxy takes it as it is.
    r = http(
        "POST", url + "/proxies", json={"name": "badlisten", "upstream": "x:1", "listen": listen, "enabled": False}
    )
    assert r.status_code == 201 and r.json()["listen"] == listen


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
        ({"type": "latency", "stream": ""}, 400, "stream"),
        ({"type": "latency", "toxicity": "high"}, 400, "toxicity"),
        ({"type": "latency", "toxicity": 1e39}, 400, "toxicity"),
        ({"type": "latency", "attributes": {"latency": "slow"}}, 400, "latency"),
        ({"type": "latency", "attributes": {"latency": 2**63}}, 400, "latency"),
        ({"type": "latency", "attributes": {"latency": 10.0}}, 400, "latency"),
        ({"type": "bandwidth", "attributes": {"rate": 1.5}}, 400, "rate"),
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
    r = http("PATCH", url + "/proxies/u/toxics/lat", json={"attributes": {"jitter": "x"}})
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


def test_populate_validates_everything_first(url, echo, fresh):
    r = http("POST", url + "/populate", json=[{"name": "ok", "upstream": echo.address}, {"name": "bad"}])
    assert r.status_code == 400 and r.json()["error"] == "missing required field: upstream at proxy 2"
    assert set(http("GET", url + "/proxies").json()) == fresh
    assert http("POST", url + "/populate", json={"name": "x"}).status_code == 400
    # Toxiproxy reads only a JSON array: an object holding one is refused too.
    assert http("POST", url + "/populate", json={"proxies": [{"name": "x", "upstream": "y:1"}]}).status_code == 400
    assert set(http("GET", url + "/proxies").json()) == fresh


def test_browsers_refused_and_unknown_routes(url):
    assert http("GET", url + "/proxies", headers={"User-Agent": "Mozilla/5.0"}).status_code == 403
    r = http("GET", url + "/nothing")
    assert r.status_code == 404 and r.text == "404 page not found\n"  # Go's NotFound page, not JSON
    r = http("PUT", url + "/proxies")
    assert r.status_code == 405 and r.content == b""  # gorilla/mux: the status alone


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
    assert "lib" in library.proxies()
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
    assert library.get_proxy("pop") is None


# ------------------------------------------------------------- what a body may hold
# Toxiproxy decodes bodies with Go's encoding/json into typed structs; each case
# below is something that decoding accepts (or refuses) that a stricter or
# looser reader would not.


@pytest.mark.parametrize(
    "type_, attributes",
    [
        ("latency", {"latency": -100, "jitter": -5}),
        ("latency", {"latency": 2**63 - 1, "jitter": 0}),
        ("timeout", {"timeout": -1}),
        ("slow_close", {"delay": -1}),
        ("reset_peer", {"timeout": -1}),
        ("limit_data", {"bytes": -1}),
        ("slicer", {"average_size": 10, "size_variation": -3, "delay": -1}),
        ("noop", {}),
    ],
)
def test_values_toxiproxy_accepts_are_accepted(url, echo, type_, attributes):
    http("POST", url + "/proxies", json={"name": "acc", "upstream": echo.address})
    r = http("POST", url + "/proxies/acc/toxics", json={"type": type_, "attributes": attributes})
    assert r.status_code == 200, r.text
    assert r.json()["attributes"] == attributes


@pytest.mark.parametrize("toxicity", [1.5, -0.5, 0.1, 0])
def test_any_float32_toxicity_is_accepted(url, echo, toxicity):
    http("POST", url + "/proxies", json={"name": "tox", "upstream": echo.address})
    r = http("POST", url + "/proxies/tox/toxics", json={"type": "latency", "toxicity": toxicity})
    assert r.status_code == 200, r.text
    assert r.json()["toxicity"] == toxicity


def test_toxicity_reads_back_at_float32_precision(url, echo):
    http("POST", url + "/proxies", json={"name": "f32", "upstream": echo.address})
    r = http("POST", url + "/proxies/f32/toxics", json={"type": "latency", "toxicity": 0.123456789})
    assert r.json()["toxicity"] == 0.12345679


def test_null_keeps_the_current_value_on_update(url, echo):
    p = http("POST", url + "/proxies", json={"name": "nul", "upstream": echo.address}).json()
    r = http("PATCH", url + "/proxies/nul", json={"listen": None, "upstream": None, "enabled": None})
    assert r.status_code == 200 and r.json() == p
    http("POST", url + "/proxies/nul/toxics", json={"type": "latency", "attributes": {"latency": 7, "jitter": 2}})
    r = http(
        "PATCH", url + "/proxies/nul/toxics/latency_downstream", json={"attributes": {"latency": None, "jitter": 3}}
    )
    assert r.status_code == 200 and r.json()["attributes"] == {"latency": 7, "jitter": 3}
    r = http("PATCH", url + "/proxies/nul/toxics/latency_downstream", json={"attributes": None, "toxicity": None})
    assert r.status_code == 200 and r.json()["attributes"] == {"latency": 7, "jitter": 3}
    assert r.json()["toxicity"] == 1.0
    # A null body changes nothing at all.
    r = http("PATCH", url + "/proxies/nul", data=b"null")
    assert r.status_code == 200 and r.json()["upstream"] == echo.address
    r = http("POST", url + "/proxies/nul/toxics", json={"type": "latency", "name": None, "stream": None})
    assert r.status_code == 409  # name null: the default name, which exists


def test_keys_match_case_insensitively_and_trailing_bytes_are_ignored(url, echo):
    r = http("POST", url + "/proxies", json={"Name": "ci", "UPSTREAM": echo.address, "Enabled": False})
    assert r.status_code == 201 and r.json()["name"] == "ci" and r.json()["enabled"] is False
    r = http("POST", url + "/proxies/ci/toxics", json={"Type": "latency", "Attributes": {"Latency": 5}})
    assert r.status_code == 200 and r.json()["attributes"] == {"latency": 5, "jitter": 0}
    body = b'{"name": "tail", "upstream": "127.0.0.1:1", "enabled": false} and then anything'
    r = http("POST", url + "/proxies", data=body)
    assert r.status_code == 201 and r.json()["name"] == "tail"


def test_empty_body_is_eof_and_null_populate_is_empty(url):
    r = http("POST", url + "/proxies", data=b"")
    assert r.status_code == 400 and r.json()["error"] == "bad request body: EOF"
    r = http("POST", url + "/populate", data=b"null")
    assert r.status_code == 201 and r.json()["proxies"] in ([], None)


def test_toxic_checks_come_in_toxiproxys_order(url, echo):
    http("POST", url + "/proxies", json={"name": "ord", "upstream": echo.address})
    r = http("POST", url + "/proxies/ord/toxics", json={"type": "nope", "stream": "sideways"})
    assert r.status_code == 400 and r.json()["error"].startswith("stream was invalid")  # stream before type
    http("POST", url + "/proxies/ord/toxics", json={"type": "latency"})
    r = http("POST", url + "/proxies/ord/toxics", json={"type": "latency", "attributes": {"latency": "x"}})
    assert r.status_code == 409  # the name is taken before the attributes are read


def test_stream_is_echoed_as_spelled(url, echo):
    http("POST", url + "/proxies", json={"name": "sp", "upstream": echo.address})
    r = http("POST", url + "/proxies/sp/toxics", json={"type": "latency", "stream": "UpStream"})
    assert r.status_code == 200
    assert r.json()["stream"] == "UpStream" and r.json()["name"] == "latency_UpStream"


def test_toxics_are_listed_upstream_first(url, echo):
    """Toxiproxy keeps one chain per direction and lists the upstream chain first."""
    http("POST", url + "/proxies", json={"name": "lst", "upstream": echo.address})
    for name, stream in [("d1", "downstream"), ("u1", "upstream"), ("d2", "downstream"), ("u2", "upstream")]:
        http("POST", url + "/proxies/lst/toxics", json={"type": "latency", "name": name, "stream": stream})
    assert [t["name"] for t in http("GET", url + "/proxies/lst/toxics").json()] == ["u1", "u2", "d1", "d2"]
    assert [t["name"] for t in http("GET", url + "/proxies/lst").json()["toxics"]] == ["u1", "u2", "d1", "d2"]


def test_proxies_index_is_sorted_by_name(url, echo):
    for name in ["zz", "aa", "mm"]:
        http("POST", url + "/proxies", json={"name": name, "upstream": echo.address, "enabled": False})
    names = [n for n in http("GET", url + "/proxies").json() if n in ("zz", "aa", "mm")]
    assert names == ["aa", "mm", "zz"]  # Go's encoding/json sorts map keys


def test_populate_applies_duplicate_names_in_order(url, echo):
    other = EchoServer()
    try:
        body = [
            {"name": "twice", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:0"},
            {"name": "twice", "upstream": other.address, "listen": "127.0.0.1:0"},
        ]
        r = http("POST", url + "/populate", json=body)
        assert r.status_code == 201, r.text
        first, second = r.json()["proxies"]
        assert first["enabled"] is False  # replaced by the second entry, so stopped
        assert second["enabled"] is True and second["upstream"] == other.address
        assert http("GET", url + "/proxies/twice").json() == second
        assert echoes(port_of(second["listen"]))
    finally:
        other.stop()


def test_populate_keeps_an_unchanged_proxy_and_answers_the_one_described(url, echo):
    made = http("POST", url + "/proxies", json={"name": "keep", "upstream": echo.address}).json()
    http("POST", url + "/proxies/keep/toxics", json={"type": "latency"})
    r = http("POST", url + "/populate", json=[{"name": "keep", "upstream": echo.address, "listen": made["listen"]}])
    assert r.status_code == 201
    # Toxiproxy's PopulateJson answers the proxy it built from the entry, never started ...
    assert r.json()["proxies"] == [dict(made, enabled=False, toxics=[])]
    # ... while the proxy it kept is untouched, toxics and all.
    kept = http("GET", url + "/proxies/keep").json()
    assert kept["enabled"] is True and [t["name"] for t in kept["toxics"]] == ["latency_downstream"]


def test_a_body_of_20_mib_is_read(url):
    """aiohttp reads 1 MiB by default; Toxiproxy reads 20 MiB (and more) without complaint."""
    body = {"name": "big", "upstream": "127.0.0.1:1", "enabled": False, "padding": "x" * (20 << 20)}
    r = http("POST", url + "/proxies", json=body, timeout=60)
    assert r.status_code == 201, r.text[:200]
    assert r.json()["name"] == "big"


@pytest.mark.embedded_only("Toxiproxy sets no body limit; the embedded server stops at 64 MiB")
def test_a_body_over_the_limit_is_a_413_in_the_api_error_shape(url):
    limit = 64 << 20  # pipeline.toxiproxy.api.MAX_BODY
    r = http("POST", url + "/proxies", data=b" " * (limit + 1), timeout=60)
    assert r.status_code == 413
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {
        "error": f"bad request body: larger than {limit} bytes, the most this server reads",
        "status": 413,
    }


# ------------------------------------------------------------- deliberate differences
@pytest.mark.embedded_only("Toxiproxy accepts names with '/', then can never reach them")
@pytest.mark.parametrize("name", ["a/b", "/lead", ".", ".."])
def test_names_that_no_url_can_reach_are_refused(url, echo, fresh, name):
    r = http("POST", url + "/proxies", json={"name": name, "upstream": echo.address})
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"error", "status"} and body["status"] == 400
    assert body["error"].startswith("bad request body: name: ") and "never get, change or delete" in body["error"]
    r = http("POST", url + "/populate", json=[{"name": name, "upstream": echo.address}])
    assert r.status_code == 400
    assert set(http("GET", url + "/proxies").json()) == fresh
    http("POST", url + "/proxies", json={"name": "ok", "upstream": echo.address})
    r = http("POST", url + "/proxies/ok/toxics", json={"type": "latency", "name": name})
    assert r.status_code == 400 and r.json()["error"].startswith("bad request body: name: ")
    assert http("GET", url + "/proxies/ok/toxics").json() == []


@pytest.mark.embedded_only("deliberate differences: Toxiproxy accepts these and then misbehaves")
@pytest.mark.parametrize(
    "type_, attributes, needle",
    [
        ("bandwidth", {"rate": -1}, "rate"),
        ("slicer", {"average_size": 0}, "average_size"),
    ],
)
def test_nonsensical_settings_are_still_refused(url, echo, type_, attributes, needle):
    http("POST", url + "/proxies", json={"name": "nons", "upstream": echo.address})
    r = http("POST", url + "/proxies/nons/toxics", json={"type": type_, "attributes": attributes})
    assert r.status_code == 400 and needle in r.json()["error"]


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
