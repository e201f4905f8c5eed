"""The node image: ``mabeam-pipeline/node:src-<digest>``, built once per source version.

Why a digest in the tag: a cluster run must use the code in the working tree,
and rebuilding on every run would cost a minute each time.  The tag names a
sha256 over what goes into the image (``source_digest``), so an unchanged tree
finds its image at once and any edit gets a new one.

Two ways to build it, and a default that picks one (``ensure_image(mode=...)``):

- ``registry``: ``docker/node.Dockerfile``, FROM ``python:3.11-slim``, pip
  installs the runtime dependencies during the build.
- ``offline``: for machines that cannot pull any image.  A base image
  ``mabeam-pipeline/base:bookworm`` is debootstrapped and ``docker import``ed
  once; the dependencies are downloaded as cp311 manylinux wheels on the host
  and installed from them with ``pip install --target`` (both cached under
  ``cache_dir()/wheels``), so ``docker/offline.Dockerfile`` only copies: no
  RUN step, no network, no pip in the image.
- ``auto`` (default) picks ``registry`` when ``python:3.11-slim`` is present or
  can be pulled, else ``offline``.

Only the node's runtime dependencies go in (``NODE_PACKAGES``), not
testcontainers, locust or matplotlib: ``import mabeam, pipeline.toxiproxy``
needs nothing more (``pipeline.toxiproxy`` imports its client, hence requests
and toxiproxy-python).

Command line: ``python -m pipeline.containers.image [--mode M] [--force]``;
progress on stderr, the tag alone on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

TOOLKIT = "mabeam-pipeline"
NODE_REPOSITORY = f"{TOOLKIT}/node"
BASE_IMAGE = f"{TOOLKIT}/base:bookworm"
REGISTRY_BASE = "python:3.11-slim"
MODES = ("auto", "registry", "offline")

LABEL_TOOLKIT = "pipeline.toolkit"
LABEL_DIGEST = "pipeline.source-digest"
LABEL_MADE_BY = "pipeline.made-by"

#: the distributions the node and the embedded Toxiproxy import; their
#: version specifiers come from pyproject.toml
NODE_PACKAGES = ("aiohttp", "orjson", "uvloop", "psutil", "requests", "toxiproxy-python")
#: the trees copied to /app (only their .py files) besides pyproject.toml
SOURCE_DIRS = ("mabeam", "pipeline")
#: the build recipes: part of the digest, so a changed recipe rebuilds too
RECIPES = {"registry": "docker/node.Dockerfile", "offline": "docker/offline.Dockerfile"}

DEBIAN_SUITE = "bookworm"  # python3 3.11 (cp311), glibc 2.36
DEBIAN_GLIBC_MINOR = 36
DEBIAN_MIRROR = os.environ.get("MABEAM_PIPELINE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = ("python3", "ca-certificates")
#: dropped from the debootstrapped tree: the image is bigger for nothing with
#: them, and with the vfs storage driver every container copies it whole
BASE_PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
)

#: how long a pull of python:3.11-slim may take to start answering before
#: ``auto`` decides there is no registry
PULL_START_TIMEOUT_S = 30.0

PROJECT_ROOT = Path(__file__).resolve().parents[2]

Progress = Callable[[str], None]


class ImageError(Exception):
    """The image cannot be built; the message is one line naming what to do.

    ``missing`` is true when a prerequisite is absent (no engine, no
    debootstrap, not root, no pip) rather than a build having failed.
    """

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


# --- what goes into the image ----------------------------------------------------------


def source_files(root: Path) -> list[str]:
    """Relative paths (sorted, POSIX) of the files the image is made from."""
    root = Path(root)
    rels = {"pyproject.toml"}
    rels.update(recipe for recipe in RECIPES.values() if (root / recipe).is_file())
    for top in SOURCE_DIRS:
        for path in (root / top).rglob("*.py"):
            rel = path.relative_to(root)
            if "__pycache__" not in rel.parts and path.is_file():
                rels.add(rel.as_posix())
    return sorted(rels)


def source_digest(root: Path) -> str:
    """sha256 (hex) over the paths and contents of ``source_files(root)``."""
    h = hashlib.sha256()
    for rel in source_files(root):
        data = (Path(root) / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def tag_for(digest: str) -> str:
    return f"{NODE_REPOSITORY}:src-{digest[:12]}"


def image_tag(root: Path) -> str:
    """The node image's tag for the tree at ``root``."""
    return tag_for(source_digest(root))


