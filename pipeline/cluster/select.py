"""Which provider runs the nodes, chosen by name: ``local`` (default) or ``containers``.

One place for what ``--provider`` means in the suites (the pytest plugin), the
performance stage (``python -m pipeline.load``) and the chaos stage
(``python -m pipeline.chaos``), so the three say the same things:

* the name comes from the option, else ``$PIPELINE_PROVIDER``, else ``local``;
  anything else is an error naming the allowed values;
* :func:`unavailable` answers *before* anything starts whether the provider can
  run here (for ``containers``: does a Docker engine answer at ``$DOCKER_HOST``
  or the default socket), as one line, so a run without Docker fails fast
  instead of with a traceback from the first test;
* :func:`prepare` does the slow one-off work up front (the node image, built
  once per source change; older trees' images are then removed), with
  progress, so it is not charged to the first cluster's readiness deadline;
* :func:`manager` is a :class:`~pipeline.cluster.manager.ClusterManager` whose
  provider is a fresh instance of the chosen one per cluster.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "PROVIDERS",
    "ENV",
    "ProviderChoiceError",
    "ProviderUnavailable",
    "provider_name",
    "unavailable",
    "prepare",
    "manager",
    "add_options",
    "choose",
]

PROVIDERS = ("local", "containers")
ENV = "PIPELINE_PROVIDER"
ROOT = Path(__file__).resolve().parents[2]


class ProviderChoiceError(ValueError):
    """An unknown provider name (the message names where it came from and the allowed values)."""


def provider_name(option: str | None = None, *, source: str = "--provider") -> str:
    """The chosen provider's name: ``option``, else ``$PIPELINE_PROVIDER``, else ``local``."""
    where = source
    value = option
    if not value:
        value, where = os.environ.get(ENV, "").strip(), ENV
    if not value:
        return "local"
    if value not in PROVIDERS:
        raise ProviderChoiceError(f"{where}: unknown provider {value!r}; expected one of: {', '.join(PROVIDERS)}")
    return value


def unavailable(name: str, timeout: float = 5.0) -> str | None:
    """None when provider ``name`` can run here, else the one line saying why not."""
    if name == "containers":
        from pipeline.cluster.containers import docker_unavailable_reason

        reason = docker_unavailable_reason(timeout)
        return None if reason is None else f"--provider containers: {reason}"
    return None


def prepare(name: str, *, say: Callable[[str], None] | None = None, root: Path = ROOT) -> str | None:
    """The slow one-off work of provider ``name`` (containers: the node image); returns what it made.
    Raises :class:`ProviderUnavailable` (one line) when it cannot be done."""
    if name != "containers":
        return None
    import time

    from pipeline.containers import engine
    from pipeline.containers.image import ImageError, ensure_image, remove_images

    say = say or (lambda line: print(f"[pipeline.containers] {line}", file=sys.stderr, flush=True))
    t0 = time.monotonic()
    try:
        client = engine.connect()
    except engine.DockerUnavailable as exc:
        raise ProviderUnavailable(f"--provider containers: {exc}") from None
    try:
        tag = ensure_image(root, client=client, progress=say)
        # older trees' images are dead weight (a full copy each on vfs storage); one in use stays
        removed = remove_images(client, root=root)
    except ImageError as exc:  # one line: what is missing and what to do
        raise ProviderUnavailable(f"--provider containers: the node image cannot be made: {exc}") from None
    finally:
        client.close()
    if removed:
        say(f"removed older node images: {', '.join(removed)}")
    say(f"node image {tag} ready in {time.monotonic() - t0:.1f}s")
    return tag


def manager(name: str, *, image: str | None = None, **kwargs: Any) -> Any:
    """A :class:`ClusterManager` that starts every cluster on provider ``name``."""
    from pipeline.cluster.manager import ClusterManager

    if name == "containers":
        from pipeline.cluster.containers import ContainersProvider

        return ClusterManager(provider=lambda: ContainersProvider(image=image), **kwargs)
    if name == "local":
        return ClusterManager(**kwargs)
    raise ProviderChoiceError(f"unknown provider {name!r}; expected one of: {', '.join(PROVIDERS)}")


def add_options(parser: Any) -> None:
    """``--provider`` and ``--skip-without-docker`` on an argparse parser (the stage CLIs)."""
    parser.add_argument(
        "--provider",
        default=None,
        metavar="NAME",
        help=f"where the nodes run: {' or '.join(PROVIDERS)} (default ${ENV} or local)",
    )
    parser.add_argument(
        "--skip-without-docker",
        action="store_true",
        help="with --provider containers and no Docker engine: report the stage skipped instead of failing",
    )


def choose(option: str | None, skip_without_docker: bool) -> tuple[str, str | None]:
    """``(name, skip reason)`` for a stage CLI; raises :class:`ProviderChoiceError` for a
    bad name and :class:`ProviderUnavailable` when the provider cannot run and skipping
    was not asked for."""
    name = provider_name(option)
    reason = unavailable(name)
    if reason is not None and not skip_without_docker:
        raise ProviderUnavailable(f"{reason} (--skip-without-docker reports the stage skipped instead)")
    return name, reason


class ProviderUnavailable(RuntimeError):
    """The chosen provider cannot run here (one line: why)."""
