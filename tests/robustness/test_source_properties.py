"""Property-based tests of the source pass: never crash, positions inside the file, fixes parse and settle.

Inputs are random text and realistic ML code (every rule page's examples plus the
bundled example) with random edits: deleted spans, duplicated or swapped lines, and
inserted tokens that ML code is full of.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from nanlint import catalog
from nanlint.config import Settings
from nanlint.source.engine import fix_source, lint_text

ALL = Settings(select=("ALL",))
ROOT = Path(__file__).resolve().parents[2]

SNIPPETS = [
    block for page in catalog.load().values() for title in ("Example", "Use instead") for block in page.examples(title)
]
SNIPPETS += [p.read_text() for p in sorted((ROOT / "fixtures").rglob("*.py")) if p.stat().st_size < 20_000]
SNIPPETS += [
    "import torch\nimport torch.nn.functional as F\n\ndef loss(logits, y, mask):\n"
    "    p = torch.softmax(logits, -1)\n    nll = -torch.log(p.gather(1, y[:, None]))\n"
    "    return (nll * mask).sum() / mask.sum()\n"
]
TOKENS = [
    "np.log(",
    "torch.exp(",
    ")",
    "(",
    " / ",
    ".sum()",
    " + 1e-8",
    "float('nan')",
    "== np.nan",
    "\n",
    "    ",
    "lambda x: ",
    "-1e9",
    "softmax(x, -1)",
    "**2",
    "[",
    "]",
    ":",
    ",",
    "if x > 0 else",
    "\\",
    "'",
    '"',
]


def assert_positions_inside(source: str, findings) -> None:
    lines = source.splitlines() or [""]
    for finding in findings:
        loc = finding.location
        assert 1 <= loc.line <= loc.end_line <= max(len(lines), 1) + 1, finding
        if finding.code != "NAN900":
            assert 1 <= loc.column <= len(lines[loc.line - 1]) + 1, finding
            assert loc.end_column <= len(lines[loc.end_line - 1]) + 1, finding


@st.composite
def mutated_ml_code(draw) -> str:
    lines = draw(st.sampled_from(SNIPPETS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "cut"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "insert":
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + draw(st.sampled_from(TOKENS)) + lines[index][column:]
        else:
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + "\n"
    return "".join(lines)


@given(st.text(max_size=400))
def test_random_text_never_crashes(source):
    assert_positions_inside(source, lint_text(source, settings=ALL))


@given(mutated_ml_code())
def test_mutated_ml_code_never_crashes_and_positions_are_inside(source):
    assert_positions_inside(source, lint_text(source, settings=ALL))


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError):
        return False


@given(mutated_ml_code())
def test_fixes_parse_and_a_second_fix_changes_nothing(source):
    if not _parses(source):
        return
    first = fix_source(source, "example.py", ALL, unsafe=True)
    assert _parses(first.text), first.text
    second = fix_source(first.text, "example.py", ALL, unsafe=True)
    assert second.text == first.text
