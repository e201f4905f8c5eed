"""The HTTP layer: error mapping, limits, the catch-all guard, bids, events, metrics."""

from __future__ import annotations

import asyncio
import random

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mabeam.http.respond import BODY_LIMIT

from .httpkit import drive, until, until_true


async def _json(resp):
    return resp.status, await resp.json()


def test_bad_json_missing_and_invalid_fields():
    async def scenario(client, node):
        status, body = await _json(await client.post("/registry", data=b"{bad"))
        assert status == 400 and body["error"] == "bad_json" and body["detail"]
        status, body = await _json(await client.post("/registry", data=b"[1, 2]"))
        assert status == 400 and body["error"] == "bad_json"
        status, body = await _json(await client.post("/registry", data=b""))
        assert status == 400 and body["error"] == "bad_json"
        status, body = await _json(await client.post("/registry", json={"ref": "a"}))
        assert (status, body["error"], body["field"]) == (400, "missing_field", "name")
        status, body = await _json(await client.post("/auctions", json={"type": "silent", "item": "x"}))
        assert (status, body["error"], body["field"]) == (400, "invalid_field", "type")
        assert "'english'" in body["detail"] and "'combinatorial'" in body["detail"]
        status, body = await _json(await client.post("/accounts", json={"id": "a", "balance": -1}))
        assert (status, body["field"]) == (400, "balance") and ">= 0" in body["detail"]
        status, body = await _json(await client.post("/accounts", json={"id": "a", "balance": True}))
        assert (status, body["field"]) == (400, "balance")
        status, body = await _json(await client.post("/coordinations", json={"agents": ["a"], "task": {"type": "x"}}))
        assert (status, body["field"]) == (400, "task.type")
        members = [{"id": "a", "demand": {"cpu": "x"}}]
        status, body = await _json(
            await client.post("/allocations", json={"pool_id": "p", "strategy": "fair_share", "agents": members})
        )
        assert (status, body["field"]) == (400, "agents[0].demand.cpu")
        status, body = await _json(await client.get("/events", params={"limit": "0"}))
        assert (status, body["field"]) == (400, "limit")
        status, body = await _json(await client.get("/events", params={"pattern": "a..b"}))
        assert (status, body["field"]) == (400, "pattern")
        status, body = await _json(await client.get("/analytics/volume", params={"window": "week"}))
        assert (status, body["field"]) == (400, "window")

    drive(scenario)


def test_unknown_ids_and_routes_are_404_json():
    async def scenario(client, node):
        for path in (
            "/auctions/nope",
            "/agents/nope",
            "/registry/nope",
            "/accounts/nope",
            "/transactions/nope",
            "/coordinations/nope",
            "/consensus/nope",
            "/pools/nope",
            "/allocations/nope",
            "/no/such/route",
            "/analytics/nope",
        ):
            status, body = await _json(await client.get(path))
            assert status == 404 and body["error"] == "not_found", path
        status, body = await _json(await client.post("/registry", json={"name": "n", "ref": "ghost"}))
        assert (status, body["error"], body["field"]) == (404, "unknown_agent", "ref")
        status, body = await _json(await client.put("/health"))
        assert (status, body["error"]) == (405, "method_not_allowed")

    drive(scenario)


def test_body_over_one_mib_is_413_and_the_limit_itself_is_accepted():
    async def scenario(client, node):
        padding = "x" * BODY_LIMIT
        status, body = await _json(await client.post("/events", data=orjson.dumps({"topic": "t.big", "data": padding})))
        assert (status, body["error"]) == (413, "body_too_large")
        exact = b'{"topic":"t.big","data":"' + b"y" * (BODY_LIMIT - 27) + b'"}'
        assert len(exact) == BODY_LIMIT
        status, body = await _json(await client.post("/events", data=exact))
        assert status == 201
        status, _ = await _json(await client.get("/health"))
        assert status == 200

    drive(scenario)


def test_client_mistakes_never_reach_the_catch_all():
    """Random bodies on every write route: always a 2xx or a 4xx with an error code."""
    rng = random.Random(2024)
    values = [None, True, 0, -1, 1.5, 1e308, "", "x", [], ["a"], {}, {"a": 1}, "a" * 300, [1, "b"]]
    keys = [
        "id",
        "name",
        "ref",
        "type",
        "item",
        "items",
        "amount",
        "balance",
        "from",
        "to",
        "bidder",
        "agents",
        "task",
        "voters",
        "rule",
        "vote",
        "agent_id",
        "resources",
        "pool_id",
        "strategy",
        "demand",
        "topic",
        "proposal",
        "weights",
        "threshold",
        "duration_s",
        "starting_price",
        "decrement",
        "meta",
    ]
    routes = [
        ("POST", "/agents"),
        ("POST", "/registry"),
        ("POST", "/events"),
        ("POST", "/accounts"),
        ("POST", "/transactions"),
        ("POST", "/auctions"),
        ("POST", "/auctions/a/bids"),
        ("POST", "/coordinations"),
        ("POST", "/coordinations/c/agents"),
        ("POST", "/consensus"),
        ("POST", "/consensus/c/votes"),
        ("POST", "/pools"),
        ("POST", "/allocations"),
        ("POST", "/allocations/x/agents"),
        ("PATCH", "/allocations/x/agents/a"),
    ]

    async def scenario(client, node):
        for _ in range(400):
            method, path = rng.choice(routes)
            body = {k: rng.choice(values) for k in rng.sample(keys, rng.randrange(0, 6))}
            resp = await client.request(method, path, data=orjson.dumps(body))
            assert resp.status < 500, (method, path, body, await resp.text())
            if resp.status >= 400:
                assert (await resp.json())["error"]
        assert node.telemetry.counters.get("errors.internal", 0) == 0

    drive(scenario)


