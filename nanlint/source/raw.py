"""A document's findings before selection -- what every rule found, what the cache stores -- and the
selection that turns them into what the user sees.

Every rule runs on every file (the trigger pre-filter still skips rules that cannot match), so the
result depends only on the file's content and the rule options; `--select`, `--ignore`, severities,
suppressions and per-file ignores are applied afterwards. Changing the selection therefore keeps a
warm cache warm. What the selection needs is kept with each finding:

- the findings that subsume it (one hazard, one finding: a naive softmax's division is NAN105 only
  when NAN101 is not selected),
- the line in the module's text where it starts (a suppression comment is matched on that line),
- which rules ran and which suppression comments exist (NAN901: a suppression that silences nothing).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from nanlint import catalog
from nanlint.config import Settings
from nanlint.findings import Edit, Finding, Fix, Severity, SourceLocation

UNUSED_SUPPRESSION = "NAN901"


@dataclass(frozen=True)
class Comment:
    """A suppression comment: where it is in the module and in the file, and what it silences."""

    module_line: int
    cell: int | None
    line: int
    column: int
    end_column: int
    codes: frozenset[str] | None  # None: every code on its line
    reportable: bool  # a bare noqa comment may belong to another linter: never called unused


@dataclass
class RawFinding:
    finding: Finding  # severity: the rule page's default
    module_line: int  # 0: not suppressible (a parse error)
    subsumed_by: tuple[int, ...] = ()  # indices of the findings that cover this one


@dataclass
class RawFindings:
    path: str  # as the user named the file (not cached: the same content may live at several paths)
    findings: list[RawFinding] = field(default_factory=list)
    ran: frozenset[str] = frozenset()  # the rules that ran (their triggers occur in the file)
    comments: tuple[Comment, ...] = ()
    ignore_file: bool = False
    used: dict[str, str] = field(default_factory=dict)  # what of the project the analysis read (project.View)

    def select(self, settings: Settings) -> list[Finding]:
        """What the user sees under these settings, before per-file ignores (sorted)."""
        if self.ignore_file:
            return []
        chosen = [settings.is_selected(raw.finding.code) for raw in self.findings]
        used: dict[int, set[str]] = {}
        by_line = {c.module_line: c for c in self.comments}
        shown = []
        for raw, selected in zip(self.findings, chosen):
            if not selected or any(chosen[i] for i in raw.subsumed_by):
                continue
            comment = by_line.get(raw.module_line) if raw.module_line else None
            if comment is not None and (comment.codes is None or raw.finding.code in comment.codes):
                used.setdefault(comment.module_line, set()).add(raw.finding.code)
                continue
            shown.append(_with_severity(raw.finding, settings))
        if settings.is_selected(UNUSED_SUPPRESSION):
            ran = {code for code in self.ran if settings.is_selected(code)}
            shown.extend(_unused(self.comments, used, ran, self.path, settings))
        return sorted(shown, key=Finding.sort_key)

    # --- the cache's form: JSON without the path -----------------------------------------------------

    def encode(self) -> dict:
        return {
            "findings": [[_encode(r.finding), r.module_line, list(r.subsumed_by)] for r in self.findings],
            "ran": sorted(self.ran),
            "comments": [_encode_comment(c) for c in self.comments],
            "ignore_file": self.ignore_file,
            "used": self.used,
        }

    @classmethod
    def decode(cls, data: dict, path: str) -> RawFindings:
        return cls(
            path,
            [RawFinding(_decode(f, path), line, tuple(covers)) for f, line, covers in data["findings"]],
            frozenset(data["ran"]),
            tuple(_decode_comment(c) for c in data["comments"]),
            bool(data["ignore_file"]),
            {str(k): str(v) for k, v in data.get("used", {}).items()},
        )


def _with_severity(finding: Finding, settings: Settings) -> Finding:
    severity = settings.severity_of(finding.code, finding.severity)
    return finding if severity is finding.severity else finding.with_severity(severity)


def _unused(
    comments: tuple[Comment, ...], used: dict[int, set[str]], ran: set[str], path: str, settings: Settings
) -> list[Finding]:
    page = catalog.get(UNUSED_SUPPRESSION)
    severity = settings.severity_of(UNUSED_SUPPRESSION, page.severity)
    found = []
    for comment in comments:
        if not comment.reportable:
            continue
        silenced = used.get(comment.module_line, set())
        if comment.codes is None:
            unused: list[str | None] = [] if silenced else [None]
        else:
            # A code whose rule did not run here may well be needed elsewhere: not called unused.
            unused = [code for code in sorted(comment.codes - silenced) if code in ran]
        location = SourceLocation(path, comment.line, comment.column, comment.line, comment.end_column, comment.cell)
        for code in unused:
            message = (
                f"unused suppression of {code}" if code else "unused suppression: nothing on this line is reported"
            )
            found.append(Finding(UNUSED_SUPPRESSION, page.name, message, severity, location))
    return found


def _encode(finding: Finding) -> dict:
    data = dataclasses.asdict(finding)
    data["severity"] = finding.severity.name
    del data["location"]["path"]
    del data["evidence"]
    return data


def _decode(data: dict, path: str) -> Finding:
    fix = data["fix"]
    if fix is not None:
        fix = Fix(fix["applicability"], fix["message"], tuple(Edit(**e) for e in fix["edits"]))
    return Finding(
        code=data["code"],
        name=data["name"],
        message=data["message"],
        severity=Severity[data["severity"]],
        location=SourceLocation(path=path, **data["location"]),
        fix=fix,
    )


def _encode_comment(comment: Comment) -> list:
    codes = None if comment.codes is None else sorted(comment.codes)
    return [
        comment.module_line,
        comment.cell,
        comment.line,
        comment.column,
        comment.end_column,
        codes,
        comment.reportable,
    ]


def _decode_comment(data: list) -> Comment:
    module_line, cell, line, column, end_column, codes, reportable = data
    return Comment(module_line, cell, line, column, end_column, None if codes is None else frozenset(codes), reportable)
