"""The node image: what its tag depends on, what its build context holds, and,
where a Docker engine answers, that the image really runs the node and the
embedded Toxiproxy and that a second ``ensure_image`` builds nothing."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from pipeline.containers import image

ROOT = Path(__file__).resolve().parents[3]


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["aiohttp>=3.9", "nox"]\n')
    for rel in ("mabeam/__init__.py", "mabeam/node.py", "pipeline/__init__.py", "pipeline/toxiproxy/server.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"# {rel}\n")
    return tmp_path


def test_digest_changes_when_a_source_file_changes(tmp_path):
    root = _tree(tmp_path)
    before = image.source_digest(root)
    (root / "pipeline/toxiproxy/server.py").write_text("# edited\n")
    assert image.source_digest(root) != before


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "mabeam/extra.py").write_text(""),  # a new module
        lambda root: (root / "mabeam/node.py").rename(root / "mabeam/agent.py"),  # a rename, same bytes
        lambda root: (root / "pyproject.toml").write_text("[project]\n"),  # the dependencies
    ],
    ids=["new-module", "rename", "pyproject"],
)
def test_digest_changes_with_what_goes_into_the_image(tmp_path, change):
    root = _tree(tmp_path)
    before = image.source_digest(root)
    change(root)
    assert image.source_digest(root) != before


def test_digest_ignores_what_does_not_go_into_the_image(tmp_path):
    root = _tree(tmp_path)
    before = image.source_digest(root)
    (root / "mabeam/__pycache__").mkdir()
    (root / "mabeam/__pycache__/node.cpython-311.pyc").write_bytes(b"\0pyc")
    (root / "mabeam/__pycache__/stray.py").write_text("# not a source\n")
    (root / "reports").mkdir()
    (root / "reports/unit.xml").write_text("<testsuites/>")
    (root / "tests").mkdir()
    (root / "tests/test_x.py").write_text("")
    (root / "pipeline/notes.txt").write_text("not python")
    assert image.source_digest(root) == before


def test_digest_includes_the_build_recipes(tmp_path):
    root = _tree(tmp_path)
    before = image.source_digest(root)
    (root / "docker").mkdir()
    (root / "docker/offline.Dockerfile").write_text("FROM scratch\n")
    assert image.source_digest(root) != before


def test_tag_names_the_digest(tmp_path):
    root = _tree(tmp_path)
    tag = image.image_tag(root)
    assert re.fullmatch(r"mabeam-pipeline/node:src-[0-9a-f]{12}", tag)
    assert tag.endswith(image.source_digest(root)[:12])


def test_requirements_are_the_node_packages_with_pyproject_specifiers():
    requirements = image.node_requirements(ROOT)
    names = [re.split(r"[<>=!~;\s]", spec)[0] for spec in requirements]
    assert names == list(image.NODE_PACKAGES)
    assert "aiohttp>=3.9" in requirements
    assert not any(name in " ".join(requirements) for name in ("testcontainers", "locust", "matplotlib"))


def test_registry_context_is_small_and_labelled(tmp_path):
    ctx = tmp_path / "ctx"
    labels = {image.LABEL_TOOLKIT: image.TOOLKIT, image.LABEL_DIGEST: "d" * 64, image.LABEL_MADE_BY: 'a "b" c'}
    image.write_context(ROOT, ctx, "registry", labels)
    files = {p.relative_to(ctx).as_posix() for p in ctx.rglob("*") if p.is_file()}
    assert {"Dockerfile", "requirements.txt", "app/pyproject.toml", "app/mabeam/__main__.py"} <= files
    assert "app/pipeline/toxiproxy/__main__.py" in files
    assert not [f for f in files if "__pycache__" in f or f.startswith(("app/tests", "app/reports", "app/.git"))]
    assert files - {"Dockerfile", "requirements.txt"} == {f"app/{rel}" for rel in image.source_files(ROOT)} - {
        f"app/{recipe}" for recipe in image.RECIPES.values()
    }
    dockerfile = (ctx / "Dockerfile").read_text()
    assert dockerfile.splitlines()[-1] == (
        f'LABEL pipeline.toolkit="mabeam-pipeline" pipeline.source-digest="{"d" * 64}" pipeline.made-by="a \\"b\\" c"'
    )
    assert not [line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT")]


def test_unknown_mode_is_refused_before_any_engine_is_asked(tmp_path):
    with pytest.raises(ValueError, match="allowed: auto, registry, offline"):
        image.ensure_image(_tree(tmp_path), client=object(), mode="cloud")


class _Images:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name):
        import docker

        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return name


class _Api:
    def __init__(self, pull_events: list[dict] | None, pull_error: Exception | None = None) -> None:
        self.pull_events, self.pull_error, self.pulled = pull_events or [], pull_error, []

    def pull(self, repository, tag=None, stream=False, decode=False):
        self.pulled.append(f"{repository}:{tag}")
        if self.pull_error is not None:
            raise self.pull_error
        return iter(self.pull_events)


class _Client:
    def __init__(self, present=(), pull_events=None, pull_error=None) -> None:
        self.images = _Images(set(present))
        self.api = _Api(pull_events, pull_error)


def test_auto_takes_registry_when_the_base_is_present():
    pytest.importorskip("docker")
    client, lines = _Client(present={image.REGISTRY_BASE}), []
    assert image.choose_mode(client, "auto", lines.append) == "registry"
    assert client.api.pulled == []
    assert "auto -> registry" in lines[-1]


def test_auto_takes_registry_when_the_base_can_be_pulled():
    pytest.importorskip("docker")
    client, lines = _Client(pull_events=[{"status": "Pulling from library/python"}, {"status": "Downloaded"}]), []
    assert image.choose_mode(client, "auto", lines.append) == "registry"
    assert client.api.pulled == [image.REGISTRY_BASE]


@pytest.mark.parametrize("failure", ["refused", "stream-error"])
def test_auto_takes_offline_when_no_registry_answers(failure):
    docker = pytest.importorskip("docker")
    if failure == "refused":
        client = _Client(
            pull_error=docker.errors.APIError("500 Server Error: lookup registry-1.docker.io: no such host")
        )
    else:
        client = _Client(pull_events=[{"error": "toomanyrequests: rate limit"}])
    lines: list[str] = []
    assert image.choose_mode(client, "auto", lines.append) == "offline"
    assert "cannot be pulled" in lines[0]
    assert "auto -> offline" in lines[-1]


def test_explicit_mode_asks_nothing():
    assert image.choose_mode(object(), "offline", print) == "offline"
    assert image.choose_mode(object(), "registry", print) == "registry"


def test_manylinux_platforms_stop_at_bookworms_glibc():
    platforms = image._platforms("x86_64")
    assert platforms[0] == "manylinux_2_36_x86_64"
    assert "manylinux2014_x86_64" in platforms and "manylinux1_x86_64" in platforms
    assert not any(p.startswith("manylinux_2_37") for p in platforms)
    assert image._platforms("aarch64")[-1] == "manylinux2014_aarch64"


def test_no_debootstrap_says_how_to_install_it(monkeypatch):
    pytest.importorskip("docker")
    monkeypatch.setattr(image.shutil, "which", lambda name: None)
    monkeypatch.setattr(image.os, "access", lambda path, mode: False)
    with pytest.raises(image.ImageError, match="apt-get install debootstrap") as caught:
        image.ensure_base(_Client(), print)
    assert caught.value.missing and "\n" not in str(caught.value)


def test_debootstrap_without_root_says_so(monkeypatch):
    pytest.importorskip("docker")
    monkeypatch.setattr(image.shutil, "which", lambda name: "/usr/sbin/debootstrap")
    monkeypatch.setattr(image.os, "geteuid", lambda: 1000)
    with pytest.raises(image.ImageError, match="debootstrap needs root") as caught:
        image.ensure_base(_Client(), print)
    assert caught.value.missing


def test_a_failing_pip_is_one_line_naming_the_step(monkeypatch, tmp_path):
    message = "Collecting x\\nERROR: No matching distribution found for aiohttp>=99\\n"
    fake_pip = f"import sys; sys.stderr.write('{message}'); sys.exit(1)"
    monkeypatch.setattr(image, "_pip", lambda: [sys.executable, "-c", fake_pip])
    monkeypatch.setenv("MABEAM_PIPELINE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(image.ImageError) as caught:
        image.ensure_site_packages(_tree(tmp_path), "x86_64", print)
    assert str(caught.value) == (
        "pip download of the node's dependencies failed: ERROR: No matching distribution found for aiohttp>=99"
    )
    assert not caught.value.missing
    assert not list((tmp_path / "cache" / "wheels").iterdir())  # nothing half-made left to be reused


def test_remove_images_keeps_the_current_tag_and_images_in_use(tmp_path):
    docker = pytest.importorskip("docker")
    root = _tree(tmp_path)
    current = image.image_tag(root)
    old, busy = f"{image.NODE_REPOSITORY}:src-{'0' * 12}", f"{image.NODE_REPOSITORY}:src-{'1' * 12}"

    class Images:
        removed: list[str] = []

        def list(self, name):
            assert name == image.NODE_REPOSITORY
            return [type("I", (), {"tags": [current]}), type("I", (), {"tags": [old, busy, "other/repo:src-x"]})]

        def remove(self, tag):
            if tag == busy:
                raise docker.errors.APIError("409 Conflict: image is being used by a running container")
            self.removed.append(tag)

    client = type("C", (), {"images": Images()})()
    assert image.remove_images(client, root=root) == [old]
    assert Images.removed == [old]


# --- with a Docker engine ---------------------------------------------------------------


@pytest.fixture(scope="module")
def engine():
    docker = pytest.importorskip("docker", reason="the docker SDK is not installed")
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine reachable: {str(exc).splitlines()[0]}")
    client.close()
    return image.connect()  # the default timeout: a build outlasts 5 s


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """The files the image is made from, copied: an edit to the tree while the tests
    run cannot change the tag between two calls (same bytes, same tag as the tree's)."""
    root = tmp_path_factory.mktemp("tree")
    for rel in image.source_files(ROOT):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, root / rel)
    return root


