"""Linearizability of a per-key register (a map, a name registry).

A history is linearizable when every operation can be given a single instant,
between its invoke and its completion, such that applying the operations one
by one in that order to a sequential register produces exactly the answers
the clients got.  Unknown operations (timeouts) may be given any instant after
their invoke, or none at all; failed operations never happened.  Values
compare as JSON values (:func:`~pipeline.checker.values.freeze`: ``true`` is
not ``1``), and ``null`` is absent: a read returns ``None`` for a missing key,
so writing ``null`` deletes.

How it is checked, and why it is fast enough:

* **P-compositionality.**  Operations on different keys of a map commute, so
  the map is linearizable iff each key's sub-history is.  Each key is searched
  on its own, which turns one huge search into many small ones.
* **A read nothing could have written is found up front.**  A completed read
  of a value that no operation writes (and the key did not start with), or
  that only operations invoked after the read returned write, is a
  violation by itself; one pass over the key finds it, and that read (with
  the first late writer, if any) is the excerpt.
* **Wing & Gong search with Lowe's memoisation.**  Walk the key's invoke and
  completion events in time order; at each step either linearize one of the
  operations invoked so far (if the register model allows its answer in the
  current state) or, on reaching the completion of an operation not yet
  linearized, backtrack.  A configuration is (set of linearized operations,
  register state); one that was seen before is not explored again, which is
  what keeps a few hundred operations per key cheap.
* **Reductions that change no verdict** (each checked against a brute-force
  oracle in the tests):

  - an unknown mutation is given an instant only while some completed op
    that could observe it (a read of its value, an "already present"
    answer) is still unplaced; if none exists it is dropped up front.  Each
    unknown op otherwise doubles the configurations (it happened or not);
  - unknown ops that do the same thing are interchangeable, so they are used
    in invoke order only;
  - values that no read returns and no compare-and-set expects all behave
    alike, so they are one state ("a value no read returned"); absence is
    never folded into it (a create-if-absent tells them apart);
  - a pure observer (a read, "already present", a failed compare-and-set)
    that is possible now is placed now, without trying orders that
    postpone it.

  Compare-and-set on a key switches the first reduction off for that key.
* **A budget.**  The search counts its steps; past ``max_steps`` for one key
  the result is *inconclusive*, never a guessed verdict.

When a key fails, the excerpt is shrunk: first to the ops invoked before the
furthest point any order reached (later ops cannot rescue it), then by delta
debugging, removing ops while the rest still fails *the same way*: not
linearizable, blocked no earlier, at the same op, and every read that the
key's history could explain still explained by an op in the excerpt (a write
of its value, or a delete for a read of absent, not invoked after the read
returned; or the initial state), so a stale read stays a stale read rather
than becoming "a value nobody wrote", and a read of absent keeps its delete.
Shrinking has a step budget (by default the search's own, ``max_steps``);
when it runs out, the excerpt is the smallest found so far.  Before it is
printed, every excerpt is checked once more: a violation on its own, every
explainable read explained; if not, the whole key is the excerpt.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pipeline.checker.history import Op
from pipeline.checker.result import CheckResult
from pipeline.checker.values import freeze, show

__all__ = ["RegisterModel", "KeyVerdict", "check_linearizable", "check_key"]

NAME = "linearizable"

READ, WRITE, DELETE, CREATE, CAS = "read", "write", "delete", "create", "cas"
_IMPOSSIBLE = object()


@dataclass(frozen=True)
class RegisterModel:
    """The vocabulary of a per-key register: which op names mean what.

    * read(key) -> value, or None when absent;
    * write(key, value) -> sets it (the result is ignored);
    * delete(key) -> makes it absent (the result is ignored);
    * create(key, value) -> register-if-absent: result ``False`` means "was
      already present, nothing changed" (a registry's ``already_registered``
      recorded as ``op.ok(False)``), any other ok result means "created";
      recording ``already_registered`` as ``fail`` is also sound, only weaker;
    * cas(key, [old, new]) -> ``True`` when it swapped, ``False`` when the
      value was not ``old``.
    """

    reads: frozenset[str] = frozenset({"read", "get", "lookup"})
    writes: frozenset[str] = frozenset({"write", "put", "update"})
    deletes: frozenset[str] = frozenset({"delete", "unregister", "remove"})
    creates: frozenset[str] = frozenset({"create", "register", "register_if_absent"})
    cas: frozenset[str] = frozenset({"cas"})
    initial: Any = None

    def __post_init__(self) -> None:
        sets = [self.reads, self.writes, self.deletes, self.creates, self.cas]
        names = [n for s in sets for n in s]
        if len(names) != len(set(names)):
            raise ValueError(f"an op name has two meanings in {self!r}")

    def kind(self, f: str) -> str | None:
        if f in self.reads:
            return READ
        if f in self.writes:
            return WRITE
        if f in self.deletes:
            return DELETE
        if f in self.creates:
            return CREATE
        if f in self.cas:
            return CAS
        return None

    def names(self) -> frozenset[str]:
        return self.reads | self.writes | self.deletes | self.creates | self.cas

    def __repr__(self) -> str:
        return (
            f"RegisterModel(reads={sorted(self.reads)}, writes={sorted(self.writes)}, "
            f"deletes={sorted(self.deletes)}, creates={sorted(self.creates)}, cas={sorted(self.cas)})"
        )


@dataclass(frozen=True, eq=False)
class _KOp:
    """One operation of one key, prepared for the search."""

    id: int
    op: Op
    kind: str
    arg: Hashable  # write/create value, (old, new) for cas
    expect: Any  # read result; True/False for create and cas; None otherwise
    definite: bool  # ok (must be linearized) vs unknown (may be)
    call: int
    ret: float

    @property
    def observer(self) -> bool:
        """A completed op that never changes the state where it is possible."""
        return self.definite and (self.kind == READ or (self.kind in (CREATE, CAS) and self.expect is False))


def _cas_pair(k: _KOp) -> tuple[Hashable, Hashable]:
    """``(old, new)`` of a compare-and-set op."""
    # A CAS op's arg is always this pair: _prepare builds it, _canonical only swaps ``new``.
    return cast("tuple[Hashable, Hashable]", k.arg)


def _prepare(op: Op, kind: str, i: int) -> _KOp:
    arg: Hashable = None
    expect: Any = None
    if kind in (WRITE, CREATE):
        arg = freeze(op.value)
    elif kind == CAS:
        pair = op.value
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"cas value must be [old, new], got {pair!r} in {op!r}")
        arg = (freeze(pair[0]), freeze(pair[1]))
    if kind == WRITE and arg is None:
        kind = DELETE  # a read cannot tell null from absent: writing null deletes
    if op.ok:
        if kind == READ:
            expect = freeze(op.result)
        elif kind == CREATE:
            expect = op.result is not False
        elif kind == CAS:
            if not isinstance(op.result, bool):
                raise ValueError(f"cas result must be true/false, got {op.result!r} in {op!r}")
            expect = op.result
    return _KOp(i, op, kind, arg, expect, op.ok, op.invoke_ns, op.end_ns)


class _Unseen:
    """The state after a write of a value no completed op ever compares against.

    All such states behave the same (reads cannot return them, creates see
    "present"), so they are one state: this merges configurations that differ
    only in which unread value was written last, a large saving when many
    writes overlap.
    """

    _instance: _Unseen | None = None

    def __new__(cls) -> _Unseen:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "a value no read returned"

    def __reduce__(self):
        return (_Unseen, ())


UNSEEN = _Unseen()


def _canonical(kops: Sequence[_KOp]) -> list[_KOp]:
    """Replace values nobody compares against by :data:`UNSEEN`.

    ``None`` (absent) is never folded: a create-if-absent can tell it from any
    value, whether or not some read returns it.
    """
    compared = {k.expect for k in kops if k.definite and k.kind == READ}
    compared |= {_cas_pair(k)[0] for k in kops if k.kind == CAS}
    compared.add(None)
    out = []
    for k in kops:
        arg = k.arg
        if k.kind in (WRITE, CREATE) and arg not in compared:
            arg = UNSEEN
        elif k.kind == CAS and _cas_pair(k)[1] not in compared:
            arg = (_cas_pair(k)[0], UNSEEN)
        out.append(k if arg is k.arg else _KOp(k.id, k.op, k.kind, arg, k.expect, k.definite, k.call, k.ret))
    return out


def _step(state: Any, k: _KOp) -> Any:
    """The register's sequential specification: the next state, or _IMPOSSIBLE."""
    kind = k.kind
    if kind == READ:
        return state if state == k.expect else _IMPOSSIBLE
    if kind == WRITE:
        return k.arg
    if kind == DELETE:
        return None
    if kind == CREATE:
        if not k.definite:
            return k.arg if state is None else state
        if k.expect:
            return k.arg if state is None else _IMPOSSIBLE
        return state if state is not None else _IMPOSSIBLE
    # CAS
    old, new = _cas_pair(k)
    if not k.definite:
        return new if state == old else state
    if k.expect:
        return new if state == old else _IMPOSSIBLE
    return state if state != old else _IMPOSSIBLE


