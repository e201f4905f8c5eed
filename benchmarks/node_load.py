"""Load one real mabeam node and print throughput and latency per scenario.

Starts ``python -m mabeam`` on a free port, creates a few auctions, then drives
each scenario with a bounded concurrent aiohttp client (at most ``--requests``
requests and at most ``--duration`` seconds, whichever ends first):

* ``GET /market``
* ``POST /auctions/{id}/bids`` (asynchronous placement, 202)
* ``POST /auctions/{id}/bids?wait=true`` (waits for the decision, 201)

and prints requests/s, p50/p95/p99 latency and the error count, plus the time
from process start to a healthy ``/health``. The node is always stopped.
Figures are for reading, not asserting: the client shares the cores.

    python benchmarks/node_load.py --requests 5000 --concurrency 32 --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def line(self) -> str:
        done = sorted(self.latencies)
        n = len(done)

        def pct(q: float) -> float:
            return done[min(n - 1, int(q * n))] * 1000 if n else float("nan")

        rate = n / self.elapsed if self.elapsed else 0.0
        codes = ",".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.name:<22} {n:>7} req {self.elapsed:7.2f} s {rate:9.1f} req/s  "
            f"p50 {pct(0.50):7.2f} ms  p95 {pct(0.95):7.2f} ms  p99 {pct(0.99):7.2f} ms  "
            f"errors {self.errors}  [{codes}]"
        )


def start_node() -> tuple[subprocess.Popen, str, float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mabeam", "--node-id", "bench", "--port", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"node did not start: {line!r}")
    return proc, line.split()[-1], started


async def wait_healthy(session: aiohttp.ClientSession, url: str, started: float) -> float:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(url + "/health") as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.01)
    raise SystemExit("node never became healthy")


async def drive(
    session: aiohttp.ClientSession,
    name: str,
    make: Callable[[int], tuple[str, str, dict | None]],
    ok: set[int],
    requests: int,
    concurrency: int,
    duration: float,
) -> Result:
    result = Result(name)
    counter = itertools.count()
    deadline = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < deadline:
            i = next(counter)
            if i >= requests:
                return
            method, url, body = make(i)
            t0 = time.perf_counter()
            try:
                async with session.request(method, url, json=body) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status not in ok:
                result.errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.monotonic() - t0
    return result


async def main(args: argparse.Namespace) -> None:
    proc, url, started = start_node()
    rng = random.Random(args.seed)
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            ready = await wait_healthy(session, url, started)
            print(f"node {url}: healthy {ready * 1000:.0f} ms after process start")
            auctions = []
            for i in range(args.auctions):
                async with session.post(
                    url + "/auctions", json={"type": "sealed_bid", "item": f"item-{i}", "duration_s": 3600}
                ) as resp:
                    auctions.append((await resp.json())["id"])

            def bid(i: int, wait: bool) -> tuple[str, str, dict]:
                target = f"{url}/auctions/{rng.choice(auctions)}/bids" + ("?wait=true" if wait else "")
                return "POST", target, {"bidder": f"b{i % 97}", "amount": rng.randint(1, 1000)}

            scenarios = [
                ("GET /market", lambda i: ("GET", url + "/market", None), {200}),
                ("POST bids (202)", lambda i: bid(i, False), {202}),
                ("POST bids wait=true", lambda i: bid(i, True), {201}),
            ]
            print(
                f"{args.auctions} sealed-bid auctions; concurrency {args.concurrency}; "
                f"at most {args.requests} requests or {args.duration:g} s per scenario"
            )
            for name, make, ok in scenarios:
                result = await drive(session, name, make, ok, args.requests, args.concurrency, args.duration)
                print(result.line(), flush=True)
            async with session.get(url + "/telemetry") as resp:
                tel = await resp.json()
            proc_info = tel["process"]
            print(
                f"node after load: rss {proc_info['rss_bytes'] / 2**20:.1f} MiB, "
                f"cpu {proc_info['cpu_seconds']:.1f} s, applied {tel['gauges']['commands_applied']:.0f} commands, "
                f"bids pending {tel['gauges']['bids_pending']:.0f}"
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per scenario (upper bound)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario (upper bound)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--auctions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parse_args()))
