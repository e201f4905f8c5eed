"""``python -m pipeline.toxiproxy``: the embedded server as a program.

Flags mirror ``toxiproxy-server`` (``-host``, ``-port``, ``-config``,
``-seed``; the ``--long`` spellings work too) so it can stand in for the
binary.  The first stdout line says where the API is and which seed drives
every random choice, so a failing run can be replayed with the same seed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from .embedded import EmbeddedToxiproxy, new_event_loop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipeline.toxiproxy", description=__doc__)
    p.add_argument("--host", "-host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    p.add_argument("--port", "-port", type=int, default=8474, help="API port; 0 picks a free one")
    p.add_argument("--seed", "-seed", type=int, default=None, help="seed for toxicity/jitter/slicer RNG")
    p.add_argument("--config", "-config", default=None, help="JSON file of proxies to populate at start")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (child mode)")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    tp = EmbeddedToxiproxy(args.host, args.port, args.seed)
    await tp.start_async()
    if args.config:
        with open(args.config, "rb") as fh:
            _, err = await tp.server.populate(json.load(fh))
        if err is not None:
            logging.error("populate from %s failed: %s", args.config, err.message)
    print(f"toxiproxy-embedded: API on {tp.url} seed={tp.seed}", flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    if args.exit_on_stdin_eof:
        loop.create_task(_watch_stdin(done))
    try:
        await done.wait()
    finally:
        await tp.stop_async()


async def _watch_stdin(done: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    done.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
