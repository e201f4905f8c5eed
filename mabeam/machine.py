"""The replicated state machine: ``apply(state, command) -> result``.

Every state change is a command, a JSON-serialisable dict whose ``op`` names
the change and which carries everything decided outside (``time``, ``node``,
ids, random draws). ``apply`` never reads a clock, draws a random number or
does I/O, so replicas that apply the same commands in the same order hold the
same state and the same ``digest``. That is what lets a replicated log (Raft)
sit in front of it later without touching the domain code.

Domains react to each other's events (an agent going down frees its names and
its resources; a decided bid advances its group) inside the same apply, in
event order, which keeps each domain module ignorant of the others' rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from . import agents, events, registry
from .canonical import canonical_bytes
from .canonical import digest as _digest
from .coordination import consensus, groups, pools
from .economics import auctions, ledger
from .errors import BadRequest, DomainError, replayed
from .events import KEEP, EventLog

Command = dict[str, Any]
Handler = Callable[[Any, Command], Any]
Reaction = Callable[[Any, dict[str, Any]], None]
Listener = Callable[[Command, Any, list[dict[str, Any]]], None]

_MODULES = (agents, registry, events, ledger, auctions, groups, consensus, pools)


def _merge_ops() -> dict[str, Handler]:
    ops: dict[str, Handler] = {}
    for module in _MODULES:
        for op, handler in module.OPS.items():
            assert op not in ops, op
            ops[op] = handler
    return ops


def _merge_reactions() -> dict[str, tuple[Reaction, ...]]:
    reactions: dict[str, list[Reaction]] = {}
    for module in _MODULES:
        for topic, reaction in getattr(module, "REACTIONS", {}).items():
            reactions.setdefault(topic, []).append(reaction)
    return {topic: tuple(fns) for topic, fns in reactions.items()}


OPS = _merge_ops()
REACTIONS = _merge_reactions()

#: the command field naming the write it comes from (docs/api.md, "Request ids")
REQUEST_ID = "request_id"
#: applied request ids remembered, the newest by log order (guarantee 6)
KEEP_REQUESTS = 10_000


class Requests:
    """The outcome of the newest ``keep`` applied commands that carried a request id.

    A command whose request id is here is a retry (a client's, or a follower's
    re-forward): it is not applied again; its answer is the remembered one.
    Entries are evicted oldest first by log order, never by wall time, so every
    replica remembers exactly the same ids. An outcome is ``[op, "ok", result]``
    or ``[op, "error", status, body]``, stored as JSON (a copy: a result may be
    a live part of the state that later commands change)."""

    def __init__(self, keep: int = KEEP_REQUESTS) -> None:
        self.keep = keep
        self.outcomes: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self.outcomes)

    def get(self, request_id: str) -> list[Any] | None:
        return self.outcomes.get(request_id)

    def remember(self, request_id: str, outcome: list[Any]) -> None:
        outcomes = self.outcomes
        outcomes[request_id] = orjson.loads(orjson.dumps(outcome))
        while len(outcomes) > self.keep:
            del outcomes[next(iter(outcomes))]

    def snapshot(self) -> list[list[Any]]:
        return [[request_id, outcome] for request_id, outcome in self.outcomes.items()]

    @classmethod
    def restore(cls, data: list[list[Any]], keep: int = KEEP_REQUESTS) -> Requests:
        requests = cls(keep)
        for request_id, outcome in data[-keep:] if keep else []:
            requests.outcomes[request_id] = outcome
        return requests


class State:
    """All replicated state, one attribute per domain."""

    def __init__(self, keep_events: int = KEEP, keep_requests: int = KEEP_REQUESTS) -> None:
        self.applied = 0
        self.requests = Requests(keep_requests)
        self.agents = agents.Agents()
        self.registry = registry.Registry()
        self.events = EventLog(keep_events)
        self.ledger = ledger.Ledger()
        self.auctions = auctions.AuctionBook()
        self.groups = groups.Groups()
        self.consensus = consensus.Ballots()
        self.pools = pools.Pools()

    def snapshot(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "agents": self.agents.snapshot(),
            "registry": self.registry.snapshot(),
            "events": self.events.snapshot(),
            "ledger": self.ledger.snapshot(),
            "auctions": self.auctions.snapshot(),
            "groups": self.groups.snapshot(),
            "consensus": self.consensus.snapshot(),
            "pools": self.pools.snapshot(),
            "requests": self.requests.snapshot(),
        }

    @classmethod
    def restore(cls, data: dict[str, Any], keep_events: int = KEEP, keep_requests: int = KEEP_REQUESTS) -> State:
        """Rebuild a State from ``snapshot()`` output that went through JSON."""
        state = cls(keep_events, keep_requests)
        state.applied = data["applied"]
        state.agents = agents.Agents.restore(data["agents"])
        state.registry = registry.Registry.restore(data["registry"])
        state.events = EventLog.restore(data["events"], keep_events)
        state.ledger = ledger.Ledger.restore(data["ledger"])
        state.auctions = auctions.AuctionBook.restore(data["auctions"])
        state.groups = groups.Groups.restore(data["groups"])
        state.consensus = consensus.Ballots.restore(data["consensus"])
        state.pools = pools.Pools.restore(data["pools"])
        state.requests = Requests.restore(data.get("requests", []), keep_requests)  # absent: an older snapshot
        return state


def apply(state: State, command: Command) -> Any:
    """Apply one command; raises DomainError when a rule refuses it.

    A refused command still counts as applied (it holds a log position), and
    any events it emitted before refusing still get their reactions, so every
    replica ends in the same state whichever way the command went.

    A command carrying a ``request_id`` that is among the remembered ones is a
    retry: nothing is applied, and the first outcome (result or refusal) is
    answered again. A request id reused for another op is refused (409).
    """
    state.applied += 1
    request_id = command.get(REQUEST_ID)
    if request_id is None:
        return _apply(state, command)
    if not isinstance(request_id, str):
        raise BadRequest("invalid_field", "field 'request_id' must be a string", REQUEST_ID)
    op = command.get("op")
    seen = state.requests.get(request_id)
    if seen is not None:
        return replayed(request_id, op, seen)
    try:
        result = _apply(state, command)
    except DomainError as exc:
        state.requests.remember(request_id, [op, "error", exc.status, exc.body()])
        raise
    state.requests.remember(request_id, [op, "ok", result])
    return result


def _apply(state: State, command: Command) -> Any:
    handler = OPS.get(command.get("op"))  # type: ignore[arg-type]
    if handler is None:
        raise BadRequest("invalid_field", f"unknown op {command.get('op')!r}", "op")
    try:
        return handler(state, command)
    finally:
        _react(state)


def _react(state: State) -> None:
    fresh = state.events.fresh
    i = 0
    while i < len(fresh):  # reactions may append more events; they are seen too
        event = fresh[i]
        for reaction in REACTIONS.get(event["topic"], ()):
            reaction(state, event)
        i += 1


def digest(state: State) -> str:
    return _digest(state.snapshot())


class StateMachine:
    """Owns one State and tells listeners about every applied command.

    Listeners (the node's waiters, its event readers, the runtime's drivers)
    run after each apply on every replica, whoever proposed the command.
    """

    def __init__(self, state: State | None = None) -> None:
        self.state = state if state is not None else State()
        self._listeners: list[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def apply(self, command: Command) -> Any:
        state = self.state
        error: DomainError | None = None
        result: Any = None
        try:
            result = apply(state, command)
        except DomainError as exc:
            error = exc
        fresh = state.events.fresh
        state.events.fresh = []
        for listener in self._listeners:
            listener(command, result, fresh)
        if error is not None:
            raise error
        return result

    def apply_all(self, commands: Iterable[Command]) -> None:
        for command in commands:
            try:
                self.apply(command)
            except DomainError:
                pass

    def digest(self) -> str:
        return digest(self.state)

    def snapshot_bytes(self) -> bytes:
        """The whole state as canonical JSON bytes (for Raft snapshots)."""
        return canonical_bytes(self.state.snapshot())

    def restore_bytes(self, data: bytes) -> None:
        """Replace the state by a snapshot; the caller resyncs what derives from it."""
        self.state = State.restore(
            orjson.loads(data), self.state.events.events.maxlen or KEEP, self.state.requests.keep
        )
