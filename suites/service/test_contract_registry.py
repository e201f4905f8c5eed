"""Registry and agent-lifecycle contracts (seed §3.2 "ProcessRegistry adheres to
defined contract"): register / lookup / unregister answers, the error answers
``already_registered`` / ``not_found`` / ``unknown_agent``, and the side effects:
``registry.*`` events, and entries removed when their agent goes down.
"""

from __future__ import annotations

import pytest

from pipeline.testing.eventually import eventually
from suites.service.client import uid
from suites.service.helpers import start_agent

pytestmark = pytest.mark.timeout(60)


def register(node, name, ref, meta=None):
    payload = {"name": name, "ref": ref}
    if meta is not None:
        payload["meta"] = meta
    return node.post("/registry", payload)


def test_register_lookup_unregister_round_trip_with_events(node, events):
    agent = start_agent(node, "registrant")
    name, meta = uid("svc"), {"role": "pricing", "version": 2}
    mark = events.head()

    entry = register(node, name, agent, meta).expect(201)
    assert entry["name"] == name and entry["ref"] == agent and entry["meta"] == meta
    assert entry["node"] == "n1"
    assert isinstance(entry["registered_at"], (int, float)) and entry["registered_at"] > 0

    assert node.get(f"/registry/{name}").expect(200) == entry
    listed = node.get("/registry").expect(200)["entries"]
    assert [e for e in listed if e["name"] == name] == [entry]

    registered = events.wait_for("registry.registered", lambda e: e["data"].get("name") == name, after=mark)
    assert registered[0]["data"]["ref"] == agent
    assert registered[0]["node"] == "n1"

    assert node.delete(f"/registry/{name}").expect(200) == {"ok": True, "name": name}
    node.get(f"/registry/{name}").error(404, "not_found")
    assert name not in {e["name"] for e in node.get("/registry").expect(200)["entries"]}

    gone = events.wait_for("registry.unregistered", lambda e: e["data"].get("name") == name, after=mark)
    assert gone[0]["data"] == {"name": name, "ref": agent, "reason": "unregister"}


def test_unregister_unknown_name_is_not_found(node):
    node.delete(f"/registry/{uid('never')}").error(404, "not_found")


def test_lookup_unknown_name_is_not_found(node):
    body = node.get(f"/registry/{uid('never')}").error(404, "not_found")
    assert "error" in body and "detail" in body


def test_second_holder_gets_already_registered_and_first_keeps_the_name(node):
    first, second = start_agent(node), start_agent(node)
    name = uid("svc")
    register(node, name, first).expect(201)
    register(node, name, second).error(409, "already_registered")
    register(node, name, first).error(409, "already_registered")
    assert node.get(f"/registry/{name}").expect(200)["ref"] == first


def test_name_is_free_again_after_unregister(node):
    first, second = start_agent(node), start_agent(node)
    name = uid("svc")
    register(node, name, first).expect(201)
    node.delete(f"/registry/{name}").expect(200)
    assert register(node, name, second).expect(201)["ref"] == second


def test_ref_must_be_a_running_agent(node):
    register(node, uid("svc"), uid("ghost")).error(404, "unknown_agent")
    stopped = start_agent(node)
    node.delete(f"/agents/{stopped}").expect(200)
    register(node, uid("svc"), stopped).error(404, "unknown_agent")


@pytest.mark.parametrize("how", ["crash", "stop"])
def test_agent_down_removes_its_entries_and_publishes_unregistered(node, events, how):
    doomed, bystander = start_agent(node), start_agent(node)
    names = [uid("svc"), uid("svc")]
    kept = uid("svc")
    for name in names:
        register(node, name, doomed).expect(201)
    register(node, kept, bystander).expect(201)
    mark = events.head()

    if how == "crash":
        assert node.post(f"/agents/{doomed}/crash").expect(200)["status"] == "crashed"
    else:
        assert node.delete(f"/agents/{doomed}").expect(200)["status"] == "stopped"

    def entries_removed():
        for name in names:
            node.get(f"/registry/{name}").error(404, "not_found")
        return True

    eventually(entries_removed, timeout=5, description=f"entries of {how}ed agent removed")
    removed = events.wait_for("registry.unregistered", lambda e: e["data"].get("name") in names, after=mark, count=2)
    assert sorted(e["data"]["name"] for e in removed) == sorted(names)
    assert all(e["data"]["ref"] == doomed and e["data"]["reason"] == "agent_down" for e in removed)
    assert node.get(f"/registry/{kept}").expect(200)["ref"] == bystander


# -- agents: the refs the registry points to ----------------------------------


def test_agent_lifecycle_answers_and_events(node, events):
    mark = events.head()
    agent_id = uid("agent")
    created = node.post("/agents", {"id": agent_id, "kind": "trader", "meta": {"x": 1}}).expect(201)
    assert created["id"] == agent_id and created["kind"] == "trader"
    assert created["node"] == "n1" and created["status"] == "running"
    assert isinstance(created["started_at"], (int, float))
    assert node.get(f"/agents/{agent_id}").expect(200)["status"] == "running"
    assert agent_id in {a["id"] for a in node.get("/agents").expect(200)["agents"]}

    node.post("/agents", {"id": agent_id}).error(409, "already_exists")

    crashed_id = start_agent(node)
    assert node.post(f"/agents/{crashed_id}/crash").expect(200)["status"] == "crashed"
    assert node.delete(f"/agents/{agent_id}").expect(200)["status"] == "stopped"
    assert node.get(f"/agents/{agent_id}").expect(200)["status"] == "stopped"
    assert node.get(f"/agents/{crashed_id}").expect(200)["status"] == "crashed"

    def about(agent):
        return lambda e: agent in (e["data"].get("id"), e["data"].get("agent_id"))

    events.wait_for("coordination.agent.started", about(agent_id), after=mark)
    events.wait_for("coordination.agent.stopped", about(agent_id), after=mark)
    events.wait_for("coordination.agent.crashed", about(crashed_id), after=mark)


def test_agent_without_id_gets_a_generated_one(node):
    first = node.post("/agents", {}).expect(201)
    second = node.post("/agents", {}).expect(201)
    assert isinstance(first["id"], str) and first["id"]
    assert first["id"] != second["id"]


@pytest.mark.parametrize("method,suffix", [("GET", ""), ("DELETE", ""), ("POST", "/crash"), ("GET", "/resources")])
def test_unknown_agent_is_404(node, method, suffix):
    reply = node.request(method, f"/agents/{uid('ghost')}{suffix}")
    reply.error(404, ("not_found", "unknown_agent"))
