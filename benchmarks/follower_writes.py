"""Writes through the followers of a 3-node cluster, read back at once (a script, not a test).

    python benchmarks/follower_writes.py [--seconds 10] [--clients 16] [--root DIR]

Real processes and Toxiproxy links, as ``cluster_failover.py``. One english
auction is created on the leader; ``--clients`` threads then place bids
(``POST /auctions/{id}/bids``, no wait: the handler reads the bid back from
the node's state) and create accounts read back at once
(``GET /accounts/{id}`` on the same node), only through the two followers, for
``--seconds``. Prints the answers by status, how many read-backs missed their
write, and the latency of the writes. ``--root`` runs the nodes from another
checkout of the project (e.g. the previous commit, for a before/after).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cluster_failover import COMMAND, leader  # noqa: E402
from pipeline.cluster import ClusterManager, cluster_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--root", type=Path, default=ROOT, help="run the nodes from this checkout")
    args = parser.parse_args()
    config = cluster_config(
        3, "mesh", command=COMMAND, cwd=str(args.root.resolve()), env={"MABEAM_CLUSTER_SECRET": "bench"}
    )
    statuses: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    with ClusterManager().start(config) as c:
        names = list(c.names)
        lead = leader(c, names)
        followers = [c.url(n) for n in names if n != lead]
        auction = requests.post(
            c.url(lead) + "/auctions", json={"type": "english", "item": "bench", "starting_price": 1}, timeout=5
        ).json()["id"]
        stop = time.monotonic() + args.seconds
        serial = itertools.count()

        def client(k: int) -> None:
            session = requests.Session()
            url = followers[k % len(followers)]
            while time.monotonic() < stop:
                n = next(serial)
                if n % 2:
                    path, body, read = f"/auctions/{auction}/bids", {"bidder": f"c{k}", "amount": n}, None
                else:
                    account = f"acct-{k}-{n}"
                    path, body, read = "/accounts", {"id": account, "balance": 1}, f"/accounts/{account}"
                t0 = time.perf_counter()
                try:
                    r = session.post(url + path, json=body, timeout=10)
                except requests.RequestException as exc:
                    with lock:
                        statuses[type(exc).__name__] += 1
                    continue
                took = time.perf_counter() - t0
                back = session.get(url + read, timeout=10).status_code if read and r.status_code == 201 else None
                with lock:
                    statuses[f"{path.split('/')[1]} {r.status_code}"] += 1
                    latencies.append(took)
                    if back is not None and back != 200:
                        missed[f"GET /accounts/{{id}} {back}"] += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    total = sum(statuses.values())
    errors_5xx = sum(v for k, v in statuses.items() if k.split()[-1].startswith("5"))
    print(
        f"3-node cluster, writes through followers only, {args.clients} clients, {args.seconds:g} s, "
        f"nodes from {args.root}"
    )
    print(f"writes: {total} ({total / args.seconds:.0f}/s); by answer: {dict(sorted(statuses.items()))}")
    print(f"5xx answers: {errors_5xx} ({100 * errors_5xx / max(total, 1):.1f} %)")
    print(f"read-backs on the same node that missed the acknowledged write: {sum(missed.values())} {dict(missed)}")
    if latencies:
        q = statistics.quantiles(latencies, n=100)
        print(f"write latency: p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
