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
from .errors import ApiError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class StartError(Exception):
    """The server cannot start as asked; ``code`` is the exit status (2: bad
    usage or config file, 1: the address cannot be bound)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipeline.toxiproxy", description=__doc__)
    p.add_argument("--host", "-host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    p.add_argument("--port", "-port", type=int, default=8474, help="API port; 0 picks a free one")
    p.add_argument("--seed", "-seed", type=int, default=None, help="seed for toxicity/jitter/slicer RNG")
    p.add_argument("--config", "-config", default=None, help="JSON file of proxies to populate at start")
    p.add_argument("--log-level", default="WARNING", type=str.upper, choices=LOG_LEVELS)
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin closes (child mode)")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port: {args.port} is out of range; allowed: 0 (pick a free one) to 65535")
    args.proxies = None
    if args.config:
        try:
            with open(args.config, "rb") as fh:
                args.proxies = json.load(fh)
        except OSError as exc:
            p.error(f"--config: cannot read {args.config}: {exc.strerror or exc}")
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            p.error(f"--config: {args.config} is not valid JSON: {exc}")
    return args


async def serve(args: argparse.Namespace) -> None:
    tp = EmbeddedToxiproxy(args.host, args.port, args.seed)
    try:
        await tp.start_async()
    except (OSError, OverflowError) as exc:  # port in use, unknown host
        raise StartError(f"cannot listen on {args.host}:{args.port}: {exc}", 1) from None
    try:
        if args.proxies is not None:
            try:
                _, err = await tp.server.populate(args.proxies)
            except ApiError as exc:  # the file's content is wrong: nothing was created
                raise StartError(f"--config {args.config}: {exc.message}", 2) from None
            if err is not None:  # a proxy could not bind: the file is right, the machine is not
                raise StartError(f"--config {args.config}: {err.message}", 1)
        print(f"toxiproxy-embedded: API on {tp.url} seed={tp.seed}", flush=True)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        if args.exit_on_stdin_eof:
            loop.create_task(_watch_stdin(done))
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
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    loop = new_event_loop()
    try:
        loop.run_until_complete(serve(args))
    except StartError as exc:
        print(f"python -m pipeline.toxiproxy: error: {exc}", file=sys.stderr)
        return exc.code
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
