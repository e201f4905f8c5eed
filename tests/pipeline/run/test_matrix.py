import json
from pathlib import Path

import pytest

from pipeline.run.config import load_config
from pipeline.run.matrix import matrix, matrix_json

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "pipeline.toml")


def test_feature_runs_unit_service_multinode_required_and_no_chaos(config):
    entries = matrix(config, "feature")
    assert {e["stage"]: e["required"] for e in entries} == {
        "unit": True,
        "service": True,
        "multinode": True,
        "performance": False,
    }
    assert "chaos" not in [e["stage"] for e in entries]


def test_main_has_optional_chaos(config):
    assert {e["stage"]: e["required"] for e in matrix(config, "main")} == {
        "unit": True,
        "service": True,
        "multinode": True,
        "performance": True,
        "chaos": False,
    }


def test_release_lists_all_five_required_in_order(config):
    entries = matrix(config, "release")
    assert entries == [
        {"stage": s, "session": s, "required": True} for s in ("unit", "service", "multinode", "performance", "chaos")
    ]


def test_json_is_compact_one_line_and_round_trips(config):
    text = matrix_json(matrix(config, "feature"))
    assert "\n" not in text and " " not in text
    assert text.startswith('[{"stage":"unit","session":"unit","required":true}')
    assert json.loads(text) == matrix(config, "feature")


def test_session_name_comes_from_the_stage(tmp_path):
    (tmp_path / "pipeline.toml").write_text(
        '[stages.lint]\nsession = "lint-3.11"\n[policies.feature]\noptional = ["lint"]\n'
        '[policies.main]\nrequired = ["lint"]\n'
    )
    assert matrix(load_config(root=tmp_path), "feature") == [
        {"stage": "lint", "session": "lint-3.11", "required": False}
    ]