def _installs(k: _KOp) -> Any:
    """The value this op may install, or _IMPOSSIBLE when it installs nothing.

    A create that reported "already present" and a compare-and-set that
    failed changed nothing; a read never does.  (Unprocessed values: call it
    before :func:`_canonical`.)
    """
    if k.kind == WRITE:
        return k.arg
    if k.kind == DELETE:
        return None
    if k.kind == CREATE:
        return k.arg if not k.definite or k.expect else _IMPOSSIBLE
    if k.kind == CAS:
        return _cas_pair(k)[1] if not k.definite or k.expect else _IMPOSSIBLE
    return _IMPOSSIBLE


def _observers(kops: Sequence[_KOp]) -> dict[int, int | None]:
    """For each unknown mutation, the bitmask of completed ops that could observe it.

    Once all of them are linearized, giving the unknown op an instant is never
    needed.  Why: in any valid order that places it after all its observers,
    the ops between it and the next write or delete cannot depend on what it
    installed (no read of that value, no "already present" is left; an unknown
    create there was a no-op and can be left out too), so removing it keeps
    the order valid.  An empty mask means the op can be dropped up front;
    ``None`` means "never prune" (compare-and-set on the key, or an unknown
    delete that an unknown create could expose).
    """
    out: dict[int, int | None] = {}
    unknown = [k for k in kops if not k.definite]
    if not unknown:
        return out
    if any(k.kind == CAS for k in kops):
        return {k.id: None for k in unknown}
    reads_of: dict[Any, int] = {}
    present = 0
    creates = 0
    for k in kops:
        if not k.definite:
            continue
        if k.kind == READ:
            reads_of[k.expect] = reads_of.get(k.expect, 0) | (1 << k.id)
        elif k.kind == CREATE:
            creates |= 1 << k.id
            if k.expect is False:
                present |= 1 << k.id
    unknown_creates = any(k.kind == CREATE for k in unknown)
    for k in unknown:
        if k.kind in (WRITE, CREATE):
            out[k.id] = reads_of.get(k.arg, 0) | present
        elif k.kind == DELETE:
            out[k.id] = None if unknown_creates else reads_of.get(None, 0) | creates
    return out