@pytest.fixture(scope="module")
def node_image(engine, snapshot):
    lines: list[str] = []
    try:
        tag = image.ensure_image(snapshot, client=engine, progress=lines.append)
    except image.ImageError as exc:
        if exc.missing:
            pytest.skip(f"the node image cannot be built here: {exc}")
        raise
    return tag, lines


@pytest.mark.slow
@pytest.mark.timeout(900)  # a first offline build debootstraps Debian (about a minute here)
def test_image_runs_the_node_and_the_embedded_toxiproxy_without_the_toolkits_heavy_deps(engine, node_image, snapshot):
    tag, _ = node_image
    script = (
        "import importlib.util as u, sys; import mabeam, pipeline.toxiproxy, aiohttp, orjson, uvloop, psutil; "
        "heavy = [m for m in ('testcontainers', 'locust', 'matplotlib', 'docker') if u.find_spec(m)]; "
        "sys.exit(f'heavy packages in the image: {heavy}' if heavy else 0)"
    )
    command = f'python3 -c "{script}" && python3 -m mabeam --help && python3 -m pipeline.toxiproxy --help'
    output = engine.containers.run(tag, ["sh", "-c", command], remove=True, network_disabled=True)
    assert b"--node-id" in output and b"--host" in output
    labels = engine.images.get(tag).labels
    assert labels[image.LABEL_TOOLKIT] == image.TOOLKIT
    assert labels[image.LABEL_DIGEST] == image.source_digest(snapshot)
    assert labels[image.LABEL_MADE_BY]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_second_ensure_image_builds_nothing(engine, node_image, snapshot):
    tag, _ = node_image
    before = engine.images.get(tag).id
    lines: list[str] = []
    assert image.ensure_image(snapshot, client=engine, progress=lines.append) == tag
    assert lines == [f"image: {tag} cached (source unchanged)"]
    assert engine.images.get(tag).id == before
