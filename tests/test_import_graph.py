"""No import circles inside ``pipeline`` and ``mabeam``.

Why: when two modules import each other, which one works depends on which is
imported first.  A circle makes every layout change (moving a module, splitting
a package, reordering an ``__init__``) a gamble, and a partially imported
module shows up as an ``ImportError: cannot import name ...`` or an
``AttributeError`` far away from the edit that caused it.  Imports under
``if TYPE_CHECKING:`` and inside functions count too: they are the usual way a
circle gets hidden rather than removed, and the next person to move them to the
top of the file finds it again.

The graph is read from the source with :mod:`ast` (nothing is imported).  An
edge ``a -> b`` means some ``import`` statement anywhere in ``a`` names ``b``;
a package stands for its ``__init__.py``.  ``from pkg import name`` goes to
``pkg.name`` when that is a module, else to ``pkg``.  A submodule is *not*
given an edge to its parent package, although Python does run the parent's
``__init__`` first: that edge is the same for every module in a package, so
counting it would only turn every ``__init__`` that re-exports a submodule into
a "cycle".  Cycles are found with Tarjan's strongly connected components, and
every module in a component appears in at least one reported chain.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "mabeam")

Graph = dict[str, set[str]]


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file in the packages."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """``(absolute module, imported name or None)`` for every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def import_graph(root: Path, packages: Iterable[str]) -> tuple[Graph, dict[str, Path]]:
    """The edges between the packages' own modules, and each module's file."""
    modules = module_files(root, packages)
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, imported in imported_names(tree, name, path.name == "__init__.py"):
            if imported is not None and f"{target}.{imported}" in modules:
                target = f"{target}.{imported}"
            while target and target not in modules:  # `import a.b.c` where only a.b is ours
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph, modules


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so deep graphs don't hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def shortest_cycle(graph: Mapping[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest chain ``start -> ... -> start`` using only modules in ``within``."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node] & within):
            if succ == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(came_from[chain[-1]])
                return [*reversed(chain), start]
            if succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"{start} is in a component but on no cycle")


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """At least one cycle per strongly connected component, and every member on one."""
    cycles: list[list[str]] = []
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        members = set(component)
        seen: set[tuple[str, ...]] = set()
        for start in component:
            cycle = shortest_cycle(graph, start, members)
            ring = cycle[:-1]
            turn = ring.index(min(ring))
            key = tuple(ring[turn:] + ring[:turn])
            if key not in seen:
                seen.add(key)
                cycles.append([*key, key[0]])
    return cycles


def import_cycles(root: Path, packages: Sequence[str]) -> list[str]:
    """Every reported cycle as a chain of file paths relative to ``root``."""
    graph, modules = import_graph(root, packages)
    return [" -> ".join(modules[name].relative_to(root).as_posix() for name in cycle) for cycle in find_cycles(graph)]


def test_pipeline_and_mabeam_have_no_import_cycles():
    cycles = import_cycles(ROOT, PACKAGES)
    assert not cycles, f"{len(cycles)} import cycle(s):\n" + "\n".join(cycles)


# -- the detector itself ---------------------------------------------------------


def write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_a_cycle_hidden_under_type_checking_is_reported_with_both_files(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import B\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    assert import_cycles(tmp_path, ["pkg"]) == ["pkg/a.py -> pkg/b.py -> pkg/a.py"]


def test_relative_imports_and_imports_in_functions_are_resolved(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from .sub import x\n",
            "pkg/top.py": "def later():\n    from .sub.x import X\n",
            "pkg/sub/__init__.py": "from . import x\n",
            "pkg/sub/x.py": "from .. import top\nX = 1\n",
            "pkg/sub/y.py": "from . import z\n",
            "pkg/sub/z.py": "from .y import *\n",
        },
    )
    assert sorted(import_cycles(tmp_path, ["pkg"])) == [
        "pkg/sub/x.py -> pkg/top.py -> pkg/sub/x.py",
        "pkg/sub/y.py -> pkg/sub/z.py -> pkg/sub/y.py",
    ]


def test_a_name_from_a_package_goes_to_its_init_and_parents_are_not_implied(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import A\n",
            "pkg/a.py": "A = 1\n",  # imported through pkg/__init__, but no implicit edge back
            "pkg/b.py": "from pkg import A\n",
            "pkg/c.py": "import json\nfrom pkg.b import missing\n",
        },
    )
    graph, _ = import_graph(tmp_path, ["pkg"])
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": set(), "pkg.b": {"pkg"}, "pkg.c": {"pkg.b"}}
    assert import_cycles(tmp_path, ["pkg"]) == []


def test_every_module_of_a_tangled_component_is_on_a_reported_cycle():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"b"}, "e": {"a"}}
    assert find_cycles(graph) == [["a", "b", "a"], ["b", "c", "d", "b"]]
