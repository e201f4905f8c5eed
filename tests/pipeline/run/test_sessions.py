"""Which sessions a noxfile defines (pipeline/run/sessions.py), asked of real nox."""

from __future__ import annotations

import pytest

from pipeline.run.sessions import SessionListError, list_sessions

NOXFILE = """
import nox

nox.options.sessions = ["unit"]  # the default selection must not hide the others


@nox.session(python=False)
def unit(session):
    pass


@nox.session(python=False)
def performance(session):
    pass


@nox.session(python=False)
@nox.parametrize("provider", ["local", "containers"])
def multinode(session, provider):
    pass


@nox.session(python=False, name="multinode-containers")
def multinode_containers(session):
    pass
"""


def test_every_session_is_listed_not_only_the_default_ones(tmp_path):
    noxfile = tmp_path / "noxfile.py"
    noxfile.write_text(NOXFILE)
    names = list_sessions(noxfile, tmp_path)
    assert {"unit", "performance", "multinode", "multinode-containers"} <= names
    assert "multinode(provider='local')" in names


def test_a_broken_noxfile_is_one_line_naming_it(tmp_path):
    noxfile = tmp_path / "noxfile.py"
    noxfile.write_text("import nox\nraise RuntimeError('broken on purpose')\n")
    with pytest.raises(SessionListError, match=r"noxfile.py: cannot list nox sessions: .*") as err:
        list_sessions(noxfile, tmp_path)
    assert "\n" not in str(err.value)
