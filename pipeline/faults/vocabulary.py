"""The fault vocabulary of a running cluster, each fault seeded, logged,
reversible and verified.

Every fault method on the cluster handle (they live here and the handle
inherits them) returns a :class:`FaultRecord` that is already in the cluster's
:class:`FaultLog` with its start time, and has already been *verified
effective*: a partition returns only after a real TCP exchange through every
cut link failed (refused or unanswered), a heal only after every healed link to
a live node answered again, a crash after the process is reaped, a pause after
the kernel reports the process stopped, a restart after the node is healthy.
Links to nodes without a health path cannot be checked by exchange; for those
the proxy state read back from Toxiproxy is the evidence, and the record says
so.

Every fault draws a seed from the cluster's seeded RNG (or takes ``seed=``)
and logs it; random choices (which links get latency, shuffled partition
membership, per-link delays) come only from that seed, so a failing run can be
replayed with the same cluster seed.

Network faults and how they map onto Toxiproxy:

* ``partition(groups, mode)``: ``drop`` puts a ``timeout`` toxic with
  ``timeout=0`` on both streams of each cut link (a blackhole: connections are
  accepted, nothing arrives, nothing is closed); ``reject`` disables the
  proxy (connections are refused, live ones are dropped).
* ``latency(min_ms, max_ms)``: a ``latency`` toxic per stream.  With
  ``spread="jitter"`` (default) every chunk gets a delay in [min, max]
  (latency = min + (max-min)//2, jitter = (max-min)//2; Toxiproxy draws the
  jitter, reproducibly when its server is seeded, as the embedded one is).
  With ``spread="fixed"`` each link gets one delay drawn from the fault's seed.
* ``message_loss(p)``: Toxiproxy works on TCP streams, not messages, so loss
  is per *connection*: ``mode="reset"`` adds a ``reset_peer`` toxic
  (timeout 0) with ``toxicity=p`` on the upstream stream, i.e. each new
  connection on the link is, with probability p, reset when its first bytes
  arrive (the sender sees ECONNRESET, the receiver sees nothing);
  ``mode="drop"`` adds a ``timeout`` toxic with ``toxicity=p`` instead, so an
  unlucky connection silently swallows everything (closed after
  ``timeout_ms`` if given).  For protocols that open one connection per message
  (HTTP/1.0 style, or short-lived RPCs) this is per-message loss with
  probability p; for long-lived connections it is "each connection attempt
  fails with probability p", which a node sees as a flaky peer.  Connections
  already open when the fault starts roll the dice once, at that moment.

Node faults: ``crash`` (SIGKILL), ``pause``/``resume`` (SIGSTOP/SIGCONT),
``stop`` (SIGTERM, then SIGKILL), ``restart`` (same address, same peers), and
``cpu_pressure``/``memory_pressure`` (:mod:`pipeline.faults.pressure`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from pipeline.faults import shapes
from pipeline.cluster.topology import Link, parse_link

if TYPE_CHECKING:
    from pipeline.cluster.links import LinkTable, ProbeResult
    from pipeline.faults.pressure import Pressure

__all__ = ["FaultRecord", "FaultLog", "FaultError", "FaultNotEffective", "FaultsMixin", "MODES"]

log = logging.getLogger("pipeline.faults.vocabulary")
MODES = ("drop", "reject")
LOSS_MODES = ("reset", "drop")
STREAMS = ("both", "upstream", "downstream")
SPREADS = ("jitter", "fixed")


class FaultError(ValueError):
    """A fault was asked for with bad arguments (message names the key and
    the allowed values) or cannot apply to this cluster."""


class FaultNotEffective(AssertionError):
    """A fault was applied but the check that it works failed."""


@dataclass
class FaultRecord:
    """One fault: what, with which seed, when it started, was verified and ended."""

    id: int
    kind: str
    description: str
    seed: int | None
    params: dict[str, Any] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    nodes: tuple[str, ...] = ()
    started_at: float = field(default_factory=time.time)
    verified_at: float | None = None
    verification: str = ""
    ended_at: float | None = None
    end_note: str = ""
    _undo: Callable[[], None] | None = field(default=None, repr=False)
    _log: "FaultLog | None" = field(default=None, repr=False)

    @property
    def tag(self) -> str:
        return f"f{self.id}"

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def revert(self) -> "FaultRecord":
        """Undo this fault (only this one); idempotent."""
        if self.ended_at is None:
            if self._undo is not None:
                self._undo()
            self.finish("reverted")
        return self

    def finish(self, note: str) -> None:
        if self.ended_at is None:
            self.ended_at = time.time()
            self.end_note = note
            if self._log is not None:
                self._log._event(self, f"end ({note})")

    def __enter__(self) -> "FaultRecord":
        return self

    def __exit__(self, *exc: object) -> None:
        self.revert()

    def line(self, origin: float) -> str:
        def rel(t: float | None) -> str:
            return "-" if t is None else f"+{t - origin:.3f}s"

        seed = "" if self.seed is None else f" seed={self.seed}"
        status = "active" if self.ended_at is None else f"ended {rel(self.ended_at)} ({self.end_note})"
        verified = f"; verified {rel(self.verified_at)}: {self.verification}" if self.verification else ""
        return f"#{self.id} {self.kind}: {self.description}{seed}; started {rel(self.started_at)}{verified}; {status}"


class FaultLog:
    """Every fault of a cluster, in order, with times relative to the cluster
    start.  ``format()`` is what a failing test's report shows."""

    def __init__(self, origin: float | None = None, path: Path | None = None, header: str = "") -> None:
        self.origin = time.time() if origin is None else origin
        self.path = path
        self.records: list[FaultRecord] = []
        self._lock = threading.Lock()
        self._next = 1
        self.header = header
        if path is not None and header:
            self._write(header)

    def _write(self, text: str) -> None:
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(text + "\n")

    def new(self, kind: str, description: str, seed: int | None, **kwargs: Any) -> FaultRecord:
        with self._lock:
            record = FaultRecord(self._next, kind, description, seed, _log=self, **kwargs)
            self._next += 1
            self.records.append(record)
        return record

    def _event(self, record: FaultRecord, what: str) -> None:
        text = f"+{time.time() - self.origin:.3f}s #{record.id} {record.kind} {what}"
        log.info("%s", text)
        self._write(text)

    def active(self) -> list[FaultRecord]:
        return [r for r in self.records if r.active]

    def of_kind(self, *kinds: str) -> list[FaultRecord]:
        return [r for r in self.records if r.kind in kinds]

    def format(self) -> str:
        lines = [self.header] if self.header else []
        lines += [r.line(self.origin) for r in self.records] or ["(no faults)"]
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(list(self.records))


