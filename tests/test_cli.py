"""The command line: exit codes, shared options, formats, `rule`, one-line errors; in-process and as a real process.

NAN112 (nan-comparison, severity error) is the rule that produces findings here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from nanlint import __version__, catalog
from nanlint.cli import main
from tests.test_rule_pages import DESIGN_CODES

BAD = """\
import numpy as np


def has_nan(loss):
    return loss == np.nan
"""
CLEAN = """\
import numpy as np


def has_nan(loss):
    return np.isnan(loss)
"""
FINDING = "bad.py:5:12: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN\n"
SUMMARY = "Found 1 finding (1 error).\n[*] 1 fixable with the `--fix` option.\n"
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A directory with one file that has a finding and one that is clean; the working directory."""
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "clean.py").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    for name in ("NO_COLOR", "FORCE_COLOR", "NANLINT_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, list(args), env=env)
    # Every outcome is an exit code, never an escaped exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_line_error(result, pattern: str) -> None:
    assert result.exit_code == 2
    assert result.stdout == ""
    assert re.fullmatch(f"nanlint: error: {pattern}\n", result.stderr), result.stderr
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr


# --- exit codes ---------------------------------------------------------------------------


def test_clean_file_exits_0(project):
    result = run("check", "clean.py")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "All checks passed!\n", "")


def test_finding_exits_1(project):
    result = run("check", "bad.py", "clean.py")
    assert (result.exit_code, result.stdout, result.stderr) == (1, FINDING + SUMMARY, "")


def test_directory_is_walked(project):
    result = run("check", ".")
    assert result.exit_code == 1
    assert (
        result.stdout
        == "bad.py:5:12: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN\n" + SUMMARY
    )


def test_no_path_means_the_current_directory(project):
    assert run("check").stdout == run("check", ".").stdout


def test_exit_zero(project):
    result = run("check", "bad.py", "--exit-zero")
    assert (result.exit_code, result.stdout) == (0, FINDING + SUMMARY)


@pytest.mark.parametrize("fail_on,code", [("error", 1), ("warning", 1), ("info", 1)])
def test_fail_on_with_an_error_finding(project, fail_on, code):
    assert run("check", "bad.py", "--fail-on", fail_on).exit_code == code


@pytest.mark.parametrize(
    "severity,fail_on,code",
    [
        ("warning", None, 1),
        ("warning", "error", 0),
        ("warning", "info", 1),
        ("info", None, 0),
        ("info", "warning", 0),
        ("info", "info", 1),
    ],
)
def test_fail_on_with_a_demoted_finding(project, severity, fail_on, code):
    (project / "pyproject.toml").write_text(f'[tool.nanlint]\nseverity = {{NAN112 = "{severity}"}}\n')
    args = ["check", "bad.py"] + (["--fail-on", fail_on] if fail_on else [])
    result = run(*args)
    assert result.exit_code == code
    assert result.stdout.endswith(f"Found 1 finding (1 {severity}).\n[*] 1 fixable with the `--fix` option.\n")


def test_fail_on_rejects_an_unknown_severity(project):
    one_line_error(run("check", "bad.py", "--fail-on", "fatal"), r"Invalid value for '--fail-on': .*")


def test_nonexistent_path_is_a_one_line_error(project):
    one_line_error(run("check", "missing.py"), "missing.py: no such file or directory")


def test_nonexistent_path_next_to_a_real_one_still_reports_and_exits_2(project):
    result = run("check", "bad.py", "missing.py")
    assert result.exit_code == 2
    assert result.stdout == FINDING + SUMMARY
    assert result.stderr == "nanlint: error: missing.py: no such file or directory\n"


def test_unparsable_source_is_a_nan900_finding_and_the_other_files_are_checked(project):
    (project / "broken.py").write_text("def f(:\n")
    result = run("check", "broken.py", "bad.py")
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == (
        FINDING + "broken.py:1:7: NAN900 error syntax error: invalid syntax\n"
        "Found 2 findings (2 errors).\n[*] 1 fixable with the `--fix` option.\n"
    )


