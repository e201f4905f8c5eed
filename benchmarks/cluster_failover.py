"""Failover figures of a 3-node mabeam cluster (a script, not a test: it prints numbers).

    python benchmarks/cluster_failover.py [--rounds 3] [--seconds 5] [--clients 8]

Measured through the toolkit (real processes, Toxiproxy links):

* partition -> minority refuses: from the moment ``isolate(leader)`` is in place
  until a write sent to the old leader is answered 503 ``no_quorum``;
* heal -> equal digests: from the moment ``heal`` is in place until every
  node reports the same ``/state/digest`` (writes were made on the majority);
* leader failover: from SIGKILL of the leader until a write on a survivor is
  acknowledged (201);
* write ops/s: concurrent clients publishing events on every node (followers
  forward to the leader) for a fixed time.

Targets (issue 5): <= 1 s, <= 1 s, <= 1.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.cluster import ClusterManager, cluster_config  # noqa: E402

COMMAND = [
    sys.executable,
    "-m",
    "mabeam",
    "--node-id",
    "{name}",
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--peers",
    "{peers}",
    "--data-dir",
    "{data_dir}",
    "--tick-ms",
    "50",
    "--member-grace-s",
    "60",
    "--bootstrap",  # ignored on a restart with data (docs/api.md)
]


def health(c: Any, n: str) -> dict[str, Any]:
    return requests.get(c.url(n) + "/health", timeout=2).json()


def wait(cond: Any, timeout: float = 15.0, every: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = cond()
        except (requests.RequestException, KeyError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(every)


def leader(c: Any, names: list[str]) -> str:
    def agreed() -> str | None:
        seen = {n: health(c, n) for n in names}
        leaders = {h["leader"] for h in seen.values()}
        if len(leaders) == 1 and None not in leaders and all(h["mode"] == "normal" for h in seen.values()):
            (link,) = leaders
            return link if link in seen else None
        return None

    return wait(agreed)


def write(c: Any, n: str, data: Any, timeout: float = 5.0) -> int:
    try:
        return requests.post(c.url(n) + "/events", json={"topic": "bench.w", "data": data}, timeout=timeout).status_code
    except requests.RequestException:
        return 0


def digests_equal(c: Any, names: list[str]) -> bool:
    found = {requests.get(c.url(n) + "/state/digest", timeout=2).json()["digest"] for n in names}
    return len(found) == 1


def partition_round(c: Any, names: list[str]) -> tuple[float, float]:
    old = leader(c, names)
    for i in range(20):
        write(c, old, i)
    c.faults.isolate(old, verify=False)
    t0 = time.monotonic()
    while write(c, old, "minority", timeout=5) != 503:
        pass
    refused = time.monotonic() - t0
    majority = [n for n in names if n != old]
    leader(c, majority)
    accepted = sum(write(c, majority[i % 2], i) == 201 for i in range(20))
    if accepted != 20:  # otherwise "equal digests" would measure nothing
        raise RuntimeError(f"the majority accepted only {accepted}/20 writes")
    c.faults.heal(verify=False)
    t0 = time.monotonic()
    wait(lambda: digests_equal(c, names), every=0.005)
    healed = time.monotonic() - t0
    leader(c, names)
    return refused, healed


def failover_round(c: Any, names: list[str]) -> float:
    old = leader(c, names)
    survivor = next(n for n in names if n != old)
    c.faults.crash(old)
    t0 = time.monotonic()
    while write(c, survivor, "after-crash", timeout=5) != 201:
        time.sleep(0.005)
    took = time.monotonic() - t0
    c.faults.restart(old)
    wait(lambda: digests_equal(c, names))
    return took


def write_load(urls: list[str], seconds: float, clients: int) -> int:
    """``clients`` threads publishing events (one replicated write each) for
    ``seconds``, spread over ``urls``; returns the writes acknowledged."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        session = requests.Session()
        url = urls[k % len(urls)] + "/events"
        while time.monotonic() < stop:
            r = session.post(url, json={"topic": "bench.t", "data": k}, timeout=5)
            if r.status_code == 201:
                done[k] += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done)


def throughput(c: Any, names: list[str], seconds: float, clients: int) -> float:
    return write_load([c.url(n) for n in names], seconds, clients) / seconds


def summary(name: str, values: list[float], target: float | None) -> str:
    mark = "" if target is None else ("  OK" if max(values) <= target else f"  OVER target {target:g}")
    return (
        f"{name:32s} median {statistics.median(values):7.3f}  max {max(values):7.3f}  "
        f"({', '.join(f'{v:.3f}' for v in values)}){mark}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    config = cluster_config(3, "mesh", command=COMMAND, cwd=str(ROOT), env={"MABEAM_CLUSTER_SECRET": "bench"})
    with ClusterManager().start(config) as c:
        names = list(c.names)
        leader(c, names)
        refused, healed, failover = [], [], []
        for _ in range(args.rounds):
            r, h = partition_round(c, names)
            refused.append(r)
            healed.append(h)
            failover.append(failover_round(c, names))
        ops_leader = throughput(c, [leader(c, names)], args.seconds, args.clients)
        ops_all = throughput(c, names, args.seconds, args.clients)
    print(f"3-node mabeam cluster, {args.rounds} rounds (seconds)")
    print(summary("partition -> minority refuses", refused, 1.0))
    print(summary("heal -> equal digests", healed, 1.0))
    print(summary("leader failover (crash -> write)", failover, 1.5))
    print(f"{'write ops/s, clients on leader':32s} {ops_leader:9.0f}  ({args.clients} clients, {args.seconds:g} s)")
    print(f"{'write ops/s, clients on all':32s} {ops_all:9.0f}  ({args.clients} clients, {args.seconds:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
