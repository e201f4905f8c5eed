"""Test clusters: N nodes of any service, wired through Toxiproxy, with faults.

::

    import sys

    from pipeline.cluster import ClusterManager, cluster_config

    config = cluster_config(5, "mesh", command=[sys.executable, "-m", "pipeline.testing.pingnode",
                                               "--name", "{name}", "--port", "{port}", "--peers", "{peers}"])
    with ClusterManager().start(config) as cluster:
        cluster.urls                      # {"n1": "http://127.0.0.1:PORT", ...}
        with cluster.faults.partition_majority_minority(mode="drop"):
            ...                           # n1-n3 | n4-n5, verified cut
        cluster.faults.crash("n2"); cluster.faults.restart("n2")
        print(cluster.faults.log.format())

Modules: ``config`` (specs), ``topology`` (which links), ``links`` (one
Toxiproxy proxy per link), ``provider`` (the interface), ``local`` / ``fake``
(implementations), ``process`` (pre-exec limits, process groups),
``errors``, ``manager`` (start), ``handle`` (a running cluster; its faults
are :mod:`pipeline.faults`), ``runstate`` / ``clean`` / ``watchdog`` /
``teardown`` (nothing is left behind).  Names are loaded
lazily so ``python -m pipeline.cluster.watchdog`` starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ClusterConfig": "config",
    "NodeSpec": "config",
    "Resources": "config",
    "LatencyRange": "config",
    "ConfigError": "config",
    "cluster_config": "config",
    "node_spec": "config",
    "resources": "config",
    "latency_range": "config",
    "Link": "topology",
    "topology_links": "topology",
    "ClusterManager": "manager",
    "shared_toxiproxy": "manager",
    "ClusterHandle": "handle",
    "NodeHandle": "handle",
    "NodeStartError": "errors",
    "NodeLaunchError": "errors",
    "Provider": "provider",
    "Address": "provider",
    "ProviderError": "provider",
    "LocalProvider": "local",
    "FakeProvider": "fake",
    "FakeToxiproxy": "fake",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.cluster' has no attribute {name!r}")
    value = getattr(import_module(f"pipeline.cluster.{module}"), name)
    globals()[name] = value
    return value