@dataclass
class _Search:
    """The outcome of one Wing & Gong search over one key."""

    linearizable: bool | None  # None: budget exhausted
    steps: int
    furthest: float = -1.0  # completion time of the furthest blocking op
    blocker: _KOp | None = None  # the op that blocked there
    states: list[Any] = field(default_factory=list)  # states seen when blocked there


def _search(kops: Sequence[_KOp], initial: Any, max_steps: int, *, canonical: bool = True) -> _Search:
    """Wing & Gong / Lowe search over one key's ops (ids must be 0..n-1).

    Ops live in a doubly linked list of call and return events in time order
    (unknown ops have a call only: no deadline).  An op can be placed when its
    call comes before the first remaining return; candidates are tried in
    invoke order, the order in which a real execution tends to apply them.
    (Trying completed ops before unknown ones was measured and is slower.)

    ``canonical=False`` keeps every written value distinct (slower; used to
    name the actual values in explanations).
    """
    if not any(k.definite for k in kops):
        return _Search(True, 0)
    if canonical:
        kops = _canonical(kops)
    # Events: (time, 0=call/1=return, op id).  Calls sort before returns at
    # equal times, which treats touching intervals as concurrent (permissive).
    events: list[tuple[float, int, int]] = []
    for k in kops:
        events.append((k.call, 0, k.id))
        if k.definite:
            events.append((k.ret, 1, k.id))
    events.sort()
    n_ev = len(events)
    head = n_ev
    nxt = list(range(1, n_ev + 1)) + [0]
    nxt[n_ev - 1] = -1
    prv = [i - 1 for i in range(n_ev)] + [-1]
    prv[0] = head
    is_ret = [e[1] for e in events]
    by_id = {k.id: k for k in kops}
    kop_at = [by_id[e[2]] for e in events]
    ret_node: dict[int, int] = {e[2]: node for node, e in enumerate(events) if e[1]}
    ret_at = [ret_node.get(e[2], -1) for e in events]
    observers = _observers(kops)
    watch = [observers.get(k.id) if not k.definite else None for k in kop_at]
    # Unknown ops that do the same thing are interchangeable (none has a
    # deadline), so a class's members are used in invoke order only: an op may
    # be tried once every earlier member of its class is placed.
    before = [0] * n_ev
    classes: dict[tuple[str, Any], int] = {}
    for node in range(n_ev):
        k = kop_at[node]
        if not k.definite and not is_ret[node]:
            cls = (k.kind, k.arg)
            before[node] = classes.get(cls, 0)
            classes[cls] = before[node] | (1 << k.id)

    def unlink(x: int) -> None:
        p, q = prv[x], nxt[x]
        nxt[p] = q
        if q != -1:
            prv[q] = p

    def relink(x: int) -> None:
        p, q = prv[x], nxt[x]
        nxt[p] = x
        if q != -1:
            prv[q] = x

    remaining = sum(1 for k in kops if k.definite)
    state = initial
    linearized = 0
    seen: set[tuple[int, Any]] = set()
    # (call node, state before, greedy): a greedy entry is a pure observer (a
    # read, "already present", a failed cas: never changes the state wherever
    # it is possible).  If it is possible now, some successful order places it
    # now, so orders that postpone it need no trying: backtracking passes
    # through it.
    stack: list[tuple[int, Any, bool]] = []
    entry = nxt[head]
    steps = 0
    out = _Search(None, 0)
    while remaining:
        steps += 1
        if steps > max_steps:
            out.steps = steps
            return out
        backtrack = False
        if not is_ret[entry]:
            k = kop_at[entry]
            mask = watch[entry]
            if mask is not None and linearized & mask == mask:
                entry = nxt[entry]  # nobody left to observe this unknown op
                continue
            prior = before[entry]
            if prior and linearized & prior != prior:
                entry = nxt[entry]  # an earlier twin of this unknown op is still free
                continue
            new = _step(state, k)
            if new is _IMPOSSIBLE or (not k.definite and new == state):
                entry = nxt[entry]  # impossible here, or a pointless no-op
                continue
            bits = linearized | (1 << k.id)
            config = (bits, new)
            greedy = k.observer
            if config not in seen:
                seen.add(config)
                stack.append((entry, state, greedy))
                state, linearized = new, bits
                unlink(entry)
                r = ret_at[entry]
                if r != -1:
                    unlink(r)
                    remaining -= 1
                entry = nxt[head]
                continue
            if not greedy:
                entry = nxt[entry]
                continue
            backtrack = True  # a greedy op leads to a known dead end: so does this config
        else:
            k = kop_at[entry]
            if k.ret > out.furthest:
                out.furthest, out.blocker, out.states = k.ret, k, []
            if k is out.blocker and len(out.states) < 8 and state not in out.states:
                out.states.append(state)
            backtrack = True
        if backtrack:
            while True:
                if not stack:
                    out.linearizable, out.steps = False, steps
                    return out
                node, state, greedy = stack.pop()
                linearized &= ~(1 << kop_at[node].id)
                r = ret_at[node]
                if r != -1:
                    relink(r)
                    remaining += 1
                relink(node)
                if not greedy:
                    break
            entry = nxt[node]
    out.linearizable, out.steps = True, steps
    return out


