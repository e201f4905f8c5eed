"""Money is conserved: nothing created, nothing destroyed, every balance explained.

Recorded shapes (the suite's client maps its service's JSON to these):

* open account: ``key`` = account, ``value`` = initial balance (a number);
* transfer:     ``value`` = ``{"from": a, "to": b, "amount": x}``; ok = applied,
  fail = definitely not applied (e.g. insufficient funds), unknown = either;
* final balances (one read per node, after healing): ``key`` None,
  ``result`` = ``{account: balance}``.

Checks, in the order a person would want to hear about them:

1. every node reports the same balances (replicas converged);
2. no balance is negative;
3. the accounts are the ones opened (acknowledged opens present, no account
   that nobody opened);
4. the total equals the sum of the opening balances (transfers move money,
   they do not make it);
5. the balances are *explained*: opening balances plus every acknowledged
   transfer plus some subset of the unknown ones give exactly the final
   balances.  The subset search keeps the set of reachable balance vectors
   (so repeated amounts collapse); past ``max_states`` it stops and the result
   says that only totals were checked.

Amounts are compared exactly (``Decimal``).  Not checked: that balances stayed
non-negative at every intermediate instant (that needs the order of applied
transfers, which the history does not pin down).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from pipeline.checker.history import Op
from pipeline.checker.result import CheckResult
from pipeline.checker.values import number

__all__ = ["MoneyModel", "check_money"]

NAME = "money"


@dataclass(frozen=True)
class MoneyModel:
    """Op names for the money checker and the size of its subset search."""

    opens: frozenset[str] = frozenset({"open_account", "create_account"})
    transfers: frozenset[str] = frozenset({"transfer"})
    balances: frozenset[str] = frozenset({"final_balances"})
    max_states: int = 200_000

    def names(self) -> frozenset[str]:
        return self.opens | self.transfers | self.balances


@dataclass(frozen=True)
class _Transfer:
    op: Op
    source: str
    target: str
    amount: Decimal


def _initial(op: Op) -> Decimal:
    value = op.value
    if isinstance(value, Mapping):
        value = value.get("balance", value.get("initial"))
    return number(value)


def _transfer(op: Op) -> _Transfer:
    v = op.value
    if not isinstance(v, Mapping) or not {"from", "to", "amount"} <= set(v):
        raise ValueError(f"a transfer's value must be {{'from', 'to', 'amount'}}: {op!r}")
    return _Transfer(op, str(v["from"]), str(v["to"]), number(v["amount"]))


def _fmt(amount: Decimal) -> str:
    text = format(amount.normalize(), "f")
    return text


def _touching(transfers: Iterable[_Transfer], accounts: set[str], limit: int = 8) -> list[Op]:
    return [t.op for t in transfers if t.source in accounts or t.target in accounts][:limit]


def _reachable(
    unknown: list[_Transfer], accounts: list[str], target: tuple[Decimal, ...], max_states: int
) -> tuple[bool | None, int]:
    """Can some subset of ``unknown`` add up to ``target`` over ``accounts``?  None: gave up."""
    pos = {a: i for i, a in enumerate(accounts)}
    zero = tuple(Decimal(0) for _ in accounts)
    states = {zero}
    for t in unknown:
        delta = list(zero)
        delta[pos[t.source]] -= t.amount
        delta[pos[t.target]] += t.amount
        d = tuple(delta)
        states |= {tuple(x + y for x, y in zip(s, d, strict=True)) for s in states}
        if len(states) > max_states:
            return None, len(states)
    return target in states, len(states)


def check_money(history: Iterable[Op], model: MoneyModel | None = None) -> CheckResult:
    """Conservation and explainability of the final balances."""
    model = model or MoneyModel()
    ops = list(history)
    opens: dict[str, list[Op]] = {}
    transfers: list[_Transfer] = []
    reads: list[Op] = []
    for op in ops:
        if op.f in model.opens and not op.failed:
            opens.setdefault(str(op.key), []).append(op)
        elif op.f in model.transfers and not op.failed:
            t = _transfer(op)
            if t.amount != 0 and t.source != t.target:
                transfers.append(t)
        elif op.f in model.balances and op.ok:
            reads.append(op)
    if not reads:
        return CheckResult.unsure(
            NAME, "no ok final balances read was recorded; money cannot be checked without the final state."
        )
    snapshots: list[tuple[Op, dict[str, Decimal]]] = []
    for read in reads:
        if not isinstance(read.result, Mapping):
            raise ValueError(f"final balances must be {{account: balance}}: {read!r}")
        snapshots.append((read, {str(a): number(b) for a, b in read.result.items()}))

    def where(op: Op) -> str:
        return op.node or op.client

    first_read, balances = snapshots[0]
    for read, other in snapshots[1:]:
        if other != balances:
            diff = sorted(a for a in set(other) | set(balances) if other.get(a) != balances.get(a))
            shown = "; ".join(
                f"{a}: {_fmt(balances[a]) if a in balances else 'missing'} vs "
                f"{_fmt(other[a]) if a in other else 'missing'}"
                for a in diff[:5]
            )
            return CheckResult.violation(
                NAME,
                f"The nodes disagree on the final balances ({where(first_read)} vs "
                f"{where(read)}: {shown}); converged replicas must report the same state.",
                (first_read, read),
            )
    negative = sorted(a for a, b in balances.items() if b < 0)
    if negative:
        a = negative[0]
        return CheckResult.violation(
            NAME,
            f"Account {a!r} ends with a negative balance ({_fmt(balances[a])}); a transfer "
            f"that overdraws must be refused.",
            (first_read, *opens.get(a, ()), *_touching(transfers, {a})),
        )
    phantom = sorted(set(balances) - set(opens))
    if phantom:
        return CheckResult.violation(
            NAME, f"Account {phantom[0]!r} has a final balance but was never opened.", (first_read,)
        )
    lost = sorted(a for a, o in opens.items() if any(x.ok for x in o) and a not in balances)
    if lost:
        acked_opens = [x for x in opens[lost[0]] if x.ok]
        return CheckResult.violation(
            NAME,
            f"Account {lost[0]!r} was opened (acknowledged) but is missing from the final balances.",
            (first_read, *acked_opens),
        )
    initial = {a: _initial(opens[a][0]) for a in balances}
    total, expected = sum(balances.values(), Decimal(0)), sum(initial.values(), Decimal(0))
    if total != expected:
        verb = "created" if total > expected else "destroyed"
        return CheckResult.violation(
            NAME,
            f"Money was {verb}: the final balances add up to {_fmt(total)}, but the "
            f"{len(initial)} accounts were opened with {_fmt(expected)} in total (difference "
            f"{_fmt(total - expected)}); transfers only move money.",
            (first_read, *[o[0] for o in opens.values()][:8]),
        )

    acked = [t for t in transfers if t.op.ok]
    unknown = [t for t in transfers if t.op.unknown]
    residual = dict.fromkeys(balances, Decimal(0))
    for a in balances:
        residual[a] = balances[a] - initial[a]
    for t in acked:
        residual[t.source] = residual.get(t.source, Decimal(0)) + t.amount
        residual[t.target] = residual.get(t.target, Decimal(0)) - t.amount
    flexible = sorted({t.source for t in unknown} | {t.target for t in unknown})
    fixed_bad = sorted(a for a, r in residual.items() if r != 0 and a not in flexible)
    stats = {"accounts": len(balances), "acknowledged": len(acked), "unknown": len(unknown)}
    if fixed_bad:
        a = fixed_bad[0]
        have = balances.get(a, Decimal(0))
        should = have - residual[a]
        return CheckResult.violation(
            NAME,
            f"Account {a!r} ends with {_fmt(have)}, but its opening balance plus the "
            f"acknowledged transfers give {_fmt(should)} (off by {_fmt(residual[a])}), and no "
            f"unknown transfer touches it.",
            (first_read, *opens.get(a, ())[:1], *_touching(acked, {a})),
            stats=stats,
        )
    if not unknown:
        return CheckResult.ok(
            NAME,
            f"{len(balances)} balances conserved and explained by {len(acked)} acknowledged transfers.",
            stats=stats,
        )
    target = tuple(residual.get(a, Decimal(0)) for a in flexible)
    found, states = _reachable(unknown, flexible, target, model.max_states)
    stats["states"] = states
    if found is None:
        return CheckResult.ok(
            NAME,
            f"{len(balances)} balances conserved (totals checked).",
            stats=stats,
            notes=[
                f"{len(unknown)} unknown transfers give more than {model.max_states} reachable "
                f"balance combinations; only totals, signs and untouched accounts were checked, "
                f"not that some subset of the unknown transfers explains every balance."
            ],
        )
    if found:
        return CheckResult.ok(
            NAME,
            f"{len(balances)} balances conserved and explained by "
            f"{len(acked)} acknowledged transfers plus some of the {len(unknown)} "
            f"unknown ones.",
            stats=stats,
        )
    off = [a for a in flexible if residual.get(a, Decimal(0)) != 0]
    listing = ", ".join(f"{a} off by {_fmt(residual[a])}" for a in off[:5])
    return CheckResult.violation(
        NAME,
        f"The final balances cannot be explained: after the opening balances and the "
        f"{len(acked)} acknowledged transfers, {listing or 'the accounts'} remain, and no subset of "
        f"the {len(unknown)} unknown transfers adds up to exactly that.",
        (first_read, *_touching(unknown, set(off), 6), *_touching(acked, set(off), 6)),
        stats=stats,
    )
