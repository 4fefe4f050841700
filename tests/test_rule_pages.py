"""Every rule page is well formed, and each implemented source rule's examples behave as the page says."""

from __future__ import annotations

import re

import pytest

from nanlint import catalog
from nanlint.catalog import SECTIONS
from nanlint.source.rules import ALL_RULES
from tests.helpers import codes

DESIGN_CODES = [
    "NAN101",
    "NAN102",
    "NAN103",
    "NAN104",
    "NAN105",
    "NAN106",
    "NAN107",
    "NAN108",
    "NAN109",
    "NAN110",
    "NAN111",
    "NAN112",
    "NAN113",
    "NAN201",
    "NAN202",
    "NAN203",
    "NAN301",
    "NAN302",
    "NAN303",
    "NAN304",
    "NAN305",
    "NAN501",
    "NAN502",
    "NAN503",
    "NAN504",
    "NAN505",
    "NAN506",
    "NAN601",
    "NAN602",
    "NAN603",
    "NAN701",
    "NAN702",
    "NAN799",
    "NAN900",
    "NAN901",
]
SOURCE_RULES = {rule.code: rule for rule in ALL_RULES}
PAGES = catalog.load()


def test_catalog_has_every_design_code():
    assert sorted(PAGES) == DESIGN_CODES


@pytest.mark.parametrize("code", DESIGN_CODES)
def test_page_has_every_section_in_order(code):
    text = PAGES[code].text
    positions = [text.find(f"\n## {title}\n") for title in SECTIONS]
    assert all(p > 0 for p in positions), f"{code}: missing sections"
    assert positions == sorted(positions), f"{code}: sections out of order"


@pytest.mark.parametrize("code", sorted(SOURCE_RULES))
def test_implemented_source_rule_page_says_so(code):
    assert PAGES[code].implemented, f"rules/{code}.md still says 'not implemented yet'"


@pytest.mark.parametrize(
    "code",
    [c for c in DESIGN_CODES if PAGES[c].implemented and PAGES[c].pass_ == "source" and c not in ("NAN900", "NAN901")],
)
def test_implemented_page_has_a_rule(code):
    assert code in SOURCE_RULES, f"rules/{code}.md says implemented but no source rule has that code"


def _examples(section: str):
    for code in sorted(SOURCE_RULES):
        for index, example in enumerate(PAGES[code].examples(section)):
            yield pytest.param(code, example, id=f"{code}-{index}")


@pytest.mark.parametrize("code,example", list(_examples("Example")))
def test_example_fires_exactly_its_code(code, example):
    found = codes(example)
    assert found and set(found) == {code}, f"{code} example gave {found}"


@pytest.mark.parametrize("code,example", list(_examples("Use instead")))
def test_use_instead_is_clean(code, example):
    assert codes(example) == []


@pytest.mark.parametrize("code", sorted(SOURCE_RULES))
def test_implemented_page_has_examples(code):
    assert PAGES[code].examples("Example"), f"{code}: no ```python block under Example"
    assert PAGES[code].examples("Use instead"), f"{code}: no ```python block under Use instead"


def test_page_file_names_match_titles():
    for path in catalog.rules_dir().glob("*.md"):
        assert re.fullmatch(r"NAN\d{3}", path.stem), path


def test_unused_suppression_page_examples():
    """NAN901 is no rule class (the engine reports it) and is opt-in: its examples run with it selected."""
    (example,) = PAGES["NAN901"].examples("Example")
    (fixed,) = PAGES["NAN901"].examples("Use instead")
    assert codes(example, ("ALL", "NAN901")) == ["NAN901"]
    assert codes(fixed, ("ALL", "NAN901")) == []