@pytest.mark.parametrize(
    "options,code,stdout",
    [
        ((), 1, "broken.py:1:7: NAN900 error syntax error: invalid syntax\nFound 1 finding (1 error).\n"),
        (("--exit-zero",), 0, "broken.py:1:7: NAN900 error syntax error: invalid syntax\nFound 1 finding (1 error).\n"),
        (("--ignore", "NAN900"), 0, "All checks passed!\n"),
        (("--ignore", "NAN9"), 0, "All checks passed!\n"),
        (("--select", "NAN1"), 0, "All checks passed!\n"),
        (
            ("--fail-on", "error"),
            1,
            "broken.py:1:7: NAN900 error syntax error: invalid syntax\nFound 1 finding (1 error).\n",
        ),
    ],
)
def test_nan900_is_governed_like_any_finding(project, options, code, stdout):
    """DESIGN.md, exit codes: a file that exists but cannot be parsed is a finding, not exit 2."""
    (project / "broken.py").write_text("def f(:\n")
    result = run("check", "broken.py", *options)
    assert (result.exit_code, result.stdout, result.stderr) == (code, stdout, "")


def test_nan900_demoted_by_configuration_passes_fail_on_error(project):
    (project / "broken.py").write_text("def f(:\n")
    (project / "pyproject.toml").write_text('[tool.nanlint]\nseverity = {NAN900 = "warning"}\n')
    assert run("check", "broken.py", "--fail-on", "error").exit_code == 0
    assert run("check", "broken.py").exit_code == 1


def test_internal_error_is_one_line(project, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("nanlint.source.engine.check_paths", explode)
    one_line_error(
        run("check", "bad.py"), re.escape("internal error: RuntimeError: boom (set NANLINT_DEBUG=1 for details)")
    )


def test_bad_option_is_one_line(project):
    one_line_error(run("check", "--frobnicate"), r"No such option '--frobnicate'.*\(see 'main check --help'\)")
    one_line_error(run("check", "--format", "xml"), r"Invalid value for '--format': 'xml' is not one of .*")
    one_line_error(run("frob"), r"No such command 'frob'\. \(see 'main --help'\)")


# --- selection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,found",
    [
        ((), True),
        (("--select", "NAN112"), True),
        (("--select", "nan112"), True),
        (("--select", "NAN1"), True),
        (("--select", "NAN11"), True),
        (("--select", "ALL"), True),
        (("--select", "NAN2"), False),
        (("--select", "NAN2,NAN3"), False),
        (("--select", "NAN2", "--extend-select", "NAN112"), True),
        (("--select", "NAN2", "--extend-select", "NAN1"), True),
        (("--ignore", "NAN112"), False),
        (("--ignore", "NAN1"), False),
        (("--select", "NAN1", "--ignore", "NAN112"), False),
        (("--select", "NAN112", "--ignore", "NAN2"), True),
        (("--extend-select", "NAN901", "--ignore", "NAN11"), False),
    ],
)
def test_select_ignore_extend_select(project, args, found):
    result = run("check", "bad.py", *args)
    assert result.exit_code == (1 if found else 0)
    assert result.stdout == (FINDING + SUMMARY if found else "All checks passed!\n")


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
@pytest.mark.parametrize("value", ["NAN999", "NAN8", "FOO", "NAN1,NAN1O4"])
def test_unknown_rule_code_is_a_one_line_error(project, option, value):
    bad = value.split(",")[-1]
    one_line_error(
        run("check", "bad.py", option, value),
        re.escape(f"'{bad}' matches no rule code (use a code such as NAN104, a prefix such as NAN1, or ALL)"),
    )


def test_command_line_selection_overrides_config(project):
    (project / "pyproject.toml").write_text('[tool.nanlint]\nignore = ["NAN112"]\n')
    assert run("check", "bad.py").exit_code == 0
    # --ignore on the command line replaces the configured list, as ruff does.
    assert run("check", "bad.py", "--ignore", "NAN2").exit_code == 1


# --- formats and output -------------------------------------------------------------------


def test_format_json(project):
    result = run("check", "bad.py", "clean.py", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "code": "NAN112",
            "name": "nan-comparison",
            "message": "comparison with NaN is always False; use isnan() to test for NaN",
            "severity": "error",
            "path": "bad.py",
            "line": 5,
            "column": 12,
            "end_line": 5,
            "end_column": 26,
            "fix": {
                "applicability": "safe",
                "message": "use np.isnan()",
                "edits": [{"line": 5, "column": 12, "end_line": 5, "end_column": 26, "content": "np.isnan(loss)"}],
            },
        }
    ]


def test_output_format_is_an_alias(project):
    assert run("check", "bad.py", "--output-format", "json").stdout == run("check", "bad.py", "--format", "json").stdout


