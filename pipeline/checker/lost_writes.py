"""Acknowledged writes are never lost: the state after healing keeps them.

Linearizability looks at what clients saw *during* the run; this checker looks
at what is left *after* it.  Once the faults are healed, the test reads every
key (or the whole map) from every node (ops named ``final_read``: with a key,
the result is that key's value or None; without a key, the result is the whole
map as ``{key: value}``).  For each key, the final value must be one that the
*last* writes could have left:

* a candidate is any acknowledged or unknown mutation of the key (write,
  delete, successful create or compare-and-set) that no acknowledged mutation
  definitely followed (invoked after it completed); unknown ones always qualify,
  since they may land at any time;
* the initial value (absent) qualifies only if no mutation was acknowledged.

A final value outside that set means an acknowledged write was lost (or a
value appeared that nobody wrote).  Nodes must also agree with each other
after healing (``require_agreement``).  Failed ops are ignored: they were never
applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.checker.history import Op
from pipeline.checker.linearizable import CAS, CREATE, DELETE, WRITE, RegisterModel
from pipeline.checker.result import CheckResult
from pipeline.checker.values import freeze, show

__all__ = ["check_no_lost_writes", "FINAL_READ", "key_id"]

NAME = "lost_writes"
FINAL_READ = "final_read"


def key_id(key: Any) -> str:
    """Keys as the final whole-map reads name them (JSON object keys are strings)."""
    return key if isinstance(key, str) else json.dumps(key, sort_keys=True)


@dataclass(frozen=True)
class _Observation:
    op: Op
    node: str
    value: Any  # frozen


def _installs(op: Op, kind: str) -> tuple[bool, Any]:
    """(does this op possibly change the key, the value it installs)."""
    if op.failed:
        return False, None
    if kind == WRITE:
        return True, freeze(op.value)
    if kind == DELETE:
        return True, None
    if kind == CREATE:
        if op.ok and op.result is False:
            return False, None
        return True, freeze(op.value)
    if kind == CAS:
        if op.ok and op.result is False:
            return False, None
        return True, freeze(op.value[1])
    return False, None


def check_no_lost_writes(
    history: Iterable[Op],
    model: RegisterModel | None = None,
    *,
    final_read: str = FINAL_READ,
    require_agreement: bool = True,
) -> CheckResult:
    """Compare the final reads with the writes that could have been last."""
    model = model or RegisterModel()
    ops = list(history)
    mutations: dict[str, list[tuple[Op, Any]]] = {}
    for op in ops:
        kind = model.kind(op.f)
        if kind is None or op.key is None:
            continue
        changes, value = _installs(op, kind)
        if changes:
            mutations.setdefault(key_id(op.key), []).append((op, value))
    finals = [o for o in ops if o.f == final_read and o.ok]
    if not finals:
        return CheckResult.unsure(
            NAME,
            f"no ok '{final_read}' operations were recorded, so there is "
            f"nothing to compare the acknowledged writes with.",
        )
    observations: dict[str, list[_Observation]] = {}
    for op in finals:
        node = op.node or op.client
        if op.key is None:
            if not isinstance(op.result, dict):
                raise ValueError(f"a whole-map {final_read} must return a dict: {op!r}")
            for k, v in op.result.items():
                observations.setdefault(str(k), []).append(_Observation(op, node, freeze(v)))
            # A whole-map read that lacks a written key observes it as absent.
            for k in mutations:
                if k not in op.result:
                    observations.setdefault(k, []).append(_Observation(op, node, None))
        else:
            observations.setdefault(key_id(op.key), []).append(_Observation(op, node, freeze(op.result)))

    problems: list[tuple[str, tuple[Op, ...]]] = []
    notes: list[str] = []
    checked = 0
    for key in sorted(set(mutations) | set(observations)):
        muts = mutations.get(key, [])
        obs = observations.get(key, [])
        if not obs:
            notes.append(f"key {key!r} was written but never read at the end; not checked")
            continue
        checked += 1
        acked = [o for o, _ in muts if o.ok]
        candidates = [(o, v) for o, v in muts if not any(o.precedes(a) for a in acked)]
        allowed = {v for _, v in candidates}
        if not acked:
            allowed.add(freeze(model.initial))
        last_acked = [o for o, _ in candidates if o.ok]
        for ob in obs:
            if ob.value in allowed:
                continue
            writers = [o for o, v in muts if v == ob.value]
            if last_acked:
                shown = ", ".join(f"#{o.index} ({show(v)})" for o, v in candidates if o.ok)
                what = (
                    f"Key {key!r}: node {ob.node} finally reads {show(ob.value)}, but the "
                    f"acknowledged mutation(s) {shown} were not followed by any acknowledged "
                    f"operation, so one of them (or a concurrent or unknown one) must be the "
                    f"final value: an acknowledged write was lost"
                )
            else:
                what = (
                    f"Key {key!r}: node {ob.node} finally reads {show(ob.value)}, which is "
                    f"not the initial value and no possibly-applied operation installed"
                )
            if writers:
                later = [w for w in writers if any(w.precedes(a) for a in acked)]
                if later:
                    what += (
                        f"; {show(ob.value)} was written by #{later[0].index}, which an "
                        f"acknowledged operation definitely overwrote (a stale replica)"
                    )
            else:
                what += f"; no operation ever wrote {show(ob.value)}"
            excerpt = (ob.op, *last_acked, *writers[:1])
            problems.append((what + ".", excerpt))
        if require_agreement:
            values: dict[Any, _Observation] = {}  # frozen value -> its first observation
            for ob in obs:
                values.setdefault(ob.value, ob)
            if len(values) > 1:
                listing = "; ".join(f"{ob.node}: {show(v)}" for v, ob in values.items())
                problems.append(
                    (
                        f"Key {key!r}: the nodes disagree after healing ({listing}); "
                        f"replicas that applied the same log must hold the same value.",
                        tuple(ob.op for ob in values.values()),
                    )
                )
    stats = {"keys": checked, "final_reads": len(finals)}
    if problems:
        (first, excerpt), rest = problems[0], problems[1:]
        if rest:
            notes.insert(0, f"{len(rest)} more problem(s), e.g.: " + rest[0][0])
        return CheckResult.violation(NAME, first, excerpt, notes=notes, stats=stats)
    return CheckResult.ok(
        NAME,
        f"every acknowledged write survives in the final reads of "
        f"{checked} keys from {len({o.node or o.client for o in finals})} node(s).",
        notes=notes,
        stats=stats,
    )
