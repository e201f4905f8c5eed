"""Cluster specs: validation names the key and the allowed values; topologies
produce exactly the expected directed links; reprs read like the spec."""

from __future__ import annotations

import pytest

from pipeline.cluster.config import ClusterConfig, ConfigError, cluster_config, latency_range, node_spec, resources
from pipeline.cluster.provider import Address, NodeLaunch
from pipeline.cluster.topology import Link, parse_link, topology_links

CMD = ["node", "--port", "{port}", "--peers", "{peers}"]


def links(*texts: str) -> set[Link]:
    return {parse_link(t) for t in texts}


# ------------------------------------------------------------------ topologies


def test_mesh_has_every_ordered_pair():
    got = topology_links("mesh", ["n1", "n2", "n3"])
    assert set(got) == links("n1->n2", "n1->n3", "n2->n1", "n2->n3", "n3->n1", "n3->n2")
    assert len(topology_links("mesh", [f"n{i}" for i in range(1, 6)])) == 20


def test_ring_links_neighbours_both_ways():
    got = set(topology_links("ring", ["n1", "n2", "n3", "n4"]))
    assert got == links("n1->n2", "n2->n1", "n2->n3", "n3->n2", "n3->n4", "n4->n3", "n4->n1", "n1->n4")
    assert set(topology_links("ring", ["a", "b"])) == links("a->b", "b->a")


def test_star_links_hub_to_everyone_both_ways():
    got = set(topology_links("star", ["n1", "n2", "n3"], hub="n2"))
    assert got == links("n2->n1", "n1->n2", "n2->n3", "n3->n2")
    assert set(topology_links("star", ["n1", "n2", "n3"])) == links("n1->n2", "n2->n1", "n1->n3", "n3->n1")


def test_custom_links_are_taken_as_given():
    got = topology_links("custom", ["a", "b", "c"], links=["a->b", ("b", "c")])
    assert got == (Link("a", "b"), Link("b", "c"))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"links": ["a->z"]}, "unknown node 'z'"),
        ({"links": ["a->a"]}, "itself"),
        ({"links": ["a-b"]}, "src->dst"),
        ({}, "required"),
    ],
)
def test_custom_link_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        topology_links("custom", ["a", "b"], **kwargs)


def test_config_links_property_follows_topology():
    assert len(cluster_config(5, "ring", command=CMD).links) == 10
    assert len(cluster_config(5, "star", command=CMD).links) == 8


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "kwargs, key, allowed",
    [
        ({"topology": "tree"}, "topology", "ring, star, mesh, custom"),
        ({"node_count": 0}, "node_count", None),
        ({"node_count": "3"}, "node_count", None),
        ({"command": "srv --port {prot}"}, "node.command", "name, index, host, port, peers"),
        ({"command": None}, "node.command", None),
        ({"resources": {"memory": 10}}, "node.resources.memory", "memory_mb, memory_limit, cpus, open_files"),
        ({"resources": {"memory_mb": 64, "memory_limit": "rss"}}, "resources.memory_limit", "as, data"),
        ({"resources": {"cpus": "0"}}, "resources.cpus", None),
        ({"health_path": "health"}, "node.health_path", None),
        ({"latency": (50, 10)}, "latency.max_ms", None),
        ({"latency": {"lo": 1}}, "latency.lo", "min_ms, max_ms"),
        ({"link_proxies": "yes"}, "link_proxies", "True, False"),
        ({"link_proxies": False, "latency": (1, 2)}, "latency", None),
        ({"topology": "ring", "links": ["n1->n2"]}, "links", None),
        ({"hub": "n9", "topology": "star"}, "hub", None),
        ({"ready_timeout": 0}, "ready_timeout", None),
        ({"env": {"A": [1]}}, "node.env.A", None),
        ({"command": "srv --name 'n1"}, "node.command", None),
        ({"command": "srv --port {port!z}"}, "node.command", "!r, !s, !a"),
        ({"command": "srv --port {port:>>>>}"}, "node.command", None),
        ({"command": "srv --name {name:d}"}, "node.command", None),
        ({"ready_timeout": float("nan")}, "ready_timeout", None),
        ({"stop_timeout": float("inf")}, "stop_timeout", None),
        ({"cwd": 3}, "node.cwd", None),
        ({"cwd": ""}, "node.cwd", None),
        ({"report_dir": 3}, "report_dir", None),
    ],
)
def test_bad_config_names_key_and_allowed_values(kwargs, key, allowed):
    args = {"node_count": 3, "command": CMD, **kwargs}
    with pytest.raises(ConfigError) as info:
        cluster_config(**args)
    assert info.value.key == key, str(info.value)
    assert str(info.value).startswith(key + ":")
    if allowed:
        assert f"(allowed: {allowed}" in str(info.value)


def test_from_mapping_rejects_unknown_keys_with_allowed_list():
    with pytest.raises(ConfigError) as info:
        ClusterConfig.from_mapping({"node_count": 3, "command": CMD, "topolgy": "ring"})
    assert info.value.key == "cluster.topolgy"
    assert "topology" in info.value.allowed


