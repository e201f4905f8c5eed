"""``python -m mabeam --node-id n1 --port P``: run one node until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from .http.app import build_app
from .node import Node


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mabeam", description="Run one Foundation MABEAM node.")
    parser.add_argument("--node-id", required=True, help="this node's name, e.g. n1")
    parser.add_argument("--port", type=int, required=True, help="HTTP port (0: pick a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--peers", default="", help="other nodes, id=host:port,... (accepted, unused for now)")
    parser.add_argument("--seed", type=int, default=None, help="seed for every random choice (ids)")
    parser.add_argument("--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    node = Node(args.node_id, seed=args.seed)
    runner = web.AppRunner(build_app(node), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=1024)
    await site.start()
    await node.start()
    port = runner.addresses[0][1] if runner.addresses else args.port
    print(f"mabeam {args.node_id} listening on http://{args.host}:{port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await node.stop()  # wakes long-polls and streams so they finish promptly
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional off Linux
        uvloop = None
    if uvloop is not None:
        uvloop.install()
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