@dataclass(frozen=True)
class KeyVerdict:
    """The verdict for one key, with the shrunk evidence when it fails."""

    key: Any
    linearizable: bool | None
    ops: tuple[Op, ...]
    excerpt: tuple[Op, ...] = ()
    explanation: str = ""
    steps: int = 0

    def __repr__(self) -> str:
        word = {True: "linearizable", False: "NOT linearizable", None: "inconclusive"}[self.linearizable]
        return f"KeyVerdict(key={self.key!r}: {word}, {len(self.ops)} ops, {self.steps} steps)"


def _prepare_key(ops: Sequence[Op], model: RegisterModel) -> tuple[list[_KOp], int]:
    """Keep what constrains the search; return the ops and how many unknowns were dropped."""
    kops: list[_KOp] = []
    for op in ops:
        kind = model.kind(op.f)
        if kind is None or op.failed:
            continue
        if op.unknown and kind == READ:
            continue  # an unanswered read constrains nothing
        kops.append(_prepare(op, kind, len(kops)))
    observers = _observers(kops)
    drop = {i for i, mask in observers.items() if mask == 0}
    kept = [k for k in kops if k.id not in drop]
    return _renumber(kept), len(drop)


def _renumber(kops: Sequence[_KOp]) -> list[_KOp]:
    return [_KOp(i, k.op, k.kind, k.arg, k.expect, k.definite, k.call, k.ret) for i, k in enumerate(kops)]