def test_format_github(project):
    result = run("check", "bad.py", "--format", "github")
    assert result.exit_code == 1
    assert result.stdout == (
        "::error file=bad.py,line=5,col=12,endLine=5,endColumn=26,title=nanlint (NAN112)"
        "::comparison with NaN is always False; use isnan() to test for NaN\n" + FINDING + SUMMARY
    )


def test_format_sarif_is_valid_and_repo_relative(project):
    (project / "src").mkdir()
    (project / "src" / "bad.py").write_text(BAD)
    result = run("check", "src", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    jsonschema.validate(log, SCHEMA)
    [finding] = log["runs"][0]["results"]
    assert finding["ruleId"] == "NAN112" and finding["level"] == "error"
    assert finding["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "src/bad.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 5, "startColumn": 12, "endLine": 5, "endColumn": 26},
    }
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["help"]["markdown"] == catalog.get("NAN112").text


def test_format_sarif_with_no_findings(project):
    result = run("check", "clean.py", "--format", "sarif")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["runs"][0]["results"] == []


def test_output_file(project):
    result = run("check", "bad.py", "--output-file", "report.json", "--format", "json")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")
    assert json.loads((project / "report.json").read_text())[0]["code"] == "NAN112"
    run("check", "bad.py", "-o", "report.txt")
    assert (project / "report.txt").read_text() == FINDING + SUMMARY


def test_output_file_in_a_missing_directory_is_one_line(project):
    one_line_error(
        run("check", "bad.py", "-o", "no/such/dir/report.txt"),
        r"cannot write no/such/dir/report\.txt: No such file or directory",
    )


def test_statistics(project):
    (project / "more.py").write_text(BAD + "\n\nassert 1.0 != np.nan\n")
    result = run("check", "bad.py", "more.py", "--statistics")
    assert result.exit_code == 1
    assert result.stdout == (
        "    3\tNAN112\t[*] nan-comparison\nFound 3 findings (3 errors).\n[*] 3 fixable with the `--fix` option.\n"
    )


def test_quiet(project):
    assert run("check", "bad.py", "-q").stdout == FINDING
    assert run("check", "bad.py", "--quiet").stdout == FINDING
    assert run("check", "clean.py", "-q").stdout == ""
    assert run("check", "clean.py", "-q").exit_code == 0


def test_no_colour_unless_a_terminal_or_forced(project):
    # CliRunner's stdout is not a terminal: plain text by default.
    assert "\x1b[" not in run("check", "bad.py").stdout
    forced = run("check", "bad.py", env={"FORCE_COLOR": "1"}).stdout
    assert forced.startswith(
        "\x1b[1mbad.py:5:12\x1b[0m: \x1b[31m\x1b[1mNAN112\x1b[0m \x1b[31merror\x1b[0m \x1b[36m[*] \x1b[0mcomparison"
    )
    assert run("check", "bad.py", "--no-color", env={"FORCE_COLOR": "1"}).stdout == FINDING + SUMMARY
    assert run("check", "bad.py", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout == FINDING + SUMMARY
    assert "\x1b[" not in run("check", "bad.py", "--format", "json", env={"FORCE_COLOR": "1"}).stdout
    run("check", "bad.py", "-o", "out.txt", env={"FORCE_COLOR": "1"})
    assert (project / "out.txt").read_text() == FINDING + SUMMARY


def test_config_option(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("conf")
    (elsewhere / "custom.toml").write_text('ignore = ["NAN112"]\n')
    assert run("check", "bad.py", "--config", str(elsewhere / "custom.toml")).exit_code == 0
    (elsewhere / "pyproject.toml").write_text('[tool.nanlint]\nignore = ["NAN1"]\n')
    assert run("check", "bad.py", "--config", str(elsewhere / "pyproject.toml")).exit_code == 0
    # An explicit config wins over the nearest one.
    (project / "pyproject.toml").write_text('[tool.nanlint]\nselect = ["NAN2"]\n')
    assert run("check", "bad.py").exit_code == 0
    (elsewhere / "all.toml").write_text('select = ["ALL"]\n')
    assert run("check", "bad.py", "--config", str(elsewhere / "all.toml")).exit_code == 1


def test_config_option_errors_are_one_line(project):
    one_line_error(
        run("check", "bad.py", "--config", "missing.toml"),
        r"Invalid value for '--config': File 'missing.toml' does not exist\..*",
    )
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    one_line_error(run("check", "bad.py", "--config", "pyproject.toml"), r".*pyproject.toml: no \[tool.nanlint\] table")


def test_version():
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"nanlint, version {__version__}\n")
    assert run("-V").stdout == result.stdout


# --- nanlint rule ---------------------------------------------------------------------------


def test_rule_prints_the_page():
    result = run("rule", "NAN112")
    page = (catalog.rules_dir() / "NAN112.md").read_text(encoding="utf-8")
    assert (result.exit_code, result.stdout) == (0, page)
    assert run("rule", "nan112").stdout == page


def test_rule_all_lists_every_design_code_with_its_status():
    result = run("rule", "--all")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == DESIGN_CODES
    pages = catalog.load()
    for line in lines:
        code, name, status, summary = re.fullmatch(r"(NAN\d{3})  (\S+) +(implemented|planned) +(.+)", line).groups()
        page = pages[code]
        assert (name, status, summary) == (page.name, page.status, page.summary)
    assert "NAN112  nan-comparison" in result.stdout and " implemented " in lines[DESIGN_CODES.index("NAN112")]


def test_rule_without_a_code_lists_all():
    assert run("rule").stdout == run("rule", "--all").stdout


def test_unknown_rule_is_a_one_line_error():
    one_line_error(run("rule", "NAN999"), "unknown rule code 'NAN999'")


# --- a real process -------------------------------------------------------------------------


def console_script() -> str:
    script = Path(sys.executable).with_name("nanlint")
    assert script.exists(), f"console script not installed next to {sys.executable}"
    return str(script)


def process(*argv: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "NANLINT_DEBUG")}
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, input=stdin, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_python_dash_m(project):
    done = process(sys.executable, "-m", "nanlint", "check", "bad.py", "clean.py", cwd=project)
    assert (done.returncode, done.stdout, done.stderr) == (1, FINDING + SUMMARY, "")


