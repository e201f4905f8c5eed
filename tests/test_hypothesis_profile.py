"""The verdict of a property test must not depend on the draw (root conftest.py)."""

import os

import pytest
from hypothesis import settings


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="another profile was asked for")
def test_ci_profile_is_deterministic_and_has_no_example_database():
    current = settings()
    assert current.derandomize is True
    assert current.database is None
