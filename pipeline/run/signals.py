"""Turning SIGTERM into an orderly stop, once.

A stage CLI (``python -m pipeline.load``, ``python -m pipeline.chaos``) that is
sent SIGTERM must stop its load, tear its cluster down and still write its
report.  The first SIGTERM raises ``KeyboardInterrupt`` so the ``finally``
blocks run; every later SIGTERM or SIGINT is ignored, so a second signal
cannot abort that teardown half-way (and leave Locust or nodes running).
"""

from __future__ import annotations

import signal

__all__ = ["interrupt_once_on_sigterm"]


def _interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_once_on_sigterm() -> None:
    """Install the handler (main thread only, as Python requires)."""
    signal.signal(signal.SIGTERM, _interrupt)
