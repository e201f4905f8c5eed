"""The event log: part of the replicated state, so every node sees one order.

Event ids are log positions (one more per event), which makes an id a cursor
that means the same thing on every replica. Only the newest ``keep`` events are
held; a cursor older than that resumes from the oldest kept one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import Any

from .patterns import Matcher, validate_topic

KEEP = 10_000


class EventLog:
    def __init__(self, keep: int = KEEP) -> None:
        self.next_id = 1
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)
        # Events appended by the command being applied; the machine drains it
        # to run reactions and wake readers, so a burst longer than ``keep``
        # is still seen whole.
        self.fresh: list[dict[str, Any]] = []

    def append(self, topic: str, data: Any, time: float, node: str) -> dict[str, Any]:
        event = {"id": self.next_id, "topic": topic, "data": data, "time": time, "node": node}
        self.next_id += 1
        self.events.append(event)
        self.fresh.append(event)
        return event

    def snapshot(self) -> dict[str, Any]:
        return {"next_id": self.next_id, "events": list(self.events)}

    @classmethod
    def restore(cls, data: dict[str, Any], keep: int = KEEP) -> EventLog:
        log = cls(keep)
        log.next_id = data["next_id"]
        log.events.extend(data["events"])
        return log

    # -- reads ---------------------------------------------------------------

    @property
    def last_id(self) -> int:
        return self.next_id - 1

    def after(self, cursor: int) -> Iterator[dict[str, Any]]:
        """Events with id > cursor, oldest first (ids are contiguous in the deque)."""
        if not self.events:
            return iter(())
        first = self.events[0]["id"]
        start = max(0, cursor - first + 1)
        if start >= len(self.events):
            return iter(())
        if start == 0:
            return iter(self.events)
        # Readers mostly want the newest few: walk from the right end instead
        # of skipping ``start`` items from the left.
        tail = list(islice(reversed(self.events), len(self.events) - start))
        tail.reverse()
        return iter(tail)

    def query(self, cursor: int, matcher: Matcher, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Up to ``limit`` matching events after ``cursor`` and the next cursor.

        The next cursor skips non-matching events already scanned, so a client
        with a narrow pattern does not rescan the same gap every poll.
        """
        found: list[dict[str, Any]] = []
        scanned = cursor
        for event in self.after(cursor):
            scanned = event["id"]
            if matcher(event["topic"]):
                found.append(event)
                if len(found) >= limit:
                    break
        return found, scanned


def publish(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    topic = validate_topic(cmd.get("topic"))
    return state.events.append(topic, cmd.get("data"), cmd["time"], cmd["node"])


OPS = {"events.publish": publish}
