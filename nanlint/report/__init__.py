"""Output formats, one module each. Every renderer takes a Run and returns the full text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from nanlint.findings import Finding, Severity


@dataclass(frozen=True)
class TensorProfile:
    """One tensor along the topological order: its static bound and what sampling observed."""

    tensor: str
    node: str | None
    op_type: str | None
    bound: tuple[float, float] | None = None
    observed: tuple[float, float] | None = None


@dataclass
class GraphResult:
    """One model's analysis: the findings plus what the JSON summary reports."""

    model: str
    targets: tuple[str, ...]
    findings: list[Finding]
    summary: dict = field(default_factory=dict)
    profile: list[TensorProfile] = field(default_factory=list)  # for the HTML report's plot


@dataclass
class Run:
    command: str  # "check" | "graph"
    findings: list[Finding]
    checked: int = 0  # files (check) or models (graph)
    graphs: list[GraphResult] = field(default_factory=list)
    fixed: int = 0
    fixes_hidden: int = 0  # fixes that would be available with --unsafe-fixes
    errors: list[str] = field(default_factory=list)  # inputs that could not be checked (printed on stderr)


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


def formats() -> dict[str, Callable[[Run, ReportOptions], str]]:
    from nanlint.report import github, html, json, sarif, text

    return {
        "text": text.render,
        "json": json.render,
        "github": github.render,
        "sarif": sarif.render,
        "html": html.render,
    }


FORMAT_NAMES = ("text", "json", "github", "sarif", "html")
