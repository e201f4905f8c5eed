"""Network faults: partitions of any shape, heal, latency and message loss.

Each fault returns only once it is *verified effective*: a partition after a
real TCP exchange through every cut link failed (refused or unanswered) and
Toxiproxy's own state shows the cut; a heal after every healed link to a live
node answered again.  Links to nodes without a health path cannot be checked
by exchange; for those the proxy state read back from Toxiproxy is the
evidence, and the record says so.

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
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from pipeline.cluster.topology import Link, parse_link
from pipeline.faults import shapes
from pipeline.faults.base import FaultBase
from pipeline.faults.log import FaultError, FaultNotEffective, FaultRecord, check_choice

if TYPE_CHECKING:
    from pipeline.cluster.links import ProbeResult

__all__ = ["NetworkFaults", "MODES", "LOSS_MODES", "STREAMS", "SPREADS"]

MODES = ("drop", "reject")
LOSS_MODES = ("reset", "drop")
STREAMS = ("both", "upstream", "downstream")
SPREADS = ("jitter", "fixed")


class NetworkFaults(FaultBase):
    """Faults on the links between nodes (and on client links), through Toxiproxy."""

    def _select_links(
        self, links: Iterable[object] | None, affected_fraction: float | None, rng: random.Random
    ) -> list[Link]:
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
                    raise FaultError(
                        f"links: {link} is not a link of this cluster (allowed: {', '.join(map(str, existing))})"
                    )
                chosen.append(link)
            return chosen
        if affected_fraction is None:
            return list(existing)
        if (
            isinstance(affected_fraction, bool)
            or not isinstance(affected_fraction, (int, float))
            or not 0 < affected_fraction <= 1
        ):
            raise FaultError(f"affected_fraction: must be in (0, 1], got {affected_fraction!r}")
        count = max(1, round(affected_fraction * len(existing)))
        return sorted(rng.sample(sorted(existing), count))

    def _live_http(self, node: str) -> bool:
        return (
            self.cluster.health_path(node) is not None
            and self.cluster.provider.exit_code(node) is None
            and not self.cluster.provider.is_paused(node)
        )

    def _probe(self, links: Iterable[Link]) -> dict[Link, ProbeResult]:
        table = self._require_links("probe")
        return table.probe_many(links, self.cluster.health_path, self.probe_timeout)

    def _verify_blocked(self, record: FaultRecord, links: list[Link], mode: str, state_tag: str = "-drop") -> None:
        table = self._require_links(record.kind)
        by_probe = [link for link in links if self.cluster.health_path(link.dst) is not None]
        by_state = [link for link in links if link not in by_probe]
        outcomes: dict[str, int] = {}
        deadline = time.monotonic() + self.verify_timeout
        pending = list(by_probe)
        while pending:
            results = self._probe(pending)
            pending = [link for link, r in results.items() if r.flows]
            for r in results.values():
                if not r.flows:
                    outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
            if pending and time.monotonic() >= deadline:
                raise FaultNotEffective(
                    f"{record.kind} #{record.id}: links still carry traffic: {', '.join(map(str, pending))}"
                )
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
            parts.append(
                f"exchange failed on {len(by_probe)}/{len(by_probe)} links ("
                + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
                + ")"
            )
        if by_state:
            parts.append(f"proxy state shows {len(by_state)} links cut (no health path to probe)")
        self._verified(record, "; ".join(parts) or "no links to cut")

    def _verify_flowing(self, record: FaultRecord, links: Iterable[Link]) -> None:
        table = self._require_links(record.kind)
        links = list(links)
        live = [link for link in links if self._live_http(link.dst)]
        skipped = len(links) - len(live)
        deadline = time.monotonic() + self.verify_timeout
        pending = list(live)
        while pending:
            results = self._probe(pending)
            pending = [link for link, r in results.items() if not r.flows]
            if pending and time.monotonic() >= deadline:
                detail = ", ".join(f"{link} ({results[link].outcome})" for link in pending)
                raise FaultNotEffective(f"{record.kind} #{record.id}: links still do not flow: {detail}")
            if pending:
                time.sleep(0.02)
        for link in links:
            if link not in live:
                enabled, toxics = table.server_view(link)
                if not enabled or toxics:
                    raise FaultNotEffective(
                        f"{record.kind} #{record.id}: Toxiproxy still shows {link} (enabled={enabled}, toxics={toxics})"
                    )
        note = f"exchange flows on {len(live)} links"
        if skipped:
            note += f"; {skipped} links to down/paused/non-HTTP nodes checked by proxy state"
        self._verified(record, note)

    # -------------------------------------------------------------- partitions

    def _apply_plan(self, plan: shapes.PartitionPlan, mode: str, seed: int, verify: bool) -> FaultRecord:
        check_choice("mode", mode, MODES)
        table = self._require_links("partition")
        cut = [link for link in table.links if link in plan.blocked]
        record = self._start(
            "partition",
            f"{plan!r} mode={mode} cuts {len(cut)} links",
            seed,
            params={"shape": plan.shape, "groups": [list(g) for g in plan.groups], "mode": mode},
            links=tuple(cut),
        )
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

    def partition(
        self, groups: Sequence[Sequence[str]], mode: str = "drop", *, seed: int | None = None, verify: bool = True
    ) -> FaultRecord:
        """Nodes in different ``groups`` cannot reach each other (see module doc
        for ``mode``).  Every node must be in one group."""
        try:
            plan = shapes.groups(self.cluster.names, groups)
        except ValueError as exc:
            raise FaultError(str(exc)) from None
        return self._apply_plan(plan, mode, self._seed(seed), verify)

    def _shape(
        self,
        name: str,
        build: Callable[[random.Random | None], shapes.PartitionPlan],
        mode: str,
        shuffle: bool,
        seed: int | None,
        verify: bool,
    ) -> FaultRecord:
        seed = self._seed(seed)
        try:
            plan = build(random.Random(seed) if shuffle else None)
        except ValueError as exc:
            raise FaultError(str(exc)) from None
        return self._apply_plan(plan, mode, seed, verify)

    def partition_halves(
        self, mode: str = "drop", *, shuffle: bool = False, seed: int | None = None, verify: bool = True
    ) -> FaultRecord:
        return self._shape("halves", lambda rng: shapes.halves(self.cluster.names, rng), mode, shuffle, seed, verify)

    def partition_majority_minority(
        self, mode: str = "drop", *, shuffle: bool = False, seed: int | None = None, verify: bool = True
    ) -> FaultRecord:
        return self._shape(
            "majority_minority",
            lambda rng: shapes.majority_minority(self.cluster.names, rng),
            mode,
            shuffle,
            seed,
            verify,
        )

    def isolate(self, node: str, mode: str = "drop", *, seed: int | None = None, verify: bool = True) -> FaultRecord:
        self._node(node)
        return self._shape("isolate", lambda rng: shapes.isolate(self.cluster.names, node), mode, False, seed, verify)

    def bridge(
        self,
        mode: str = "drop",
        *,
        node: str | None = None,
        shuffle: bool = False,
        seed: int | None = None,
        verify: bool = True,
    ) -> FaultRecord:
        return self._shape(
            "bridge", lambda rng: shapes.bridge(self.cluster.names, rng, node), mode, shuffle, seed, verify
        )

    def partition_majorities_ring(
        self, mode: str = "drop", *, shuffle: bool = False, seed: int | None = None, verify: bool = True
    ) -> FaultRecord:
        return self._shape(
            "majorities_ring", lambda rng: shapes.majorities_ring(self.cluster.names, rng), mode, shuffle, seed, verify
        )

    def cut(
        self, src: str, dst: str, mode: str = "drop", *, seed: int | None = None, verify: bool = True
    ) -> FaultRecord:
        """One-way cut: ``src`` can no longer reach ``dst``; ``dst`` still reaches ``src``."""
        self._node(src)
        self._node(dst)
        table = self._require_links("cut")
        if Link(src, dst) not in table.links:
            raise FaultError(
                f"cut: there is no link {src}->{dst} in this topology (allowed: {', '.join(map(str, table.links))})"
            )
        return self._shape(
            "one_way", lambda rng: shapes.one_way(self.cluster.names, src, dst), mode, False, seed, verify
        )

    def heal(self, *, verify: bool = True) -> FaultRecord:
        """Restore every link: no partition, latency or loss left (asks the
        server, so even toxics added behind our back go).  Node faults (a
        crashed or paused node) are not touched: use ``restart``/``resume``."""
        table = self._require_links("heal")
        seed = self._seed(None)
        ended = [r for r in self.log.active() if r.links or r.kind in ("partition", "latency", "message_loss")]
        record = self._start(
            "heal", f"all {len(table.links)} links (ends {len(ended)} faults)", seed, links=tuple(table.links)
        )
        table.heal_all()
        for r in ended:
            r.finish(f"healed by #{record.id}")
        if verify:
            self._verify_flowing(record, table.links)
        record.finish("instant")
        return record

    # ---------------------------------------------------------------- latency

    def latency(
        self,
        min_ms: int,
        max_ms: int | None = None,
        *,
        links: Iterable[object] | None = None,
        affected_fraction: float | None = None,
        seed: int | None = None,
        stream: str = "both",
        spread: str = "jitter",
        verify: bool = True,
    ) -> FaultRecord:
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
        check_choice("stream", stream, STREAMS)
        check_choice("spread", spread, SPREADS)
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
        record = self._start(
            "latency",
            f"{min_ms}-{max_ms}ms {spread} on {len(chosen)} links ({stream})",
            seed,
            params={
                "min_ms": min_ms,
                "max_ms": max_ms,
                "stream": stream,
                "spread": spread,
                "delays": {str(link): d for link, d in delays.items()},
            },
            links=tuple(chosen),
        )
        streams = ("upstream", "downstream") if stream == "both" else (stream,)
        done: list[Link] = []
        record._undo = lambda: [table.remove_toxics(link, record.tag) for link in done]
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
        probe_links = [link for link in links if self._live_http(link.dst) and table.only_faulted_by(link, record.tag)][
            :3
        ]
        if min_ms > 0 and probe_links:
            old = self.probe_timeout
            self.probe_timeout = max(old, 2 * max_ms / 1000 + 2.0)
            try:
                results = self._probe(probe_links)
            finally:
                self.probe_timeout = old
            slow = {link: r for link, r in results.items() if r.flows and r.elapsed >= min_ms / 1000}
            if len(slow) != len(probe_links):
                detail = ", ".join(f"{link}: {r.outcome} in {r.elapsed * 1000:.0f}ms" for link, r in results.items())
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

    def message_loss(
        self,
        probability: float,
        *,
        links: Iterable[object] | None = None,
        affected_fraction: float | None = None,
        seed: int | None = None,
        mode: str = "reset",
        timeout_ms: int = 0,
        verify: bool = True,
    ) -> FaultRecord:
        """Lose traffic on the chosen links with ``probability`` per connection
        (see the module docstring for why per connection and the two modes)."""
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
            raise FaultError(f"probability: must be a number in [0, 1], got {probability!r}")
        check_choice("mode", mode, LOSS_MODES)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise FaultError(f"timeout_ms: must be an integer >= 0, got {timeout_ms!r}")
        seed = self._seed(seed)
        chosen = self._select_links(links, affected_fraction, random.Random(seed))
        table = self._require_links("message_loss")
        toxic = "reset_peer" if mode == "reset" else "timeout"
        record = self._start(
            "message_loss",
            f"p={probability:g} per connection ({toxic}) on {len(chosen)} links",
            seed,
            params={"probability": probability, "mode": mode, "timeout_ms": timeout_ms},
            links=tuple(chosen),
        )
        done: list[Link] = []
        record._undo = lambda: [table.remove_toxics(link, record.tag) for link in done]
        try:
            for link in chosen:
                attrs = {"timeout": 0} if mode == "reset" else {"timeout": timeout_ms}
                table.add_toxic(
                    link, record.tag, toxic, stream="upstream", suffix="loss", toxicity=float(probability), **attrs
                )
                done.append(link)
            if verify and probability >= 1:  # certain loss: every exchange must fail, so probe it
                self._verify_blocked(record, chosen, "drop", state_tag="-loss")
            elif verify:
                for link in chosen:
                    _, toxics = table.server_view(link)
                    if f"{record.tag}-loss-up" not in toxics:
                        raise FaultNotEffective(f"message_loss #{record.id}: no loss toxic on {link}")
                self._verified(
                    record,
                    f"proxy state shows {toxic} toxicity={probability:g} on {len(chosen)} "
                    "links (loss is random per connection: not probed)",
                )
        except BaseException:
            record.revert()
            raise
        return record
