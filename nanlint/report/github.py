"""GitHub Actions workflow commands (`::error file=...::message`), then the full text report.

GitHub shows at most 10 annotations of each kind per step, so the text report follows
the annotations: nothing is lost when there are more.
"""

from __future__ import annotations

from nanlint.findings import Finding, GraphLocation, Severity, SourceLocation
from nanlint.graph.provenance import local_file
from nanlint.report import text
from nanlint.report.run import ReportOptions, Run

_COMMAND = {Severity.error: "error", Severity.warning: "warning", Severity.info: "notice"}


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def graph_annotation(finding: Finding, loc: GraphLocation, root: str) -> tuple[list, str]:
    """On the Python line the exporter recorded when that file is in the repository, else on the model."""
    evidence = finding.evidence.kind if finding.evidence else "static"
    message = f"{text.where(finding)}: {finding.message} [{evidence}, {loc.target}]"
    python = local_file(loc.source, root)
    if python is not None and loc.source is not None:
        module = f" (in {loc.source.module})" if loc.source.module else ""
        return [("file", python), ("line", loc.source.line)], message + module
    return [("file", loc.model)], message + text.origin(loc)


def annotation(finding: Finding, root: str = ".") -> str:
    loc = finding.location
    if isinstance(loc, SourceLocation) and loc.cell is None:
        props = [
            ("file", loc.path),
            ("line", loc.line),
            ("col", loc.column),
            ("endLine", loc.end_line),
            ("endColumn", loc.end_column),
        ]
        message = finding.message
    elif isinstance(loc, SourceLocation):
        # A notebook's lines are counted inside a cell; no line of the .ipynb JSON matches them,
        # so the annotation is on the file and the message says where.
        props = [("file", loc.path)]
        message = f"cell {loc.cell}, line {loc.line}, column {loc.column}: {finding.message}"
    else:
        props, message = graph_annotation(finding, loc, root)
    props.append(("title", f"nanlint ({finding.code})"))
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in props)
    return f"::{_COMMAND[finding.severity]} {rendered}::{escape_data(message)}"


def render(run: Run, options: ReportOptions) -> str:
    annotations = "".join(annotation(f, options.root) + "\n" for f in run.findings)
    plain = ReportOptions(statistics=options.statistics, quiet=options.quiet, unsafe_fixes=options.unsafe_fixes)
    return annotations + text.render(run, plain)
