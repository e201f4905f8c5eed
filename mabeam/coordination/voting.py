"""Consensus rules: when a vote is decided, as soon as the outcome is certain.

``majority``: approvals > half the voters. ``unanimous``: every voter approves,
one reject rejects. ``weighted``: approve weight > threshold x total weight (a
threshold of 1 means "all the weight"). Each rule is also checked the other
way round: once even all outstanding votes could not carry it, it is rejected.
"""

from __future__ import annotations

from typing import Any

RULES = ("majority", "unanimous", "weighted")
APPROVE, REJECT = "approve", "reject"


def weight_of(ballot: dict[str, Any], voter: str) -> float:
    weights = ballot.get("weights")
    return 1 if weights is None else weights[voter]


def tally(ballot: dict[str, Any]) -> dict[str, Any]:
    approve = reject = 0
    # Weights may be fractional; an unweighted ballot keeps integer sums (1 per voter).
    approve_w: float = 0
    reject_w: float = 0
    total_w: float = 0
    votes = ballot["votes"]
    for voter in ballot["voters"]:
        w = weight_of(ballot, voter)
        total_w += w
        vote = votes.get(voter)
        if vote == APPROVE:
            approve += 1
            approve_w += w
        elif vote == REJECT:
            reject += 1
            reject_w += w
    return {
        "approve": approve,
        "reject": reject,
        "approve_weight": approve_w,
        "reject_weight": reject_w,
        "total_weight": total_w,
    }


def _carries(weight: float, total: float, threshold: float) -> bool:
    return weight > threshold * total or (total > 0 and weight >= total)


def verdict(rule: str, threshold: float, t: dict[str, Any], voters: int) -> str:
    """ "open", "accepted" or "rejected" for a tally ``t`` of ``voters`` voters."""
    undecided = voters - t["approve"] - t["reject"]
    if rule == "majority":
        if t["approve"] * 2 > voters:
            return "accepted"
        return "rejected" if (t["approve"] + undecided) * 2 <= voters else "open"
    if rule == "unanimous":
        if t["reject"]:
            return "rejected"
        return "accepted" if t["approve"] == voters else "open"
    total = t["total_weight"]
    if _carries(t["approve_weight"], total, threshold):
        return "accepted"
    outstanding = total - t["approve_weight"] - t["reject_weight"]
    return "rejected" if not _carries(t["approve_weight"] + outstanding, total, threshold) else "open"
