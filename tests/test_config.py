"""Configuration: discovery of the nearest file, every key, and one-line errors naming the key."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint.cli import main
from nanlint.config import (
    DEFAULT_EXCLUDE,
    DEFAULT_SELECT,
    ConfigError,
    GraphSettings,
    Settings,
    find_config,
    load_settings,
    parse_table,
)
from nanlint.findings import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Options of two imaginary rules: the schema is passed in, so these tests do not depend on which
# rules happen to have options today.
SCHEMA = {
    "NAN301": {
        "max-lr": 1.0,
        "optimizers": ["Adam"],
        "strict": False,
        "warmup-steps": 100,
        "limits": {"sgd": 1.0},
        "mode": "lenient",
    },
    "NAN105": {"ignore-names": []},
}
BAD_SOURCE = "import numpy as np\n\n\ndef has_nan(loss):\n    return loss == np.nan\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path, text: str) -> Settings:
    write(path, text)
    return load_settings(None, path.parent, SCHEMA)


# --- discovery ---------------------------------------------------------------------------------


def test_no_config_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, tmp_path, SCHEMA)
    assert settings == Settings(root=tmp_path)
    assert settings.select == DEFAULT_SELECT and settings.exclude == DEFAULT_EXCLUDE
    assert settings.fail_on is Severity.warning and settings.source is None


def test_nearest_pyproject_with_the_table_wins(tmp_path):
    outer = write(tmp_path / "pyproject.toml", "[tool.nanlint]\nselect = ['NAN1']\n")
    inner = write(tmp_path / "pkg" / "pyproject.toml", "[tool.nanlint]\nselect = ['NAN2']\n")
    (tmp_path / "pkg" / "sub").mkdir()
    assert find_config(tmp_path / "pkg" / "sub") == inner
    assert find_config(tmp_path / "pkg" / "sub" / "file.py") == inner  # a file: start at its directory
    assert find_config(tmp_path) == outer
    settings = load_settings(None, tmp_path / "pkg" / "sub", SCHEMA)
    assert settings.select == ("NAN2",) and settings.source == inner and settings.root == inner.parent


def test_pyproject_without_the_table_is_skipped_upward(tmp_path):
    outer = write(tmp_path / "pyproject.toml", "[tool.nanlint]\nignore = ['NAN112']\n")
    write(tmp_path / "pkg" / "pyproject.toml", "[project]\nname = 'pkg'\n\n[tool.ruff]\nline-length = 100\n")
    assert find_config(tmp_path / "pkg") == outer


def test_nanlint_toml_is_read_at_top_level(tmp_path):
    config = write(tmp_path / "nanlint.toml", "select = ['NAN2']\n[graph]\ntargets = ['cuda-fp16']\n")
    assert find_config(tmp_path) == config
    settings = load_settings(None, tmp_path, SCHEMA)
    assert settings.select == ("NAN2",) and settings.graph.targets == ("cuda-fp16",)


def test_nanlint_toml_beats_pyproject_in_the_same_directory(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.nanlint]\nselect = ['NAN1']\n")
    config = write(tmp_path / "nanlint.toml", "select = ['NAN3']\n")
    assert find_config(tmp_path) == config


def test_nearer_nanlint_toml_beats_farther_pyproject_and_vice_versa(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.nanlint]\n")
    inner = write(tmp_path / "a" / "nanlint.toml", "")
    assert find_config(tmp_path / "a") == inner
    write(tmp_path / "nanlint.toml", "")
    nearest = write(tmp_path / "b" / "pyproject.toml", "[tool.nanlint]\n")
    assert find_config(tmp_path / "b") == nearest


def test_invalid_pyproject_without_the_table_is_skipped(tmp_path):
    outer = write(tmp_path / "nanlint.toml", "")
    write(tmp_path / "pkg" / "pyproject.toml", "[project\nname = \n")
    assert find_config(tmp_path / "pkg") == outer


def test_invalid_toml_with_the_table_is_an_error(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.nanlint]\nselect = [\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: invalid TOML: "):
        load_settings(None, tmp_path, SCHEMA)


def test_explicit_config_file(tmp_path):
    custom = write(tmp_path / "ci" / "strict.toml", "fail-on = 'info'\n")
    settings = load_settings(custom, tmp_path / "elsewhere", SCHEMA)
    assert settings.fail_on is Severity.info and settings.root == custom.parent
    pyproject = write(tmp_path / "ci" / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.nanlint\] table"):
        load_settings(pyproject, tmp_path, SCHEMA)


# --- every key -----------------------------------------------------------------------------------


FULL = """\
[tool.nanlint]
select = ["NAN1", "nan201"]
extend-select = ["NAN901"]
ignore = ["NAN113"]
exclude = ["generated", "vendor/*"]
extend-exclude = ["scratch"]
respect-gitignore = false
fail-on = "error"
cache-dir = ".cache/nanlint"

