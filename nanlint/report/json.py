"""JSON report: exactly the contract of DESIGN.md (an array for check, an object per model for graph)."""

from __future__ import annotations

import json
import math

from nanlint.findings import Finding, GraphLocation, GraphResult, PythonSource, SourceLocation
from nanlint.report.run import ReportOptions, Run


def source_object(finding: Finding) -> dict:
    loc = finding.location
    assert isinstance(loc, SourceLocation)
    obj = {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "severity": finding.severity.name,
        "path": loc.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line,
        "end_column": loc.end_column,
        "fix": None,
    }
    if finding.fix is not None:
        obj["fix"] = {
            "applicability": finding.fix.applicability,
            "message": finding.fix.message,
            "edits": [
                {
                    "line": e.line,
                    "column": e.column,
                    "end_line": e.end_line,
                    "end_column": e.end_column,
                    "content": e.content,
                }
                for e in finding.fix.edits
            ],
        }
    if loc.cell is not None:
        obj["cell"] = loc.cell
    return obj


def _pair(values) -> list[float | None] | None:
    """[lo, hi] as JSON numbers; an infinite end is null (JSON has no infinity)."""
    if values is None:
        return None
    return [float(v) if math.isfinite(v) else None for v in values]


def graph_finding_object(finding: Finding) -> dict:
    loc = finding.location
    assert isinstance(loc, GraphLocation)
    evidence = finding.evidence
    return {
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "severity": finding.severity.name,
        "target": loc.target,
        "node": loc.node,
        "op_type": loc.op_type,
        "tensor": loc.tensor,
        "evidence": evidence.kind if evidence else "static",
        "bound": _pair(evidence.bound) if evidence else None,
        "observed": _pair(evidence.observed) if evidence else None,
        "cascade": list(evidence.cascade) if evidence else [],
        "source": _source(loc.source),
    }


def _source(source: PythonSource | None) -> dict | None:
    if source is None:
        return None
    return {"path": source.path, "line": source.line, "module": source.module}


def graph_object(result: GraphResult) -> dict:
    return {
        "model": result.model,
        "targets": list(result.targets),
        "findings": [graph_finding_object(f) for f in result.findings],
        "summary": result.summary,
    }


def finite_only(value):
    """JSON has no infinity or NaN: such numbers anywhere (e.g. in a summary) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_only(v) for v in value]
    return value


def statistics(findings: list[Finding], options: ReportOptions) -> list[dict]:
    """`--statistics`: one object per code, as ruff's JSON statistics: code, name, count, fixable."""
    from nanlint.report.text import code_counts

    return [
        {"code": code, "name": name, "count": count, "fixable": fixable}
        for code, name, count, fixable in code_counts(findings, options)
    ]


def render(run: Run, options: ReportOptions) -> str:
    if options.statistics:
        return json.dumps(statistics(run.findings, options), indent=2) + "\n"
    if run.command == "graph":
        objects = [finite_only(graph_object(g)) for g in run.graphs]
        data = objects[0] if len(objects) == 1 else objects
    else:
        data = [source_object(f) for f in run.findings]
    return json.dumps(data, indent=2, allow_nan=False) + "\n"
