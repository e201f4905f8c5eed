"""Docs that run: every ```python block in README.md and docs/*.md is executed.

A renamed method must break the build, not a reader.  Each block is one test,
named ``<doc>:<line of its opening fence>``, and is run the way a reader would
run it after pasting it:

* a block that defines ``test*`` functions is a pytest file: it runs in a
  fresh inner pytest session (``pytester``, in a subprocess) with the
  toolkit's plugin, so the ``cluster`` and ``eventually`` fixtures are real;
  every test in it must pass (the count is checked), and if it uses
  ``cluster``, a cluster must really have been started (node logs written)
  and torn down (no run state left);
* any other block is a script, run with ``sys.executable`` in a fresh process
  (an empty working directory), and must exit 0.

Both are padded with blank lines so that line numbers in tracebacks are the
doc's own line numbers (a script is compiled under the doc's path, so its
traceback even quotes the doc's lines).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pipeline.testing.test_pytest_plugin import plugin_args  # same loading, same reasons

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
PYTHON_LANGS = ("python", "py", "python3")
# per example (under the ini timeout of 300 s): a 5-node cluster start on a loaded 2-core
# CI machine plus the example's own deadlines
EXAMPLE_TIMEOUT_S = 240

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is and what it says."""

    doc: Path
    line: int  # 1-based line of the opening fence
    code: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def padded(self) -> str:
        """The code with blank lines in front, so its line N is the doc's line N."""
        return "\n" * self.line + self.code

    @property
    def test_names(self) -> list[str]:
        """Top-level ``test*`` functions and ``Test*`` class methods (what pytest collects)."""
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return []  # run as a script: compiling it reports the error with the doc's line
        names = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                names.append(node.name)
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                names += [
                    f"{node.name}.{m.name}"
                    for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name.startswith("test")
                ]
        return names

    @property
    def uses_cluster(self) -> bool:
        try:
            tree = ast.parse(self.code)
        except SyntaxError:
            return False
        return any(
            isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.name.startswith("test")
            and "cluster" in [a.arg for a in n.args.args]
            for n in ast.walk(tree)
        )


def python_blocks(doc: Path) -> list[Block]:
    """Every fenced block of ``doc`` whose info string names Python (CommonMark
    fences: backticks or tildes, closed by the same character at least as long;
    indented fences, e.g. in list items, are dedented by the fence's indent)."""
    blocks: list[Block] = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        lang = (opening["info"].split() or [""])[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            text = lines[j]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            j += 1
        if lang in PYTHON_LANGS:
            blocks.append(Block(doc, i + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


BLOCKS = [block for doc in DOCS for block in python_blocks(doc)]


def _slug(block: Block) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{block.doc.name}_l{block.line}".lower())


def test_the_docs_have_python_examples() -> None:
    """Deleting every example (or breaking the fence parser) must not pass silently."""
    assert BLOCKS, f"no ```python block found in {', '.join(str(d.relative_to(ROOT)) for d in DOCS)}"
    readme = [b for b in BLOCKS if b.doc.name == "README.md"]
    assert any(b.test_names and b.uses_cluster for b in readme), (
        "README.md should show a real test using the `cluster` fixture; its Python blocks: "
        + (", ".join(b.where for b in readme) or "none")
    )


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_doc_example_runs(
    block: Block, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # whatever the example starts leaves its logs and run state here, not in the repository
    monkeypatch.setenv("PIPELINE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PIPELINE_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if block.test_names:
        run_as_pytest_file(block, request.getfixturevalue("pytester"), request.getfixturevalue("capsys"), tmp_path)
    else:
        run_as_script(block, tmp_path)


def run_as_pytest_file(
    block: Block, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = pytester.path / f"test_{_slug(block)}.py"
    path.write_text(block.padded, encoding="utf-8")
    result = pytester.runpytest_subprocess(
        *plugin_args(), "-p", "no:cacheprovider", "-rA", str(path), timeout=EXAMPLE_TIMEOUT_S
    )
    capsys.readouterr()  # pytester echoed the inner output; a failure below carries it once
    # the file's line numbers are the doc's: name the doc in what the inner session printed
    output = f"{result.stdout.str()}\n{result.stderr.str()}".strip()
    output = output.replace(path.name, str(block.doc.relative_to(ROOT)))
    try:
        outcomes = {k: v for k, v in result.parseoutcomes().items() if not k.startswith("warning")}
    except ValueError:  # no summary line: the inner session crashed
        outcomes = {}
    expected = {"passed": len(block.test_names)}
    if outcomes != expected or result.ret != 0:
        got = ", ".join(f"{n} {what}" for what, n in outcomes.items()) or "no test summary"
        why = next((line[1:].strip() for line in output.splitlines() if line.startswith("E ")), "")
        pytest.fail(
            f"{block.where}: {got} (exit {result.ret}), expected {len(block.test_names)} passed"
            f"{': ' + why if why else ''}\n\n{output}",
            pytrace=False,
        )
    if block.uses_cluster:
        node_logs = [p for p in (tmp_path / "reports" / "cluster").glob("*/*.log") if p.name != "faults.log"]
        assert node_logs, f"{block.where}: the example passed without starting a cluster (no node logs)"
        left = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
        assert not left, f"{block.where}: the cluster fixture left run state behind: {left}"


# Runs the padded code compiled under the doc's own path: a traceback names the
# doc and quotes its lines.
_RUNNER = (
    "import sys; path, doc = sys.argv[1], sys.argv[2]; sys.argv = [doc]; "
    "exec(compile(open(path, encoding='utf-8').read(), doc, 'exec'), {'__name__': '__main__'})"
)


def run_as_script(block: Block, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = tmp_path / f"{_slug(block)}.py"
    script.write_text(block.padded, encoding="utf-8")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, str(script), str(block.doc)],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        out = b"".join(s if isinstance(s, bytes) else s.encode() for s in (exc.stdout, exc.stderr) if s)
        pytest.fail(
            f"{block.where}: the example did not finish within {EXAMPLE_TIMEOUT_S}s\n{out.decode(errors='replace')}",
            pytrace=False,
        )
    if proc.returncode != 0:
        why = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "")
        pytest.fail(
            f"{block.where}: the example exited with {proc.returncode}{': ' + why if why else ''}\n\n"
            f"{proc.stdout}{proc.stderr}".rstrip(),
            pytrace=False,
        )
