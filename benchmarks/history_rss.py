"""RSS of one node as closed auctions and settled transactions pile up (a script, not a test).

    python benchmarks/history_rss.py [--rounds 10] [--per-round 2000] [--root DIR] [-- NODE ARGS]

Starts ``python -m mabeam`` (one node) and, round after round, creates
``--per-round`` english auctions, places 3 bids on each, closes them and
submits one settled transaction per auction (64 concurrent clients). After
each round it prints the node's RSS (psutil) and how many auctions and
transactions the node still holds (``/telemetry`` gauges and counters). A node
that prunes its history levels off; one that keeps everything grows with it.
Arguments after ``--`` go to the node (e.g. ``--keep-closed-auctions 5000``).
``--root`` runs the node from another checkout (e.g. the previous commit).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parents[1]


async def one_round(url: str, base: int, count: int, concurrency: int = 64) -> int:
    failed = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(base, base + count):
        queue.put_nowait(i)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        while not queue.empty():
            i = queue.get_nowait()
            spec = {"type": "english", "item": f"lot-{i}", "starting_price": 1, "seller": "seller"}
            async with session.post(url + "/auctions", json=spec) as r:
                auction = (await r.json())["id"]
            for b in range(3):
                async with session.post(
                    f"{url}/auctions/{auction}/bids?wait=true", json={"bidder": f"b{b}", "amount": 1 + b}
                ) as r:
                    await r.read()
            async with session.post(f"{url}/auctions/{auction}/close") as r:
                failed += r.status != 200
            tx = {"from": "buyer", "to": "seller", "amount": 1, "reference": auction}
            async with session.post(url + "/transactions", json=tx) as r:
                failed += r.status != 202

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return failed


async def telemetry(url: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(url + "/telemetry") as r:
        return await r.json()


async def setup(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for account, balance in (("buyer", 10**12), ("seller", 0)):
            async with session.post(url + "/accounts", json={"id": account, "balance": balance}) as r:
                await r.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("node_args", nargs="*")
    args = parser.parse_args()
    command = [sys.executable, "-m", "mabeam", "--node-id", "n1", "--port", "0", *args.node_args]
    proc = subprocess.Popen(command, cwd=args.root.resolve(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        asyncio.run(setup(url))
        node = psutil.Process(proc.pid)
        print(f"node from {args.root}, args {args.node_args}: {args.per_round} auctions closed per round")
        print(f"{'round':>5} {'closed so far':>13} {'RSS MiB':>8} {'commands':>9}")
        for k in range(args.rounds):
            failed = asyncio.run(one_round(url, k * args.per_round, args.per_round))
            gauges = asyncio.run(telemetry(url))["gauges"]
            rss = node.memory_info().rss / 2**20
            print(
                f"{k + 1:5d} {(k + 1) * args.per_round:13d} {rss:8.1f} {int(gauges['commands_applied']):9d}"
                + (f"  ({failed} refused)" if failed else "")
            )
    finally:
        proc.kill()
        proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
