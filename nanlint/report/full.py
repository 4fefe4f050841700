"""ruff's `full` output: each finding's line, then its source lines with the span underlined, and its fix.

    train.py:5:12: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN
      |
    3 |
    4 | def has_nan(loss):
    5 |     return loss == np.nan
      |            ^^^^^^^^^^^^^^ NAN112
      |
      = help: use np.isnan()

Up to two lines of context on either side; a notebook finding shows the lines of its cell. A file
that cannot be read again (deleted meanwhile, or a graph finding) shows the finding's line alone.
"""

from __future__ import annotations

from pathlib import Path

from nanlint.findings import SourceLocation
from nanlint.report import text
from nanlint.report.run import ReportOptions, Run

CONTEXT = 2
MAX_SPAN_LINES = 8  # a longer span shows its first and last lines


class SourceLines:
    """Each file's lines, read once (per notebook cell); text read from stdin comes with the run."""

    def __init__(self, given: dict[str, str]) -> None:
        self._given = given
        self._files: dict[str, dict[int | None, list[str]]] = {}

    def of(self, location: SourceLocation) -> list[str]:
        if location.path not in self._files:
            self._files[location.path] = self._read(location.path)
        return self._files[location.path].get(location.cell, [])

    def _read(self, path: str) -> dict[int | None, list[str]]:
        from nanlint.source.fixes import lines_by_cell

        try:
            data = self._given[path].encode("utf-8") if path in self._given else Path(path).read_bytes()
            return lines_by_cell(path, data)
        except (OSError, ValueError, KeyError, TypeError):
            return {}


def snippet(location: SourceLocation, lines: list[str], code: str) -> list[str]:
    """The gutter-framed lines around a span, the span underlined with carets."""
    first, last = location.line, max(location.end_line, location.line)
    if not 0 < first <= len(lines):
        return []
    last = min(last, len(lines))
    shown = [
        *range(max(1, first - CONTEXT), first),
        *_span(first, last),
        *range(last + 1, min(len(lines), last + CONTEXT) + 1),
    ]
    while shown and shown[0] < first and not lines[shown[0] - 1].strip():
        shown.pop(0)
    while shown and shown[-1] > last and not lines[shown[-1] - 1].strip():
        shown.pop()
    width = len(str(shown[-1]))
    gutter = " " * width + " |"
    out = [gutter]
    for number in shown:
        if number is None:
            out.append(" " * width + " :")
            continue
        source = lines[number - 1]
        out.append(f"{number:>{width}} | {text.printable(source)}".rstrip())
        underline = _underline(location, number, first, last, source)
        if underline:
            out.append(f"{gutter} {underline} {code}" if number == last else f"{gutter} {underline}")
    out.append(gutter)
    return out


def _span(first: int, last: int) -> list:
    if last - first < MAX_SPAN_LINES:
        return list(range(first, last + 1))
    return [*range(first, first + 3), None, *range(last - 2, last + 1)]


def _underline(location: SourceLocation, number: int, first: int, last: int, source: str) -> str:
    """Carets under the part of this line the span covers (tabs kept, so the carets line up)."""
    if number == first:
        start = location.column - 1
        end = location.end_column - 1 if first == last else len(source)
    elif number == last:
        start, end = len(source) - len(source.lstrip()), location.end_column - 1
    else:
        return ""
    start = min(max(start, 0), len(source))
    padding = "".join(c if c == "\t" else " " for c in source[:start])
    return padding + "^" * max(end - start, 1)


def render(run: Run, options: ReportOptions) -> str:
    if options.statistics:
        return text.render(run, options)
    sources = SourceLines(run.sources)
    blocks = []
    for finding in run.findings:
        block = [text.line(finding, options)]
        if isinstance(finding.location, SourceLocation):
            block += snippet(finding.location, sources.of(finding.location), finding.code)
        if finding.fix is not None:
            indent = block[1].index("|") if len(block) > 1 else 0
            block.append(f"{' ' * indent}= help: {text.printable(finding.fix.message)}")
        blocks.append("".join(f"{line}\n" for line in block))
    summary = [] if options.quiet else text.summary(run, options)
    return "\n".join(blocks) + ("\n" if blocks and summary else "") + "".join(f"{line}\n" for line in summary)
