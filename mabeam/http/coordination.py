"""Agent groups, consensus ballots, resource pools and allocations."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..coordination import consensus, groups
from ..coordination.strategies import STRATEGIES
from ..coordination.voting import APPROVE, REJECT, RULES
from ..economics.spec import MAX_ITEMS
from ..errors import invalid
from ..fields import Fields, check_text
from ..node import Node
from .respond import body, json_response

MAX_AGENTS = 1000


def parse_task(fields: Fields, agents: list[str]) -> dict[str, Any]:
    task = fields.obj("task")
    kind = task.choice("type", groups.TASKS)
    if kind == "work":
        return {
            "type": "work",
            "rounds": task.integer("rounds", lo=1, hi=1_000_000),
            "round_ms": task.integer("round_ms", lo=10, hi=3_600_000),
        }
    amounts = task.number_map("amounts", gt=0)
    if set(amounts) != set(agents):
        raise invalid("task.amounts", "an object with one amount for each agent in 'agents' and no others")
    parsed: dict[str, Any] = {"type": "bid", "auction_id": task.text("auction_id"), "amounts": amounts}
    items = task.mapping("items", None)
    if items is not None:
        bundles = Fields(items, "task.items.")
        for agent_id in items:
            if agent_id not in amounts:
                raise invalid("task.items", "an object keyed by agents in 'agents'")
            bundles.text_list(agent_id, max_len=MAX_ITEMS)
        parsed["items"] = items
    return parsed


def parse_member(fields: Fields) -> dict[str, Any]:
    return {
        "id": fields.text("id"),
        "demand": fields.number_map("demand"),
        "priority": fields.integer("priority", 0, lo=-1_000_000, hi=1_000_000),
    }


def routes(node: Node) -> list[tuple[str, str, str, Any]]:
    state = lambda: node.state  # noqa: E731

    # -- agent groups ------------------------------------------------------------

    async def start_group(request: web.Request) -> web.Response:
        fields = await body(request)
        agents = fields.text_list("agents", max_len=MAX_AGENTS)
        task = parse_task(fields, agents)
        extra: dict[str, Any] = {}
        if task["type"] == "bid":
            extra["bid_ids"] = {agent_id: node.ids.new("bid") for agent_id in agents}
        result = await node.submit(
            "coordination.start",
            id=node.ids.new("coord"),
            agents=agents,
            task=task,
            heartbeat_timeout_ms=fields.integer("heartbeat_timeout_ms", 500, lo=10, hi=600_000),
            **extra,
        )
        return json_response(result, 201)

    async def get_group(request: web.Request) -> web.Response:
        return json_response(groups.view(state().groups.get(request.match_info["id"])))

    async def replace(request: web.Request) -> web.Response:
        fields = await body(request)
        group_id, agent_id = request.match_info["id"], fields.text("agent_id")
        result = await node.submit("coordination.replace", id=group_id, agent_id=agent_id)
        return json_response(result)

    # -- consensus ---------------------------------------------------------------

    async def start_ballot(request: web.Request) -> web.Response:
        fields = await body(request)
        proposal = fields.raw("proposal")
        rule = fields.choice("rule", RULES)
        voters = fields.text_list("voters", max_len=MAX_AGENTS)
        threshold = fields.number("threshold", 0.5, gt=0, hi=1)
        weights = None
        if rule == "weighted":
            given = fields.number_map("weights", {})
            unknown = [k for k in given if k not in voters]
            if unknown:
                raise invalid("weights", f"keyed by voters only (not {unknown[0]!r})")
            weights = {voter: given.get(voter, 1) for voter in voters}
            if sum(weights.values()) <= 0:
                raise invalid("weights", "weights whose total is > 0")
        result = await node.submit(
            "consensus.start",
            id=node.ids.new("cons"),
            proposal=proposal,
            rule=rule,
            voters=voters,
            weights=weights,
            threshold=threshold,
            timeout_s=fields.number("timeout_s", 300, gt=0, hi=86_400),
        )
        return json_response(result, 201)

    async def vote(request: web.Request) -> web.Response:
        fields = await body(request)
        result = await node.submit(
            "consensus.vote",
            id=request.match_info["id"],
            agent_id=fields.text("agent_id"),
            vote=fields.choice("vote", (APPROVE, REJECT)),
        )
        return json_response(result)

    async def get_ballot(request: web.Request) -> web.Response:
        return json_response(consensus.view(state().consensus.get(request.match_info["id"])))

    # -- pools and allocations ---------------------------------------------------

    async def create_pool(request: web.Request) -> web.Response:
        fields = await body(request)
        pool_id = fields.text("id", None) or node.ids.new("pool")
        result = await node.submit("pool.create", id=pool_id, resources=fields.number_map("resources", min_len=1))
        return json_response(result, 201)

    async def get_pool(request: web.Request) -> web.Response:
        pools = state().pools
        return json_response(pools.pool_view(pools.pool(request.match_info["id"])))

    async def create_allocation(request: web.Request) -> web.Response:
        fields = await body(request)
        pool_id = fields.text("pool_id")
        strategy = fields.choice("strategy", STRATEGIES)
        members = [parse_member(m) for m in fields.items("agents", min_len=0, max_len=MAX_AGENTS)]
        ids = [m["id"] for m in members]
        if len(set(ids)) != len(ids):
            raise invalid("agents", "a list of agents with distinct ids")
        result = await node.submit(
            "allocation.create", id=node.ids.new("alloc"), pool_id=pool_id, strategy=strategy, agents=members
        )
        return json_response(result, 201)

    async def get_allocation(request: web.Request) -> web.Response:
        return json_response(state().pools.allocation(request.match_info["id"]))

    async def join(request: web.Request) -> web.Response:
        member = parse_member(await body(request))
        return json_response(await node.submit("allocation.join", id=request.match_info["id"], agent=member))

    async def change_demand(request: web.Request) -> web.Response:
        fields = await body(request)
        result = await node.submit(
            "allocation.demand",
            id=request.match_info["id"],
            agent_id=check_text(request.match_info["agent"], "agent"),
            demand=fields.number_map("demand"),
            priority=fields.integer("priority", None, lo=-1_000_000, hi=1_000_000),
        )
        return json_response(result)

    async def leave(request: web.Request) -> web.Response:
        allocation_id, agent_id = request.match_info["id"], request.match_info["agent"]
        result = await node.submit("allocation.leave", id=allocation_id, agent_id=agent_id)
        return json_response(result)

    return [
        ("POST", "/coordinations", "coordination.start", start_group),
        ("GET", "/coordinations/{id}", "coordination.get", get_group),
        ("POST", "/coordinations/{id}/agents", "coordination.replace", replace),
        ("POST", "/consensus", "consensus.start", start_ballot),
        ("GET", "/consensus/{id}", "consensus.get", get_ballot),
        ("POST", "/consensus/{id}/votes", "consensus.vote", vote),
        ("POST", "/pools", "pool.create", create_pool),
        ("GET", "/pools/{id}", "pool.get", get_pool),
        ("POST", "/allocations", "allocation.create", create_allocation),
        ("GET", "/allocations/{id}", "allocation.get", get_allocation),
        ("POST", "/allocations/{id}/agents", "allocation.join", join),
        ("PATCH", "/allocations/{id}/agents/{agent}", "allocation.demand", change_demand),
        ("DELETE", "/allocations/{id}/agents/{agent}", "allocation.leave", leave),
    ]
