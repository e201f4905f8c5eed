"""Winner determination for combinatorial auctions (weighted set packing).

Exact, by memoised search over the set of items still unsold: the lowest
unsold item is either left unsold or sold in one bundle that contains it and
fits. Items are capped (see spec.MAX_ITEMS) so the 2^items memo stays small.

Ties on the total go to the set that contains the earliest bid where two sets
differ. That order is preserved when the same bid is added to both sets, which
is what lets the memo keep only one best answer per subproblem.
"""

from __future__ import annotations

from collections.abc import Sequence

Bundle = tuple[Sequence[str], float]  # (items, amount), in bid order


def best_packing(items: Sequence[str], bids: Sequence[Bundle]) -> list[int]:
    """Indices (ascending) of the non-overlapping bids with the greatest total."""
    bit = {item: 1 << i for i, item in enumerate(items)}
    n = len(bids)
    by_lowest: dict[int, list[tuple[int, int, float]]] = {}
    for index, (bundle, amount) in enumerate(bids):
        mask = 0
        for item in bundle:
            mask |= bit[item]
        if mask == 0:
            continue
        lowest = mask & -mask
        by_lowest.setdefault(lowest, []).append((index, mask, amount))

    # memo[mask] = (rounded total, tie key, total, chosen indices)
    memo: dict[int, tuple[float, int, float, tuple[int, ...]]] = {0: (0.0, 0, 0.0, ())}

    def solve(mask: int) -> tuple[float, int, float, tuple[int, ...]]:
        hit = memo.get(mask)
        if hit is not None:
            return hit
        lowest = mask & -mask
        best = solve(mask & ~lowest)
        for index, bmask, amount in by_lowest.get(lowest, ()):
            if bmask & ~mask:
                continue
            rest = solve(mask & ~bmask)
            total = rest[2] + amount
            # Earlier bids get higher bits, so a bigger key means "contains
            # the earliest bid where the two candidate sets differ".
            candidate = (round(total, 9), rest[1] | (1 << (n - 1 - index)), total, rest[3] + (index,))
            if candidate[:2] > best[:2]:
                best = candidate
        memo[mask] = best
        return best

    full = (1 << len(items)) - 1
    return sorted(solve(full)[3])
