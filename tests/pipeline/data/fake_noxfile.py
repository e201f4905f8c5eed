"""A noxfile for the runner's tests (copied into a temporary project as noxfile.py).

Each session named in fake_sessions.json runs fake_stage.py with its action,
without a virtualenv, so that a whole pipeline runs in seconds.
"""

import json
import pathlib
import sys

import nox

HERE = pathlib.Path(__file__).parent
SPEC = json.loads((HERE / "fake_sessions.json").read_text())


def _define(name: str, action: str) -> None:
    def session(s: nox.Session) -> None:
        s.run(sys.executable, str(HERE / "fake_stage.py"), name, action, *s.posargs)

    session.__doc__ = f"fake stage: {action}"
    nox.session(name=name, venv_backend="none")(session)


for _name, _action in SPEC.items():
    _define(_name, _action)