def test_from_mapping_builds_the_same_spec_as_the_factory():
    data = {
        "node_count": 3,
        "topology": "ring",
        "command": CMD,
        "latency": {"min_ms": 5, "max_ms": 9},
        "resources": {"memory_mb": 256, "cpus": [0]},
    }
    assert ClusterConfig.from_mapping(data) == cluster_config(
        3, "ring", command=CMD, latency=latency_range(5, 9), resources=resources(memory_mb=256, cpus=[0])
    )


def test_explicit_nodes_count_and_names():
    cfg = cluster_config(nodes=[node_spec("alpha", CMD), {"command": CMD}])
    assert cfg.names == ("alpha", "n2")
    with pytest.raises(ConfigError, match="node_count: is 3 but 2 nodes"):
        cluster_config(3, nodes=[node_spec("a", CMD), node_spec("b", CMD)])
    with pytest.raises(ConfigError, match="duplicate node names: a"):
        cluster_config(nodes=[node_spec("a", CMD), node_spec("a", CMD)])
    with pytest.raises(ConfigError) as info:
        cluster_config(nodes=[{"name": "a", "command": CMD, "imag": "x"}])
    assert info.value.key == "nodes[0].imag"


def test_bad_node_name_is_refused():
    with pytest.raises(ConfigError, match="node.name"):
        node_spec("1bad", CMD)
    with pytest.raises(ConfigError, match="node.name"):
        node_spec("has/slash", CMD)


def test_image_only_spec_is_valid_for_containers():
    spec = node_spec("n1", image="registry.local/svc:1", port=8000)
    assert spec.command is None and spec.image == "registry.local/svc:1"


# ------------------------------------------------------------------------ repr


def test_repr_reads_like_the_spec_and_shows_only_non_defaults():
    cfg = cluster_config(3, "ring", command="srv --port {port}", latency=(10, 20))
    text = repr(cfg)
    assert text.startswith("ClusterConfig(node_count=3, topology='ring', names=(n1, n2, n3), node=NodeSpec(")
    assert "latency=LatencyRange(min_ms=10, max_ms=20)" in text
    assert "link_proxies" not in text and "ready_timeout" not in text
    assert repr(resources(memory_mb=64)) == "Resources(memory_mb=64)"


def test_specs_are_frozen():
    cfg = cluster_config(3, command=CMD)
    with pytest.raises(AttributeError):
        cfg.node_count = 4  # type: ignore[misc]


# ------------------------------------------------------------- launch rendering


def test_launch_renders_placeholders_and_environment(tmp_path):
    spec = node_spec(
        "n1",
        ["srv", "{name}", "{host}:{port}", "--peers={peers}", "{data_dir}", "{config[mode]}", "{index}"],
        config={"mode": "fast"},
        env={"EXTRA": 1},
    )
    launch = NodeLaunch(
        "n1",
        1,
        spec,
        Address("127.0.0.1", 4000),
        {"n3": Address("127.0.0.1", 4003), "n2": Address("127.0.0.1", 4002)},
        "run-1",
        tmp_path / "d",
        tmp_path / "n1.log",
        tmp_path / "n1.json",
    )
    assert launch.argv() == [
        "srv",
        "n1",
        "127.0.0.1:4000",
        "--peers=n2=127.0.0.1:4002,n3=127.0.0.1:4003",
        str(tmp_path / "d"),
        "fast",
        "1",
    ]
    env = launch.environment()
    assert env["CLUSTER_PEERS"] == "n2=127.0.0.1:4002,n3=127.0.0.1:4003"
    assert env["CLUSTER_NODE"] == "n1" and env["CLUSTER_PORT"] == "4000"
    assert env["CLUSTER_CONFIG"] == '{"mode": "fast"}' and env["EXTRA"] == "1"


def test_launch_with_missing_config_key_names_it(tmp_path):
    from pipeline.cluster.provider import ProviderError

    spec = node_spec("n1", ["srv", "{config[missing]}"])
    launch = NodeLaunch("n1", 1, spec, Address("127.0.0.1", 1), {}, "r", tmp_path, tmp_path / "l", tmp_path / "c")
    with pytest.raises(ProviderError, match="'missing'"):
        launch.argv()


def test_format_specs_that_suit_the_value_are_kept():
    config = cluster_config(1, command="srv {port:05d} {name:>4} {index!s:>3} {config[n]:d}", config={"n": 2})
    assert config.nodes[0].command == ("srv", "{port:05d}", "{name:>4}", "{index!s:>3}", "{config[n]:d}")


def test_launch_with_a_format_spec_that_does_not_suit_a_config_value_names_it(tmp_path):
    from pipeline.cluster.provider import ProviderError

    spec = node_spec("n1", ["srv", "{config[n]:d}"], config={"n": "two"})
    launch = NodeLaunch("n1", 1, spec, Address("127.0.0.1", 1), {}, "r", tmp_path, tmp_path / "l", tmp_path / "c")
    with pytest.raises(ProviderError, match="node n1: command template cannot be filled: Unknown format code 'd'"):
        launch.argv()