[tool.nanlint.per-file-ignores]
"tests/*" = ["NAN112"]
"notebooks/**/*.ipynb" = ["NAN1", "NAN3"]

[tool.nanlint.severity]
NAN112 = "warning"
NAN2 = "error"

[tool.nanlint.rules.NAN301]
max-lr = 3
optimizers = ["Adam", "SGD"]
strict = true
warmup-steps = 10
limits = {sgd = 0.5, adam = 1e-2}
mode = "strict"

[tool.nanlint.graph]
targets = ["cuda-fp16", "cpu"]
samples = 32
headroom = 8.0
search = true
budget = 30
input-ranges = {pixel_values = [-1.0, 1.0], input_ids = [0, 30521], scores = [-inf, inf]}
input-shapes = {pixel_values = [1, 3, 224, 224]}
"""


def test_every_key_is_parsed(tmp_path):
    settings = load(tmp_path / "pyproject.toml", FULL)
    assert settings.select == ("NAN1", "NAN201")
    assert settings.extend_select == ("NAN901",)
    assert settings.ignore == ("NAN113",)
    assert settings.exclude == ("generated", "vendor/*")
    assert settings.extend_exclude == ("scratch",)
    assert settings.respect_gitignore is False
    assert settings.fail_on is Severity.error
    assert settings.cache_dir == ".cache/nanlint"
    assert settings.per_file_ignores == {"tests/*": ("NAN112",), "notebooks/**/*.ipynb": ("NAN1", "NAN3")}
    assert settings.severity == {"NAN112": Severity.warning, "NAN2": Severity.error}
    assert settings.rule_options == {
        "NAN301": {
            "max-lr": 3.0,
            "optimizers": ("Adam", "SGD"),
            "strict": True,
            "warmup-steps": 10,
            "limits": {"sgd": 0.5, "adam": 0.01},
            "mode": "strict",
        }
    }
    assert isinstance(settings.rule_options["NAN301"]["max-lr"], float)
    assert settings.graph == GraphSettings(
        targets=("cuda-fp16", "cpu"),
        samples=32,
        headroom=8.0,
        search=True,
        budget=30.0,
        input_ranges={"pixel_values": (-1.0, 1.0), "input_ids": (0.0, 30521.0), "scores": (-math.inf, math.inf)},
        input_shapes={"pixel_values": (1, 3, 224, 224)},
    )


def test_selection_semantics(tmp_path):
    settings = load(tmp_path / "pyproject.toml", FULL)
    assert settings.is_selected("NAN104")  # NAN1
    assert settings.is_selected("NAN201") and not settings.is_selected("NAN202")
    assert settings.is_selected("NAN901")  # extend-select
    assert not settings.is_selected("NAN113")  # ignore beats select
    assert not settings.is_selected("NAN501")


def test_default_selection_leaves_unused_suppressions_opt_in():
    settings = Settings()
    assert all(settings.is_selected(c) for c in ("NAN101", "NAN201", "NAN301", "NAN501", "NAN601", "NAN701", "NAN900"))
    assert not settings.is_selected("NAN901")


def test_severity_override_longest_prefix_wins(tmp_path):
    settings = load(tmp_path / "pyproject.toml", FULL)
    assert settings.severity_of("NAN112", Severity.error) is Severity.warning
    assert settings.severity_of("NAN202", Severity.warning) is Severity.error  # NAN2
    assert settings.severity_of("NAN104", Severity.warning) is Severity.warning  # not configured
    specific = Settings(
        severity={"NAN2": Severity.info, "NAN20": Severity.warning, "NAN201": Severity.error, "ALL": Severity.info}
    )
    assert specific.severity_of("NAN201", Severity.info) is Severity.error
    assert specific.severity_of("NAN202", Severity.info) is Severity.warning
    assert specific.severity_of("NAN210", Severity.error) is Severity.info
    assert specific.severity_of("NAN104", Severity.error) is Severity.info  # ALL


def test_snake_case_option_names_are_the_kebab_case_options(tmp_path):
    settings = load(tmp_path / "pyproject.toml", "[tool.nanlint.rules.NAN301]\nmax_lr = 3\nwarmup_steps = 10\n")
    assert settings.rule_options == {"NAN301": {"max-lr": 3.0, "warmup-steps": 10}}


def test_rule_option_lookup():
    settings = Settings(rule_options={"NAN301": {"max-lr": 3.0}})
    assert settings.option("NAN301", "max-lr", 1.0) == 3.0
    assert settings.option("NAN301", "strict", False) is False
    assert settings.option("NAN104", "anything", 7) == 7


def test_empty_table_is_defaults(tmp_path):
    settings = load(tmp_path / "pyproject.toml", "[tool.nanlint]\n")
    assert settings == Settings(root=tmp_path, source=tmp_path / "pyproject.toml")


# --- errors name the key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table,message",
    [
        (
            "colour = true",
            "unknown key 'colour' (known: select, extend-select, ignore, per-file-ignores, exclude, "
            "extend-exclude, respect-gitignore, fail-on, severity, cache-dir, graph, rules)",
        ),
        ("extend-selec = ['NAN1']", "unknown key 'extend-selec' (did you mean 'extend-select'? known: "),
        ("select = 'NAN1'", "'select' must be a list of strings"),
        ("select = [1]", "'select' must be a list of strings"),
        ("select = ['NAN999']", "'select': 'NAN999' matches no rule code"),
        ("ignore = ['E501']", "'ignore': 'E501' matches no rule code"),
        ("extend-select = ['NAN1O4']", "'extend-select': 'NAN1O4' matches no rule code"),
        ("exclude = 'build'", "'exclude' must be a list of strings"),
        ("extend-exclude = [true]", "'extend-exclude' must be a list of strings"),
        ("respect-gitignore = 'yes'", "'respect-gitignore' must be true or false"),
        ("fail-on = 'fatal'", "'fail-on': unknown severity 'fatal' (expected error, warning or info)"),
        ("fail-on = 2", '\'fail-on\' must be "error", "warning" or "info"'),
        ("cache-dir = 3", "'cache-dir' must be a string"),
        ("per-file-ignores = ['tests/*']", "'per-file-ignores' must be a table of glob = [codes]"),
        ("per-file-ignores = {'tests/*' = 'NAN112'}", "'per-file-ignores.tests/*' must be a list of strings"),
        ("per-file-ignores = {'tests/*' = ['NAN999']}", "'per-file-ignores.tests/*': 'NAN999' matches no rule code"),
        ("severity = ['NAN112']", '\'severity\' must be a table of CODE = "error"|"warning"|"info"'),
        ("severity = {NAN112 = 'fatal'}", "'severity.NAN112': unknown severity 'fatal'"),
        ("severity = {NAN112 = 1}", '\'severity.NAN112\' must be "error", "warning" or "info"'),
        ("severity = {NAN999 = 'info'}", "'severity.NAN999': 'NAN999' matches no rule code"),
        ("rules = 3", "'rules' must be a table of [rules.NANxxx] tables"),
        ("rules = {NAN112 = {x = 1}}", "'rules.NAN112': rule NAN112 has no options"),
        ("rules = {NAN301 = 1}", "'rules.NAN301' must be a table"),
        (
            "rules = {NAN301 = {max-lrr = 1}}",
            "unknown key 'rules.NAN301.max-lrr' (did you mean 'max-lr'? "
            "known: limits, max-lr, mode, optimizers, strict, warmup-steps)",
        ),
        ("rules = {NAN301 = {max-lr = 'high'}}", "'rules.NAN301.max-lr' must be a number"),
        ("rules = {NAN301 = {max-lr = true}}", "'rules.NAN301.max-lr' must be a number"),
        ("rules = {NAN301 = {max-lr = nan}}", "'rules.NAN301.max-lr' must be a number"),
        ("rules = {NAN301 = {warmup-steps = 1.5}}", "'rules.NAN301.warmup-steps' must be an integer"),
        ("rules = {NAN301 = {strict = 1}}", "'rules.NAN301.strict' must be true or false"),
        ("rules = {NAN301 = {optimizers = 'Adam'}}", "'rules.NAN301.optimizers' must be a list of strings"),
        ("rules = {NAN301 = {limits = 1}}", "'rules.NAN301.limits' must be a table"),
        ("rules = {NAN301 = {limits = {sgd = 'x'}}}", "'rules.NAN301.limits.sgd' must be a number"),
        ("rules = {NAN301 = {mode = 1}}", "'rules.NAN301.mode' must be a string"),
        ("graph = 1", "'graph' must be a table"),
        (
            "graph = {target = ['cpu']}",
            "unknown key 'graph.target' (did you mean 'targets'? known: targets, input-ranges, input-shapes, "
            "samples, headroom, search, budget)",
        ),
        ("graph = {input-range = {}}", "unknown key 'graph.input-range' (did you mean 'input-ranges'? known: "),
        ("graph = {targets = 'cpu'}", "'graph.targets' must be a list of strings"),
        ("graph = {samples = -1}", "'graph.samples' must be >= 0"),
        ("graph = {samples = 2.5}", "'graph.samples' must be an integer"),
        ("graph = {headroom = 0.5}", "'graph.headroom' must be >= 1.0"),
        ("graph = {search = 1}", "'graph.search' must be true or false"),
        ("graph = {budget = -1}", "'graph.budget' must be >= 0.0"),
        ("graph = {input-ranges = [1]}", "'graph.input-ranges' must be a table of input = [lo, hi]"),
        ("graph = {input-ranges = {x = [1]}}", "'graph.input-ranges.x' must be [lo, hi]"),
        ("graph = {input-ranges = {x = ['a', 1]}}", "'graph.input-ranges.x' must be a number"),
        ("graph = {input-ranges = {x = [nan, 1]}}", "'graph.input-ranges.x' must be a number"),
        ("graph = {input-ranges = {x = [2, 1]}}", "'graph.input-ranges.x': lo 2.0 is above hi 1.0"),
        (
            "graph = {input-shapes = {x = 3}}",
            "'graph.input-shapes.x' must be a list of dimensions, e.g. [1, 3, 224, 224]",
        ),
        ("graph = {input-shapes = {x = [1, -3]}}", "'graph.input-shapes.x' must be >= 0"),
        ("graph = {input-shapes = {x = [1, 'batch']}}", "'graph.input-shapes.x' must be an integer"),
    ],
)
def test_bad_values_name_the_key(tmp_path, table, message):
    path = write(tmp_path / "pyproject.toml", f"[tool.nanlint]\n{table}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(None, tmp_path, SCHEMA)
    text = str(error.value)
    assert text.startswith(f"{path}: {message}"), text
    assert "\n" not in text


def test_parse_table_directly():
    settings = parse_table({"ignore": ["nan112"]}, Path("/x/nanlint.toml"), {})
    assert settings.ignore == ("NAN112",) and settings.root == Path("/x").resolve()


# --- through the command line: exit 2 with one line, and the settings take effect ---------------------


def cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture
def project(tmp_path, monkeypatch):
    write(tmp_path / "bad.py", BAD_SOURCE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "table,key",
    [
        ("unknown-key = 1", "unknown key 'unknown-key'"),
        ("select = 'NAN1'", "'select' must be a list of strings"),
        ("graph = {samples = 'many'}", "'graph.samples' must be an integer"),
        ("rules = {NAN112 = {threshold = 1}}", "'rules.NAN112': rule NAN112 has no options"),
    ],
)
def test_cli_exits_2_with_one_line_naming_the_key(project, table, key):
    write(project / "pyproject.toml", f"[tool.nanlint]\n{table}\n")
    result = cli("check", "bad.py")
    assert result.exit_code == 2 and result.stdout == ""
    assert re.fullmatch(
        rf"nanlint: error: {re.escape(str(project / 'pyproject.toml'))}: {re.escape(key)}.*\n", result.stderr
    )


def test_config_is_found_from_the_checked_path_not_the_cwd(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("other")
    write(elsewhere / "pyproject.toml", "[tool.nanlint]\nignore = ['NAN112']\n")
    write(elsewhere / "pkg" / "bad.py", BAD_SOURCE)
    assert cli("check", str(elsewhere / "pkg")).exit_code == 0
    assert cli("check", "bad.py").exit_code == 1


def test_per_file_ignores_globs(project):
    write(
        project / "pyproject.toml",
        """\
        [tool.nanlint.per-file-ignores]
        "tests/*" = ["NAN112"]
        "*_generated.py" = ["NAN1"]
        """,
    )
    write(project / "tests" / "test_x.py", BAD_SOURCE)
    write(project / "src" / "model_generated.py", BAD_SOURCE)
    write(project / "src" / "model.py", BAD_SOURCE)
    result = cli("check", ".", "--format", "json", "--no-cache")
    assert [f["path"] for f in json.loads(result.stdout)] == ["bad.py", "src/model.py"]


def test_exclude_and_extend_exclude(project):
    for path in ("scratch/a.py", "gen/b.py", "gen/keep/c.py", "build/d.py"):
        write(project / path, BAD_SOURCE)

    def checked() -> list[str]:
        result = cli("check", ".", "-q", "--no-cache")
        return sorted(line.split(":")[0] for line in result.stdout.splitlines())

    # extend-exclude adds to the defaults (build/ stays excluded); a name matches at any depth,
    # a pattern with a slash matches the path relative to the config file's directory.
    write(project / "pyproject.toml", "[tool.nanlint]\nextend-exclude = ['scratch', 'gen/b.py']\n")
    assert checked() == ["bad.py", "gen/keep/c.py"]
    # exclude replaces the defaults: build/ is checked again.
    write(project / "pyproject.toml", "[tool.nanlint]\nexclude = ['gen']\n")
    assert checked() == ["bad.py", "build/d.py", "scratch/a.py"]


def test_severity_override_through_the_cli(project):
    write(project / "pyproject.toml", "[tool.nanlint.severity]\nNAN112 = 'info'\n")
    result = cli("check", "bad.py", "--format", "json")
    assert result.exit_code == 0
    assert '"severity": "info"' in result.stdout


def test_fail_on_from_config_and_cli_override(project):
    write(project / "pyproject.toml", "[tool.nanlint]\nfail-on = 'error'\nseverity = {NAN112 = 'warning'}\n")
    assert cli("check", "bad.py").exit_code == 0
    assert cli("check", "bad.py", "--fail-on", "warning").exit_code == 1


# --- the real rule options: kebab-case, old spellings, typos inside option tables --------------------


def real(tmp_path: Path, text: str, notices: list[str] | None = None) -> Settings:
    from nanlint.options import OPTIONS

    write(tmp_path / "pyproject.toml", text)
    return load_settings(None, tmp_path, OPTIONS, notices)


def test_a_typo_inside_an_option_table_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError) as error:
        real(tmp_path, "[tool.nanlint.rules.NAN301]\nthresholds = { Sgd = 0.1 }\n")
    assert str(error.value) == (
        f"{tmp_path / 'pyproject.toml'}: unknown key 'rules.NAN301.thresholds.Sgd' (did you mean 'SGD'? known: "
        "SGD, Adam, RMSprop, Adagrad, Adadelta, Lion, LAMB, LARS, Rprop, LBFGS, Ftrl, Adafactor)"
    )
    settings = real(tmp_path, "[tool.nanlint.rules.NAN301]\nthresholds = { SGD = 0.1 }\n")
    assert settings.rule_options == {"NAN301": {"thresholds": {"SGD": 0.1}}}


def test_an_unknown_option_name_suggests_the_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'rules.NAN304.max-sdt' \(did you mean 'max-std'\? known: "):
        real(tmp_path, "[tool.nanlint.rules.NAN304]\nmax-sdt = 2\n")


def test_old_spellings_are_read_with_a_notice_for_every_kind_of_key(tmp_path):
    notices: list[str] = []
    settings = real(
        tmp_path,
        "[tool.nanlint]\nfail_on = 'error'\n[tool.nanlint.graph]\ninput_ranges = {x = [0, 1]}\n"
        "[tool.nanlint.rules.NAN304]\nmax_std = 2\n",
        notices,
    )
    assert settings.fail_on is Severity.error
    assert settings.graph.input_ranges == {"x": (0.0, 1.0)}
    assert settings.rule_options == {"NAN304": {"max-std": 2.0}}
    path = tmp_path / "pyproject.toml"
    assert notices == [
        f"{path}: 'fail_on' is deprecated; use 'fail-on'",
        f"{path}: 'graph.input_ranges' is deprecated; use 'graph.input-ranges'",
        f"{path}: 'rules.NAN304.max_std' is deprecated; use 'rules.NAN304.max-std'",
    ]


def test_the_readme_configuration_example_is_valid(tmp_path):
    """README's example once showed `max-lr`, an option no rule has; the example must load as it is."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Configuration") :]
    example = re.search(r"```toml\n(\[tool\.nanlint\]\n.*?)```", section, re.S).group(1)
    settings = real(tmp_path, re.sub(r"^# ", "", example, flags=re.M))  # the commented-out options too
    assert settings.source == tmp_path / "pyproject.toml"


