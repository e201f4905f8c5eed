from pathlib import Path

import pytest

from pipeline.run.config import ConfigError, from_mapping, load_config

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "pipeline.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str, name: str = "pipeline.toml") -> str:
    path = write(tmp_path, text, name)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "\n" not in message, "a configuration error is one line"
    assert message.startswith(str(path) if not path.is_relative_to(Path.cwd()) else str(path.relative_to(Path.cwd())))
    return message


def test_shipped_pipeline_toml_is_the_design_table():
    config = load_config(ROOT / "pipeline.toml")
    assert [s.name for s in config.stages] == ["unit", "service", "multinode", "performance", "chaos"]
    assert [s.session for s in config.stages] == ["unit", "service", "multinode", "performance", "chaos"]
    assert [s.report.relative_to(ROOT).as_posix() for s in config.stages] == [
        f"reports/{n}.xml" for n in ("unit", "service", "multinode", "performance", "chaos")
    ]
    table = {bt: dict(config.policy(bt).requirements) for bt in ("feature", "main", "release")}
    assert table["feature"] == {
        "unit": "required",
        "service": "required",
        "multinode": "required",
        "performance": "optional",
        "chaos": "skip",
    }
    assert table["main"] == {
        "unit": "required",
        "service": "required",
        "multinode": "required",
        "performance": "required",
        "chaos": "optional",
    }
    assert set(table["release"].values()) == {"required"}
    assert [repr(t) for t in config.stage("performance").thresholds] == [
        "avg_ms < 100",
        "p95_ms < 500",
        "error_rate < 0.01",
        "throughput_ops >= 1000",
        "memory_ratio < 0.8",
    ]
    assert (config.policy("feature").flaky, config.policy("release").flaky) == ("warn", "fail")
    assert (config.policy("main").missing, config.policy("release").missing) == ("warn", "fail")


def test_built_in_defaults_equal_the_shipped_file(tmp_path):
    shipped = load_config(ROOT / "pipeline.toml")
    builtin = load_config(root=tmp_path)
    assert builtin.source == "built-in defaults"
    assert [(s.name, s.session, s.budget_s, s.parallel, s.reruns, s.thresholds) for s in builtin.stages] == [
        (s.name, s.session, s.budget_s, s.parallel, s.reruns, s.thresholds) for s in shipped.stages
    ]
    assert builtin.policies == shipped.policies


def test_search_order_pipeline_toml_then_pyproject(tmp_path):
    write(
        tmp_path,
        "[tool.pipeline.stages.only]\nbudget_s = 5\n"
        '[tool.pipeline.policies.feature]\nrequired = ["only"]\n'
        '[tool.pipeline.policies.main]\nrequired = ["only"]\n',
        "pyproject.toml",
    )
    config = load_config(root=tmp_path)
    assert [s.name for s in config.stages] == ["only"]
    assert config.source.endswith("pyproject.toml")
    write(tmp_path, '[stages.other]\n[policies.feature]\nskip = ["other"]\n[policies.main]\noptional = ["other"]\n')
    assert [s.name for s in load_config(root=tmp_path).stages] == ["other"]


def test_pyproject_without_tool_pipeline_falls_back_to_defaults(tmp_path):
    write(tmp_path, "[project]\nname = 'x'\n", "pyproject.toml")
    assert load_config(root=tmp_path).source == "built-in defaults"
    with pytest.raises(ConfigError, match=r"pyproject.toml: no \[tool.pipeline\] table"):
        load_config(tmp_path / "pyproject.toml")


