"""The error contract of docs/api.md: a client mistake is a 4xx with
``{"error", "detail", "field"?}`` (``field`` naming the culprit), never a 5xx,
and the node keeps serving afterwards.  Table-driven for the known mistakes,
then fuzzed with Hypothesis for the unknown ones.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suites.service.client import uid

pytestmark = pytest.mark.timeout(120)


def names_field(error: dict, field: str) -> bool:
    """``field`` is the culprit, or its parent (``resources`` for ``resources.cpu``)."""
    named = error.get("field") or ""
    return named == field or named.startswith(field + ".") or named.startswith(field + "[")


def healthy(node):
    assert node.get("/health").expect(200)["status"] == "ok", "node unhealthy after a bad request"


BAD_JSON = [
    ("/registry", "{not json"),
    ("/accounts", "[1, 2]"),
    ("/auctions", '"just a string"'),
    ("/events", ""),
    ("/transactions", '{"from": "a",}'),
    ("/consensus", "null"),
]


@pytest.mark.parametrize("path,raw", BAD_JSON, ids=[f"{p}:{r[:12]!r}" for p, r in BAD_JSON])
def test_body_that_is_not_a_json_object_is_bad_json(node, path, raw):
    node.post(path, data=raw.encode()).error(400, "bad_json")
    healthy(node)


def missing_cases():
    agent_task = {"type": "work", "rounds": 1, "round_ms": 10}
    return [
        ("/registry", {"ref": "a"}, "name"),
        ("/registry", {"name": uid("n")}, "ref"),
        ("/accounts", {"balance": 1}, "id"),
        ("/accounts", {"id": uid("a")}, "balance"),
        ("/events", {"data": 1}, "topic"),
        ("/auctions", {"item": "x"}, "type"),
        ("/transactions", {"from": "a", "to": "b"}, "amount"),
        ("/transactions", {"to": "b", "amount": 1}, "from"),
        ("/consensus", {"proposal": 1, "voters": []}, "rule"),
        ("/pools", {}, "resources"),
        ("/coordinations", {"task": agent_task}, "agents"),
        ("/allocations", {"strategy": "fair_share", "agents": []}, "pool_id"),
    ]


@pytest.mark.parametrize("path,body,field", missing_cases(), ids=[f"{c[0]}-{c[2]}" for c in missing_cases()])
def test_missing_required_field_is_named(node, path, body, field):
    error = node.post(path, body).error(400, "missing_field")
    assert names_field(error, field), error
    assert field in error["detail"], error
    healthy(node)


def invalid_cases():
    return [
        ("/accounts", {"id": uid("a"), "balance": "ten"}, "balance", None),
        ("/accounts", {"id": uid("a"), "balance": -5}, "balance", None),
        ("/accounts", {"id": 5, "balance": 1}, "id", None),
        ("/auctions", {"type": "swiss", "item": "x"}, "type", "english"),
        ("/auctions", {"type": "english", "item": "x", "starting_price": "cheap"}, "starting_price", None),
        ("/auctions", {"type": "english", "item": "x", "duration_s": -1}, "duration_s", None),
        ("/transactions", {"from": "a", "to": "b", "amount": 0}, "amount", None),
        ("/transactions", {"from": "a", "to": "b", "amount": -3}, "amount", None),
        ("/transactions", {"from": "a", "to": "b", "amount": True}, "amount", None),
        ("/events", {"topic": 5, "data": 1}, "topic", None),
        ("/registry", {"name": 5, "ref": "a"}, "name", None),
        ("/consensus", {"proposal": 1, "rule": "plurality", "voters": []}, "rule", "majority"),
        ("/pools", {"resources": {"cpu": -1}}, "resources", None),
        ("/pools", {"resources": "lots"}, "resources", None),
        ("/agents", {"id": 7}, "id", None),
        ("/coordinations", {"agents": "a,b", "task": {"type": "work", "rounds": 1, "round_ms": 1}}, "agents", None),
    ]


@pytest.mark.parametrize(
    "path,body,field,allowed", invalid_cases(), ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(invalid_cases())]
)
def test_wrong_type_or_value_is_named(node, path, body, field, allowed):
    error = node.post(path, body).error(400, "invalid_field")
    assert names_field(error, field), error
    assert field in error["detail"], error
    if allowed:
        assert allowed in error["detail"], f"detail should say what is allowed: {error}"
    healthy(node)


@pytest.mark.parametrize(
    "path",
    [
        "/agents/{x}",
        "/registry/{x}",
        "/auctions/{x}",
        "/transactions/{x}",
        "/coordinations/{x}",
        "/consensus/{x}",
        "/pools/{x}",
        "/allocations/{x}",
        "/accounts/{x}",
        "/auctions/{x}/bids/{x}",
    ],
)
def test_unknown_id_is_404(node, path):
    node.get(path.format(x=uid("missing"))).error(404, ("not_found", "unknown_agent", "unknown_account"))
    healthy(node)


def test_oversized_body_is_413(node):
    blob = json.dumps({"topic": f"{uid('t')}.big", "data": "x" * (1024 * 1024 + 100)})
    node.post("/events", data=blob.encode()).error(413, "body_too_large")
    healthy(node)


@pytest.mark.parametrize(
    "method,path", [("GET", "/no/such/route"), ("DELETE", "/health"), ("PUT", "/accounts"), ("POST", "/market")]
)
def test_unknown_route_or_method_is_a_4xx(node, method, path):
    reply = node.request(method, path, {})
    assert 400 <= reply.status < 500, reply
    healthy(node)


def test_wrong_content_type_is_not_a_server_error(node):
    reply = node.post("/events", data=b"topic=a&data=b", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= reply.status < 500, reply
    healthy(node)


# -- fuzz: any JSON at any write endpoint ---------------------------------------

FIELDS = [
    "id",
    "name",
    "ref",
    "meta",
    "balance",
    "topic",
    "data",
    "type",
    "item",
    "items",
    "seller",
    "starting_price",
    "reserve_price",
    "min_increment",
    "buy_now_price",
    "decrement",
    "tick_s",
    "floor_price",
    "duration_s",
    "from",
    "to",
    "amount",
    "reference",
    "agents",
    "task",
    "heartbeat_timeout_ms",
    "proposal",
    "rule",
    "voters",
    "weights",
    "threshold",
    "timeout_s",
    "resources",
    "pool_id",
    "strategy",
    "demand",
    "priority",
    "agent_id",
    "vote",
    "bidder",
    "kind",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "english", "vickrey", "fair_share", "majority", "work", "bid", "approve", "cpu", "a.b"])
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS + ["cpu"]), inner, max_size=3),
    max_leaves=8,
)
BODIES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6) | VALUES
WRITES = [
    "/agents",
    "/registry",
    "/events",
    "/accounts",
    "/transactions",
    "/auctions",
    "/coordinations",
    "/consensus",
    "/pools",
    "/allocations",
]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(WRITES), body=BODIES)
def test_fuzzed_writes_never_cause_a_server_error(node, path, body):
    reply = node.post(path, body)
    assert reply.status < 500, f"POST {path} {body!r} -> {reply.status} {reply.text[:500]}"
    if reply.status >= 400:
        assert isinstance(reply.body, dict) and isinstance(reply.body.get("error"), str), reply
        assert isinstance(reply.body.get("detail"), str), reply


def test_node_still_healthy_after_fuzzing(node):
    healthy(node)
    assert node.get("/state/digest").expect(200)["digest"]
