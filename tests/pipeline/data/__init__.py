"""Fixture files for the pipeline's tests, and a builder of small fake projects.

``*.xml``: JUnit reports of real-world flavours (pytest xunit1/xunit2 and its
rerun output, Maven Surefire, nested suites) and broken ones.
``fake_noxfile.py`` / ``fake_stage.py``: sessions that pass, fail, crash, hang...
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

DATA = Path(__file__).parent


def make_project(root: Path, sessions: dict[str, str], config: str) -> Path:
    """A project in ``root`` whose noxfile has ``sessions`` (name -> fake_stage action)
    and whose pipeline.toml is ``config``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "fake_noxfile.py", root / "noxfile.py")
    for name in ("fake_stage.py", "flaky_tests.py"):
        shutil.copy(DATA / name, root / name)
    (root / "fake_sessions.json").write_text(json.dumps(sessions))
    (root / "pipeline.toml").write_text(config)
    return root
