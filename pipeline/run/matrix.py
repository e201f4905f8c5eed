"""The CI matrix: one entry per stage that a branch's policy runs."""

from __future__ import annotations

import json

from pipeline.run.config import Config


def matrix(config: Config, branch_type: str) -> list[dict]:
    """``[{"stage": ..., "session": ..., "required": bool}, ...]`` in stage order; skipped stages left out."""
    policy = config.policy(branch_type)
    return [
        {"stage": stage.name, "session": stage.session, "required": policy.requirement(stage.name) == "required"}
        for stage in config.stages
        if policy.requirement(stage.name) != "skip"
    ]


def matrix_json(entries: list[dict]) -> str:
    """Compact, one line: fit for ``echo "matrix=..." >> "$GITHUB_OUTPUT"``."""
    return json.dumps(entries, separators=(",", ":"))