def test_console_script(project):
    done = process(console_script(), "check", "bad.py", "--format", "json", cwd=project)
    assert done.returncode == 1 and json.loads(done.stdout)[0]["line"] == 5
    done = process(console_script(), "--version", cwd=project)
    assert (done.returncode, done.stdout) == (0, f"nanlint, version {__version__}\n")


@pytest.mark.parametrize(
    "argv,stderr",
    [
        (("check", "missing.py"), "nanlint: error: missing.py: no such file or directory\n"),
        (
            ("check", "bad.py", "--select", "NAN999"),
            "nanlint: error: 'NAN999' matches no rule code (use a code such as NAN104, a prefix such as NAN1, or ALL)\n",
        ),
        (("rule", "NAN999"), "nanlint: error: unknown rule code 'NAN999'\n"),
        (("check", "--zzzzzzzz"), "nanlint: error: No such option '--zzzzzzzz'. (see 'nanlint check --help')\n"),
    ],
)
def test_errors_in_a_real_process(project, argv, stderr):
    done = process(console_script(), *argv, cwd=project)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", stderr)


def test_bad_config_in_a_real_process(project):
    (project / "pyproject.toml").write_text('[tool.nanlint]\nselect = "NAN1"\n')
    done = process(sys.executable, "-m", "nanlint", "check", "bad.py", cwd=project)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"nanlint: error: {project / 'pyproject.toml'}: 'select' must be a list of strings\n"


