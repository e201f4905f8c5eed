"""Which policy a git ref gets: ``feature``, ``main`` or ``release``.

The rules (documented in docs/pipeline.md):

* ``refs/heads/main`` (or plain ``main``)                       -> ``main``
* ``refs/heads/release/*`` or ``refs/heads/release-*``          -> ``release``
* ``refs/tags/v<digit>...`` or ``refs/tags/release-*``          -> ``release``
* anything else (other branches, other tags, ``refs/pull/...``) -> ``feature``

A name without a ``refs/`` prefix is read as a branch name.
"""

from __future__ import annotations

import re

BRANCH_TYPES = ("feature", "main", "release")

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_RELEASE_BRANCH = re.compile(r"release[/-].+")
_RELEASE_TAG = re.compile(r"(v\d|release-.).*")


def branch_type_from_ref(ref: str) -> str:
    """The branch type of a git ref such as ``refs/heads/release/1.2``."""
    ref = ref.strip()
    if not ref:
        raise ValueError("--branch: empty ref; give a ref such as refs/heads/main or refs/tags/v1.0")
    if ref.startswith(_TAGS):
        return "release" if _RELEASE_TAG.fullmatch(ref[len(_TAGS) :]) else "feature"
    name = ref.removeprefix(_HEADS)
    if name == "main":
        return "main"
    if _RELEASE_BRANCH.fullmatch(name):
        return "release"
    return "feature"


def check_branch_type(value: str) -> str:
    """``value`` if it is a known branch type, else ``ValueError`` naming the allowed ones."""
    if value not in BRANCH_TYPES:
        raise ValueError(f"--branch-type: {value!r} is not one of {', '.join(BRANCH_TYPES)}")
    return value
