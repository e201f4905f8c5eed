"""Idle CPU and SIGTERM-to-exit of one node that holds many open auctions (a script, not a test).

    python benchmarks/node_idle.py [--auctions 3000] [--bids 3] [--idle-s 5] [--root DIR] [--cluster]
                                   [--sigterm-under-load]

Starts ``python -m mabeam`` (one node; ``--cluster``: a 3-node cluster through
the toolkit), creates ``--auctions`` english auctions and ``--bids`` bids on
each (64 concurrent clients, through every node), then, with no client
talking to it, samples each node's CPU with psutil over ``--idle-s`` and
sends SIGTERM, timing until the process exits (bounded: SIGKILL after 30 s);
``--sigterm-under-load`` sends it while 8 clients still create auctions.
Also prints the size of one ``GET /market`` answer. ``--root`` runs the nodes
from another checkout (e.g. the previous commit, for a before/after).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import aiohttp
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cluster_failover import COMMAND, leader  # noqa: E402
from pipeline.cluster import ClusterManager, cluster_config  # noqa: E402


async def load(urls: list[str], auctions: int, bids: int, concurrency: int = 64) -> tuple[int, Counter[int]]:
    """Create the auctions and bid on them; returns (acknowledged writes, refusals by status)."""
    ok = 0
    failed: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(auctions):
        queue.put_nowait(i)

    async def worker(session: aiohttp.ClientSession, k: int) -> None:
        nonlocal ok, failed
        while not queue.empty():
            i = queue.get_nowait()
            url = urls[(i + k) % len(urls)]
            spec = {"type": "english", "item": f"item-{i}", "starting_price": 1, "min_increment": 1}
            async with session.post(url + "/auctions", json=spec) as r:
                body = await r.json()
                if r.status != 201:
                    failed[r.status] += 1
                    continue
                ok += 1
            for b in range(bids):
                bid = {"bidder": f"b{k}", "amount": 1 + b}
                async with session.post(f"{url}/auctions/{body['id']}/bids", json=bid) as r:
                    await r.read()
                    if r.status == 202:
                        ok += 1
                    else:
                        failed[r.status] += 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session, k) for k in range(concurrency)))
    return ok, failed


async def market_size(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url + "/market") as r:
        return len(await r.read())


def idle_cpu(pids: list[int], seconds: float) -> dict[int, float]:
    procs = {pid: psutil.Process(pid) for pid in pids}
    start = {pid: sum(p.cpu_times()[:2]) for pid, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)  # the measuring window (nothing to synchronise with)
    took = time.monotonic() - t0
    return {pid: 100 * (sum(p.cpu_times()[:2]) - start[pid]) / took for pid, p in procs.items()}


def sigterm_exit(pid: int, limit: float = 30.0) -> float | None:
    """Seconds from SIGTERM to exit, or None if SIGKILL was needed after ``limit``."""
    proc = psutil.Process(pid)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    try:
        proc.wait(limit)
    except psutil.TimeoutExpired:
        proc.kill()
        return None
    return time.monotonic() - t0


def run_single(args: argparse.Namespace) -> None:
    command = [sys.executable, "-m", "mabeam", "--node-id", "n1", "--port", "0"]
    proc = subprocess.Popen(command, cwd=args.root, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "mabeam n1 listening on http://127.0.0.1:P"
        url = line.strip().rsplit(" ", 1)[-1]
        report(args, [url], {"n1": proc.pid})
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def run_cluster(args: argparse.Namespace) -> None:
    config = cluster_config(3, "mesh", command=COMMAND, cwd=str(args.root), env={"MABEAM_CLUSTER_SECRET": "bench"})
    with ClusterManager().start(config) as c:
        leader(c, list(c.names))  # writes need an elected leader
        pids = {n: c.node(n).pid for n in c.names}
        report(args, [c.url(n) for n in c.names], pids)


def report(args: argparse.Namespace, urls: list[str], pids: dict[str, int]) -> None:
    t0 = time.monotonic()
    ok, failed = asyncio.run(load(urls, args.auctions, args.bids))
    print(f"load: {ok} writes acknowledged, refused by status {dict(failed)}, in {time.monotonic() - t0:.1f} s")
    print(f"GET /market answer: {asyncio.run(market_size(urls[0]))} bytes")
    cpu = idle_cpu(list(pids.values()), args.idle_s)
    for name, pid in pids.items():
        print(f"{name}: idle CPU over {args.idle_s:g} s: {cpu[pid]:.1f} % of a core")
    writers = None
    if args.sigterm_under_load:  # the case that used to hang: wake-ups racing the stop
        stop_writing = threading.Event()

        def keep_writing(url: str) -> None:
            session = requests.Session()
            for _ in range(5000):  # bounded
                if stop_writing.is_set():
                    return
                try:
                    session.post(url + "/auctions", json={"type": "english", "item": "late"}, timeout=5)
                except requests.RequestException:
                    return

        writers = [threading.Thread(target=keep_writing, args=(urls[k % len(urls)],)) for k in range(8)]
        for w in writers:
            w.start()
        time.sleep(0.5)  # let the writes get under way (a measurement, not a synchronisation)
    for name, pid in pids.items():
        took = sigterm_exit(pid)
        print(f"{name}: SIGTERM -> exit: " + ("needed SIGKILL after 30 s" if took is None else f"{took:.2f} s"))
    if writers:
        stop_writing.set()
        for w in writers:
            w.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auctions", type=int, default=3000)
    parser.add_argument("--bids", type=int, default=3)
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--cluster", action="store_true", help="a 3-node cluster instead of one node")
    parser.add_argument("--sigterm-under-load", action="store_true", help="send SIGTERM while writes still flow")
    args = parser.parse_args()
    args.root = args.root.resolve()
    print(f"nodes from {args.root}; {args.auctions} auctions x {args.bids} bids")
    (run_cluster if args.cluster else run_single)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