def node_requirements(root: Path) -> list[str]:
    """``NODE_PACKAGES`` with their specifiers from pyproject.toml (bare name if absent)."""
    with open(Path(root) / "pyproject.toml", "rb") as fh:
        declared = tomllib.load(fh).get("project", {}).get("dependencies", [])
    by_name = {_canonical(re.split(r"[\s<>=!~;\[(]", spec, maxsplit=1)[0]): spec for spec in declared}
    return [by_name.get(_canonical(name), name) for name in NODE_PACKAGES]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def cache_dir() -> Path:
    """``$MABEAM_PIPELINE_CACHE``, else ``$XDG_CACHE_HOME/mabeam-pipeline``, else ``~/.cache/...``."""
    if os.environ.get("MABEAM_PIPELINE_CACHE"):
        return Path(os.environ["MABEAM_PIPELINE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / TOOLKIT


def write_context(root: Path, ctx: Path, mode: str, labels: dict[str, str] | None = None) -> None:
    """Assemble a build context in ``ctx``: the recipe as Dockerfile, ``app/`` and, for
    the registry recipe, ``requirements.txt`` (the offline recipe also wants
    ``site-packages/``).  Small on purpose: no .git, .nox or reports.

    ``labels`` become one LABEL line at the end of the Dockerfile rather than the
    build API's ``labels``, which the classic builder applies as one step per label
    (each step copies the whole tree with the vfs storage driver).
    """
    root, ctx = Path(root), Path(ctx)
    recipe = root / RECIPES[mode]
    if not recipe.is_file():
        raise ImageError(f"{recipe} is missing: it is the {mode} build recipe (restore it from git)")
    ctx.mkdir(parents=True, exist_ok=True)
    text = recipe.read_text(encoding="utf-8").rstrip("\n") + "\n"
    if labels:
        text += "LABEL " + " ".join(f"{key}={json.dumps(value)}" for key, value in labels.items()) + "\n"
    (ctx / "Dockerfile").write_text(text, encoding="utf-8")
    for rel in source_files(root):
        if rel not in RECIPES.values():
            (ctx / "app" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, ctx / "app" / rel)  # mtimes kept: .pyc stay valid in the image
    if mode == "registry":
        (ctx / "requirements.txt").write_text("\n".join(node_requirements(root)) + "\n", encoding="utf-8")


# --- the engine ------------------------------------------------------------------------


def _docker() -> Any:
    """The docker SDK, imported only when an engine is needed (it ships no type
    information, and the digest and tag must work without it)."""
    try:
        return importlib.import_module("docker")
    except ImportError:
        raise ImageError("the docker SDK is not installed: pip install docker", missing=True) from None


def connect() -> Any:
    """``docker.from_env()``, pinged; ImageError if no engine answers."""
    docker = _docker()
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise ImageError(
            f"no Docker engine reachable at {where} ({_first_line(exc)}): start dockerd or set DOCKER_HOST",
            missing=True,
        ) from None
    return client


def _has_image(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except _docker().errors.ImageNotFound:
        return False
    return True


def _registry_reachable(client: Any, progress: Progress) -> bool:
    """Pull ``REGISTRY_BASE``: reachable if the pull starts answering within
    ``PULL_START_TIMEOUT_S`` and then completes (a slow but moving pull is waited for)."""
    answered, done = threading.Event(), threading.Event()
    failure: list[str] = []
    repository, tag = REGISTRY_BASE.split(":")

    def pull() -> None:
        try:
            for event in client.api.pull(repository, tag=tag, stream=True, decode=True):
                answered.set()
                if "error" in event:
                    failure.append(str(event["error"]))
                    return
        except Exception as exc:  # the daemon's refusal arrives as an APIError
            failure.append(_first_line(exc))
        finally:
            answered.set()
            done.set()

    threading.Thread(target=pull, name="pull-registry-base", daemon=True).start()
    if not answered.wait(PULL_START_TIMEOUT_S):
        progress(f"image: pulling {REGISTRY_BASE} got no answer in {PULL_START_TIMEOUT_S:.0f} s")
        return False
    done.wait()
    if failure:
        progress(f"image: {REGISTRY_BASE} cannot be pulled ({failure[0]})")
    return not failure


def choose_mode(client: Any, mode: str, progress: Progress) -> str:
    """``registry`` or ``offline`` for ``mode``; ``auto`` looks for a registry."""
    if mode != "auto":
        return mode
    if _has_image(client, REGISTRY_BASE):
        progress(f"image: auto -> registry ({REGISTRY_BASE} is present)")
        return "registry"
    if _registry_reachable(client, progress):
        progress(f"image: auto -> registry ({REGISTRY_BASE} pulled)")
        return "registry"
    progress("image: auto -> offline (no registry: debootstrapped base and host-side wheels)")
    return "offline"


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One build at a time per machine: parallel test workers wait, then find the image."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_image(
    root: Path,
    *,
    client: Any = None,
    mode: str = "auto",
    force: bool = False,
    progress: Progress = print,
) -> str:
    """The node image's tag for ``root``, built first if it does not exist (or ``force``).

    A hit says ``cached`` in the progress output and builds nothing.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: allowed: {', '.join(MODES)}")
    root = Path(root).resolve()
    digest = source_digest(root)
    tag = tag_for(digest)
    client = client if client is not None else connect()
    with _build_lock():
        if not force and _has_image(client, tag):
            progress(f"image: {tag} cached (source unchanged)")
            return tag
        try:
            _make(root, client, mode, digest, tag, progress)
        except _docker().errors.DockerException as exc:
            raise ImageError(f"the Docker engine failed while making {tag}: {_first_line(exc)}") from None
    return tag


def _make(root: Path, client: Any, mode: str, digest: str, tag: str, progress: Progress) -> str:
    """Build ``tag`` the way ``mode`` says (after ``choose_mode``); returns the way taken."""
    chosen = choose_mode(client, mode, progress)
    started = time.monotonic()
    labels = {LABEL_TOOLKIT: TOOLKIT, LABEL_DIGEST: digest}
    with tempfile.TemporaryDirectory(prefix="mabeam-image-") as tmp:
        ctx = Path(tmp) / "context"
        if chosen == "registry":
            labels[LABEL_MADE_BY] = f"pipeline.containers.image registry: {RECIPES['registry']} FROM {REGISTRY_BASE}"
            write_context(root, ctx, "registry", labels)
        else:
            arch = _architecture(client)
            ensure_base(client, progress)
            packages = ensure_site_packages(root, arch, progress)
            labels[LABEL_MADE_BY] = (
                f"pipeline.containers.image offline: {RECIPES['offline']} FROM {BASE_IMAGE}"
                f" + wheelhouse {packages.parent.name}"
            )
            write_context(root, ctx, "offline", labels)
            shutil.copytree(packages, ctx / "site-packages", symlinks=True)  # copy2: same bytes, same mtimes
            _compile(ctx / "app")
        base = REGISTRY_BASE if chosen == "registry" else BASE_IMAGE
        _build(client, ctx, tag, base, offline=chosen == "offline", progress=progress)
    progress(f"image: {tag} built ({chosen}) in {time.monotonic() - started:.1f} s")
    return chosen


def _build(client: Any, ctx: Path, tag: str, base: str, *, offline: bool, progress: Progress) -> None:
    started = time.monotonic()
    tail: list[str] = []
    stream = client.api.build(
        path=str(ctx),
        tag=tag,
        buildargs={"BASE": base},
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        network_mode="none" if offline else None,
    )
    for event in stream:
        if "error" in event:
            for line in tail[-10:]:
                progress(f"build: | {line}")
            raise ImageError(f"docker build of {tag} failed: {_first_line(event['error'])}")
        for line in str(event.get("stream", "")).splitlines():
            if line.strip():
                tail.append(line.rstrip())
                if line.startswith("Step "):
                    step = line.strip() if len(line.strip()) <= 100 else line.strip()[:97] + "..."
                    progress(f"build: {step} ({time.monotonic() - started:.1f} s)")
    progress(f"build: done in {time.monotonic() - started:.1f} s")


def _architecture(client: Any) -> str:
    """The engine's CPU (``x86_64``, ``aarch64``): the wheels must fit it, not the host."""
    arch = str(client.info().get("Architecture", "x86_64"))
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)


# --- offline: the base image -----------------------------------------------------------


def ensure_base(client: Any, progress: Progress) -> None:
    """Debootstrap Debian minbase with python3 and import it as ``BASE_IMAGE``, once."""
    if _has_image(client, BASE_IMAGE):
        progress(f"base: {BASE_IMAGE} present")
        return
    debootstrap = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if debootstrap is None:
        raise ImageError(
            f"debootstrap is not installed (needed once for {BASE_IMAGE}): apt-get install debootstrap,"
            f" or build with --mode registry where {REGISTRY_BASE} can be pulled",
            missing=True,
        )
    if os.geteuid() != 0:
        raise ImageError(
            f"debootstrap needs root (once, for {BASE_IMAGE}): run this as root or with sudo,"
            f" or build with --mode registry where {REGISTRY_BASE} can be pulled",
            missing=True,
        )
    tmp = Path(tempfile.mkdtemp(prefix="mabeam-base-"))
    rootfs, log = tmp / "rootfs", tmp / "debootstrap.log"
    command = [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        DEBIAN_SUITE,
        str(rootfs),
        DEBIAN_MIRROR,
    ]
    try:
        progress(f"base: {' '.join(command[1:4])} {DEBIAN_MIRROR} (about a minute)")
        started = time.monotonic()
        with open(log, "wb") as out:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        if code:
            raise ImageError(
                f"debootstrap failed (exit {code}): {_last_line(log)}; is {DEBIAN_MIRROR} reachable?"
                f" (set MABEAM_PIPELINE_DEBIAN_MIRROR for another mirror)"
            )
        progress(f"base: debootstrap done in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        for rel in BASE_PRUNE:
            for child in (rootfs / rel).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        tarball = tmp / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        made_by = f"debootstrap --variant=minbase --include={','.join(BASE_PACKAGES)} {DEBIAN_SUITE} {DEBIAN_MIRROR}"
        repository, tag = BASE_IMAGE.split(":")
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=tag,
            changes=[
                f'LABEL {LABEL_TOOLKIT}="{TOOLKIT}" {LABEL_MADE_BY}="{made_by}"',
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
                'CMD ["python3"]',
            ],
        )
        size = tarball.stat().st_size / 1e6
        progress(f"base: {BASE_IMAGE} imported ({size:.0f} MB) in {time.monotonic() - started:.1f} s")
    finally:
        _remove_rootfs(tmp, progress)


def _remove_rootfs(tmp: Path, progress: Progress) -> None:
    """Delete the debootstrap tree, but never through a mount a failed run left in it
    (removing files under a bind-mounted /dev or /proc would reach the host's)."""
    prefix = str(tmp) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    if any(m.startswith(prefix) for m in mounts):
        progress(f"base: {tmp} left in place: something is still mounted under it")
        return
    shutil.rmtree(tmp, ignore_errors=True)


# --- offline: the wheels ---------------------------------------------------------------


def _platforms(arch: str) -> list[str]:
    """Every manylinux tag a bookworm (glibc 2.36) system accepts, newest first."""
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(DEBIAN_GLIBC_MINOR, 16, -1)]
    tags.append(f"manylinux2014_{arch}")
    if arch in ("x86_64", "i686"):
        tags += [f"manylinux_2_{minor}_{arch}" for minor in range(16, 4, -1)]
        tags += [f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return tags


def _target_options(arch: str) -> list[str]:
    """pip's options for resolving for the image's interpreter instead of the host's."""
    options = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    for platform in _platforms(arch):
        options += ["--platform", platform]
    return options


def _pip() -> list[str]:
    """A pip to run on the host: this interpreter's, else python3's on PATH."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("python3", "python"):
        exe = shutil.which(name)
        if exe and subprocess.run([exe, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return [exe, "-m", "pip"]
    raise ImageError(
        "no pip on the host to fetch the node's wheels with: python3 -m ensurepip, or build with --mode registry",
        missing=True,
    )


def ensure_site_packages(root: Path, arch: str, progress: Progress) -> Path:
    """The node's dependencies installed (``pip install --target``) and byte-compiled
    for the image, made once per requirement list and platform in
    ``cache_dir()/wheels/<key>/`` (the wheels beside it; delete the folder to refresh).

    Cached installed rather than installed per build: the same bytes every time
    keep the image's dependency layer in the builder's cache.
    """
    requirements = node_requirements(root)
    key = hashlib.sha256("\n".join([*requirements, "cp311", *_platforms(arch)]).encode()).hexdigest()[:16]
    house = cache_dir() / "wheels" / key
    if (house / ".complete").is_file() and (house / "site-packages").is_dir():
        progress(f"wheels: cached in {house}")
        return house / "site-packages"
    progress(f"wheels: downloading {', '.join(requirements)} (cp311 manylinux {arch})")
    started = time.monotonic()
    house.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=house.parent))
    try:
        _run_pip(["download", *_target_options(arch), "-d", str(partial), *requirements], "pip download")
        count = len(list(partial.glob("*.whl")))
        progress(f"wheels: {count} wheels in {time.monotonic() - started:.1f} s")
        # from the wheelhouse only: no index, and no user pip configuration (its find-links)
        install = ["install", "--no-index", "--no-compile", "--find-links", str(partial)]
        _run_pip(
            [*install, "--target", str(partial / "site-packages"), *_target_options(arch), *requirements],
            "pip install from the wheelhouse",
            isolated=True,
        )
        _compile(partial / "site-packages")
        (partial / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (partial / ".complete").write_text("", encoding="utf-8")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(house, ignore_errors=True)
    partial.rename(house)
    progress(f"wheels: installed in {time.monotonic() - started:.1f} s into {house}")
    return house / "site-packages"


def _run_pip(args: list[str], what: str, *, isolated: bool = False) -> None:
    env = dict(os.environ)
    if isolated:
        env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
    command = [*_pip(), args[0], "--disable-pip-version-check", "--no-input", "-q", *args[1:]]
    result = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    if result.returncode:
        raise ImageError(f"{what} of the node's dependencies failed: {_pip_error(result.stderr)}")


def _compile(tree: Path) -> None:
    """Byte-compile ``tree`` when this interpreter is the image's 3.11 (so no container
    spends its start compiling aiohttp); elsewhere the image compiles lazily."""
    if sys.version_info[:2] == (3, 11):
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(tree)], check=False)


def _pip_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return errors[0] if errors else (lines[-1] if lines else "no output")


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return f"{lines[-1].strip()} (log: {log})" if lines else "no output"


# --- housekeeping ----------------------------------------------------------------------


def remove_images(client: Any, *, keep_current: bool = True, root: Path | None = None) -> list[str]:
    """Untag old ``mabeam-pipeline/node:src-*`` images (the current tree's kept unless
    ``keep_current`` is false); an image a container still uses is left.  Returns the removed tags."""
    docker = _docker()
    current = image_tag(root or PROJECT_ROOT) if keep_current else None
    removed = []
    for image in client.images.list(name=NODE_REPOSITORY):
        for tag in image.tags:
            if tag.startswith(f"{NODE_REPOSITORY}:src-") and tag != current:
                try:
                    client.images.remove(tag)
                except docker.errors.APIError:
                    continue
                removed.append(tag)
    return removed


# --- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.containers.image",
        description="Build the mabeam node image (or find it cached) and print its tag.",
    )
    parser.add_argument("--mode", choices=MODES, default="auto", help="how to build it (default: auto)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="project root (default: this checkout)")
    parser.add_argument("--prune", action="store_true", help="then remove older node:src-* tags")
    parser.add_argument(
        "--context", type=Path, metavar="DIR", help="only write the registry build context to DIR (docker build DIR)"
    )
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        if args.context is not None:
            labels = {LABEL_TOOLKIT: TOOLKIT, LABEL_DIGEST: source_digest(args.root)}
            labels[LABEL_MADE_BY] = f"docker build by hand of a context from {parser.prog} --context"
            write_context(args.root, args.context, "registry", labels)
            print(args.context)
            return 0
        client = connect()
        tag = ensure_image(args.root, client=client, mode=args.mode, force=args.force, progress=progress)
        if args.prune:
            for old in remove_images(client, root=args.root):
                progress(f"image: removed {old}")
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
