"""The manager with the fake provider and fake Toxiproxy: exact order of
work, peers wiring, failed starts torn down, run state kept and removed."""

from __future__ import annotations

import json

import pytest

from pipeline.cluster.config import cluster_config
from pipeline.cluster.fake import FakeProvider, FakeToxiproxy
from pipeline.cluster.handle import NodeStartError
from pipeline.cluster.links import proxy_name
from pipeline.cluster.manager import ClusterManager, resolve_seed

CMD = ["node", "--name", "{name}", "--port", "{port}", "--peers", "{peers}"]


@pytest.fixture
def fakes(tmp_path):
    provider = FakeProvider()
    tp = FakeToxiproxy(provider)
    manager = ClusterManager(provider, toxiproxy=tp, runs_dir=tmp_path / "runs", report_root=tmp_path / "reports")
    return provider, tp, manager


def test_proxies_exist_before_nodes_start_and_peers_are_outgoing_proxies(fakes):
    provider, tp, manager = fakes
    proxies_at_start = []
    real_start = provider.start
    provider.start = lambda launch: (proxies_at_start.append(len(tp.proxies)), real_start(launch))  # type: ignore
    with manager.start(cluster_config(3, "ring", command=CMD)) as c:
        first_start = next(i for i, call in enumerate(provider.calls) if call[0] == "start")
        assert [call[0] for call in provider.calls[:first_start]] == ["open", "allocate", "allocate", "allocate"]
        assert proxies_at_start == [6, 6, 6]  # every proxy existed before the first node started
        for name in c.names:
            launch = provider.nodes[name].launch
            outgoing = {
                link.dst: tp.proxies[proxy_name(c.run_id, name, link.dst)].port
                for link in c.config.links
                if link.src == name
            }
            assert {peer: addr.port for peer, addr in launch.peers.items()} == outgoing
            assert launch.environment()["CLUSTER_PEERS"] == launch.peers_text
            # each proxy points at the node it is named after
            for peer in outgoing:
                upstream = tp.proxies[proxy_name(c.run_id, name, peer)].upstream
                assert upstream == str(provider.addresses[peer])
        assert set(c.urls) == {"n1", "n2", "n3"}
    assert tp.proxies == {}
    assert provider.running() == []


def test_without_link_proxies_peers_are_direct_addresses(fakes):
    provider, tp, manager = fakes
    with manager.start(cluster_config(3, "mesh", command=CMD, link_proxies=False)) as c:
        assert c.links is None
        assert provider.nodes["n1"].launch.peers == {"n2": provider.addresses["n2"], "n3": provider.addresses["n3"]}
    assert tp.proxies == {}


def test_client_proxies_give_client_urls(fakes):
    provider, tp, manager = fakes
    with manager.start(cluster_config(2, "mesh", command=CMD, client_proxies=True)) as c:
        client = tp.proxies[proxy_name(c.run_id, "client", "n1")]
        assert c.url("n1") == f"http://{client.listen}"
        assert c.node("n1").direct_url == f"http://{provider.addresses['n1']}"


def test_failed_node_reports_name_exit_code_log_tail_and_everything_is_torn_down(tmp_path):
    provider = FakeProvider(fail={"n2": (3, "fatal: cannot open data dir")})
    tp = FakeToxiproxy(provider)
    manager = ClusterManager(provider, toxiproxy=tp, runs_dir=tmp_path / "runs", report_root=tmp_path / "rep")
    with pytest.raises(NodeStartError) as info:
        manager.start(cluster_config(3, "mesh", command=CMD))
    err = info.value
    assert err.name == "n2" and err.exit_code == 3
    assert "fatal: cannot open data dir" in err.log_tail
    assert "node n2 failed to start" in str(err) and "exit status 3" in str(err)
    assert provider.running() == []  # n1 and n3 had started: stopped again
    assert ("close", "*") in provider.calls
    assert tp.proxies == {}
    assert list((tmp_path / "runs").glob("*.json")) == []


def test_node_never_healthy_fails_at_the_deadline(tmp_path):
    provider = FakeProvider(never_ready={"n1"})
    manager = ClusterManager(provider, toxiproxy=FakeToxiproxy(provider), runs_dir=tmp_path, report_root=tmp_path)
    with pytest.raises(NodeStartError, match="not healthy within 0.2s") as info:
        manager.start(cluster_config(2, "mesh", command=CMD, ready_timeout=0.2))
    assert info.value.exit_code is None
    assert provider.running() == []


def test_run_state_lists_proxies_while_running_and_is_removed_after(fakes, tmp_path):
    provider, tp, manager = fakes
    c = manager.start(cluster_config(2, "mesh", command=CMD))
    path = tmp_path / "runs" / f"{c.run_id}.json"
    data = json.loads(path.read_text())
    assert sorted(data["proxies"]) == sorted(tp.proxies)
    assert data["runner_pid"] > 0 and data["runner_ticks"] is not None
    c.close()
    assert not path.exists()
    c.close()  # idempotent


def test_seed_resolution_order(monkeypatch):
    monkeypatch.setenv("PIPELINE_SEED", "77")
    assert resolve_seed(None, 5) == 5
    assert resolve_seed(None, None) == 77
    monkeypatch.setenv("PIPELINE_SEED", "x")
    with pytest.raises(ValueError, match="PIPELINE_SEED"):
        resolve_seed(None)
    monkeypatch.delenv("PIPELINE_SEED")
    assert isinstance(resolve_seed(), int)


def test_seed_is_in_the_fault_log_header(fakes):
    provider, tp, manager = fakes
    with manager.start(cluster_config(2, "mesh", command=CMD), seed=4242) as c:
        assert c.seed == 4242
        assert "seed=4242" in c.faults.log.format().splitlines()[0]


def test_default_latency_is_applied_as_first_logged_fault(fakes):
    provider, tp, manager = fakes
    with manager.start(cluster_config(3, "mesh", command=CMD, latency=(10, 30)), seed=1) as c:
        record = c.faults.log.records[0]
        assert record.kind == "latency" and len(record.links) == 6
        toxics = tp.proxies[proxy_name(c.run_id, "n1", "n2")].toxics
        assert {(t.stream, t.attributes["latency"], t.attributes["jitter"]) for t in toxics} == {
            ("upstream", 20, 10),
            ("downstream", 20, 10),
        }