def _mutates(k: _KOp) -> bool:
    """A completed op that certainly installed a value (or absence)."""
    return k.definite and _installs(k) is not _IMPOSSIBLE


def _writers(kops: Sequence[_KOp]) -> dict[Any, list[_KOp]]:
    """The ops that may install each value (``None``: the deletes), in ``kops`` order."""
    out: dict[Any, list[_KOp]] = {}
    for k in kops:
        value = _installs(k)
        if value is not _IMPOSSIBLE:
            out.setdefault(value, []).append(k)
    return out


def _unwritten_read(kops: Sequence[_KOp], initial: Any) -> tuple[_KOp, _KOp | None] | None:
    """The first completed read of a value nothing could have installed before it returned.

    No op writes the value (and the key did not start with it), or every op
    that does was invoked after the read had returned: the read alone is a
    violation, whatever the other ops did.  Returns the read and the first
    late writer (``None`` if there is none), or ``None`` if every read has a
    possible writer.  One pass, so it runs before the search and saves it
    from spending its budget on proving the obvious.
    """
    writers = _writers(kops)
    worst: tuple[_KOp, _KOp | None] | None = None
    for k in kops:
        if not (k.definite and k.kind == READ) or k.expect == initial:
            continue
        candidates = writers.get(k.expect, [])
        if any(w.call <= k.ret for w in candidates):
            continue
        if worst is None or k.ret < worst[0].ret:
            worst = (k, min(candidates, key=lambda w: w.call, default=None))
    return worst


class _Explained:
    """The rule that keeps an excerpt honest: every read that the whole key's history could
    explain (a write of its value, or the delete before a read of absent, not invoked after
    the read returned; or the initial state) must still be explainable within the excerpt.

    Without it, delta debugging happily trades a stale read for a different,
    misleading violation: drop the delete that explains a read of "absent",
    and that read becomes the culprit; drop the one write of 7 that came
    before a read of 7 and keep a later one, and the read becomes "a value
    nobody had written yet".  Reads nothing could explain (a value nobody
    wrote) are the evidence themselves and need nothing.
    """

    def __init__(self, kops: Sequence[_KOp], initial: Any) -> None:
        self.initial = initial
        self.sources: dict[int, list[_KOp]] = {}  # id(read op) -> the ops that may explain it
        self.writers: dict[int, frozenset[int]] = {}  # the same, as ids of their ops
        by_value = _writers(kops)
        first_mutation = min((k.ret for k in kops if _mutates(k)), default=float("inf"))
        for k in kops:
            if k.definite and k.kind == READ:
                sources = [w for w in by_value.get(k.expect, ()) if w.call <= k.ret]
                if sources or (k.expect == initial and first_mutation >= k.call):
                    self.sources[id(k.op)] = sources
                    self.writers[id(k.op)] = frozenset(id(w.op) for w in sources)

    def __call__(self, candidate: Sequence[_KOp]) -> bool:
        present = {id(k.op) for k in candidate}
        first_mutation = min((k.ret for k in candidate if _mutates(k)), default=float("inf"))
        for k in candidate:
            writers = self.writers.get(id(k.op))
            if writers is None or writers & present:
                continue
            if k.expect == self.initial and first_mutation >= k.call:
                continue  # the initial state explains it
            return False
        return True


