"""Accounts and transactions.

A transaction is recorded as pending when submitted and settled later by the
settlement driver, which mirrors the seed's asynchronous TransactionProcessor.
Settlement either moves the whole amount or nothing, so the sum of balances
changes only through ``account.create``: money is conserved by construction.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from ..errors import BadRequest, Conflict, NotFound

PENDING, COMPLETED, FAILED = "pending", "completed", "failed"
PRUNE_BATCH = 5000  # settled transactions a ``transaction.prune`` removes at most


class Ledger:
    def __init__(self) -> None:
        self.balances: dict[str, float] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, None] = {}  # insertion-ordered set of pending ids
        self.settled: dict[str, None] = {}  # settled ids, oldest settlement first (what prune drops)
        self.minted: float = 0  # sum of opening balances: the conserved total

    def snapshot(self) -> dict[str, Any]:
        return {
            "balances": self.balances,
            "transactions": self.transactions,
            "pending": list(self.pending),
            "settled": list(self.settled),
            "minted": self.minted,
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls()
        ledger.balances, ledger.transactions = data["balances"], data["transactions"]
        ledger.pending = dict.fromkeys(data["pending"])
        if "settled" in data:
            ledger.settled = dict.fromkeys(data["settled"])
        else:  # a snapshot from before pruning
            ledger.settled = dict.fromkeys(t for t, tx in ledger.transactions.items() if tx["status"] != PENDING)
        ledger.minted = data["minted"]
        return ledger

    def prunable(self, keep: int) -> int:
        """Settled transactions beyond the newest ``keep``."""
        return max(0, len(self.settled) - keep)

    # -- reads ---------------------------------------------------------------

    def account(self, account_id: str) -> dict[str, Any]:
        if account_id not in self.balances:
            raise NotFound("not_found", f"no account '{account_id}'")
        return {"id": account_id, "balance": self.balances[account_id]}

    def accounts(self) -> dict[str, Any]:
        return {
            "accounts": [{"id": k, "balance": v} for k, v in self.balances.items()],
            "total": sum(self.balances.values()),
        }

    def transaction(self, tx_id: str) -> dict[str, Any]:
        tx = self.transactions.get(tx_id)
        if tx is None:
            raise NotFound(
                "not_found", f"no transaction '{tx_id}' (or it settled long ago and was pruned from history)"
            )
        return tx


def create_account(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    ledger: Ledger = state.ledger
    account_id, balance = cmd["id"], cmd["balance"]
    if account_id in ledger.balances:
        raise Conflict("already_exists", f"account '{account_id}' already exists", "id")
    ledger.balances[account_id] = balance
    ledger.minted += balance
    return {"id": account_id, "balance": balance}


def submit(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    ledger: Ledger = state.ledger
    tx_id = cmd["id"]
    if tx_id in ledger.transactions:
        raise Conflict("already_exists", f"transaction '{tx_id}' already exists", "id")
    ledger.transactions[tx_id] = {
        "transaction_id": tx_id,
        "from": cmd["from"],
        "to": cmd["to"],
        "amount": cmd["amount"],
        "reference": cmd.get("reference"),
        "status": PENDING,
        "submitted_at": cmd["time"],
    }
    ledger.pending[tx_id] = None
    return {"transaction_id": tx_id, "status": PENDING}


def _refusal(ledger: Ledger, tx: dict[str, Any]) -> str | None:
    if tx["from"] not in ledger.balances or tx["to"] not in ledger.balances:
        return "unknown_account"
    if ledger.balances[tx["from"]] < tx["amount"]:
        return "insufficient_funds"
    return None


def settle(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    """Settle the listed transactions in order; ids no longer pending are skipped.

    A settlement is retried whenever its command's outcome was unknown to the
    leader that sent it (a timeout, a lost leadership: the new leader's driver
    sends its own for what it still sees pending), so the same id may reach
    apply several times: only the first one that finds it pending moves money."""
    ledger: Ledger = state.ledger
    settled = []
    for tx_id in cmd["ids"]:
        if tx_id not in ledger.pending:
            continue
        del ledger.pending[tx_id]
        tx = ledger.transactions[tx_id]
        if tx["status"] != PENDING:  # settled already (a pending set out of step with it would be a bug)
            continue
        reason = _refusal(ledger, tx)
        data = {k: tx[k] for k in ("transaction_id", "from", "to", "amount", "reference")}
        if reason is None:
            ledger.balances[tx["from"]] -= tx["amount"]
            ledger.balances[tx["to"]] += tx["amount"]
            tx["status"] = COMPLETED
        else:
            tx["status"] = FAILED
            tx["reason"] = data["reason"] = reason
        tx["settled_at"] = cmd["time"]
        ledger.settled[tx_id] = None
        state.events.append(f"economics.transaction.{tx['status']}", data, cmd["time"], cmd["node"])
        settled.append(tx_id)
    return {"settled": settled}


def prune(state: Any, cmd: dict[str, Any]) -> dict[str, Any]:
    """Forget the oldest settled transactions beyond the newest ``keep`` (at most
    ``PRUNE_BATCH`` per command). Balances are untouched: money is still conserved.
    ``keep`` is carried in the command, so every replica prunes the same ones."""
    keep = cmd.get("keep")
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise BadRequest("invalid_field", "field 'keep' must be an integer >= 0", "keep")
    ledger: Ledger = state.ledger
    victims = list(islice(ledger.settled, min(ledger.prunable(keep), PRUNE_BATCH)))
    for tx_id in victims:
        del ledger.settled[tx_id]
        del ledger.transactions[tx_id]
    return {"pruned": len(victims)}


OPS = {
    "account.create": create_account,
    "transaction.submit": submit,
    "transaction.settle": settle,
    "transaction.prune": prune,
}