@pytest.mark.parametrize("options,code", [((), 1), (("--exit-zero",), 0)])
def test_reader_leaving_early_keeps_the_exit_code(project, options, code):
    """`nanlint check | head -n 1`: the closed pipe is neither a traceback nor a different exit code."""
    (project / "many.py").write_text(
        "import numpy as np\n" + "".join(f"a{i} = x == np.nan\n" for i in range(1500))
    )  # > a pipe's buffer
    reader = subprocess.Popen(
        [console_script(), "check", "many.py", "--no-cache", *options],
        cwd=project,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = reader.stdout.readline()
    reader.stdout.close()
    stderr = reader.stderr.read()
    assert reader.wait(timeout=120) == code
    assert first == "many.py:2:6: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN\n"
    assert stderr == ""


def test_stdin(project):
    done = process(console_script(), "check", "-", "--stdin-filename", "piped.py", cwd=project, stdin=BAD)
    assert done.returncode == 1
    assert done.stdout == FINDING.replace("bad.py", "piped.py") + SUMMARY


def test_help_lists_the_shared_options(project):
    result = run("check", "--help")
    assert result.exit_code == 0
    for option in (
        "--select",
        "--extend-select",
        "--ignore",
        "--format",
        "--output-file",
        "--fail-on",
        "--exit-zero",
        "--statistics",
        "--quiet",
        "--no-color",
        "--config",
    ):
        assert option in result.stdout, option
    assert "--output-format" not in result.stdout  # the hidden ruff-compatible alias
    assert textwrap.dedent(result.stdout).startswith("Usage: main check [OPTIONS] [PATHS]...")


# --- clean --------------------------------------------------------------------------------


def test_clean_removes_the_cache(project):
    assert run("check", "bad.py").exit_code == 1
    assert (project / ".nanlint_cache").is_dir()
    result = run("clean")
    assert (result.exit_code, result.stdout) == (0, "Removed .nanlint_cache.\n")
    assert not (project / ".nanlint_cache").exists()
    assert run("clean").stdout == "No cache at .nanlint_cache.\n"


# --- paths as ruff and GitHub want them ----------------------------------------------------------


@pytest.mark.parametrize("given", [".", "./", "./src/..", "{cwd}"])
def test_paths_are_relative_to_the_working_directory_without_dot_slash(project, given):
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text(BAD)
    given = given.format(cwd=project)
    text = run("check", given, "-q").stdout
    assert text.splitlines() == [FINDING.strip(), FINDING.strip().replace("bad.py", "src/train.py")]
    assert [f["path"] for f in json.loads(run("check", given, "--format", "json").stdout)] == [
        "bad.py",
        "src/train.py",
    ]
    github = run("check", given, "--format", "github").stdout
    assert re.findall(r"^::error file=([^,]+),", github, re.M) == ["bad.py", "src/train.py"]
    sarif = json.loads(run("check", given, "--format", "sarif").stdout)
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]]
    assert uris == ["bad.py", "src/train.py"]
    assert re.findall(r"^(\S+):\d+:\d+: NAN112", run("check", given, "--format", "full").stdout, re.M) == [
        "bad.py",
        "src/train.py",
    ]


def test_paths_outside_the_working_directory_are_reported_as_given(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "far.py").write_text(BAD)
    result = run("check", str(elsewhere / "." / "far.py"), "-q")
    assert result.stdout == FINDING.replace("bad.py", str(elsewhere / "far.py"))


def test_stdin_filename_is_reported_relative_too(project):
    result = CliRunner().invoke(main, ["check", "-", "--stdin-filename", f"{project}/pkg/./mod.py", "-q"], input=BAD)
    assert result.stdout == FINDING.replace("bad.py", "pkg/mod.py")


# --- output a person reads -------------------------------------------------------------------------


def test_full_format_shows_the_source_line_and_a_caret(project):
    result = run("check", "bad.py", "--output-format", "full")
    assert result.exit_code == 1
    assert result.stdout == (
        FINDING + "  |\n"
        "4 | def has_nan(loss):\n"
        "5 |     return loss == np.nan\n"
        "  |            ^^^^^^^^^^^^^^ NAN112\n"
        "  |\n"
        "  = help: use np.isnan()\n"
        "\n" + SUMMARY
    )
    assert run("check", "bad.py", "--format", "full").stdout == result.stdout


def test_full_format_of_a_span_over_lines_and_of_stdin(project):
    source = "import numpy as np\n\n\nok = (loss ==\n      np.nan)\nz = 1\n"
    expected = (
        "piped.py:4:7: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN\n"
        "  |\n"
        "4 | ok = (loss ==\n"
        "  |       ^^^^^^^\n"
        "5 |       np.nan)\n"
        "  |       ^^^^^^ NAN112\n"
        "6 | z = 1\n"
        "  |\n"
        "  = help: use np.isnan()\n"
        "\n"
    )
    result = CliRunner().invoke(
        main, ["check", "-", "--stdin-filename", "piped.py", "--format", "full", "--no-cache"], input=source
    )
    assert result.stdout.startswith(expected)


