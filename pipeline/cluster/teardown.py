"""Teardown that happens however the run ends.

* normal exit and exceptions: the ``with`` block / pytest finalizer calls
  ``close()``; this module's ``atexit`` hook closes any cluster still open;
* Ctrl-C: nodes live in their own sessions, so only the runner gets SIGINT;
  KeyboardInterrupt unwinds through the same finalizers;
* SIGTERM: Python's default is to die without running ``finally`` blocks, so
  while a cluster is open a handler turns SIGTERM into ``SystemExit(143)``
  (only when SIGTERM still has its default disposition and we are in the main
  thread; a handler someone else installed is left alone), and the previous
  disposition is restored when the last cluster closes;
* SIGKILL of the runner: nothing here can run; the kernel (PDEATHSIG) and the
  run's watchdog take over (see :mod:`pipeline.cluster.local`).
"""

from __future__ import annotations

import atexit
import signal
import threading
import weakref
from typing import Any, Protocol


class Closable(Protocol):
    """What teardown needs of a cluster: an idempotent ``close()``.  (A
    protocol, not the handle's class, so the handle can import this module.)"""

    def close(self) -> None: ...


__all__ = ["track", "forget", "close_all", "live_clusters"]

_LIVE: weakref.WeakSet[Closable] = weakref.WeakSet()
_LOCK = threading.Lock()
_previous_sigterm: Any = None
_installed = False


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def track(handle: Closable) -> None:
    global _previous_sigterm, _installed
    with _LOCK:
        _LIVE.add(handle)
        if not _installed and threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGTERM)
            if current in (signal.SIG_DFL, None):
                _previous_sigterm = current
                signal.signal(signal.SIGTERM, _on_sigterm)
                _installed = True


def forget(handle: Closable) -> None:
    global _installed
    with _LOCK:
        _LIVE.discard(handle)
        if _installed and not _LIVE and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) is _on_sigterm:
                signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)
            _installed = False


def live_clusters() -> list[Closable]:
    return list(_LIVE)


@atexit.register
def close_all() -> None:
    for handle in list(_LIVE):
        try:
            handle.close()
        except Exception:  # noqa: BLE001 - at exit, close what can be closed
            pass
