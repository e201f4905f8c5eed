"""The log in front of apply: where a command becomes part of history.

Handlers and drivers only ever call ``submit``; they never apply directly.
Today ``LocalLog`` applies at once. A replicated log (Raft, in ``mabeam.raft``)
will implement the same interface: ``submit`` resolves once the command is
committed by a majority and applied locally, returning apply's result or
raising its DomainError, or raising ``Unavailable("no_quorum", ...)``.
"""

from __future__ import annotations

from typing import Any, Protocol

from .machine import Command, StateMachine


class Log(Protocol):
    machine: StateMachine

    async def submit(self, command: Command) -> Any:
        """Commit ``command`` and return the result of applying it."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def is_leader(self) -> bool:
        """Whether this node should run the background drivers."""
        ...

    def mode(self) -> str:
        """ "normal", "partition_detected" or "safe_mode"."""
        ...


class LocalLog:
    """A single-node log: the command is committed as soon as it is submitted."""

    def __init__(self, machine: StateMachine) -> None:
        self.machine = machine

    async def submit(self, command: Command) -> Any:
        return self.machine.apply(command)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def is_leader(self) -> bool:
        return True

    def mode(self) -> str:
        return "normal"
