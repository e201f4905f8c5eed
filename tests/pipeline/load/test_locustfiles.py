"""The locustfiles under a real Locust: users spread over the nodes, seeded
data, each operation under its own name, the locust process importing no
toolkit code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILES = sorted((ROOT / "locustfiles").glob("*.py"))
ALLOWED = {
    "locust",
    "workload",
    "__future__",
    "itertools",
    "json",
    "os",
    "random",
    "sys",
    "collections",
    "typing",
    "collections.abc",
}


def test_locustfiles_import_only_locust_the_helper_and_the_standard_library():
    assert len(LOCUSTFILES) >= 5
    for path in LOCUSTFILES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED or name in ALLOWED, f"{path.name} imports {name}"


def test_the_real_run_sent_seeded_realistic_requests(locust_run):
    posts = [(p, b) for m, p, b in locust_run.stub.requests if m == "POST"]
    agents = [b for p, b in posts if p == "/agents"]
    # 4 users x 5 agents each, named by seed and user index
    assert len(agents) == 20
    assert {a["id"] for a in agents} == {f"agent-1234-{u}-{k}" for u in range(4) for k in range(5)}
    groups = [b for p, b in posts if p == "/coordinations"]
    assert groups and all(2 <= len(g["agents"]) <= 4 and g["task"]["type"] == "work" for g in groups)
    ballots = [b for p, b in posts if p == "/consensus"]
    assert all(b["rule"] in ("majority", "unanimous", "weighted") for b in ballots)
    log = locust_run.run.output
    assert "seed=1234" in log
