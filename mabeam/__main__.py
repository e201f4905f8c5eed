"""``python -m mabeam --node-id n1 --port P [--peers ...]``: run one node until SIGTERM or SIGINT.

Without ``--peers`` the node is a one-member cluster with a local log; with
them it is a member of a Raft-replicated cluster (``mabeam.replication``).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from aiohttp import web

from .http.app import build_app
from .node import KEEP_CLOSED_AUCTIONS, KEEP_SETTLED_TRANSACTIONS, Node
from .replication.auth import DEV_SECRET

log = logging.getLogger("mabeam")

#: SIGTERM/SIGINT to exit, at most: past it the orderly stop is abandoned
STOP_DEADLINE_S = 0.9
#: how long open requests get to finish once the node stops
SHUTDOWN_TIMEOUT_S = 0.3


class ListenError(Exception):
    """The node could not bind its HTTP port (in use, unknown host)."""


class StartError(Exception):
    """The node must not start as configured (one line on stderr, exit 2)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mabeam", description="Run one Foundation MABEAM node.")
    parser.add_argument("--node-id", required=True, help="this node's name, e.g. n1")
    parser.add_argument("--port", type=int, required=True, help="HTTP port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--peers", default="", help="the other initial members, id=host:port,...")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice (ids)")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    parser.add_argument(
        "--keep-closed-auctions",
        type=int,
        default=KEEP_CLOSED_AUCTIONS,
        help=f"closed auctions kept in the state; older ones are pruned (default {KEEP_CLOSED_AUCTIONS})",
    )
    parser.add_argument(
        "--keep-settled-transactions",
        type=int,
        default=KEEP_SETTLED_TRANSACTIONS,
        help=f"settled transactions kept in the state (default {KEEP_SETTLED_TRANSACTIONS})",
    )
    cluster = parser.add_argument_group("cluster mode (with --peers)")
    cluster.add_argument("--data-dir", default=None, help="keep the Raft term, vote, log and snapshot here")
    cluster.add_argument("--cluster-secret", default=None, help="shared secret (default: $MABEAM_CLUSTER_SECRET)")
    cluster.add_argument("--tick-ms", type=int, default=50, help="Raft tick (default 50 ms)")
    cluster.add_argument("--election-ticks", type=int, default=10, help="election timeout in ticks (default 10)")
    cluster.add_argument("--member-grace-s", type=float, default=3.0, help="remove a member silent this long")
    cluster.add_argument("--commit-timeout-s", type=float, default=2.0, help="longest wait for a write's commit")
    cluster.add_argument("--snapshot-every", type=int, default=1000, help="entries between log compactions")
    cluster.add_argument("--fsync", action="store_true", help="fsync every Raft write (survives power loss)")
    cluster.add_argument("--join", action="store_true", help="a node without data asks the leader to add it")
    cluster.add_argument(
        "--bootstrap",
        action="store_true",
        help="a node without data may start as one of the initial members (only on the cluster's first start)",
    )
    args = parser.parse_args(argv)
    if not args.node_id.strip():
        parser.error("--node-id: must not be empty")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port: {args.port} is out of range; allowed: 0 (pick a free one) to 65535")
    try:
        args.peer_map = parse_peers(args.peers)
    except ValueError as exc:
        parser.error(f"--peers: {exc}")
    if args.node_id in args.peer_map:
        parser.error(f"--peers: lists this node ({args.node_id}) itself")
    if args.tick_ms < 1 or args.election_ticks < 2 or args.member_grace_s <= 0 or args.commit_timeout_s <= 0:
        parser.error("--tick-ms >= 1, --election-ticks >= 2, --member-grace-s > 0, --commit-timeout-s > 0")
    if args.snapshot_every < 1:
        parser.error("--snapshot-every must be >= 1")
    if args.join and args.bootstrap:
        parser.error("--join and --bootstrap exclude each other: join a running cluster, or start a new one")
    if args.keep_closed_auctions < 0 or args.keep_settled_transactions < 0:
        parser.error("--keep-closed-auctions and --keep-settled-transactions must be >= 0")
    if args.data_dir is not None:
        data_dir = Path(args.data_dir)
        if data_dir.exists() and not data_dir.is_dir():
            parser.error(f"--data-dir: {data_dir} exists and is not a directory")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--data-dir: cannot create {data_dir}: {exc.strerror or exc}")
    return args


