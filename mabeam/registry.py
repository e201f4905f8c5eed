"""Name registry: one holder per name, and only running agents may hold one.

Entries of an agent that goes down are dropped by reacting to its down event,
within the same apply, so no reader ever sees a name pointing at a dead agent.
"""

from __future__ import annotations

from typing import Any

from .agents import DOWN_TOPICS
from .errors import Conflict, NotFound


class Registry:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.by_ref: dict[str, list[str]] = {}

    def snapshot(self) -> dict[str, Any]:
        return {"entries": self.entries, "by_ref": self.by_ref}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Registry:
        registry = cls()
        registry.entries, registry.by_ref = data["entries"], data["by_ref"]
        return registry

    def lookup(self, name: str) -> dict[str, Any]:
        entry = self.entries.get(name)
        if entry is None:
            raise NotFound("not_found", f"no registry entry named '{name}'")
        return entry

    def _remove(self, state: Any, name: str, reason: str, time: float, node: str) -> dict[str, Any]:
        entry = self.entries.pop(name)
        names = self.by_ref[entry["ref"]]
        names.remove(name)
        if not names:
            del self.by_ref[entry["ref"]]
        state.events.append("registry.unregistered", {"name": name, "ref": entry["ref"], "reason": reason}, time, node)
        return entry


def register(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    reg: Registry = state.registry
    name, ref = cmd["name"], cmd["ref"]
    if name in reg.entries:
        raise Conflict("already_registered", f"name '{name}' is held by '{reg.entries[name]['ref']}'", "name")
    if not state.agents.is_running(ref):
        raise NotFound("unknown_agent", f"ref '{ref}' is not a running agent", "ref")
    entry = {"name": name, "ref": ref, "meta": cmd.get("meta") or {}, "node": cmd["node"], "registered_at": cmd["time"]}
    reg.entries[name] = entry
    reg.by_ref.setdefault(ref, []).append(name)
    state.events.append("registry.registered", dict(entry), cmd["time"], cmd["node"])
    return dict(entry)


def unregister(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    reg: Registry = state.registry
    reg.lookup(cmd["name"])
    reg._remove(state, cmd["name"], "unregister", cmd["time"], cmd["node"])
    return {"ok": True, "name": cmd["name"]}


def _agent_down(state: Any, event: dict[str, Any]) -> None:
    reg: Registry = state.registry
    for name in list(reg.by_ref.get(event["data"]["agent_id"], ())):
        reg._remove(state, name, "agent_down", event["time"], event["node"])


OPS = {"registry.register": register, "registry.unregister": unregister}
REACTIONS = {topic: _agent_down for topic in DOWN_TOPICS}
