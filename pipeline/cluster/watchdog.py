"""Per-run watchdog: cleans the run when its runner dies without tearing down.

``PR_SET_PDEATHSIG`` already kills each node when the runner dies, but it has
three holes: it fires when the *thread* that forked the child exits (not the
process), it is not inherited by what the node forks (a shell wrapper's real
server survives), and it knows nothing about proxies on an external Toxiproxy.
The watchdog closes them.  The runner starts it with the read end of a pipe as
its stdin and keeps the write end; the watchdog blocks reading.  End of file
means the runner is gone (the kernel closes the pipe however the process
died).  If the run's state file is still there, the run did not end cleanly,
and the watchdog cleans it exactly like ``python -m pipeline.cluster.clean``.

It runs in its own session so a Ctrl-C in the terminal does not reach it, and
it imports nothing heavy until it has something to do.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pipeline.cluster.watchdog STATE_FILE", file=sys.stderr)
        return 2
    state_path = argv[0]
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    if not os.path.exists(state_path):
        return 0  # the run ended cleanly
    from pathlib import Path

    from pipeline.cluster.clean import CleanReport, clean_run
    from pipeline.cluster.runstate import RunState

    try:
        state = RunState.load(Path(state_path))
    except (OSError, ValueError):
        return 0
    report = CleanReport()
    clean_run(state, report)
    print(f"watchdog: runner of {state.run_id} died; {report.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
