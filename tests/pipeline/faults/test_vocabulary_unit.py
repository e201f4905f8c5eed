"""Fault layer, exactly: shapes -> cut link sets, toxics per fault, seeded
choices reproducible, faults undone one by one, bad arguments named.
(Behaviour on real sockets: test_vocabulary_integration.py.)"""

from __future__ import annotations

import pytest

from pipeline.cluster.config import cluster_config
from pipeline.cluster.fake import FakeProvider, FakeToxiproxy
from pipeline.cluster.links import proxy_name
from pipeline.cluster.manager import ClusterManager
from pipeline.cluster.topology import Link
from pipeline.faults import FaultError, FaultNotEffective

CMD = ["node", "--port", "{port}", "--peers", "{peers}"]


def between(a: list[str], b: list[str]) -> frozenset[Link]:
    return frozenset({Link(x, y) for x in a for y in b} | {Link(y, x) for x in a for y in b})


# ---------------------------------------------------------- faults on a cluster


@pytest.fixture
def fake_cluster(tmp_path):
    made = []

    def make(n=5, topology="mesh", seed=7, **kw):
        provider = FakeProvider()
        tp = FakeToxiproxy(provider)
        manager = ClusterManager(provider, toxiproxy=tp, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
        c = manager.start(cluster_config(n, topology, command=CMD, **kw), seed=seed)
        made.append(c)
        return c, provider, tp

    yield make
    for c in made:
        c.close()


def toxics(tp, c, link: str) -> list:
    src, dst = link.split("->")
    return tp.proxies[proxy_name(c.run_id, src, dst)].toxics


def enabled(tp, c, link: str) -> bool:
    src, dst = link.split("->")
    return tp.proxies[proxy_name(c.run_id, src, dst)].enabled


def cut_links(tp, c) -> set[str]:
    out = set()
    for link in c.links.links:
        p = tp.proxies[proxy_name(c.run_id, link.src, link.dst)]
        if not p.enabled or any(t.type == "timeout" for t in p.toxics):
            out.add(str(link))
    return out


def test_drop_partition_blackholes_both_streams_of_exactly_the_cross_links(fake_cluster):
    c, provider, tp = fake_cluster()
    record = c.faults.partition([["n1", "n2", "n3"], ["n4", "n5"]], mode="drop")
    assert cut_links(tp, c) == {str(link) for link in between(["n1", "n2", "n3"], ["n4", "n5"])}
    assert {(t.type, t.stream, t.attributes["timeout"]) for t in toxics(tp, c, "n1->n4")} == {
        ("timeout", "upstream", 0),
        ("timeout", "downstream", 0),
    }
    assert all(enabled(tp, c, str(link)) for link in c.links.links)
    assert record.verification.startswith("exchange failed on 12/12 links")
    c.faults.heal()
    assert cut_links(tp, c) == set()


def test_reject_partition_disables_proxies(fake_cluster):
    c, provider, tp = fake_cluster()
    c.faults.partition_majority_minority(mode="reject")
    disabled = {str(link) for link in c.links.links if not enabled(tp, c, str(link))}
    assert disabled == {str(link) for link in between(["n1", "n2", "n3"], ["n4", "n5"])}
    assert all(toxics(tp, c, str(link)) == [] for link in c.links.links)


def test_partition_on_a_ring_only_touches_existing_links(fake_cluster):
    c, provider, tp = fake_cluster(topology="ring")
    record = c.faults.isolate("n1")
    assert set(map(str, record.links)) == {"n1->n2", "n2->n1", "n1->n5", "n5->n1"}
    assert cut_links(tp, c) == {"n1->n2", "n2->n1", "n1->n5", "n5->n1"}


def test_one_way_cut_leaves_reverse_direction(fake_cluster):
    c, provider, tp = fake_cluster()
    c.faults.cut("n1", "n2")
    assert cut_links(tp, c) == {"n1->n2"}
    with pytest.raises(FaultError, match="no link n1->n3"):
        fake_cluster(n=3, topology="custom", links=["n1->n2"])[0].faults.cut("n1", "n3")


def test_revert_undoes_only_its_own_fault(fake_cluster):
    c, provider, tp = fake_cluster()
    a = c.faults.isolate("n1", mode="reject")
    b = c.faults.isolate("n2", mode="reject")  # shares n1<->n2 with a
    a.revert()
    assert not enabled(tp, c, "n1->n2") and not enabled(tp, c, "n2->n1")  # still held by b
    assert enabled(tp, c, "n1->n3")
    b.revert()
    assert cut_links(tp, c) == set()
    with c.faults.partition_halves(mode="drop") as rec:
        assert cut_links(tp, c)
    assert cut_links(tp, c) == set() and not rec.active


def test_heal_clears_toxics_added_behind_our_back(fake_cluster):
    c, provider, tp = fake_cluster()
    tp.client().add_toxic(proxy_name(c.run_id, "n1", "n2"), "latency", name="foreign", latency=5)
    tp.client().disable(proxy_name(c.run_id, "n2", "n3"))
    c.faults.heal()
    assert toxics(tp, c, "n1->n2") == [] and enabled(tp, c, "n2->n3")


def test_heal_ends_active_link_faults_in_the_log(fake_cluster):
    c, provider, tp = fake_cluster()
    p = c.faults.partition_halves()
    lat = c.faults.latency(5, 10)
    h = c.faults.heal()
    assert not p.active and not lat.active and p.end_note == f"healed by #{h.id}"


def test_seeded_latency_link_picks_and_delays_are_reproducible(fake_cluster):
    c1, _, tp1 = fake_cluster(seed=11)
    c2, _, tp2 = fake_cluster(seed=11)
    c3, _, _ = fake_cluster(seed=12)
    r1 = c1.faults.latency(10, 90, affected_fraction=0.3, spread="fixed")
    r2 = c2.faults.latency(10, 90, affected_fraction=0.3, spread="fixed")
    r3 = c3.faults.latency(10, 90, affected_fraction=0.3, spread="fixed")
    assert r1.seed == r2.seed != r3.seed
    assert r1.links == r2.links and len(r1.links) == 6  # 30% of 20
    assert r1.params["delays"] == r2.params["delays"]
    assert (r1.links, r1.params["delays"]) != (r3.links, r3.params["delays"])
    assert all(10 <= d <= 90 and j == 0 for d, j in r1.params["delays"].values())
    # an explicit seed replays the same choice in another cluster
    r4 = c3.faults.latency(10, 90, affected_fraction=0.3, spread="fixed", seed=r1.seed)
    assert r4.links == r1.links and r4.params["delays"] == r1.params["delays"]


def test_latency_jitter_maps_range_onto_latency_and_jitter(fake_cluster):
    c, _, tp = fake_cluster(n=2)
    c.faults.latency(10, 15, stream="upstream")
    (toxic,) = toxics(tp, c, "n1->n2")
    assert toxic.stream == "upstream"
    lo = toxic.attributes["latency"] - toxic.attributes["jitter"]
    hi = toxic.attributes["latency"] + toxic.attributes["jitter"]
    assert lo == 10 and hi <= 15


def test_latency_on_named_links_only(fake_cluster):
    c, _, tp = fake_cluster(n=3)
    record = c.faults.latency(5, links=["n1->n2", ("n3", "n1")])
    assert set(map(str, record.links)) == {"n1->n2", "n3->n1"}
    assert toxics(tp, c, "n2->n1") == []


def test_message_loss_maps_to_per_connection_toxics(fake_cluster):
    c, _, tp = fake_cluster(n=3)
    c.faults.message_loss(0.25)
    (toxic,) = toxics(tp, c, "n1->n2")
    assert (toxic.type, toxic.stream, toxic.toxicity, toxic.attributes) == (
        "reset_peer",
        "upstream",
        0.25,
        {"timeout": 0},
    )
    c.faults.heal()
    c.faults.message_loss(0.5, mode="drop", timeout_ms=200, links=["n2->n3"])
    (toxic,) = toxics(tp, c, "n2->n3")
    assert (toxic.type, toxic.toxicity, toxic.attributes) == ("timeout", 0.5, {"timeout": 200})


@pytest.mark.parametrize(
    "call, fragment",
    [
        (
            lambda c: c.faults.partition([["n1"], ["n2"]], mode="cut"),
            "mode: 'cut' is not allowed (allowed: drop, reject)",
        ),
        (lambda c: c.faults.latency(10, 5), "max_ms: must be >= min_ms"),
        (
            lambda c: c.faults.latency(10, stream="sideways"),
            "stream: 'sideways' is not allowed (allowed: both, upstream",
        ),
        (lambda c: c.faults.latency(10, affected_fraction=1.5), "affected_fraction: must be in (0, 1]"),
        (lambda c: c.faults.latency(10, links=["n1->n9"]), "links: n1->n9 is not a link of this cluster"),
        (lambda c: c.faults.message_loss(2), "probability: must be a number in [0, 1]"),
        (lambda c: c.faults.message_loss(0.1, mode="eat"), "mode: 'eat' is not allowed (allowed: reset, drop)"),
        (lambda c: c.faults.crash("n7"), "node: unknown node 'n7' (allowed: n1, n2)"),
        (lambda c: c.faults.partition([["n1"], ["n3"]]), "unknown node 'n3'"),
    ],
)
def test_bad_fault_arguments_are_named(fake_cluster, call, fragment):
    c, _, _ = fake_cluster(n=2)
    with pytest.raises(FaultError) as info:
        call(c)
    assert fragment in str(info.value)


def test_fault_without_link_proxies_is_refused(fake_cluster):
    c, _, _ = fake_cluster(n=2, link_proxies=False)
    with pytest.raises(FaultError, match="no link proxies"):
        c.faults.partition_halves()


def test_node_faults_call_the_provider_and_are_logged(fake_cluster):
    c, provider, tp = fake_cluster(n=3)
    crash = c.faults.crash("n2")
    assert provider.nodes["n2"].exit_code == -9 and crash.active
    c.faults.restart("n2")
    assert not crash.active and provider.nodes["n2"].state == "running" and provider.nodes["n2"].starts == 2
    pause = c.faults.pause("n3")
    assert provider.is_paused("n3")
    c.faults.resume("n3")
    assert not provider.is_paused("n3") and not pause.active
    stop = c.faults.stop("n1")
    assert provider.nodes["n1"].exit_code == 0
    stop.revert()
    assert provider.nodes["n1"].state == "running"
    kinds = [r.kind for r in c.faults.log]
    assert kinds == ["crash", "restart", "pause", "resume", "stop"]
    assert [call for call in provider.calls if call[0] in ("kill", "pause", "resume", "stop", "restart")] == [
        ("kill", "n2"),
        ("restart", "n2"),
        ("pause", "n3"),
        ("resume", "n3"),
        ("stop", "n1"),
        ("restart", "n1"),
    ]


def test_heal_verification_fails_loudly_when_a_link_stays_cut(fake_cluster, monkeypatch):
    c, provider, tp = fake_cluster(n=2)
    c.faults.verify_timeout = 0.05
    c.faults.partition_halves(mode="reject")
    monkeypatch.setattr(c.links, "heal_all", lambda: None)  # a heal that does nothing
    with pytest.raises(FaultNotEffective, match="links still do not flow"):
        c.faults.heal()


def test_partition_verification_fails_loudly_when_traffic_still_flows(fake_cluster, monkeypatch):
    c, provider, tp = fake_cluster(n=2)
    c.faults.verify_timeout = 0.05
    monkeypatch.setattr(c.links, "disable", lambda link, tag: None)  # a cut that does nothing
    with pytest.raises(FaultNotEffective, match="still carry traffic"):
        c.faults.partition_halves(mode="reject")
    assert c.faults.log.records[-1].end_note == "reverted"


def test_fault_log_lines_have_seed_times_and_verification(fake_cluster):
    c, _, _ = fake_cluster(n=3, seed=99)
    c.faults.partition_halves()
    c.faults.heal()
    text = c.faults.log.format()
    lines = text.splitlines()
    assert "seed=99" in lines[0]
    assert lines[1].startswith("#1 partition: PartitionPlan(halves: n1 | n2 n3) mode=drop cuts 4 links seed=")
    assert "verified +" in lines[1] and "ended +" in lines[1]
    assert (c.run_dir / "faults.log").read_text().count("#1 partition") >= 3  # start, verified, end


def test_same_cluster_seed_gives_same_fault_seeds(fake_cluster):
    a, _, _ = fake_cluster(n=3, seed=5)
    b, _, _ = fake_cluster(n=3, seed=5)
    for c in (a, b):
        c.faults.partition_halves(shuffle=True)
        c.faults.heal()
        c.faults.latency(1, 9, affected_fraction=0.5)
    assert [(r.kind, r.seed, r.params.get("groups")) for r in a.faults.log] == [
        (r.kind, r.seed, r.params.get("groups")) for r in b.faults.log
    ]


def test_a_probe_timeout_alone_does_not_verify_a_cut(fake_cluster, monkeypatch):
    """A loaded machine can make a working link look dead to a short probe; a
    partition is verified only when Toxiproxy itself also shows the cut."""
    from types import SimpleNamespace

    c, provider, tp = fake_cluster(n=2)
    monkeypatch.setattr(c.links, "disable", lambda link, tag: None)  # the cut never happens...
    monkeypatch.setattr(
        c.faults, "_probe", lambda links: {link: SimpleNamespace(flows=False, outcome="timeout") for link in links}
    )  # ...but probes time out
    with pytest.raises(FaultNotEffective, match="does not show"):
        c.faults.partition_halves(mode="reject")


def test_the_vocabulary_is_composed_over_the_handle_not_inherited(fake_cluster):
    from pipeline.cluster.handle import ClusterHandle
    from pipeline.faults.vocabulary import Faults

    c, provider, tp = fake_cluster(n=3)
    assert isinstance(c.faults, Faults) and c.faults.cluster is c
    assert not any(hasattr(c, name) for name in ("partition", "heal", "crash", "latency", "fault_log"))
    assert not issubclass(ClusterHandle, Faults)
    record = c.faults.crash("n2")
    assert list(c.faults.log) == [record] and "crash: n2" in c.report()
