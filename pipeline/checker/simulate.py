"""Histories of a *correct* concurrent register, for testing the checkers.

A checker that cries wolf is as useless as one that sleeps.  To test both
sides we need histories whose verdict is known by construction: clients with
random overlapping intervals operate on a perfectly sequential register, each
operation taking effect at a random instant inside its interval (unknown ones
anywhere after their invoke, even after the client gave up, or never).  Such a
history is linearizable by construction; :func:`plant_stale_read` then breaks
it in a way that is guaranteed to be a violation.

Everything is driven by a ``random.Random`` the caller seeds and prints.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pipeline.checker.history import FAIL, OK, UNKNOWN, History, Op

__all__ = ["simulate_register", "plant_stale_read"]

_MS = 1_000_000  # simulated time runs in whole milliseconds, printed as such


@dataclass
class _Plan:
    """One simulated operation, times in ms, before it becomes an :class:`Op`."""

    index: int
    client: int
    f: str
    key: str
    value: int | None
    status: str
    invoke: int
    complete: int
    effect: int | None  # when it takes effect on the register; None: never


def simulate_register(
    rng: random.Random,
    *,
    ops: int = 200,
    clients: int = 5,
    keys: Sequence[str] = ("k",),
    p_read: float = 0.5,
    p_delete: float = 0.05,
    p_unknown: float = 0.1,
    p_fail: float = 0.05,
    p_unknown_applied: float = 0.5,
    values: int | None = None,
) -> History:
    """A linearizable read/write/delete history over ``keys``.

    Written values are unique unless ``values`` is given: then they are drawn
    from ``range(values)``, so reads cannot tell writes apart -- the hard case
    for the search, since no unknown write can be ruled out as unobserved.
    """
    free = [0] * clients
    plans: list[_Plan] = []
    for _ in range(ops):
        c = rng.randrange(clients)
        key = rng.choice(list(keys))
        invoke = free[c] + rng.randint(0, 5)
        duration = rng.randint(1, 20)
        complete = invoke + duration
        roll = rng.random()
        if roll < p_read:
            f, value = "read", None
        elif roll < p_read + p_delete:
            f, value = "delete", None
        else:
            f, value = "write", 0  # numbered below, once ops are in invocation order
        roll = rng.random()
        if roll < p_unknown:
            status = UNKNOWN
            effect = invoke + rng.randint(0, 3 * duration) if rng.random() < p_unknown_applied else None
        elif roll < p_unknown + p_fail:
            status, effect = FAIL, None
        else:
            status, effect = OK, invoke + rng.randint(0, duration)
        plans.append(_Plan(0, c, f, key, value, status, invoke, complete, effect))
        free[c] = complete
    plans.sort(key=lambda p: p.invoke)  # stable: a history's index is its invocation order
    for index, plan in enumerate(plans):
        plan.index = index
        if plan.f == "write":
            plan.value = index if values is None else rng.randrange(values)
    state: dict[str, object] = {}
    results: dict[int, object] = {}
    for plan in sorted((p for p in plans if p.effect is not None), key=lambda p: (p.effect, p.index)):
        if plan.f == "read":
            results[plan.index] = state.get(plan.key)
        elif plan.f == "write":
            state[plan.key] = plan.value
        else:
            state.pop(plan.key, None)
    meta = {"generator": "simulate_register", "time_unit": "ms"}
    out = []
    for p in plans:
        result = results.get(p.index) if p.status == OK and p.f == "read" else None
        error = {FAIL: "no_quorum", UNKNOWN: "timeout"}.get(p.status)
        out.append(
            Op(p.index, f"c{p.client}", p.f, p.key, p.value, p.status, result, p.invoke * _MS, p.complete * _MS, error)
        )
    return History.from_ops(out, meta=meta, t0_ns=0)


def plant_stale_read(history: History, rng: random.Random) -> tuple[History, Op] | None:
    """Make one ok read return a value that was certainly overwritten before it began.

    Picks writes W1 -> W2 -> R in real-time order on one key (W1 and W2 ok,
    different values, W1 the only write of its value) and makes R read W1's
    value.  Returns the new history and the planted read, or None if the
    history has no such triple.
    """
    ops = list(history.ops())
    writers: dict[object, list[Op]] = {}
    for o in ops:
        if o.f == "write" and o.status != FAIL:
            writers.setdefault((o.key, repr(o.value)), []).append(o)
    candidates = []
    for r in ops:
        if r.f != "read" or not r.ok:
            continue
        for w2 in ops:
            if w2.key != r.key or not w2.ok or w2.f not in ("write", "delete") or not w2.precedes(r):
                continue
            for w1 in ops:
                if (
                    w1.f == "write"
                    and w1.ok
                    and w1.key == r.key
                    and w1.precedes(w2)
                    and (w2.f == "delete" or w1.value != w2.value)
                    and len(writers[(w1.key, repr(w1.value))]) == 1
                    and r.result != w1.value
                ):
                    candidates.append((r, w1))
                    break
            if candidates and candidates[-1][0] is r:
                break
    if not candidates:
        return None
    read, w1 = rng.choice(candidates)
    planted = replace(read, result=w1.value)
    ops[read.index] = planted
    return History.from_ops(ops, meta=history.meta, t0_ns=history.t0_ns), planted
