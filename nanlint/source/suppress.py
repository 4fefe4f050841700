"""Suppression comments: `# nanlint: ignore[CODE,...]`, `# noqa: CODE`, bare forms, `ignore-file`.

Comments are found with a line regex (no tokenizer pass): the markers are specific
enough that a match inside a string literal is not worth a second scan of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nanlint.catalog import current_code

_MARKER = re.compile(
    r"#\s*(?:nanlint:\s*(?P<kind>ignore-file|ignore)(?:\[(?P<codes>[^\]]*)\])?"
    r"|(?P<noqa>noqa)(?::\s*(?P<noqa_codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?)",
    re.IGNORECASE,
)
_CODE = re.compile(r"NAN\d{3}", re.IGNORECASE)


@dataclass
class Suppression:
    line: int
    column: int  # 1-based column of the '#'
    end_column: int
    codes: frozenset[str] | None  # None: every code on the line
    reportable: bool  # a bare noqa comment may belong to another linter: never called unused
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


@dataclass
class Suppressions:
    by_line: dict[int, Suppression]
    whole_file: bool = False

    def suppresses(self, code: str, line: int) -> bool:
        suppression = self.by_line.get(line)
        if suppression is None or not suppression.covers(code):
            return False
        suppression.used.add(code)
        return True

    def unused(self) -> list[tuple[Suppression, str | None]]:
        """(suppression, unused code) pairs; code None for a bare comment that silenced nothing."""
        found: list[tuple[Suppression, str | None]] = []
        for suppression in self.by_line.values():
            if not suppression.reportable:
                continue
            if suppression.codes is None:
                if not suppression.used:
                    found.append((suppression, None))
            else:
                found.extend((suppression, code) for code in sorted(suppression.codes - suppression.used))
        return found


def scan(text: str) -> Suppressions:
    by_line: dict[int, Suppression] = {}
    whole_file = False
    if "nanlint" not in text and "noqa" not in text:
        return Suppressions(by_line)
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        match = _MARKER.search(line)
        if match is None:
            continue
        if match.group("kind") and match.group("kind").lower() == "ignore-file":
            whole_file = whole_file or line.lstrip().startswith("#")
            continue
        suppression = _parse(match, number)
        if suppression is not None:
            by_line[number] = suppression
    return Suppressions(by_line, whole_file)


def _parse(match: re.Match, line: int) -> Suppression | None:
    column, end = match.start() + 1, match.end() + 1
    if match.group("noqa"):
        listed = match.group("noqa_codes")
        if listed is None:
            return Suppression(line, column, end, None, reportable=False)
        codes = frozenset(current_code(c) for c in _CODE.findall(listed))
        return Suppression(line, column, end, codes, reportable=True) if codes else None
    listed = match.group("codes")
    named = None if listed is None else frozenset(current_code(c) for c in _CODE.findall(listed))
    return Suppression(line, column, end, named, reportable=True)
