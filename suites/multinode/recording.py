"""A client of the mabeam cluster that records every operation in a history.

Multi-node suites do not decide "was that right?" when an answer arrives:
whether a read was stale, or a timed-out write counted, depends on what the
other clients did at the same time.  So every call goes through
``history.op(...)`` and completes as one of three outcomes, chosen only from
what this client can *know*:

* ``ok``      -- a 2xx answer: the cluster acknowledged the effect;
* ``fail``    -- a definite refusal: a 4xx (the domain said no; nothing was
  applied), a ``503 no_quorum`` (the node refused before the write reached a
  leader, docs/api.md "Modes"), or a connection that was refused / never
  opened (the request was never sent);
* ``unknown`` -- anything else: a timeout, a connection dropped after the
  request went out, another 5xx, or a 503 whose body says the outcome is
  unknown.  The effect may have happened; the checkers treat it that way.

Recording a timeout as ``fail`` would let the checker blame the service for a
write that did land, so when in doubt the outcome is ``unknown``.

One :class:`RecordingClient` belongs to one thread (``requests.Session`` is
not thread-safe); it holds one session per node so keep-alive works.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from pipeline.checker.history import History, Op, PendingOp

__all__ = ["RecordingClient", "Answer", "classify"]

WRITE_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
# How the client tells "refused before sending" from "lost after sending".
_NOT_SENT = (requests.exceptions.ConnectTimeout,)


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange as the recording client saw it."""

    status: int | None  # None: no HTTP answer at all
    body: Any = None
    headers: Mapping[str, str] | None = None
    error: str | None = None  # transport error text when status is None
    sent: bool = True  # False: the request certainly never left

    @property
    def code(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None

    def why(self) -> str:
        """A short reason for the history: transport error, or status, code and detail."""
        if self.status is None:
            return self.error or "no answer"
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        return f"HTTP {self.status} {self.code or ''}{': ' + str(detail)[:120] if detail else ''}".strip()


def _not_sent(exc: BaseException) -> bool:
    """True when the request certainly never reached the node: a connect
    timeout, or a connection refused while opening (``NewConnectionError``)."""
    if isinstance(exc, _NOT_SENT):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        seen: set[int] = set()
        cur: BaseException | None = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            if isinstance(cur, NewConnectionError):
                return True
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException) and id(reason) not in seen:
                cur = reason
                continue
            args = getattr(cur, "args", ())
            nxt = next((a for a in args if isinstance(a, BaseException)), None)
            cur = nxt or cur.__cause__ or cur.__context__
    return False


def classify(answer: Answer) -> str:
    """``ok`` / ``fail`` / ``unknown`` for an answer (see the module docstring)."""
    if answer.status is None:
        return "fail" if not answer.sent else "unknown"
    if 200 <= answer.status < 300:
        return "ok"
    if 400 <= answer.status < 500:
        return "fail"
    if answer.status == 503 and answer.code == "no_quorum" and not _says_unknown(answer.body):
        return "fail"
    return "unknown"


def _says_unknown(body: Any) -> bool:
    """A 503 whose body admits the write may have been applied is not a refusal."""
    if not isinstance(body, dict):
        return True
    outcome = str(body.get("outcome", "")).lower()
    detail = str(body.get("detail", "")).lower()
    return (
        outcome in ("unknown", "maybe", "indeterminate")
        or "outcome unknown" in detail
        or "may have been applied" in detail
    )


