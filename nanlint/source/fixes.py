"""Applying fixes to source text: non-overlapping edits, re-linted until nothing more is fixable."""

from __future__ import annotations

from dataclasses import dataclass

from nanlint.config import Settings
from nanlint.findings import Edit, Finding

MAX_ROUNDS = 10  # each round re-lints; fixes that keep producing fixes stop here


@dataclass
class FixOutcome:
    text: str
    fixed: list[Finding]  # the findings whose fixes were applied, over all rounds
    remaining: list[Finding]  # findings after the last round


def applicable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and (finding.fix.applicability == "safe" or unsafe)


def _offsets(text: str) -> list[int]:
    """Offset of the start of each 1-based line (index 0 unused)."""
    starts = [0, 0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply edits (1-based, end exclusive) that do not overlap; later ones first so offsets hold."""
    starts = _offsets(text)

    def offset(line: int, column: int) -> int:
        return starts[line] + column - 1

    spans = sorted(((offset(e.line, e.column), offset(e.end_line, e.end_column), e.content) for e in edits),
                   reverse=True)
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def select_fixes(findings: list[Finding], unsafe: bool) -> list[Finding]:
    """The fixable findings whose edits do not overlap an earlier chosen fix's edits."""
    chosen: list[Finding] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for finding in findings:
        if not applicable(finding, unsafe):
            continue
        spans = [((e.line, e.column), (e.end_line, e.end_column)) for e in finding.fix.edits]
        if any(a < d and c < b for a, b in spans for c, d in taken):
            continue
        chosen.append(finding)
        taken.extend(spans)
    return chosen


def fix_text(text: str, lint, unsafe: bool = False) -> FixOutcome:
    """Fix `text` with `lint(text) -> findings` until no applicable fix remains."""
    fixed: list[Finding] = []
    findings = lint(text)
    for _ in range(MAX_ROUNDS):
        chosen = select_fixes(findings, unsafe)
        if not chosen:
            break
        text = apply_edits(text, [e for f in chosen for e in f.fix.edits])
        fixed.extend(chosen)
        findings = lint(text)
    return FixOutcome(text, fixed, findings)


def fix_source(text: str, path: str, settings: Settings, unsafe: bool = False) -> FixOutcome:
    """Fix a Python source string (tests use this; the CLI goes through the same function)."""
    from nanlint.source.engine import lint_text

    return fix_text(text, lambda current: lint_text(current, path, settings), unsafe)