def _shrink(kops: list[_KOp], initial: Any, search: _Search, budget: int) -> list[_KOp]:
    """A small sub-history that still fails, the same way, within ``budget`` search steps.

    "The same way" means: still not linearizable, still containing the op
    that blocked every order, blocked no earlier than it was, and every read
    that the key's history could explain still explained (see
    :class:`_Explained`).  When the budget runs out, the smallest such
    sub-history found so far.
    """
    blocker = search.blocker.op if search.blocker is not None else None
    explained = _Explained(kops, initial)
    spent = 0

    def fails(candidate: list[_KOp]) -> bool:
        nonlocal spent
        if not candidate or spent >= budget:
            return False
        if blocker is not None and all(k.op is not blocker for k in candidate):
            return False
        if not explained(candidate):
            return False
        outcome = _search(_renumber(candidate), initial, budget - spent)
        spent += outcome.steps
        return outcome.linearizable is False and outcome.furthest >= search.furthest

    # Ops invoked after the furthest point any order reached cannot rescue it;
    # keep those a kept read needs to stay explained, though.
    current = [k for k in kops if k.call <= search.furthest]
    if not fails(current):
        kept = {id(k.op) for k in current}
        needed = {id(w.op) for k in current for w in explained.sources.get(id(k.op), ())}
        current = [k for k in kops if id(k.op) in kept or id(k.op) in needed]
        if len(current) == len(kops) or not fails(current):
            current = list(kops)
    n = 2
    while len(current) >= 2 and spent < budget:
        size = len(current)
        chunk = max(1, size // n)
        reduced = False
        for start in range(0, size, chunk):
            candidate = current[:start] + current[start + chunk :]
            if fails(candidate):
                current = candidate
                n = max(n - 1, 2)
                reduced = True
                break
            if spent >= budget:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(n * 2, size)
    return current


_KIND_WORDS = {
    READ: "read",
    WRITE: "write",
    DELETE: "delete",
    CREATE: "create-if-absent",
    CAS: "compare-and-set",
}


def _blocked_words(k: _KOp, states: Sequence[Any]) -> str:
    could = ", ".join(show(s) for s in states) or "nothing"
    head = f"the key could only be {could}"
    if k.kind == READ:
        return f"{head}, yet the read returned {show(k.expect)}."
    if k.kind == CREATE and k.expect is False:
        return f"{head}, yet the create reported it already present."
    if k.kind == CREATE:
        return f"{head}, yet the create succeeded as if it were absent."
    if k.kind == CAS:
        old, _new = _cas_pair(k)
        verb = "succeeded" if k.expect else "failed"
        return f"{head}, yet the compare-and-set against {show(old)} {verb}."
    return (
        f"{head}; giving the {_KIND_WORDS[k.kind]} an instant there leads only to dead ends "
        f"for the operations after it."
    )


def _explain_unwritten(key: Any, read: _KOp, late: _KOp | None, t0: int) -> str:
    value = show(read.expect)
    if late is None:
        why = f"no operation wrote {value}, and the key did not start with it"
    else:
        why = (
            f"the first operation that could write {value}, {late.op.describe(t0)}, was invoked only "
            f"after the read had completed"
        )
    return (
        f"Key {key!r} is not linearizable: {read.op.describe(t0)} returned {value}, but {why}, "
        f"so no order of the operations can give that read its answer."
    )


def _explain(key: Any, kops: Sequence[_KOp], search: _Search, t0: int) -> str:
    n = len(kops)
    b = search.blocker
    if b is None:
        return f"Key {key!r}: no order of these {n} operations is consistent with a register."
    return (
        f"Key {key!r} is not linearizable: no order of these {n} operations both respects real "
        f"time (an operation that completed before another was invoked comes first) and gives "
        f"every client the answer it got. Every candidate order is stuck by the time "
        f"{b.op.describe(t0)} completed: at that point {_blocked_words(b, search.states)}"
    )


def check_key(
    key: Any,
    ops: Sequence[Op],
    model: RegisterModel | None = None,
    *,
    max_steps: int = 2_000_000,
    shrink_steps: int | None = None,
    t0_ns: int | None = None,
) -> KeyVerdict:
    """Check one key's operations (already filtered to that key).

    ``max_steps`` bounds the search; ``shrink_steps`` bounds shrinking the
    excerpt of a failing key (default: ``max_steps`` as well).
    """
    model = model or RegisterModel()
    initial = freeze(model.initial)
    kops, _dropped = _prepare_key(ops, model)
    t0 = min((o.invoke_ns for o in ops), default=0) if t0_ns is None else t0_ns
    unwritten = _unwritten_read(kops, initial)
    if unwritten is not None:
        read, late = unwritten
        evidence = [read] if late is None else sorted([read, late], key=lambda k: k.call)
        excerpt = tuple(k.op for k in evidence)
        if _excerpt_holds(_renumber(evidence), initial, _Explained(kops, initial), max_steps):
            return KeyVerdict(key, False, tuple(ops), excerpt, _explain_unwritten(key, read, late, t0), 0)
    search = _search(kops, initial, max_steps)
    if search.linearizable is not False:
        return KeyVerdict(key, search.linearizable, tuple(ops), steps=search.steps)
    small = _renumber(_shrink(kops, initial, search, max_steps if shrink_steps is None else shrink_steps))
    again = _search(small, initial, max_steps, canonical=False)
    if again.linearizable is not False or not _Explained(kops, initial)(small):
        small, again = _renumber(kops), search  # defensive: fall back to the whole key
    excerpt = tuple(k.op for k in small)
    return KeyVerdict(key, False, tuple(ops), excerpt, _explain(key, small, again, t0), search.steps)


def _excerpt_holds(small: Sequence[_KOp], initial: Any, explained: _Explained, max_steps: int) -> bool:
    """Is this excerpt fit to print: a violation on its own, every explainable read explained?"""
    return explained(small) and _search(small, initial, max_steps, canonical=False).linearizable is False


def check_linearizable(
    history: Iterable[Op],
    model: RegisterModel | None = None,
    *,
    max_steps: int = 2_000_000,
    shrink_steps: int | None = None,
) -> CheckResult:
    """Is the register/map history linearizable?  One search per key.

    ``max_steps`` is the search budget per key, and (unless ``shrink_steps``
    says otherwise) the budget for shrinking a failing key's excerpt.

    ``history`` is a :class:`~pipeline.checker.history.History` or any iterable of ops;
    ops whose name the model does not know, and ops without a key (whole-map
    snapshots), are ignored.
    """
    model = model or RegisterModel()
    ops = list(history)
    t0 = getattr(history, "t0_ns", None)
    if t0 is None:
        t0 = min((o.invoke_ns for o in ops), default=0)
    names = model.names()
    by_key: dict[Any, list[Op]] = {}
    for op in ops:
        if op.f in names and op.key is not None:
            by_key.setdefault(freeze(op.key), []).append(op)
    verdicts: list[KeyVerdict] = []
    for key_ops in by_key.values():
        verdicts.append(
            check_key(key_ops[0].key, key_ops, model, max_steps=max_steps, shrink_steps=shrink_steps, t0_ns=t0)
        )
    stats = {"keys": len(verdicts), "ops": sum(len(v.ops) for v in verdicts), "steps": sum(v.steps for v in verdicts)}
    bad = [v for v in verdicts if v.linearizable is False]
    unsure = [v for v in verdicts if v.linearizable is None]
    notes = [f"key {v.key!r}: search budget of {max_steps} steps exhausted; raise max_steps" for v in unsure]
    if bad:
        first = min(bad, key=lambda v: (len(v.excerpt), str(v.key)))
        others = [v for v in bad if v is not first]
        if others:
            notes.append("also not linearizable: " + ", ".join(repr(v.key) for v in others))
        return CheckResult.violation(
            NAME, first.explanation, first.excerpt, notes=notes, stats={**stats, "invalid_keys": [v.key for v in bad]}
        )
    if unsure:
        return CheckResult.unsure(
            NAME,
            f"{len(unsure)} of {len(verdicts)} keys could not be decided "
            f"within the search budget; no violation was found in the others.",
            notes=notes,
            stats=stats,
        )
    return CheckResult.ok(NAME, f"all {len(verdicts)} keys are linearizable ({stats['ops']} operations).", stats=stats)
