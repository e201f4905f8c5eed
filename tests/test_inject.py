"""Failure injection: makes a stage fail on demand (docs/pipeline.md, "Making a stage fail").

``PIPELINE_INJECT_FAILURE=unit invoke pipeline`` fails the unit stage (whose
session sets ``PIPELINE_STAGE=unit`` and runs this file); a comma-separated list
names several stages.  Unset, this test passes.
"""

import os


def injected() -> set[str]:
    return {name.strip() for name in os.environ.get("PIPELINE_INJECT_FAILURE", "").split(",") if name.strip()}


def test_no_failure_injected_into_this_stage():
    stage = os.environ.get("PIPELINE_STAGE", "")
    assert not (stage and stage in injected()), f"failure injected into stage {stage!r} by PIPELINE_INJECT_FAILURE"