class RecordingClient:
    """Operations on any node of ``urls``, each recorded in ``history`` as
    client ``name``.  Every method returns ``(op, answer)``: the completed
    :class:`~pipeline.checker.history.Op` and the raw :class:`Answer`."""

    def __init__(
        self,
        history: History,
        name: str,
        urls: Mapping[str, str],
        *,
        write_timeout: float = WRITE_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.history = history
        self.name = name
        self.urls = dict(urls)
        self.write_timeout = write_timeout
        self.read_timeout = read_timeout
        self._sessions: dict[str, requests.Session] = {}

    # ---------------------------------------------------------------- transport

    def _session(self, node: str) -> requests.Session:
        session = self._sessions.get(node)
        if session is None:
            session = self._sessions[node] = requests.Session()
        return session

    def http(
        self,
        node: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request, never raising for transport errors (they become an Answer)."""
        try:
            response = self._session(node).request(
                method,
                self.urls[node] + path,
                json=body,
                params=params,
                headers=dict(headers) if headers else None,
                timeout=timeout or (self.write_timeout if method != "GET" else self.read_timeout),
            )
        except requests.RequestException as exc:
            # a broken keep-alive connection must not poison the next call
            self._sessions.pop(node, None)
            return Answer(None, error=f"{type(exc).__name__}: {exc}"[:300], sent=not _not_sent(exc))
        try:
            decoded = response.json() if response.content else None
        except ValueError:
            decoded = None
        return Answer(response.status_code, decoded, dict(response.headers))

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    # ------------------------------------------------------------------ generic

    def call(
        self,
        node: str,
        f: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: Any = None,
        value: Any = None,
        params: Mapping[str, Any] | None = None,
        result: Callable[[Answer], Any] = lambda a: a.body,
        refusal: Callable[[Answer, PendingOp], Op | None] | None = None,
        timeout: float | None = None,
    ) -> tuple[Op, Answer]:
        """Invoke ``f`` in the history, send the request, complete the op.

        ``result`` turns a 2xx answer into the recorded result; ``refusal``
        may record a 4xx differently (e.g. ``already_registered`` as
        ``ok(False)``) by completing the op itself and returning it."""
        with self.history.op(self.name, f, key, value, node=node) as pending:
            answer = self.http(node, method, path, body, params=params, timeout=timeout)
            outcome = classify(answer)
            if outcome == "ok":
                return pending.ok(result(answer)), answer
            if outcome == "fail":
                if refusal is not None and answer.status is not None:
                    done = refusal(answer, pending)
                    if done is not None:
                        return done, answer
                reason = answer.code or answer.error or f"HTTP {answer.status}"
                return pending.fail(reason, result=answer.status), answer
            return pending.unknown(answer.why()), answer
        raise AssertionError("unreachable")  # pragma: no cover - the with block always returns

    # ----------------------------------------------------------------- registry

    def register(self, node: str, name: str, ref: str) -> tuple[Op, Answer]:
        """``create`` on the register ``name``: 201 -> ok(ref);
        ``already_registered`` -> ok(False) ("was present, nothing changed")."""

        def refusal(answer: Answer, pending: PendingOp) -> Op | None:
            if answer.status == 409 and answer.code == "already_registered":
                return pending.ok(False)
            return None

        return self.call(
            node,
            "register",
            "POST",
            "/registry",
            {"name": name, "ref": ref},
            key=name,
            value=ref,
            result=lambda a: a.body.get("ref"),
            refusal=refusal,
        )

    def unregister(self, node: str, name: str) -> tuple[Op, Answer]:
        """``delete``: 200 -> ok; 404 -> fail (it was absent: nothing changed)."""
        return self.call(node, "unregister", "DELETE", f"/registry/{name}", key=name, result=lambda a: True)

    def lookup(self, node: str, name: str, *, consistent: bool = True) -> tuple[Op, Answer]:
        """A read of the register ``name``: the entry's ref, or None when 404.

        Only ``?consistent=true`` reads are promised linearizable; default
        (local, maybe stale) reads are recorded as ``stale_lookup`` so the
        register checker does not hold them to that promise."""
        f = "lookup" if consistent else "stale_lookup"
        params = {"consistent": "true"} if consistent else None
        with self.history.op(self.name, f, name, node=node) as pending:
            answer = self.http(node, "GET", f"/registry/{name}", params=params)
            if answer.status == 200 and isinstance(answer.body, dict):
                return pending.ok(answer.body.get("ref")), answer
            if answer.status == 404 and answer.code == "not_found":
                return pending.ok(None), answer
            if classify(answer) == "unknown":
                return pending.unknown(answer.why()), answer
            return pending.fail(answer.code or answer.error or f"HTTP {answer.status}"), answer
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------- events

    def publish(self, node: str, topic: str, data: Mapping[str, Any]) -> tuple[Op, Answer]:
        """``publish``: ``data`` must carry a client-chosen unique ``"id"``
        (what deliveries are matched by, even for a publish whose answer was
        lost); ok(the event id the cluster gave it)."""
        assert "id" in data, "publish data needs a client-chosen 'id'"
        return self.call(
            node,
            "publish",
            "POST",
            "/events",
            {"topic": topic, "data": dict(data)},
            key=topic,
            value=dict(data),
            result=lambda a: a.body.get("id"),
        )

    # ------------------------------------------------------------------- money

    def create_account(self, node: str, account: str, balance: float) -> tuple[Op, Answer]:
        return self.call(
            node,
            "create_account",
            "POST",
            "/accounts",
            {"id": account, "balance": balance},
            key=account,
            value=balance,
            result=lambda a: a.body.get("balance"),
        )

    def transfer(
        self, node: str, src: str, dst: str, amount: float, reference: str, *, settle_timeout: float = 5.0
    ) -> tuple[Op, Answer]:
        """``transfer`` completes when its *settlement* is known, because a
        202 only means "queued": completed -> ok(transaction id), failed
        (e.g. insufficient funds) -> fail, submission or settlement unknown
        -> unknown.  The settlement is polled on the same node until the
        deadline (a condition, not a sleep)."""
        value = {"from": src, "to": dst, "amount": amount, "reference": reference}
        with self.history.op(self.name, "transfer", reference, value, node=node) as pending:
            answer = self.http(node, "POST", "/transactions", value)
            outcome = classify(answer)
            if outcome == "fail":
                return pending.fail(answer.code or answer.error or f"HTTP {answer.status}"), answer
            if outcome == "unknown" or not isinstance(answer.body, dict):
                return pending.unknown(answer.why()), answer
            tx = answer.body.get("transaction_id")
            deadline = time.monotonic() + settle_timeout
            while True:
                status = self.http(node, "GET", f"/transactions/{tx}")
                state = status.body.get("status") if status.status == 200 and isinstance(status.body, dict) else None
                if state == "completed":
                    return pending.ok(tx), answer
                if state == "failed":
                    return pending.fail(status.body.get("reason") or "failed", result=tx), answer
                if time.monotonic() >= deadline:
                    return pending.unknown(f"{tx} still {state or status.status} after {settle_timeout:g}s"), answer
                time.sleep(0.05)  # poll interval of a deadline-bounded wait for the settlement
        raise AssertionError("unreachable")  # pragma: no cover

    def read_transaction(self, node: str, transaction_id: str) -> tuple[Op, Answer]:
        return self.call(
            node,
            "read_transaction",
            "GET",
            f"/transactions/{transaction_id}",
            key=transaction_id,
            params={"consistent": "true"},
            result=lambda a: {k: a.body.get(k) for k in ("status", "from", "to", "amount", "reference", "reason")},
        )

    def read_balances(self, node: str, *, final: bool = False) -> tuple[Op, Answer]:
        """Every account's balance: ``read_balances`` (a consistent read) during
        the run; ``final_balances`` (this node's own state) once converged."""
        return self.call(
            node,
            "final_balances" if final else "read_balances",
            "GET",
            "/accounts",
            params=None if final else {"consistent": "true"},
            result=lambda a: {acc["id"]: acc["balance"] for acc in a.body.get("accounts", [])},
        )

    # ----------------------------------------------------------------- auctions

    def create_auction(self, node: str, spec: Mapping[str, Any]) -> tuple[Op, Answer]:
        """``create_auction`` keyed by the auction id, which only the answer
        tells: the op is recorded after the exchange with its real invoke and
        completion times (an unacknowledged create is recorded without a key)."""
        value = {"reserve": spec.get("reserve_price", 0), **spec}
        start = time.monotonic_ns()
        answer = self.http(node, "POST", "/auctions", dict(spec))
        end = time.monotonic_ns()
        outcome = classify(answer)
        key = answer.body.get("id") if outcome == "ok" and isinstance(answer.body, dict) else None
        error = None if outcome == "ok" else (answer.code or answer.error or f"HTTP {answer.status}")
        op = self.history.record(
            self.name,
            "create_auction",
            key,
            value,
            status=outcome,
            result=key,
            error=error,
            node=node,
            invoke_ns=start,
            complete_ns=end,
        )
        return op, answer

    def bid(self, node: str, auction_id: str, bidder: str, amount: float) -> tuple[Op, Answer]:
        """``bid`` with ``?wait=true``: 201 -> ok(bid); 409 -> fail (rejected);
        a 202 (still undecided after the node's wait) is recorded as unknown."""
        with self.history.op(self.name, "bid", auction_id, {"bidder": bidder, "amount": amount}, node=node) as pending:
            answer = self.http(
                node,
                "POST",
                f"/auctions/{auction_id}/bids",
                {"bidder": bidder, "amount": amount},
                params={"wait": "true"},
                timeout=15,
            )
            if answer.status == 201:
                return pending.ok(answer.body), answer
            if answer.status == 202:
                return pending.unknown("202: undecided after wait"), answer
            if classify(answer) == "fail":
                return pending.fail(answer.code or answer.error or f"HTTP {answer.status}", result=answer.body), answer
            return pending.unknown(answer.why()), answer
        raise AssertionError("unreachable")  # pragma: no cover

    def close_auction(self, node: str, auction_id: str) -> tuple[Op, Answer]:
        """``close_auction``: ok({"winner", "price", ...}) as the node answered."""
        return self.call(node, "close_auction", "POST", f"/auctions/{auction_id}/close", key=auction_id)

    def read_auction(self, node: str, auction_id: str) -> tuple[Op, Answer]:
        return self.call(
            node, "read_auction", "GET", f"/auctions/{auction_id}", key=auction_id, params={"consistent": "true"}
        )

    def final_settlements(self, node: str) -> tuple[Op, Answer]:
        """``final_settlements``: this node's closed auctions (``recent_auctions``,
        window ``all``) as ``[{"auction", "winner", "price"}]``, read once converged."""
        return self.call(
            node,
            "final_settlements",
            "GET",
            "/analytics/recent_auctions",
            params={"window": "all"},
            result=lambda a: [
                {"auction": c["auction_id"], "winner": c["winner"], "price": c["price"]}
                for c in a.body.get("completed_auctions", [])
            ],
        )
