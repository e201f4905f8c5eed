"""Domain steps shared by the service suites (agents, accounts, auctions, ...).

Each helper does one API call (or one wait) and asserts the documented answer,
so a test reads as the workflow it checks and a contract break is reported at
the step that broke it, with the request and the answer in the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.testing.eventually import eventually
from suites.service.client import Api, uid

# Waits are deadlines, not delays: they end as soon as the condition holds.
SETTLE_S = 10.0


def start_agent(api: Api, kind: str = "worker", agent_id: str | None = None) -> str:
    agent_id = agent_id or uid(kind)
    body = api.post("/agents", {"id": agent_id, "kind": kind}).expect(201)
    assert body["id"] == agent_id and body["status"] == "running", body
    return agent_id


def start_agents(api: Api, count: int, kind: str = "worker") -> list[str]:
    return [start_agent(api, kind) for _ in range(count)]


def create_account(api: Api, balance: float, account_id: str | None = None) -> str:
    account_id = account_id or uid("acct")
    body = api.post("/accounts", {"id": account_id, "balance": balance}).expect(201)
    assert body == {"id": account_id, "balance": balance}, body
    return account_id


def balance(api: Api, account_id: str) -> float:
    return api.get(f"/accounts/{account_id}").expect(200)["balance"]


def create_auction(api: Api, auction_type: str, **spec: Any) -> dict:
    spec.setdefault("items" if auction_type == "combinatorial" else "item", uid("item"))
    body = api.post("/auctions", {"type": auction_type, **spec}).expect(201)
    assert isinstance(body.get("id"), str) and body["id"], body
    assert body["type"] == auction_type and body["status"] == "open", body
    return body


MARKET_PAGES = 1000  # bound on the pages read_market follows


def read_market(api: Api, limit: int = 1000) -> dict[str, dict]:
    """Every entry of ``GET /market``, page after page (``after`` = the previous
    ``next``), checking each page's shape: at most ``limit`` entries, ``count``
    = its entries, no auction on two pages."""
    entries: dict[str, dict] = {}
    params: dict[str, Any] = {"limit": limit}
    for _ in range(MARKET_PAGES):
        page = api.get("/market", params=params).expect(200)
        active = page["active_auctions"]
        assert page["count"] == len(active) <= limit, page
        assert not set(active) & set(entries), f"auctions on two pages: {sorted(set(active) & set(entries))}"
        entries.update(active)
        if page["next"] is None:
            return entries
        params = {"limit": limit, "after": page["next"]}
    raise AssertionError(f"GET /market still had a next page after {MARKET_PAGES} pages")


def bid_now(api: Api, auction_id: str, bidder: str, amount: float, items: list[str] | None = None):
    """Place a bid and wait for its outcome (``?wait=true``); returns the Reply."""
    payload: dict[str, Any] = {"bidder": bidder, "amount": amount}
    if items is not None:
        payload["items"] = items
    return api.post(f"/auctions/{auction_id}/bids", payload, params={"wait": "true"})


def accepted_bid(api: Api, auction_id: str, bidder: str, amount: float, items: list[str] | None = None) -> dict:
    return bid_now(api, auction_id, bidder, amount, items).expect(201)


def amount_of(value: Any) -> Any:
    """``highest_bid`` may be documented as a number or as a bid object; both
    readings give the amount here (``None`` stays ``None``)."""
    return value.get("amount") if isinstance(value, dict) else value


def auction(api: Api, auction_id: str) -> dict:
    return api.get(f"/auctions/{auction_id}").expect(200)


def settled(api: Api, transaction_id: str, timeout: float = SETTLE_S) -> dict:
    """The transaction once it is no longer pending."""

    def done():
        tx = api.get(f"/transactions/{transaction_id}").expect(200)
        assert tx["status"] != "pending", f"transaction {transaction_id} still pending"
        return tx

    return eventually(done, timeout=timeout, description=f"transaction {transaction_id} settled")


def coordination(api: Api, coordination_id: str) -> dict:
    return api.get(f"/coordinations/{coordination_id}").expect(200)


def wait_coordination(api: Api, coordination_id: str, status: str, timeout: float = SETTLE_S) -> dict:
    def reached():
        state = coordination(api, coordination_id)
        assert state["status"] == status, (
            f"coordination {coordination_id} is {state['status']}, waiting for {status}: {state}"
        )
        return state

    return eventually(reached, timeout=timeout, description=f"coordination {coordination_id} {status}")


def counters(api: Api) -> dict[str, float]:
    return api.get("/telemetry").expect(200)["counters"]


def ops_touched(before: dict[str, float], after: dict[str, float]) -> set[str]:
    """Ops whose ``ops.<op>`` counter grew between two telemetry snapshots."""
    return {
        name[len("ops.") :] for name, value in after.items() if name.startswith("ops.") and value > before.get(name, 0)
    }


def ids(entries: Iterable[dict], key: str = "id") -> list:
    return [entry[key] for entry in entries]