def parse_peers(text: str) -> dict[str, str]:
    """``n2=127.0.0.1:4001,n3=127.0.0.1:4002`` -> {"n2": "127.0.0.1:4001", ...}."""
    peers: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, address = item.partition("=")
        host, colon, port = address.rpartition(":")
        if not sep or not name or not colon or not host or not port.isdigit():
            raise ValueError(f"{item!r} is not id=host:port")
        if not 1 <= int(port) <= 65535:
            raise ValueError(f"{item!r}: port {int(port)} is out of range; allowed: 1 to 65535")
        if name in peers:
            raise ValueError(f"{name} is listed twice")
        peers[name] = address
    return peers


def make_node(args: argparse.Namespace) -> Node:
    keep = {
        "keep_closed_auctions": args.keep_closed_auctions,
        "keep_settled_transactions": args.keep_settled_transactions,
    }
    if not args.peer_map:
        return Node(args.node_id, seed=args.seed, **keep)
    from .replication import ClusterOptions, ReplicatedLog

    secret = args.cluster_secret or os.environ.get("MABEAM_CLUSTER_SECRET")
    if not secret or secret.encode() == DEV_SECRET:
        if not is_loopback(args.host):
            raise StartError(
                f"--host {args.host} is reachable from other machines, and the development cluster secret is public: "
                "give a secret of your own (--cluster-secret or MABEAM_CLUSTER_SECRET)"
            )
        log.warning("no cluster secret given (--cluster-secret or MABEAM_CLUSTER_SECRET): using the development secret")
    if not args.join and not args.bootstrap and not has_raft_data(args.data_dir):
        # A member that lost its data and starts as an initial member again has
        # forgotten its vote: it could vote twice in a term and elect two leaders.
        where = f"--data-dir {args.data_dir} holds no Raft state" if args.data_dir else "no --data-dir"
        raise StartError(
            f"{where}: start with --bootstrap if this is the cluster's first start, "
            "or with --join if this member lost its data (it then asks the leader to add it again)"
        )
    options = ClusterOptions(
        node_id=args.node_id,
        peers=args.peer_map,
        secret=secret.encode() if secret else DEV_SECRET,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        tick_s=args.tick_ms / 1000,
        election_ticks=args.election_ticks,
        member_grace_s=args.member_grace_s,
        commit_timeout_s=args.commit_timeout_s,
        snapshot_every=args.snapshot_every,
        join=args.join,
        fsync=args.fsync,
        seed=args.seed,
    )
    return Node(args.node_id, seed=args.seed, log_factory=lambda machine: ReplicatedLog(machine, options), **keep)


def is_loopback(host: str) -> bool:
    """Only addresses no other machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def has_raft_data(data_dir: str | None) -> bool:
    """Does ``data_dir`` hold this member's Raft state (a term, a vote, a log or a snapshot)?"""
    if data_dir is None:
        return False
    from .replication.storage import DiskStorage

    return not DiskStorage.peek_empty(Path(data_dir))


async def serve(args: argparse.Namespace) -> None:
    node = make_node(args)
    runner = web.AppRunner(build_app(node), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:  # port in use, unknown host: one line, not a traceback
        await runner.cleanup()
        raise ListenError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    await node.start()
    port = runner.addresses[0][1] if runner.addresses else args.port
    print(f"mabeam {args.node_id} listening on http://{args.host}:{port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    _exit_by(STOP_DEADLINE_S)
    await node.stop()  # wakes long-polls and streams so they finish promptly
    await runner.cleanup()


def _exit_by(seconds: float) -> None:
    """Make sure the process ends within ``seconds`` of being told to stop.

    The orderly stop is bounded step by step, but a node must stop within a
    second whatever it was doing (a long request, a bug): a timer thread, which
    does not need the event loop, ends the process if it is still there. Every
    write was flushed before it was acknowledged, so this is no worse than a
    crash, which the node survives by design."""

    def hard_exit() -> None:
        log.error("orderly stop took over %.1f s; exiting now", seconds)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(0)

    timer = threading.Timer(seconds, hard_exit)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        pass
    else:
        uvloop.install()
    try:
        asyncio.run(serve(args))
    except ListenError as exc:
        print(f"mabeam: error: {exc}", file=sys.stderr)
        return 1
    except StartError as exc:
        print(f"mabeam: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
