"""Human-readable report, ruff-style: `path:line:col: CODE severity [*] message`, then a summary.

The severity is written out (not only coloured): in a CI log it says which line fails the build.
"""

from __future__ import annotations

import re
from collections import Counter

import click

from nanlint.findings import Finding, GraphLocation, Severity, SourceLocation
from nanlint.report.run import ReportOptions, Run, severity_counts

_SEVERITY_COLOR = {Severity.error: "red", Severity.warning: "yellow", Severity.info: "blue"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """Control characters escaped (\\n, \\x1b, ...): a node name or message cannot break or forge a line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def is_fixable(finding: Finding, options: ReportOptions) -> bool:
    fix = finding.fix
    return fix is not None and (fix.applicability == "safe" or options.unsafe_fixes)


def where(finding: Finding) -> str:
    """The location prefix, without colour: `path:line:col` or `model:node (Op)`."""
    loc = finding.location
    if isinstance(loc, SourceLocation):
        cell = f"cell {loc.cell}:" if loc.cell is not None else ""
        return f"{loc.path}:{cell}{loc.line}:{loc.column}"
    assert isinstance(loc, GraphLocation)
    site = loc.node or loc.tensor or "<graph>"
    return f"{loc.model}:{site}" + (f" ({loc.op_type})" if loc.op_type else "")


def origin(loc: GraphLocation) -> str:
    """Where the exporter says the node came from: ` at model.py:41 (encoder.ffn)`, ` in encoder.ffn`."""
    source = loc.source
    if source is None:
        return ""
    module = f" ({source.module})" if source.module else ""
    if source.path is None:
        return f" in {source.module}" if source.module else ""
    return f" at {source.path}" + (f":{source.line}" if source.line is not None else "") + module


def line(finding: Finding, options: ReportOptions) -> str:
    style = (lambda s, **kw: click.style(s, **kw)) if options.color else (lambda s, **kw: s)
    code = style(finding.code, fg=_SEVERITY_COLOR[finding.severity], bold=True)
    severity = style(finding.severity.name, fg=_SEVERITY_COLOR[finding.severity])
    fixable = style("[*] ", fg="cyan") if is_fixable(finding, options) else ""
    suffix = ""
    if isinstance(finding.location, GraphLocation):
        evidence = finding.evidence.kind if finding.evidence else "static"
        suffix = f" [{evidence}, {finding.location.target}]" + printable(origin(finding.location))
    sep = ":" if isinstance(finding.location, SourceLocation) else ""
    location = style(printable(where(finding)), bold=True)
    return f"{location}{sep} {code} {severity} {fixable}{printable(finding.message)}{suffix}"


def code_counts(findings: list[Finding], options: ReportOptions) -> list[tuple[str, str, int, bool]]:
    """(code, name, count, fixable) per code, the most frequent first: what --statistics shows."""
    counts = Counter(f.code for f in findings)
    names = {f.code: f.name for f in findings}
    fixable = {f.code for f in findings if is_fixable(f, options)}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(code, names[code], count, code in fixable) for code, count in ordered]


def statistics(findings: list[Finding], options: ReportOptions) -> list[str]:
    return [
        f"{count:>5}\t{code}\t{'[*] ' if fixable else '    '}{name}"
        for code, name, count, fixable in code_counts(findings, options)
    ]


def summary(run: Run, options: ReportOptions) -> list[str]:
    lines = []
    if run.fixed:
        lines.append(f"Fixed {_plural(run.fixed, 'finding')}.")
    if not run.findings:
        if not run.errors:  # inputs that could not be read were not checked: nothing "passed"
            nothing_checked = run.command == "check" and run.checked == 0
            lines.append("No Python files found." if nothing_checked else "All checks passed!")
        return lines + _hidden(run)
    counts = severity_counts(run.findings)
    parts = ", ".join(
        f"{counts[s]} {s.name}" + ("s" if counts[s] != 1 and s is not Severity.info else "")
        for s in (Severity.error, Severity.warning, Severity.info)
        if counts[s]
    )
    lines.append(f"Found {_plural(len(run.findings), 'finding')} ({parts}).")
    fixable = sum(is_fixable(f, options) for f in run.findings)
    if fixable:
        lines.append(f"[*] {fixable} fixable with the `--fix` option.")
    if run.fixes_hidden:
        lines.append(
            f"({_plural(run.fixes_hidden, 'hidden fix', 'hidden fixes')} can be enabled with the "
            "`--unsafe-fixes` option.)"
        )
    return lines + _hidden(run)


def _hidden(run: Run) -> list[str]:
    return [f"{_plural(run.hidden_by_baseline, 'finding')} hidden by the baseline."] if run.hidden_by_baseline else []


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def render(run: Run, options: ReportOptions) -> str:
    body = statistics(run.findings, options) if options.statistics else [line(f, options) for f in run.findings]
    if not options.quiet:
        body += summary(run, options)
    return "".join(f"{text}\n" for text in body)