def test_stage_defaults_and_order(tmp_path):
    config = load_config(
        write(
            tmp_path,
            '[pipeline]\nreports = "out"\n[stages.b]\n[stages.a]\nsession = "lint"\n'
            'parallel = 4\nreruns = 2\npytest_args = ["-x"]\n'
            '[policies.feature]\nrequired = ["a"]\noptional = ["b"]\n'
            '[policies.main]\nrequired = ["a", "b"]\n',
        )
    )
    b, a = config.stages
    assert (b.name, b.session, b.report, b.budget_s, b.parallel, b.reruns) == (
        "b",
        "b",
        tmp_path / "out" / "b.xml",
        600.0,
        False,
        0,
    )
    assert (a.session, a.parallel, a.reruns, a.pytest_args) == ("lint", 4, 2, ("-x",))
    assert config.policy("release").requirements == (("b", "required"), ("a", "required"))
    assert config.reports == tmp_path / "out"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("colour = 1\n", "colour: unknown key; allowed: pipeline, stages, policies, performance, chaos"),
        ("[pipeline]\nreport = 'x'\n", "pipeline.report: unknown key; allowed: reports, noxfile, kill_grace_s"),
        (
            "[stages.unit]\nbudget = 3\n",
            "stages.unit.budget: unknown key; allowed: session, report, budget_s, parallel, reruns, pytest_args, "
            "thresholds",
        ),
        ("[policies.hotfix]\nrequired = []\n", "policies.hotfix: unknown branch type; allowed: feature, main, release"),
        (
            "[policies.feature]\nrequired = ['unit', 'lint']\n",
            "policies.feature.required: unknown stage 'lint'; allowed: unit, service, multinode, performance, chaos",
        ),
        (
            "[policies.feature]\nrequired = ['unit']\nmust = ['x']\n",
            "policies.feature.must: unknown key; allowed: required, optional, skip, flaky, missing",
        ),
        (
            "[policies.release]\nrequired = ['unit', 'service', 'multinode', 'performance', 'chaos']\n"
            "flaky = 'maybe'\n",
            "policies.release.flaky: 'maybe' is not allowed; allowed: fail, warn",
        ),
        (
            "[stages.performance]\nthresholds = ['p95_ms <> 500']\n",
            "stages.performance.thresholds[0]: cannot parse 'p95_ms <> 500': expected '<metric> <op> <number>' "
            "with op one of <, <=, >, >=, ==, !=",
        ),
        (
            "[stages.performance]\nthresholds = 'p95_ms < 5'\n",
            "stages.performance.thresholds: expected a list of strings, got a string 'p95_ms < 5'",
        ),
        ("[stages.unit]\nbudget_s = 0\n", "stages.unit.budget_s: expected a positive number of seconds, got 0"),
        ("[stages.unit]\nbudget_s = '5m'\n", "stages.unit.budget_s: expected a positive number of seconds, got '5m'"),
        ("[stages.unit]\nreruns = -1\n", "stages.unit.reruns: expected a whole number >= 0, got -1"),
        (
            "[stages.unit]\nparallel = 'yes'\n",
            "stages.unit.parallel: expected true, false or a number of workers, got 'yes'",
        ),
        (
            "[stages.unit]\npytest_args = '-x'\n",
            "stages.unit.pytest_args: expected a list of strings, got a string '-x'",
        ),
        ("[stages.Unit]\n", "stages.Unit: a stage name is lower-case letters, digits, '-' and '_'"),
        ("stages = 3\n", "stages: expected a table, got a number 3"),
        ("[stages]\n", "stages: no stages defined; add at least one [stages.<name>] table"),
        (
            "[stages.lint]\n",
            "policies.feature: stage 'lint' is not assigned (no [policies.feature] table, and the built-in default "
            "does not know it); list it under required, optional or skip",
        ),
        (
            "[stages.a]\n[stages.b]\n[policies.feature]\nrequired = ['a']\n",
            "policies.feature: stage 'b' is not assigned; list it under required, optional or skip",
        ),
        (
            "[policies.feature]\nrequired = ['unit', 'service', 'multinode', 'chaos']\n"
            "skip = ['chaos', 'performance']\n",
            "policies.feature: stage 'chaos' is listed under both required and skip",
        ),
        ("[pipeline]\nkill_grace_s = -1\n", "pipeline.kill_grace_s: expected a positive number of seconds, got -1"),
    ],
)
def test_one_line_errors_name_file_key_and_allowed_values(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message.endswith(": " + expected), message


def test_invalid_toml_names_the_file(tmp_path):
    assert "invalid TOML" in error_of(tmp_path, "[stages.unit\n")


def test_pyproject_keys_are_named_with_their_table(tmp_path):
    message = error_of(tmp_path, "[tool.pipeline]\nstagez = 1\n", "pyproject.toml")
    assert message.endswith(
        "tool.pipeline.stagez: unknown key; allowed: pipeline, stages, policies, performance, chaos"
    )


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")


def test_empty_or_directory_config_path_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="^--config: empty path; give a file such as pipeline.toml$"):
        load_config("", tmp_path)
    with pytest.raises(ConfigError, match=f"^{tmp_path}: is a directory, not a configuration file$"):
        load_config(str(tmp_path), tmp_path)


def test_from_mapping_is_usable_without_a_file(tmp_path):
    config = from_mapping(
        {"stages": {"x": {"budget_s": 1.5}}, "policies": {"feature": {"required": ["x"]}, "main": {"skip": ["x"]}}},
        source="inline",
        root=tmp_path,
    )
    assert config.stage("x").budget_s == 1.5
    assert config.policy("main").requirement("x") == "skip"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[policies.feature]\nflaky = true\nrequired = ['unit', 'service', 'multinode', 'performance', 'chaos']\n",
            "policies.feature.flaky: true is not allowed",
        ),
        (
            "[pipeline]\nkill_grace_s = false\n",
            "pipeline.kill_grace_s: expected a positive number of seconds, got false",
        ),
        (
            "[stages.unit]\nparallel = 'yes'\n",
            "stages.unit.parallel: expected true, false or a number of workers, got 'yes'",
        ),
    ],
)
def test_values_are_quoted_as_toml_spells_them(tmp_path, text, message):
    assert message in error_of(tmp_path, text)