def _check_choice(key: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise FaultError(f"{key}: {value!r} is not allowed (allowed: {', '.join(allowed)})")


class FaultsMixin:
    """Fault methods of :class:`pipeline.cluster.handle.ClusterHandle`.

    Relies on the handle for: ``names``, ``links`` (a LinkTable or None),
    ``provider``, ``fault_log``, ``_fault_rng``, ``_health_path(node)``,
    ``_wait_healthy(node, timeout)``, ``_pressures``, ``state``, ``config``.
    """

    names: tuple[str, ...]
    links: "LinkTable | None"
    fault_log: FaultLog
    probe_timeout: float = 0.3
    verify_timeout: float = 5.0

    # ------------------------------------------------------------ shared bits

    def _seed(self, seed: int | None) -> int:
        drawn = self._fault_rng.randrange(2 ** 31)  # type: ignore[attr-defined]
        return drawn if seed is None else seed  # draw anyway: later faults keep their seeds

    def _require_links(self, what: str) -> "LinkTable":
        if self.links is None:
            raise FaultError(f"{what}: this cluster has no link proxies (link_proxies=False)")
        return self.links

    def _node(self, node: str) -> str:
        if node not in self.names:
            raise FaultError(f"node: unknown node {node!r} (allowed: {', '.join(self.names)})")
        return node

    def _select_links(self, links: Iterable[object] | None, affected_fraction: float | None,
                      rng: random.Random) -> list[Link]:
        table = self._require_links("links")
        existing = table.links
        if links is not None and affected_fraction is not None:
            raise FaultError("links / affected_fraction: give one or the other, not both")
        if links is not None:
            chosen = []
            for raw in links:
                try:
                    link = parse_link(raw)
                except ValueError as exc:
                    raise FaultError(f"links: {exc}") from None
                if link not in existing:
                    raise FaultError(f"links: {link} is not a link of this cluster "
                                     f"(allowed: {', '.join(map(str, existing))})")
                chosen.append(link)
            return chosen
        if affected_fraction is None:
            return list(existing)
        if isinstance(affected_fraction, bool) or not isinstance(affected_fraction, (int, float)) \
                or not 0 < affected_fraction <= 1:
            raise FaultError(f"affected_fraction: must be in (0, 1], got {affected_fraction!r}")
        count = max(1, round(affected_fraction * len(existing)))
        return sorted(rng.sample(sorted(existing), count))

    def _live_http(self, node: str) -> bool:
        return (self._health_path(node) is not None and self.provider.exit_code(node) is None  # type: ignore[attr-defined]
                and not self.provider.is_paused(node))  # type: ignore[attr-defined]

    def _probe(self, links: Iterable[Link]) -> "dict[Link, ProbeResult]":
        table = self._require_links("probe")
        return table.probe_many(links, self._health_path, self.probe_timeout)  # type: ignore[attr-defined]

    def _verify_blocked(self, record: FaultRecord, links: list[Link], mode: str, state_tag: str = "-drop") -> None:
        table = self._require_links(record.kind)
        by_probe = [l for l in links if self._health_path(l.dst) is not None]  # type: ignore[attr-defined]
        by_state = [l for l in links if l not in by_probe]
        outcomes: dict[str, int] = {}
        deadline = time.monotonic() + self.verify_timeout
        pending = list(by_probe)
        while pending:
            results = self._probe(pending)
            pending = [l for l, r in results.items() if r.flows]
            for r in results.values():
                if not r.flows:
                    outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
            if pending and time.monotonic() >= deadline:
                raise FaultNotEffective(f"{record.kind} #{record.id}: links still carry traffic: "
                                        f"{', '.join(map(str, pending))}")
        # Every link, probed or not, must also show the cut in Toxiproxy's own
        # state: a probe that merely timed out on a loaded machine is not proof
        # on its own, and a verified fault must never be a false one.
        for link in links:
            enabled, toxics = table.server_view(link)
            blocked = (not enabled) if mode == "reject" else any(t.startswith(record.tag + state_tag) for t in toxics)
            if not blocked:
                raise FaultNotEffective(f"{record.kind} #{record.id}: Toxiproxy does not show {link} cut")
        parts = []
        if by_probe:
            parts.append(f"exchange failed on {len(by_probe)}/{len(by_probe)} links ("
                         + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) + ")")
        if by_state:
            parts.append(f"proxy state shows {len(by_state)} links cut (no health path to probe)")
        self._verified(record, "; ".join(parts) or "no links to cut")

    def _verify_flowing(self, record: FaultRecord, links: Iterable[Link]) -> None:
        table = self._require_links(record.kind)
        links = list(links)
        live = [l for l in links if self._live_http(l.dst)]
        skipped = len(links) - len(live)
        deadline = time.monotonic() + self.verify_timeout
        pending = list(live)
        while pending:
            results = self._probe(pending)
            pending = [l for l, r in results.items() if not r.flows]
            if pending and time.monotonic() >= deadline:
                detail = ", ".join(f"{l} ({results[l].outcome})" for l in pending)
                raise FaultNotEffective(f"{record.kind} #{record.id}: links still do not flow: {detail}")
            if pending:
                time.sleep(0.02)
        for link in links:
            if link not in live:
                enabled, toxics = table.server_view(link)
                if not enabled or toxics:
                    raise FaultNotEffective(f"{record.kind} #{record.id}: Toxiproxy still shows {link} "
                                            f"(enabled={enabled}, toxics={toxics})")
        note = f"exchange flows on {len(live)} links"
        if skipped:
            note += f"; {skipped} links to down/paused/non-HTTP nodes checked by proxy state"
        self._verified(record, note)

    def _verified(self, record: FaultRecord, note: str) -> None:
        record.verified_at = time.time()
        record.verification = note
        self.fault_log._event(record, f"verified: {note}")

    def _start(self, kind: str, description: str, seed: int | None, **kwargs: Any) -> FaultRecord:
        record = self.fault_log.new(kind, description, seed, **kwargs)
        self.fault_log._event(record, f"start: {description}" + ("" if seed is None else f" seed={seed}"))
        return record

    # -------------------------------------------------------------- partitions

    def _apply_plan(self, plan: shapes.PartitionPlan, mode: str, seed: int, verify: bool) -> FaultRecord:
        _check_choice("mode", mode, MODES)
        table = self._require_links("partition")
        cut = [l for l in table.links if l in plan.blocked]
        record = self._start("partition", f"{plan!r} mode={mode} cuts {len(cut)} links", seed,
                             params={"shape": plan.shape, "groups": [list(g) for g in plan.groups],
                                     "mode": mode},
                             links=tuple(cut))
        tag = record.tag
        done: list[Link] = []

        def undo() -> None:
            for link in done:
                if mode == "reject":
                    table.enable(link, tag)
                else:
                    table.remove_toxics(link, tag)

        record._undo = undo
        try:
            for link in cut:
                if mode == "reject":
                    table.disable(link, tag)
                else:
                    table.add_toxic(link, tag, "timeout", stream="upstream", suffix="drop", timeout=0)
                    table.add_toxic(link, tag, "timeout", stream="downstream", suffix="drop", timeout=0)
                done.append(link)
            if verify:
                self._verify_blocked(record, cut, mode)
        except BaseException:
            record.revert()
            raise
        return record

    def partition(self, groups: Sequence[Sequence[str]], mode: str = "drop", *, seed: int | None = None,
                  verify: bool = True) -> FaultRecord:
        """Nodes in different ``groups`` cannot reach each other (see module doc
        for ``mode``).  Every node must be in one group."""
        try:
            plan = shapes.groups(self.names, groups)
        except ValueError as exc:
            raise FaultError(str(exc)) from None
        return self._apply_plan(plan, mode, self._seed(seed), verify)

    def _shape(self, name: str, build: Callable[[random.Random | None], shapes.PartitionPlan], mode: str,
               shuffle: bool, seed: int | None, verify: bool) -> FaultRecord:
        seed = self._seed(seed)
        try:
            plan = build(random.Random(seed) if shuffle else None)
        except ValueError as exc:
            raise FaultError(str(exc)) from None
        return self._apply_plan(plan, mode, seed, verify)

    def partition_halves(self, mode: str = "drop", *, shuffle: bool = False, seed: int | None = None,
                         verify: bool = True) -> FaultRecord:
        return self._shape("halves", lambda rng: shapes.halves(self.names, rng), mode, shuffle, seed, verify)

    def partition_majority_minority(self, mode: str = "drop", *, shuffle: bool = False,
                                    seed: int | None = None, verify: bool = True) -> FaultRecord:
        return self._shape("majority_minority", lambda rng: shapes.majority_minority(self.names, rng),
                           mode, shuffle, seed, verify)

    def isolate(self, node: str, mode: str = "drop", *, seed: int | None = None,
                verify: bool = True) -> FaultRecord:
        self._node(node)
        return self._shape("isolate", lambda rng: shapes.isolate(self.names, node), mode, False, seed, verify)

    def bridge(self, mode: str = "drop", *, node: str | None = None, shuffle: bool = False,
               seed: int | None = None, verify: bool = True) -> FaultRecord:
        return self._shape("bridge", lambda rng: shapes.bridge(self.names, rng, node), mode, shuffle, seed, verify)

    def partition_majorities_ring(self, mode: str = "drop", *, shuffle: bool = False,
                                  seed: int | None = None, verify: bool = True) -> FaultRecord:
        return self._shape("majorities_ring", lambda rng: shapes.majorities_ring(self.names, rng),
                           mode, shuffle, seed, verify)

    def cut(self, src: str, dst: str, mode: str = "drop", *, seed: int | None = None,
            verify: bool = True) -> FaultRecord:
        """One-way cut: ``src`` can no longer reach ``dst``; ``dst`` still reaches ``src``."""
        self._node(src)
        self._node(dst)
        table = self._require_links("cut")
        if Link(src, dst) not in table.links:
            raise FaultError(f"cut: there is no link {src}->{dst} in this topology "
                             f"(allowed: {', '.join(map(str, table.links))})")
        return self._shape("one_way", lambda rng: shapes.one_way(self.names, src, dst), mode, False, seed, verify)

    def heal(self, *, verify: bool = True) -> FaultRecord:
        """Restore every link: no partition, latency or loss left (asks the
        server, so even toxics added behind our back go).  Node faults (a
        crashed or paused node) are not touched: use ``restart``/``resume``."""
        table = self._require_links("heal")
        seed = self._seed(None)
        ended = [r for r in self.fault_log.active() if r.links or r.kind in ("partition", "latency", "message_loss")]
        record = self._start("heal", f"all {len(table.links)} links (ends {len(ended)} faults)", seed,
                             links=tuple(table.links))
        table.heal_all()
        for r in ended:
            r.finish(f"healed by #{record.id}")
        if verify:
            self._verify_flowing(record, table.links)
        record.finish("instant")
        return record

    # ---------------------------------------------------------------- latency

    def latency(self, min_ms: int, max_ms: int | None = None, *, links: Iterable[object] | None = None,
                affected_fraction: float | None = None, seed: int | None = None, stream: str = "both",
                spread: str = "jitter", verify: bool = True) -> FaultRecord:
        """Add a delay in [min_ms, max_ms] to the chosen links (all by default;
        ``links=[...]`` or a seeded ``affected_fraction`` of them).  ``stream``:
        ``both`` delays each direction of every connection on the link (a
        request/response round trip gets two delays), ``upstream`` only what
        the link's source sends, ``downstream`` only the replies."""
        max_ms = min_ms if max_ms is None else max_ms
        for key, value in (("min_ms", min_ms), ("max_ms", max_ms)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600_000:
                raise FaultError(f"{key}: must be an integer number of milliseconds in [0, 600000], got {value!r}")
        if max_ms < min_ms:
            raise FaultError(f"max_ms: must be >= min_ms ({min_ms}), got {max_ms}")
        _check_choice("stream", stream, STREAMS)
        _check_choice("spread", spread, SPREADS)
        seed = self._seed(seed)
        rng = random.Random(seed)
        chosen = self._select_links(links, affected_fraction, rng)
        delays: dict[Link, tuple[int, int]] = {}
        for link in chosen:
            if spread == "fixed":
                delays[link] = (rng.randint(min_ms, max_ms), 0)
            else:
                half = (max_ms - min_ms) // 2
                delays[link] = (min_ms + half, half)
        table = self._require_links("latency")
        record = self._start("latency", f"{min_ms}-{max_ms}ms {spread} on {len(chosen)} links ({stream})", seed,
                             params={"min_ms": min_ms, "max_ms": max_ms, "stream": stream, "spread": spread,
                                     "delays": {str(l): d for l, d in delays.items()}},
                             links=tuple(chosen))
        streams = ("upstream", "downstream") if stream == "both" else (stream,)
        done: list[Link] = []
        record._undo = lambda: [table.remove_toxics(l, record.tag) for l in done]  # type: ignore[func-returns-value]
        try:
            for link in chosen:
                latency_ms, jitter_ms = delays[link]
                for s in streams:
                    table.add_toxic(link, record.tag, "latency", stream=s, latency=latency_ms, jitter=jitter_ms)
                done.append(link)
            if verify:
                self._verify_latency(record, chosen, min_ms, max_ms)
        except BaseException:
            record.revert()
            raise
        return record

    def _verify_latency(self, record: FaultRecord, links: list[Link], min_ms: int, max_ms: int) -> None:
        table = self._require_links("latency")
        probe_links = [l for l in links if self._live_http(l.dst) and table.only_faulted_by(l, record.tag)][:3]
        if min_ms > 0 and probe_links:
            old = self.probe_timeout
            self.probe_timeout = max(old, 2 * max_ms / 1000 + 2.0)
            try:
                results = self._probe(probe_links)
            finally:
                self.probe_timeout = old
            slow = {l: r for l, r in results.items() if r.flows and r.elapsed >= min_ms / 1000}
            if len(slow) != len(probe_links):
                detail = ", ".join(f"{l}: {r.outcome} in {r.elapsed * 1000:.0f}ms" for l, r in results.items())
                raise FaultNotEffective(f"latency #{record.id}: exchange not delayed by >= {min_ms}ms: {detail}")
            worst = min(r.elapsed for r in slow.values()) * 1000
            self._verified(record, f"exchange on {len(slow)} links took >= {worst:.0f}ms")
            return
        for link in links:
            _, toxics = table.server_view(link)
            if not any(t.startswith(record.tag + "-latency") for t in toxics):
                raise FaultNotEffective(f"latency #{record.id}: Toxiproxy shows no latency toxic on {link}")
        self._verified(record, f"proxy state shows latency toxics on {len(links)} links")

    # ----------------------------------------------------------- message loss

    def message_loss(self, probability: float, *, links: Iterable[object] | None = None,
                     affected_fraction: float | None = None, seed: int | None = None, mode: str = "reset",
                     timeout_ms: int = 0, verify: bool = True) -> FaultRecord:
        """Lose traffic on the chosen links with ``probability`` per connection
        (see the module docstring for why per connection and the two modes)."""
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise FaultError(f"probability: must be a number in [0, 1], got {probability!r}")
        _check_choice("mode", mode, LOSS_MODES)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise FaultError(f"timeout_ms: must be an integer >= 0, got {timeout_ms!r}")
        seed = self._seed(seed)
        chosen = self._select_links(links, affected_fraction, random.Random(seed))
        table = self._require_links("message_loss")
        toxic = "reset_peer" if mode == "reset" else "timeout"
        record = self._start("message_loss", f"p={probability:g} per connection ({toxic}) on {len(chosen)} links",
                             seed, params={"probability": probability, "mode": mode, "timeout_ms": timeout_ms},
                             links=tuple(chosen))
        done: list[Link] = []
        record._undo = lambda: [table.remove_toxics(l, record.tag) for l in done]  # type: ignore[func-returns-value]
        try:
            for link in chosen:
                attrs = {"timeout": 0} if mode == "reset" else {"timeout": timeout_ms}
                table.add_toxic(link, record.tag, toxic, stream="upstream", suffix="loss",
                                toxicity=float(probability), **attrs)
                done.append(link)
            if verify and probability >= 1:  # certain loss: every exchange must fail, so probe it
                self._verify_blocked(record, chosen, "drop", state_tag="-loss")
            elif verify:
                for link in chosen:
                    _, toxics = table.server_view(link)
                    if f"{record.tag}-loss-up" not in toxics:
                        raise FaultNotEffective(f"message_loss #{record.id}: no loss toxic on {link}")
                self._verified(record, f"proxy state shows {toxic} toxicity={probability:g} on {len(chosen)} "
                                       "links (loss is random per connection: not probed)")
        except BaseException:
            record.revert()
            raise
        return record

    # ------------------------------------------------------------- node faults

    def _node_fault(self, kind: str, node: str, seed: int | None, action: Callable[[], str],
                    undo: Callable[[], None] | None, instant: bool) -> FaultRecord:
        self._node(node)
        record = self._start(kind, node, self._seed(seed), nodes=(node,))
        record._undo = undo
        note = action()
        self._verified(record, note)
        if instant:
            record.finish("instant")
        return record

    def crash(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGKILL the node (and its process group).  Revert = restart."""
        def act() -> str:
            code = self.provider.kill(node)  # type: ignore[attr-defined]
            if self.provider.exit_code(node) is None:  # type: ignore[attr-defined]
                raise FaultNotEffective(f"crash: {node} still running")
            return f"process reaped, exit status {code}"
        return self._node_fault("crash", node, seed, act, lambda: self._restart_node(node), instant=False)

    def stop(self, node: str, *, timeout: float | None = None, seed: int | None = None) -> FaultRecord:
        """Graceful stop (SIGTERM, SIGKILL after ``timeout``).  Revert = restart."""
        def act() -> str:
            code = self.provider.stop(node, self.config.stop_timeout if timeout is None else timeout)  # type: ignore[attr-defined]
            return f"process exited with status {code}"
        return self._node_fault("stop", node, seed, act, lambda: self._restart_node(node), instant=False)

    def pause(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGSTOP the node: its ports stay open but nothing answers.  Revert = resume."""
        def act() -> str:
            self.provider.pause(node)  # type: ignore[attr-defined]
            return "kernel reports the process stopped"
        return self._node_fault("pause", node, seed, act, lambda: self.provider.resume(node),  # type: ignore[attr-defined]
                                instant=False)

    def resume(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """SIGCONT a paused node; ends its pause fault."""
        def act() -> str:
            self.provider.resume(node)  # type: ignore[attr-defined]
            for r in self.fault_log.active():
                if r.kind == "pause" and r.nodes == (node,):
                    r.finish("resumed")
            self._wait_healthy(node, self.config.ready_timeout)  # type: ignore[attr-defined]
            return "process running and healthy"
        return self._node_fault("resume", node, seed, act, None, instant=True)

    def _restart_node(self, node: str) -> None:
        self.provider.restart(node, self.config.stop_timeout)  # type: ignore[attr-defined]
        self._wait_healthy(node, self.config.ready_timeout)  # type: ignore[attr-defined]

    def restart(self, node: str, *, seed: int | None = None) -> FaultRecord:
        """Stop (if running) and start the node again on the same address with
        the same peers; returns once it is healthy.  Ends its crash/stop fault."""
        def act() -> str:
            self._restart_node(node)
            for r in self.fault_log.active():
                if r.kind in ("crash", "stop", "pause") and r.nodes == (node,):
                    r.finish("restarted")
            return f"healthy again on {self.provider.address(node)} (pid {self.provider.pid(node)})"  # type: ignore[attr-defined]
        return self._node_fault("restart", node, seed, act, None, instant=True)

    # ---------------------------------------------------------------- pressure

    def cpu_pressure(self, seconds: float, workers: int = 1, *, node: str | None = None,
                     seed: int | None = None) -> FaultRecord:
        """Burn ``workers`` CPUs for ``seconds`` (pinned to ``node``'s CPUs
        when it has an affinity limit).  Revert = kill the helper early."""
        from pipeline.faults.pressure import PressureError, cpu_pressure

        cpus = None
        if node is not None:
            self._node(node)
            cpus = self.config.node(node).resources.cpus  # type: ignore[attr-defined]
        seed = self._seed(seed)
        try:
            pressure = cpu_pressure(seconds, workers, cpus=cpus, state=self.state)  # type: ignore[attr-defined]
        except PressureError as exc:
            raise FaultError(str(exc)) from None
        return self._pressure_record(pressure, "cpu_pressure", seed, node)

    def memory_pressure(self, mb: int, seconds: float, *, seed: int | None = None) -> FaultRecord:
        """Hold ``mb`` MiB of resident memory for ``seconds``."""
        from pipeline.faults.pressure import PressureError, memory_pressure

        seed = self._seed(seed)
        try:
            pressure = memory_pressure(mb, seconds, state=self.state)  # type: ignore[attr-defined]
        except PressureError as exc:
            raise FaultError(str(exc)) from None
        return self._pressure_record(pressure, "memory_pressure", seed, None)

    def _pressure_record(self, pressure: "Pressure", kind: str, seed: int, node: str | None) -> FaultRecord:
        self._pressures.append(pressure)  # type: ignore[attr-defined]
        record = self._start(kind, pressure.label + (f" near {node}" if node else ""), seed,
                             nodes=(node,) if node else (), params={"pid": pressure.pid})
        record._undo = pressure.stop
        self._verified(record, f"helper pid {pressure.pid} reported ready")
        return record