def test_full_format_shows_a_notebook_cell(project):
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": [s]}
        for s in ("import numpy as np\n", "x = 1\nbad = loss == np.nan\n")
    ]
    (project / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = run("check", "nb.ipynb", "--format", "full", "-q")
    assert result.stdout.splitlines()[1:6] == [
        "  |",
        "1 | x = 1",
        "2 | bad = loss == np.nan",
        "  |       ^^^^^^^^^^^^^^ NAN112",
        "  |",
    ]


def test_statistics_in_json(project):
    (project / "more.py").write_text(BAD + "\n\nassert 1.0 != np.nan\n")
    result = run("check", "bad.py", "more.py", "--statistics", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{"code": "NAN112", "name": "nan-comparison", "count": 3, "fixable": True}]


def test_diff_with_nothing_to_fix_says_so_and_exits_0(project):
    result = run("check", "clean.py", "bad.py", "--diff", "--ignore", "NAN112")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No errors would be fixed.\n")


def test_diff_with_unfixable_findings_only_exits_0(project):
    (project / "unfixable.py").write_text("import torch\n\n\ndef var(x):\n    return (x**2).mean() - x.mean() ** 2\n")
    assert run("check", "unfixable.py").exit_code == 1
    result = run("check", "unfixable.py", "--diff")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No errors would be fixed.\n")


def test_diff_mentions_fixes_that_need_unsafe_fixes(project):
    (project / "unsafe.py").write_text(
        "import torch\n\n\ndef f(logits):\n    probs = torch.softmax(logits, -1)\n    return torch.log(probs)\n"
    )
    result = run("check", "unsafe.py", "--diff")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No errors would be fixed (1 fix available with `--unsafe-fixes`).\n"
    assert run("check", "unsafe.py", "--diff", "--unsafe-fixes").exit_code == 1


def test_diff_with_a_fix_prints_it_and_exits_1(project):
    result = run("check", "bad.py", "--diff")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a/bad.py\n+++ b/bad.py\n")
    assert result.stderr == "Would fix 1 finding.\n"
    assert run("check", "bad.py", "--diff", "--exit-zero").exit_code == 0


def test_no_files_is_not_all_checks_passed(project):
    (project / "empty").mkdir()
    result = run("check", "empty")
    assert (result.exit_code, result.stdout) == (0, "No Python files found.\n")


def test_writing_a_baseline_is_not_all_checks_passed(project):
    result = run("check", "bad.py", "--write-baseline", "baseline.json")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "Wrote 1 finding to the baseline baseline.json.\n"


def test_findings_hidden_by_the_baseline_are_counted(project):
    run("check", ".", "--write-baseline", "baseline.json")
    (project / "new.py").write_text(BAD)
    result = run("check", ".", "--baseline", "baseline.json")
    assert result.exit_code == 1
    assert result.stdout == FINDING.replace("bad.py", "new.py") + SUMMARY + "1 finding hidden by the baseline.\n"
    (project / "new.py").unlink()
    passed = run("check", ".", "--baseline", "baseline.json")
    assert (passed.exit_code, passed.stdout) == (0, "All checks passed!\n1 finding hidden by the baseline.\n")


def test_a_baseline_holds_paths_relative_to_itself(project, monkeypatch):
    """Wherever nanlint runs from, and whichever configuration applies, the baseline matches its findings."""
    run("check", ".", "--write-baseline", "baseline.json")
    assert json.loads((project / "baseline.json").read_text())["findings"][0]["path"] == "bad.py"
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    result = run("check", "..", "--baseline", "../baseline.json")
    assert (result.exit_code, result.stdout) == (0, "All checks passed!\n1 finding hidden by the baseline.\n")


def test_check_help_offers_only_the_formats_check_accepts():
    check_help = " ".join(run("check", "--help").stdout.split())
    assert "--format [text|full|json|github|sarif]" in check_help
    graph_help = " ".join(run("graph", "--help").stdout.split())
    assert "--format [text|json|github|sarif|html]" in graph_help
    one_line_error(run("check", "--format", "html"), r"Invalid value for '--format': 'html' is not one of .*")


# --- --show-settings, --show-files -----------------------------------------------------------------


def test_show_files_lists_what_would_be_checked(project):
    (project / "pkg").mkdir()
    (project / "pkg" / "mod.py").write_text(CLEAN)
    (project / "build").mkdir()
    (project / "build" / "gen.py").write_text(CLEAN)
    (project / "notes.txt").write_text("")
    result = run("check", "--show-files")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "bad.py\nclean.py\npkg/mod.py\n", "")
    assert run("check", "pkg", "bad.py", "--show-files").stdout == "bad.py\npkg/mod.py\n"
    missing = run("check", "missing", "--show-files")
    assert (missing.exit_code, missing.stderr) == (2, "nanlint: error: missing: no such file or directory\n")


