"""``python -m pipeline.toxiproxy.bench``: what the embedded proxy costs on loopback.

Measures, through the proxy and direct, with no toxics (the fast path every
cluster message takes):

* 64-byte round trip, p50 / p99 (one connection, sequential ping-pong);
* streaming throughput, MB/s (one connection, one direction, into a sink);
* connections per second (connect, 1-byte round trip, close; sequential);
* many connections: N held open at once, each doing one round trip.

The proxy runs as a child process (as ``locate()`` runs it) and the echo/sink
servers in another child, so the client, proxy and servers do not share a GIL.
Every phase is bounded in count *and* time.  Figures depend on the machine;
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

from .client import ToxiproxyClient
from .embedded import new_event_loop, spawn_embedded

CHUNK = 1 << 20


# ------------------------------------------------------------------ servers (child)
class _Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport

    def data_received(self, data):
        self.t.write(data)


#: Ends a stream run: the data is all zero bytes, so this byte can only be the end.
_END = b"\x01"


class _Sink(asyncio.Protocol):
    """Counts bytes until the ``_END`` byte, then answers the count (8 bytes).

    Not "until EOF": Toxiproxy (and so the embedded server) closes both sides
    when a client half-closes, so an answer sent after the client's FIN would
    never arrive.
    """

    def connection_made(self, transport):
        self.t, self.n = transport, 0

    def data_received(self, data):
        if data.endswith(_END):
            self.n += len(data) - 1
            self.t.write(self.n.to_bytes(8, "big"))
        else:
            self.n += len(data)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    echo = await loop.create_server(_Echo, "127.0.0.1", 0, backlog=4096)
    sink = await loop.create_server(_Sink, "127.0.0.1", 0, backlog=4096)
    ports = [echo.sockets[0].getsockname()[1], sink.sockets[0].getsockname()[1]]
    print(json.dumps({"echo": ports[0], "sink": ports[1]}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):  # exit when the parent closes our stdin
        pass


def _spawn_servers() -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.toxiproxy.bench", "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    if proc.stdout is None:  # cannot happen with stdout=PIPE
        proc.kill()
        raise RuntimeError("bench servers started without a stdout pipe")
    ports = json.loads(proc.stdout.readline())
    return proc, ports["echo"], ports["sink"]


# ------------------------------------------------------------------ measurements
def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rtt(port: int, count: int, budget: float) -> dict:
    payload = b"x" * 64
    samples: list[float] = []
    with _connect(port) as s:
        for _ in range(50):  # warm up
            s.sendall(payload)
            _recv_exact(s, 64)
        end = time.perf_counter() + budget
        while len(samples) < count and time.perf_counter() < end:
            t0 = time.perf_counter()
            s.sendall(payload)
            _recv_exact(s, 64)
            samples.append(time.perf_counter() - t0)
    samples.sort()
    return {
        "n": len(samples),
        "p50_us": samples[len(samples) // 2] * 1e6,
        "p99_us": samples[int(len(samples) * 0.99) - 1] * 1e6,
        "mean_us": statistics.fmean(samples) * 1e6,
    }


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed early")
        buf += chunk
    return buf


def stream(port: int, megabytes: int, budget: float) -> dict:
    block = b"\0" * CHUNK
    sent = 0
    with _connect(port) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * CHUNK)
        t0 = time.perf_counter()
        end = t0 + budget
        while sent < megabytes * CHUNK and time.perf_counter() < end:
            s.sendall(block)
            sent += CHUNK
        s.sendall(_END)
        got = int.from_bytes(_recv_exact(s, 8), "big")
        elapsed = time.perf_counter() - t0
    if got != sent:
        raise AssertionError(f"sink received {got} bytes, sent {sent}")
    return {"bytes": sent, "seconds": elapsed, "mb_per_s": sent / CHUNK / elapsed}


def conn_rate(port: int, count: int, budget: float) -> dict:
    n = 0
    t0 = time.perf_counter()
    end = t0 + budget
    while n < count and time.perf_counter() < end:
        with _connect(port) as s:
            s.sendall(b"!")
            _recv_exact(s, 1)
        n += 1
    elapsed = time.perf_counter() - t0
    return {"n": n, "per_s": n / elapsed}


def many(port: int, count: int) -> dict:
    socks = []
    try:
        for _ in range(count):
            socks.append(_connect(port))
        for s in socks:
            s.sendall(b"ping")
        ok = sum(1 for s in socks if _recv_exact(s, 4) == b"ping")
    finally:
        for s in socks:
            s.close()
    return {"held": count, "answered": ok}


# ------------------------------------------------------------------ main
def run(args: argparse.Namespace) -> dict:
    servers, echo_port, sink_port = _spawn_servers()
    proxy = spawn_embedded(seed=args.seed)
    try:
        client = ToxiproxyClient(proxy.url)
        p_echo = client.create_proxy("bench_echo", f"127.0.0.1:{echo_port}").port
        p_sink = client.create_proxy("bench_sink", f"127.0.0.1:{sink_port}").port
        out: dict = {"seed": proxy.seed, "python": sys.version.split()[0]}
        out["rtt_direct"] = rtt(echo_port, args.rtt_count, args.budget)
        out["rtt_proxy"] = rtt(p_echo, args.rtt_count, args.budget)
        out["stream_direct"] = stream(sink_port, args.stream_mb, args.budget)
        out["stream_proxy"] = stream(p_sink, args.stream_mb, args.budget)
        out["conns_direct"] = conn_rate(echo_port, args.conns, args.budget)
        out["conns_proxy"] = conn_rate(p_echo, args.conns, args.budget)
        out["many_proxy"] = many(p_echo, args.many)
        return out
    finally:
        proxy.stop()
        if servers.stdin is not None:  # always a pipe (stdin=PIPE): closing it ends the servers
            servers.stdin.close()
        servers.wait(10)


def report(r: dict) -> str:
    rd, rp = r["rtt_direct"], r["rtt_proxy"]
    sd, sp = r["stream_direct"], r["stream_proxy"]
    cd, cp = r["conns_direct"], r["conns_proxy"]
    lines = [
        f"embedded toxiproxy benchmark (loopback, no toxics, seed={r['seed']}, python {r['python']})",
        f"{'metric':<28}{'direct':>12}{'proxy':>12}{'added/ratio':>14}",
        f"{'64B RTT p50 (us)':<28}{rd['p50_us']:>12.1f}{rp['p50_us']:>12.1f}{rp['p50_us'] - rd['p50_us']:>+14.1f}",
        f"{'64B RTT p99 (us)':<28}{rd['p99_us']:>12.1f}{rp['p99_us']:>12.1f}{rp['p99_us'] - rd['p99_us']:>+14.1f}",
        f"{'stream (MB/s)':<28}{sd['mb_per_s']:>12.0f}{sp['mb_per_s']:>12.0f}{sp['mb_per_s'] / sd['mb_per_s']:>14.2f}",
        f"{'connections/s':<28}{cd['per_s']:>12.0f}{cp['per_s']:>12.0f}{cp['per_s'] / cd['per_s']:>14.2f}",
        f"{'concurrent conns answered':<28}{'':>12}{r['many_proxy']['answered']:>12}"
        f"{'/' + str(r['many_proxy']['held']):>14}",
        f"(RTT n={rd['n']}/{rp['n']}, stream {sd['bytes'] >> 20}/{sp['bytes'] >> 20} MiB, conns n={cd['n']}/{cp['n']})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.toxiproxy.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rtt-count", type=int, default=5000)
    p.add_argument("--stream-mb", type=int, default=1024, help="MiB per stream run (time-bounded)")
    p.add_argument("--conns", type=int, default=2000)
    p.add_argument("--many", type=int, default=1000, help="connections held open at once")
    p.add_argument("--budget", type=float, default=3.0, help="seconds per phase, at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print raw JSON too")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        loop = new_event_loop()
        loop.run_until_complete(_serve())
        return 0
    result = run(args)
    print(report(result))
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
