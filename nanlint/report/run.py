"""What a renderer is given: the run's findings and results (Run) and how to show them (ReportOptions)."""

from __future__ import annotations

from dataclasses import dataclass, field

from nanlint.findings import Finding, GraphResult, Severity


@dataclass
class Run:
    command: str  # "check" | "graph"
    findings: list[Finding]
    checked: int = 0  # files (check) or models (graph)
    graphs: list[GraphResult] = field(default_factory=list)
    fixed: int = 0
    fixes_hidden: int = 0  # fixes that would be available with --unsafe-fixes
    errors: list[str] = field(default_factory=list)  # inputs that could not be checked (printed on stderr)
    hidden_by_baseline: int = 0  # findings the baseline accounts for (not in `findings`)
    sources: dict[str, str] = field(default_factory=dict)  # text of documents not on disk (stdin), by path


@dataclass(frozen=True)
class ReportOptions:
    color: bool = False
    statistics: bool = False
    quiet: bool = False
    show_fixes: bool = False
    unsafe_fixes: bool = False
    root: str = "."  # SARIF URIs are made relative to this directory (the repository root)


def severity_counts(findings: list[Finding]) -> dict[Severity, int]:
    counts = {s: 0 for s in Severity}
    for finding in findings:
        counts[finding.severity] += 1
    return counts