def test_an_unexpected_exception_is_a_logged_500_and_the_node_keeps_serving(monkeypatch, caplog):
    async def scenario(client, node):
        def broken(name):
            raise RuntimeError("boom")

        monkeypatch.setattr(node.state.registry, "lookup", broken)
        status, body = await _json(await client.get("/registry/anything"))
        assert (status, body["error"]) == (500, "internal")
        assert node.telemetry.counters["errors.internal"] == 1
        assert (await client.get("/health")).status == 200

    with caplog.at_level("ERROR", logger="mabeam.http"):
        drive(scenario)
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_bids_async_and_with_wait():
    async def scenario(client, node):
        _, auction = await _json(
            await client.post("/auctions", json={"type": "english", "item": "x", "starting_price": 10})
        )
        url = f"/auctions/{auction['id']}/bids"
        status, bid = await _json(await client.post(url, json={"bidder": "b1", "amount": 12}))
        assert status == 202 and bid["status"] == "pending"
        await until(node, lambda: node.state.auctions.bids[bid["bid_id"]]["status"] != "pending")
        status, seen = await _json(await client.get(f"{url}/{bid['bid_id']}"))
        assert status == 200 and seen["status"] == "accepted"
        status, body = await _json(await client.post(url, params={"wait": "true"}, json={"bidder": "b2", "amount": 12}))
        assert (status, body["error"]) == (409, "bid_too_low") and body["bid_id"]
        status, body = await _json(await client.post(url, params={"wait": "true"}, json={"bidder": "b2", "amount": 20}))
        assert status == 201 and body["status"] == "accepted" and body["amount"] == 20
        status, closed = await _json(await client.post(f"/auctions/{auction['id']}/close"))
        assert status == 200 and closed["winner"] == "b2" and closed["price"] == 20
        status, body = await _json(await client.post(url, json={"bidder": "b3", "amount": 99}))
        assert (status, body["error"]) == (409, "auction_closed")
        status, body = await _json(await client.post(url, params={"wait": "maybe"}, json={"bidder": "b3", "amount": 1}))
        assert (status, body["field"]) == (400, "wait")

    drive(scenario)


def test_long_poll_wakes_on_a_matching_event():
    async def scenario(client, node):
        await client.post("/events", json={"topic": "other.thing", "data": 1})
        waiting = asyncio.ensure_future(client.get("/events", params={"pattern": "app.*", "wait": "10"}))
        await until_true(lambda: node.news.waiting == 1)  # the long-poll is parked
        await client.post("/events", json={"topic": "app.hello", "data": {"n": 1}})
        status, body = await _json(await waiting)
        assert status == 200 and [e["topic"] for e in body["events"]] == ["app.hello"]
        assert body["cursor"] == body["events"][-1]["id"]
        status, body = await _json(await client.get("/events", params={"pattern": "**", "after": "1", "limit": "5"}))
        assert [e["id"] for e in body["events"]] == [2]

    drive(scenario)


def test_long_poll_without_news_returns_empty_with_cursor():
    async def scenario(client, node):
        status, body = await _json(await client.get("/events", params={"pattern": "nothing.*", "wait": "0.05"}))
        assert status == 200 and body == {"events": [], "cursor": 0}

    drive(scenario)


async def _read_sse(resp, count):
    """Parse SSE messages off the stream until ``count`` events arrived."""
    messages, fields = [], {}
    while len(messages) < count:
        line = (await asyncio.wait_for(resp.content.readline(), 10)).decode().rstrip("\n")
        if line == "":
            if "data" in fields:
                messages.append(fields)
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return messages


def test_sse_stream_and_resume():
    async def scenario(client, node):
        for n in range(3):
            await client.post("/events", json={"topic": "feed.item", "data": n})
        resp = await client.get("/events/stream", params={"pattern": "feed.*"})
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        first = await _read_sse(resp, 3)
        assert [m["id"] for m in first] == ["1", "2", "3"] and first[0]["event"] == "feed.item"
        assert orjson.loads(first[2]["data"])["data"] == 2
        await client.post("/events", json={"topic": "feed.item", "data": "live"})
        live = await _read_sse(resp, 1)
        assert orjson.loads(live[0]["data"])["data"] == "live"
        resp.close()
        resumed = await client.get("/events/stream", params={"pattern": "feed.*"}, headers={"Last-Event-ID": "2"})
        assert [m["id"] for m in await _read_sse(resumed, 2)] == ["3", "4"]
        resumed.close()
        bad = await client.get("/events/stream", headers={"Last-Event-ID": "x"})
        assert bad.status == 400

    drive(scenario)


