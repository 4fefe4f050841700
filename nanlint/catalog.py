"""The rule catalog: one Markdown page per code in `rules/`, shipped inside the wheel.

A page starts with a fixed header that this module reads:

    # NAN101 naive-softmax                      <- "(not implemented yet)" appended when planned

    One-line summary of what the rule flags.

    - Severity: error
    - Fix: safe | unsafe | none
    - Pass: source | graph

followed by the sections What it does / Why it makes NaN / Example / Use instead /
Options / References.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from nanlint.findings import Severity

PLANNED_MARK = "(not implemented yet)"
SECTIONS = ("What it does", "Why it makes NaN", "Example", "Use instead", "Options", "References")

_TITLE = re.compile(r"^# (NAN\d{3}) ([a-z0-9-]+)(?: (\(not implemented yet\)))?\s*$")
_FIELD = re.compile(r"^- (Severity|Fix|Pass): (\S+)\s*$")
_CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)

# Codes folded into another rule, as ruff redirects them: selecting, ignoring or suppressing the old
# code means the new one. NAN306 (uninitialised parameter) became part of NAN304: memory left
# uninitialised is an initialisation with no bound on its scale.
REDIRECTS = {"NAN306": "NAN304"}


def current_code(code: str) -> str:
    """The code a possibly retired code now reports as (upper case)."""
    code = code.upper()
    return REDIRECTS.get(code, code)


@dataclass(frozen=True)
class RulePage:
    code: str
    name: str
    summary: str
    severity: Severity
    fix: str
    pass_: str
    implemented: bool
    text: str

    @property
    def status(self) -> str:
        return "implemented" if self.implemented else "planned"

    def section(self, title: str) -> str:
        """The Markdown body of one `## title` section ('' when absent)."""
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", self.text, re.S | re.M)
        return match.group(1).strip() if match else ""

    def examples(self, title: str) -> list[str]:
        """The ```python blocks of a section, e.g. "Example" or "Use instead"."""
        return _CODE_BLOCK.findall(self.section(title))


class CatalogError(ValueError):
    pass


def rules_dir() -> Path:
    """The installed copy inside the package, or the checkout's top-level rules/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise CatalogError("rule catalog not found (expected nanlint/_rules or rules/)")


def parse_page(text: str, source: str = "<page>") -> RulePage:
    lines = text.splitlines()
    title = _TITLE.match(lines[0]) if lines else None
    if not title:
        raise CatalogError(f"{source}: first line must be '# NANxxx rule-name'")
    summary, fields = _read_header(lines[1:], source)
    missing = {"Severity", "Fix", "Pass"} - fields.keys()
    if missing:
        raise CatalogError(f"{source}: header lacks {', '.join(sorted(missing))}")
    return RulePage(
        code=title.group(1),
        name=title.group(2),
        summary=summary,
        severity=Severity.parse(fields["Severity"]),
        fix=fields["Fix"],
        pass_=fields["Pass"],
        implemented=title.group(3) is None,
        text=text,
    )


def _read_header(lines: list[str], source: str) -> tuple[str, dict[str, str]]:
    summary_lines: list[str] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith("## "):
            break
        field = _FIELD.match(line)
        if field:
            fields[field.group(1)] = field.group(2)
        elif line.strip() and not fields:
            summary_lines.append(line.strip())
    if not summary_lines:
        raise CatalogError(f"{source}: no summary paragraph after the title")
    return " ".join(summary_lines), fields


@functools.lru_cache(maxsize=1)
def load() -> dict[str, RulePage]:
    pages = {}
    for path in sorted(rules_dir().glob("NAN*.md")):
        page = parse_page(path.read_text(encoding="utf-8"), str(path))
        if page.code != path.stem:
            raise CatalogError(f"{path}: title code {page.code} does not match the file name")
        pages[page.code] = page
    return pages


def get(code: str) -> RulePage:
    try:
        return load()[current_code(code)]
    except KeyError:
        raise CatalogError(f"unknown rule code {code!r}") from None


def name_of(code: str) -> str:
    return get(code).name


def matches(code: str, patterns) -> bool:
    """True when a code is selected by any pattern: a full code, a prefix ('NAN1'), or 'ALL'."""
    return any(p == "ALL" or code.startswith(p) for p in patterns)


def check_selector(selector: str) -> str:
    """A selector in canonical form (upper case), or CatalogError when it selects no rule at all.

    A typo such as NAN1O4 would otherwise silently select nothing.
    """
    canonical = current_code(selector.strip())
    if canonical == "ALL" or (canonical.startswith("NAN") and any(code.startswith(canonical) for code in load())):
        return canonical
    raise CatalogError(f"{selector!r} matches no rule code (use a code such as NAN104, a prefix such as NAN1, or ALL)")


# --- the rule table in README.md --------------------------------------------------------

TABLE_BEGIN = "<!-- rules:begin (generated from rules/ by `python -m nanlint.catalog README.md`) -->"
TABLE_END = "<!-- rules:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(pages=None) -> str:
    """The rule table: code, name, summary, severity, fix, status; one row per page."""
    pages = load().values() if pages is None else pages
    rows = ["| code | name | summary | severity | fix | status |", "|---|---|---|---|---|---|"]
    rows += [f"| {p.code} | {p.name} | {_cell(p.summary)} | {p.severity.name} | {p.fix} | {p.status} |" for p in pages]
    return "\n".join(rows) + "\n"


def with_table(readme: str, pages=None) -> str:
    """README text with the generated table between the markers (CatalogError when they are missing)."""
    begin, end = readme.find(TABLE_BEGIN), readme.find(TABLE_END)
    if begin < 0 or end < begin:
        raise CatalogError(f"README lacks the markers {TABLE_BEGIN!r} ... {TABLE_END!r}")
    head = readme[: begin + len(TABLE_BEGIN)]
    return f"{head}\n{markdown_table(pages)}{readme[end:]}"


def main(argv: list[str] | None = None) -> int:
    """`python -m nanlint.catalog README.md`: rewrite the rule table in place (`--check`: only compare)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if a != "--check"] or ["README.md"]
    stale = []
    for name in paths:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        updated = with_table(text)
        if updated != text:
            stale.append(name)
            if not check:
                path.write_text(updated, encoding="utf-8")
    if check and stale:
        print(f"rule table out of date in {', '.join(stale)}: run python -m nanlint.catalog {' '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