def test_show_settings_prints_the_file_s_own_settings(project):
    (project / "pyproject.toml").write_text('[tool.nanlint]\nignore = ["NAN113"]\n')
    (project / "pkg").mkdir()
    (project / "pkg" / "nanlint.toml").write_text('fail-on = "error"\n[rules.NAN304]\nmax-std = 2.5\n')
    (project / "pkg" / "mod.py").write_text(CLEAN)
    result = run("check", "--show-settings", "pkg/mod.py", "--select", "NAN1")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"# Settings for pkg/mod.py (from {project / 'pkg' / 'nanlint.toml'})"
    for line in ('select = ["NAN1"]', "ignore = []", 'fail-on = "error"', "[rules.NAN304]", "max-std = 2.5"):
        assert line in lines, line
    top = run("check", "--show-settings", "bad.py").stdout.splitlines()
    assert top[0] == f"# Settings for bad.py (from {project / 'pyproject.toml'})" and 'ignore = ["NAN113"]' in top


# --- configuration per file --------------------------------------------------------------------------


@pytest.fixture
def monorepo(project):
    """Two packages with their own configuration, and a root one: the nearest applies to each file."""
    (project / "pyproject.toml").write_text('[tool.nanlint]\nseverity = {NAN112 = "warning"}\n')
    for package, table in (("quiet", 'ignore = ["NAN112"]'), ("strict", 'fail-on = "info"')):
        (project / package).mkdir()
        (project / package / "pyproject.toml").write_text(f"[project]\nname = '{package}'\n\n[tool.nanlint]\n{table}\n")
        (project / package / "mod.py").write_text(BAD)
    return project


def test_each_file_is_checked_with_its_nearest_configuration(monorepo):
    result = run("check", "quiet", "strict", "bad.py", "--format", "json")
    found = [(f["path"], f["severity"]) for f in json.loads(result.stdout)]
    # quiet/ ignores NAN112; strict/ has its own table (no severity override); the root demotes it
    assert found == [("bad.py", "warning"), ("strict/mod.py", "error")]


def test_the_order_of_the_paths_does_not_matter(monorepo):
    forward = run("check", "quiet", "strict", "bad.py")
    backward = run("check", "bad.py", "strict", "quiet")
    assert (forward.exit_code, forward.stdout) == (backward.exit_code, backward.stdout)
    assert forward.stdout.count("NAN112") == 2


def test_fail_on_is_each_file_s_own(monorepo):
    (monorepo / "pyproject.toml").write_text('[tool.nanlint]\nseverity = {NAN112 = "info"}\n')
    (monorepo / "strict" / "pyproject.toml").write_text(
        '[tool.nanlint]\nfail-on = "info"\nseverity = {NAN112 = "info"}\n'
    )
    assert run("check", "bad.py").exit_code == 0  # info, and the root fails on warnings
    assert run("check", "strict").exit_code == 1  # info, and strict/ fails on info
    assert run("check", "bad.py", "strict").exit_code == 1  # each file by its own fail-on, whatever comes first
    assert run("check", "bad.py", "strict", "--fail-on", "warning").exit_code == 0  # the command line wins


def test_explicit_config_applies_to_every_file(monorepo):
    (monorepo / "ci.toml").write_text("select = ['NAN112']\n")
    result = run("check", ".", "--config", "ci.toml", "-q")
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["bad.py", "quiet/mod.py", "strict/mod.py"]


def test_a_package_s_excludes_apply_inside_it(monorepo):
    (monorepo / "strict" / "pyproject.toml").write_text('[tool.nanlint]\nextend-exclude = ["mod.py"]\n')
    assert run("check", ".", "--show-files").stdout == "bad.py\nclean.py\nquiet/mod.py\n"


def test_old_spellings_are_read_with_a_deprecation_notice(project):
    (project / "pyproject.toml").write_text(
        "[tool.nanlint]\nextend_select = ['NAN901']\n[tool.nanlint.severity]\nNAN112 = 'info'\n"
    )
    result = run("check", "bad.py")
    assert result.exit_code == 0  # the severity applies: the file was read
    assert result.stderr == (
        f"nanlint: warning: {project / 'pyproject.toml'}: 'extend_select' is deprecated; use 'extend-select'\n"
    )