def test_telemetry_counts_ops_and_metrics_parse():
    async def scenario(client, node):
        await client.post("/auctions", json={"type": "english", "item": "x"})
        await client.post("/auctions", json={"type": "nope"})
        status, tel = await _json(await client.get("/telemetry"))
        assert status == 200 and tel["node"] == "t1"
        assert tel["counters"]["ops.auction.create"] == 2
        assert tel["counters"]["errors.invalid_field"] == 1
        hist = tel["histograms"]["auction.create"]
        assert hist["count"] == 2 and hist["buckets"]["+Inf"] == 2 and hist["p99_ms"] >= hist["p50_ms"] >= 0
        assert tel["gauges"]["auctions_open"] == 1
        assert tel["process"]["rss_bytes"] > 0 and "collections" in tel["process"]["gc"]
        resp = await client.get("/metrics")
        assert resp.headers["Content-Type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
        requests = {s.labels["op"]: s.value for s in families["mabeam_requests"].samples}
        assert requests["auction.create"] == 2
        assert families["mabeam_request_duration_seconds"].type == "histogram"
        counts = [
            s
            for s in families["mabeam_request_duration_seconds"].samples
            if s.name.endswith("_count") and s.labels["op"] == "auction.create"
        ]
        assert counts[0].value == 2
        for name in ("process_cpu_seconds", "process_resident_memory_bytes", "python_gc_collections"):
            assert name in families, name

    drive(scenario)


def test_health_status_and_digest():
    async def scenario(client, node):
        await client.post("/agents", json={"id": "a1"})
        status, health = await _json(await client.get("/health"))
        assert status == 200 and health["status"] == "ok" and health["node"] == "t1" and health["mode"] == "normal"
        assert health["applied"] == 1
        status, body = await _json(await client.get("/state/digest"))
        assert body == {"digest": node.machine.digest(), "applied": 1}
        status, body = await _json(await client.get("/coordination/status"))
        assert body == {"node": "t1", "mode": "normal"}

    drive(scenario)


@pytest.mark.parametrize(
    "path, payload, field",
    [
        ("/transactions", {"from": "a", "to": "a", "amount": 1}, "to"),
        ("/transactions", {"from": "a", "to": "b", "amount": 0}, "amount"),
        ("/consensus", {"proposal": 1, "rule": "weighted", "voters": ["a"], "weights": {"b": 1}}, "weights"),
        ("/consensus", {"proposal": 1, "rule": "majority", "voters": ["a"], "threshold": 2}, "threshold"),
        (
            "/coordinations",
            {"agents": ["a"], "task": {"type": "bid", "auction_id": "x", "amounts": {"b": 1}}},
            "task.amounts",
        ),
        ("/auctions", {"type": "dutch", "item": "x", "starting_price": 10}, "decrement"),
        ("/auctions", {"type": "english", "item": "x", "starting_price": 10, "buy_now_price": 5}, "buy_now_price"),
        ("/auctions", {"type": "combinatorial", "items": ["a", "a"]}, "items"),
        ("/pools", {"resources": {}}, "resources"),
    ],
)
def test_field_rules(path, payload, field):
    async def scenario(client, node):
        status, body = await _json(await client.post(path, json=payload))
        assert status == 400 and body["field"] == field, body

    drive(scenario)


def test_out_of_range_numbers_are_client_mistakes():
    async def scenario(client, node):
        status, body = await _json(await client.get("/events", params={"after": str(10**30)}))
        assert (status, body["field"]) == (400, "after")
        status, body = await _json(await client.post("/accounts", json={"id": "rich", "balance": 10**18}))
        assert (status, body["field"]) == (400, "balance") and "1e+15" in body["detail"]
        status, body = await _json(await client.post("/accounts", data=b'{"id": "x", "balance": 1e999}'))
        assert status == 400
        assert node.telemetry.counters.get("errors.internal", 0) == 0

    drive(scenario)


def test_reads_never_change_the_state():
    async def scenario(client, node):
        await client.post("/agents", json={"id": "a1"})
        _, auction = await _json(
            await client.post("/auctions", json={"type": "dutch", "item": "x", "starting_price": 9, "decrement": 1})
        )
        before = (node.machine.digest(), node.state.applied)
        for path in (
            "/health",
            "/telemetry",
            "/metrics",
            "/state/digest",
            "/coordination/status",
            "/agents",
            "/agents/a1",
            "/agents/a1/resources",
            "/registry",
            "/events?wait=0",
            "/accounts",
            "/market",
            f"/auctions/{auction['id']}",
            "/analytics/volume",
            "/analytics/recent_auctions?window=all",
        ):
            assert (await client.get(path)).status == 200, path
        assert (node.machine.digest(), node.state.applied) == before

    drive(scenario)
