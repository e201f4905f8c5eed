"""Peer requests: signed with a time and a fresh nonce; a captured one cannot be replayed."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp.test_utils import TestClient, TestServer

from mabeam.http.app import build_app
from mabeam.node import Node
from mabeam.replication.auth import NONCE_HEADER, TIME_HEADER, Verifier, peer_headers
from mabeam.replication.raftlog import ClusterOptions, ReplicatedLog

SECRET = b"s3cret"
BODY = b'{"node": "b", "fresh": null}'


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed(now: float = 1000.0, nonce: str | None = None, to: str = "a", body: bytes = BODY) -> dict[str, str]:
    return peer_headers(SECRET, "POST", "/raft/hello", body, "b", to, now=now, nonce=nonce)


def test_a_request_is_accepted_once_and_its_replay_refused() -> None:
    verifier = Verifier(SECRET, "a", clock=Clock())
    headers = signed()
    assert verifier.check("POST", "/raft/hello", BODY, headers) is None
    refused = verifier.check("POST", "/raft/hello", BODY, headers)
    assert refused is not None and "replayed" in refused
    assert verifier.check("POST", "/raft/hello", BODY, signed()) is None  # a fresh nonce is a new request


def test_the_signature_binds_time_nonce_sender_receiver_path_and_body() -> None:
    verifier = Verifier(SECRET, "a", clock=Clock())
    good = signed(nonce="n1")
    for name, value in ((TIME_HEADER, "1000.001"), (NONCE_HEADER, "n2"), ("X-Mabeam-From", "c")):
        assert "wrong cluster secret" in (verifier.check("POST", "/raft/hello", BODY, {**good, name: value}) or "")
    assert "wrong" in (verifier.check("POST", "/raft/message", BODY, good) or "")
    assert "wrong" in (verifier.check("POST", "/raft/hello", BODY + b" ", good) or "")
    assert "wrong" in (verifier.check("POST", "/raft/hello", BODY, signed(nonce="n1", to="c")) or "")  # meant for c
    other = Verifier(b"other", "a", clock=Clock())
    assert "wrong" in (other.check("POST", "/raft/hello", BODY, good) or "")
    for missing in (TIME_HEADER, NONCE_HEADER, "X-Mabeam-Auth"):
        headers = {k: v for k, v in good.items() if k != missing}
        assert "missing" in (verifier.check("POST", "/raft/hello", BODY, headers) or "")
    assert verifier.check("POST", "/raft/hello", BODY, good) is None


def test_a_request_outside_the_window_is_refused_and_the_cache_stays_bounded() -> None:
    clock = Clock()
    verifier = Verifier(SECRET, "a", window_s=30, capacity=1000, clock=clock)
    for stale in (1000.0 - 30.5, 1000.0 + 31, float("nan")):
        refused = verifier.check("POST", "/raft/hello", BODY, signed(now=stale)) or ""
        assert "more than 30 s" in refused, refused
    captured = signed(now=1000.0)
    assert verifier.check("POST", "/raft/hello", BODY, captured) is None
    for i in range(5000):  # bounded: requests keep coming, time moves on
        clock.now = 1000.0 + i * 0.01
        assert verifier.check("POST", "/raft/hello", BODY, signed(now=clock.now)) is None
        assert len(verifier) <= 1000
    # the captured request's nonce was forgotten long ago, but its replay is still refused
    clock.now = 1020.0
    assert verifier.check("POST", "/raft/hello", BODY, captured) is not None
    clock.now = 1100.0
    assert "more than 30 s" in (verifier.check("POST", "/raft/hello", BODY, captured) or "")


def test_when_the_cache_is_full_a_replay_is_still_refused() -> None:
    clock = Clock()
    verifier = Verifier(SECRET, "a", window_s=30, capacity=10, clock=clock)
    first = signed(now=999.0)
    assert verifier.check("POST", "/raft/hello", BODY, first) is None
    for i in range(20):  # all within the window: the cache overflows and forgets ``first``
        assert verifier.check("POST", "/raft/hello", BODY, signed(now=999.5 + i * 0.01)) is None
    assert len(verifier) == 10
    refused = verifier.check("POST", "/raft/hello", BODY, first) or ""
    assert "too old" in refused, refused


def test_a_replayed_peer_request_gets_a_clear_401() -> None:
    """Over HTTP: a signed ``/raft/hello`` as a peer's transport sends it is
    accepted, and the same bytes with the same headers sent again are 401."""

    async def scenario() -> None:
        options = ClusterOptions(node_id="a", peers={"b": "127.0.0.1:9"}, secret=SECRET, seed=1)
        node = Node("a", log_factory=lambda machine: ReplicatedLog(machine, options))
        sender = ReplicatedLog(Node("b").machine, ClusterOptions(node_id="b", peers={"a": "x:1"}, secret=SECRET))
        body = orjson.dumps({"node": "b", "fresh": None})
        headers = sender.transport._headers("a", "POST", "/raft/hello", body)
        async with TestClient(TestServer(build_app(node), host="127.0.0.1")) as client:
            first = await client.post("/raft/hello", data=body, headers=headers)
            assert first.status == 200, await first.text()
            replay = await client.post("/raft/hello", data=body, headers=headers)
            answer = await replay.json()
            assert replay.status == 401 and answer["error"] == "unauthorized", answer
            assert "replayed request" in answer["detail"]
            unsigned = await client.post("/raft/hello", data=body)
            assert unsigned.status == 401 and "missing" in (await unsigned.json())["detail"]

    asyncio.run(scenario())
