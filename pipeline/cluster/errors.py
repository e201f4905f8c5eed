"""Why a node did not start: the errors a provider and the manager raise.

They sit below the handle, the providers and the manager, which all raise
them, so none of those has to import another to do so.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cluster.provider import ProviderError

__all__ = ["NodeStartError", "NodeLaunchError"]


class NodeStartError(RuntimeError):
    """A node exited or never became healthy.  Carries the node's name, exit
    status (None if it was still running) and the tail of its log."""

    def __init__(
        self, name: str, reason: str, exit_code: int | None, log_tail: str, log_path: Path | None = None
    ) -> None:
        status = "still running" if exit_code is None else f"exit status {exit_code}"
        text = f"node {name} failed to start: {reason} ({status})"
        if log_path is not None:
            text += f"; log {log_path}"
        text += "\n--- last lines of its log ---\n" + (log_tail or "(empty)")
        super().__init__(text)
        self.name = name
        self.reason = reason
        self.exit_code = exit_code
        self.log_tail = log_tail
        self.log_path = log_path


class NodeLaunchError(NodeStartError, ProviderError):
    """A node's command could not be executed at all (not found, not
    executable, bad ``cwd``).  ``exit_code`` is what a shell would report:
    127 for a missing file, 126 otherwise.  Also a :class:`ProviderError`."""
