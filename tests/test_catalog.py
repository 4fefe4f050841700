"""The catalog reader, rule selectors, and the README that is generated from / checked against it."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint import catalog, config
from nanlint.catalog import CatalogError, check_selector, markdown_table, parse_page, with_table
from nanlint.cli import main
from nanlint.findings import Severity
from tests.report.samples import page

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

GOOD_PAGE = """\
# NAN555 made-up-rule (not implemented yet)

First line of the summary
and its second line.

- Severity: info
- Fix: unsafe
- Pass: graph

## What it does

Nothing.
"""


def test_parse_page():
    parsed = parse_page(GOOD_PAGE)
    assert (parsed.code, parsed.name, parsed.summary) == (
        "NAN555",
        "made-up-rule",
        "First line of the summary and its second line.",
    )
    assert (parsed.severity, parsed.fix, parsed.pass_) == (Severity.info, "unsafe", "graph")
    assert not parsed.implemented and parsed.status == "planned"
    assert parsed.section("What it does") == "Nothing."
    assert parsed.section("Options") == ""
    implemented = parse_page(GOOD_PAGE.replace(" (not implemented yet)", ""))
    assert implemented.implemented and implemented.status == "implemented"


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "first line must be '# NANxxx rule-name'"),
        ("# NAN1 short\n", "first line must be '# NANxxx rule-name'"),
        ("# NAN555 Bad_Name\n", "first line must be '# NANxxx rule-name'"),
        ("# NAN555 made-up-rule\n\n- Severity: info\n", "no summary paragraph after the title"),
        ("# NAN555 made-up-rule\n\nSummary.\n\n- Severity: info\n- Pass: graph\n", "header lacks Fix"),
    ],
)
def test_malformed_pages(text, message):
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_page(text, "rules/NAN555.md")


def test_bad_severity_in_a_page():
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        parse_page(GOOD_PAGE.replace("Severity: info", "Severity: fatal"))


def test_get_and_name_of():
    assert catalog.get("nan112").code == "NAN112"
    assert catalog.name_of("NAN112") == "nan-comparison"
    with pytest.raises(CatalogError, match="unknown rule code 'NAN999'"):
        catalog.get("NAN999")
    assert catalog.get("NAN306").code == "NAN304"
    assert catalog.current_code("nan306") == "NAN304" and catalog.current_code("NAN105") == "NAN105"


@pytest.mark.parametrize(
    "selector,canonical",
    [
        ("NAN112", "NAN112"),
        ("nan112", "NAN112"),
        (" NAN1 ", "NAN1"),
        ("NAN", "NAN"),
        ("all", "ALL"),
        ("NAN90", "NAN90"),
        ("nan306", "NAN304"),  # a retired code redirects to the rule that took it over
    ],
)
def test_selectors(selector, canonical):
    assert check_selector(selector) == canonical


@pytest.mark.parametrize("selector", ["NAN999", "NAN8", "NAN1121", "E501", "N", "", "NAN1O4"])
def test_selectors_that_match_nothing(selector):
    with pytest.raises(CatalogError, match="matches no rule code"):
        check_selector(selector)


def test_matches():
    assert catalog.matches("NAN104", ["NAN1"]) and catalog.matches("NAN104", ["ALL"])
    assert not catalog.matches("NAN104", ["NAN2", "NAN105"])


# --- the README's rule table -------------------------------------------------------------------


def test_markdown_table():
    pages = [
        dataclasses.replace(page("NAN112", "nan-comparison", "error"), summary="a | b"),
        page("NAN113", "log1p-expm1", "info", implemented=False),
    ]
    assert markdown_table(pages) == (
        "| code | name | summary | severity | fix | status |\n"
        "|---|---|---|---|---|---|\n"
        "| NAN112 | nan-comparison | a \\| b | error | none | implemented |\n"
        "| NAN113 | log1p-expm1 | Summary of log1p-expm1. | info | none | planned |\n"
    )


def test_with_table_replaces_only_between_the_markers():
    readme = f"intro\n{catalog.TABLE_BEGIN}\nstale\n{catalog.TABLE_END}\noutro\n"
    pages = [page("NAN112", "nan-comparison", "error")]
    assert (
        with_table(readme, pages)
        == f"intro\n{catalog.TABLE_BEGIN}\n{markdown_table(pages)}{catalog.TABLE_END}\noutro\n"
    )
    assert with_table(with_table(readme, pages), pages) == with_table(readme, pages)
    with pytest.raises(CatalogError, match="README lacks the markers"):
        with_table("no markers\n")


def test_readme_rule_table_is_up_to_date():
    text = README.read_text(encoding="utf-8")
    assert with_table(text) == text, "README's rule table is stale: run `python -m nanlint.catalog README.md`"


def test_readme_table_lists_every_code_with_its_status():
    text = README.read_text(encoding="utf-8")
    rows = re.findall(r"^\| (NAN\d{3}) \| ([a-z0-9-]+) \|.*\| (implemented|planned) \|$", text, re.M)
    assert [(code, name, status) for code, name, status in rows] == [
        (p.code, p.name, p.status) for p in catalog.load().values()
    ]


def test_generator_command(tmp_path):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{catalog.TABLE_BEGIN}\n{catalog.TABLE_END}\n", encoding="utf-8")
    check = subprocess.run(
        [sys.executable, "-m", "nanlint.catalog", "--check", str(stale)], capture_output=True, text=True, cwd=ROOT
    )
    assert check.returncode == 1 and "rule table out of date" in check.stdout
    assert catalog.main([str(stale)]) == 0
    assert with_table(stale.read_text(encoding="utf-8")) == stale.read_text(encoding="utf-8")
    assert catalog.main(["--check", str(stale)]) == 0


# --- the README keeps its promises --------------------------------------------------------------


def quick_start() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"^## Quick start\n\n```sh\n(.*?)```", text, re.S | re.M)
    assert block, "README has no ```sh block under ## Quick start"
    return block.group(1).splitlines()


def test_quick_start_is_exactly_two_commands():
    # .ci/run executes the second line: CI runs what users are told to run.
    assert quick_start() == [
        "python3 -m pip install . && nanlint check fixtures/example/",
        "python3 -m pip install '.[test]' && python3 -m pytest",
    ]


def test_ci_runs_the_readme_test_command():
    extract = subprocess.run(
        [
            "bash",
            "-c",
            "awk '/^## Quick start/{q=1} q&&/^```sh/{b=1;next} b&&/^```/{exit} b{print}' README.md | sed -n 2p",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert extract.stdout.strip() == quick_start()[1]
    assert "awk '/^## Quick start/" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_example_output_is_what_the_example_gives():
    text = README.read_text(encoding="utf-8")
    shown = re.search(r"^(fixtures/example/train\.py:\d+:\d+: NAN112 .*)$", text, re.M).group(1)
    result = CliRunner().invoke(
        main, ["check", str(ROOT / "fixtures" / "example"), "--select", "NAN112", "--no-cache", "-q"]
    )
    assert result.exit_code == 1
    assert [line.replace(str(ROOT) + "/", "") for line in result.stdout.splitlines()] == [shown]


def test_readme_documents_every_config_key():
    text = README.read_text(encoding="utf-8")
    keys = [
        *(k for k in config.TOP_KEYS if k not in ("graph", "rules")),
        "rules.NANxxx",
        *(f"graph.{k}" for k in config.GRAPH_KEYS),
    ]
    missing = [key for key in keys if f"| `{key}` |" not in text]
    assert missing == [], f"README's configuration table lacks {missing}"


def test_readme_documents_the_shared_options():
    text = README.read_text(encoding="utf-8")
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
        assert f"`{option}" in text or f", {option}" in text, option


def test_readme_mentions_every_suppression_form():
    text = README.read_text(encoding="utf-8")
    for form in ("# nanlint: ignore[NAN104]", "# noqa: NAN105", "# nanlint: ignore-file"):
        assert form in text