# --- each file its nearest configuration ------------------------------------------------------------


def test_configuration_gives_each_directory_its_nearest_file(tmp_path, monkeypatch):
    from nanlint.config import Configuration

    monkeypatch.chdir(tmp_path)
    root = write(tmp_path / "pyproject.toml", "[tool.nanlint]\nignore = ['NAN112']\n")
    inner = write(tmp_path / "a" / "nanlint.toml", "fail-on = 'error'\n")
    write(tmp_path / "a" / "b" / "pyproject.toml", "[project]\nname = 'b'\n")
    config = Configuration(SCHEMA, overrides={"select": ("NAN1",)})
    assert config.for_path(tmp_path / "x.py").source == root
    deep = config.for_path(tmp_path / "a" / "b" / "c.py")
    assert (deep.source, deep.fail_on, deep.ignore, deep.select) == (inner, Severity.error, (), ("NAN1",))
    assert config.for_path(tmp_path / "a" / "b" / "c.py") is deep  # read once
    explicit = Configuration(SCHEMA, explicit=root)
    assert explicit.for_path(tmp_path / "a" / "b" / "c.py").source == root


def test_settings_toml_reads_back_as_the_same_settings(tmp_path):
    from nanlint.config import settings_toml

    settings = load(tmp_path / "pyproject.toml", FULL)
    shown = settings_toml(settings, SCHEMA)
    again = parse_table(tomllib.loads(shown), tmp_path / "pyproject.toml", SCHEMA)
    assert dataclasses.replace(again, rule_options=settings.rule_options) == settings
    assert again.rule_options["NAN301"] == settings.rule_options["NAN301"]
    assert again.rule_options["NAN105"] == {"ignore-names": ()}  # the defaults are shown too
