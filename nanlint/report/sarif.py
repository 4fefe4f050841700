"""SARIF 2.1.0, as GitHub code scanning (github/codeql-action/upload-sarif) and SARIF viewers read it.

- Rules come from the catalog: short description = the page's summary, full description =
  its "What it does" section, help = the whole page (text and Markdown).
- Source findings point at their file with a region (1-based lines and columns, end
  column exclusive, as SARIF's own convention).
- Notebook findings point at line 1 of the .ipynb file: their lines are counted inside a
  cell, which no line of the notebook's JSON matches. The cell and line go into the
  message and the result's properties instead. (GitHub code scanning requires
  region.startLine on every result -- rule GH1003 -- hence line 1 rather than no region.)
- Graph findings point at the Python line that built their node when the exporter recorded it
  and the file lies under the root (the model's node is then a related location); otherwise
  at line 1 of the model file (binary) for the same reason. The node is named in the message
  and given as a logical location `model::node`; the recorded source is in the properties.
- URIs are relative to ReportOptions.root (uriBaseId %SRCROOT%) when the file lies under
  it, absolute file: URIs otherwise.
- partialFingerprints["nanlint/v1"] identifies a result across runs without line
  numbers: file, code and message (source) or file, target, node and tensor (graph), plus
  the occurrence index among results that share all of those. GitHub adds its own
  line-text hash for source files when it uploads.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from nanlint import __version__, catalog
from nanlint.catalog import RulePage
from nanlint.findings import Edit, Finding, GraphLocation, Severity, SourceLocation
from nanlint.graph.provenance import local_file
from nanlint.report.run import ReportOptions, Run

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/nanlint/"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "nanlint/v1"

LEVELS = {Severity.error: "error", Severity.warning: "warning", Severity.info: "note"}
# GitHub's own severity scale for rules (shown as the alert's severity).
PROBLEM_SEVERITY = {Severity.error: "error", Severity.warning: "warning", Severity.info: "recommendation"}


# --- locations ----------------------------------------------------------------------------


def artifact_location(path: str, root: str) -> dict:
    """A repo-relative URI under %SRCROOT% when `path` lies under `root`, else an absolute file: URI."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(os.path.abspath(root))
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(PurePosixPath(*relative.parts).as_posix(), safe="/"), "uriBaseId": SRCROOT}


def root_uri(root: str) -> str:
    uri = Path(os.path.abspath(root)).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def region(line: int, column: int, end_line: int, end_column: int) -> dict:
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _edit_region(edit: Edit) -> dict:
    return region(edit.line, edit.column, edit.end_line, edit.end_column)


# --- rules --------------------------------------------------------------------------------


def rule_descriptor(page: RulePage) -> dict:
    full = " ".join(page.section("What it does").split()) or page.summary
    return {
        "id": page.code,
        "name": page.name,
        "shortDescription": {"text": page.summary},
        "fullDescription": {"text": full},
        "help": {"text": page.text, "markdown": page.text},
        "defaultConfiguration": {"level": LEVELS[page.severity]},
        "properties": {
            "tags": ["nanlint", "numerical-stability", f"{page.pass_}-pass"],
            "problem.severity": PROBLEM_SEVERITY[page.severity],
            "fix": page.fix,
            "status": page.status,
        },
    }


# --- results ------------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8"))
    return digest.hexdigest()[:32]


def _finite_pair(values) -> list[float | None] | None:
    """[lo, hi] for JSON: an infinite end is null, as in the JSON report."""
    if values is None:
        return None
    return [float(v) if math.isfinite(v) else None for v in values]


def source_result(finding: Finding, loc: SourceLocation, root: str) -> tuple[dict, tuple]:
    artifact = artifact_location(loc.path, root)
    physical: dict = {"artifactLocation": artifact}
    message = finding.message
    properties: dict = {}
    if loc.cell is None:
        physical["region"] = region(loc.line, loc.column, loc.end_line, loc.end_column)
    else:
        physical["region"] = {"startLine": 1}
        message = f"cell {loc.cell}, line {loc.line}: {message}"
        properties = {"cell": loc.cell, "line": loc.line, "column": loc.column}
    result: dict = {"message": {"text": message}, "locations": [{"physicalLocation": physical}]}
    if finding.fix is not None and finding.fix.edits and loc.cell is None:
        change = {
            "artifactLocation": artifact,
            "replacements": [
                {"deletedRegion": _edit_region(e), "insertedContent": {"text": e.content}} for e in finding.fix.edits
            ],
        }
        result["fixes"] = [
            {
                "description": {"text": finding.fix.message},
                "artifactChanges": [change],
                "properties": {"applicability": finding.fix.applicability},
            }
        ]
    if properties:
        result["properties"] = properties
    return result, (artifact["uri"], finding.code, finding.message)


def graph_result(finding: Finding, loc: GraphLocation, root: str) -> tuple[dict, tuple]:
    artifact = artifact_location(loc.model, root)
    evidence = finding.evidence
    site = loc.node or loc.tensor or "<graph>"
    op = f" ({loc.op_type})" if loc.op_type else ""
    kind = evidence.kind if evidence else "static"
    location: dict = {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": 1}}}
    if loc.node or loc.tensor:
        location["logicalLocations"] = [
            {
                "name": site,
                "kind": "function" if loc.node else "member",
                "fullyQualifiedName": f"{artifact['uri']}::{site}",
            }
        ]
    properties: dict = {
        "target": loc.target,
        "node": loc.node,
        "op_type": loc.op_type,
        "tensor": loc.tensor,
        "evidence": kind,
        "bound": _finite_pair(evidence.bound) if evidence else None,
        "observed": _finite_pair(evidence.observed) if evidence else None,
    }
    if evidence is not None and evidence.witness:
        properties["witness"] = evidence.witness
    result = {
        "message": {"text": f"{site}{op}: {finding.message} [{kind}, {loc.target}]"},
        "locations": [location],
        "properties": properties,
    }
    if loc.source is not None:
        properties["source"] = {"path": loc.source.path, "line": loc.source.line, "module": loc.source.module}
        python = local_file(loc.source, root)
        if python is not None:  # on the Python line; the model's node stays a related location
            result["relatedLocations"] = [{"id": 1, **location, "message": {"text": f"{site}{op} in the model"}}]
            location["physicalLocation"] = {
                "artifactLocation": artifact_location(python, root),
                "region": {"startLine": loc.source.line},
            }
    return result, (artifact["uri"], finding.code, loc.target, loc.node, loc.tensor, loc.op_type)


def sarif_log(run: Run, options: ReportOptions, describe: Callable[[str], RulePage] = catalog.get) -> dict:
    """The SARIF log as a dict; `describe` maps a code to its catalog page (tests pass fixed pages)."""
    codes = sorted({f.code for f in run.findings})
    index = {code: i for i, code in enumerate(codes)}
    occurrences: Counter = Counter()
    results = []
    for finding in run.findings:
        loc = finding.location
        if isinstance(loc, SourceLocation):
            body, identity = source_result(finding, loc, options.root)
        else:
            body, identity = graph_result(finding, loc, options.root)
        occurrence = occurrences[identity]
        occurrences[identity] += 1
        results.append(
            {
                "ruleId": finding.code,
                "ruleIndex": index[finding.code],
                "level": LEVELS[finding.severity],
                **body,
                "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(*identity, occurrence)},
            }
        )
    invocation: dict = {"executionSuccessful": not run.errors}
    if run.errors:
        invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": e}} for e in run.errors]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nanlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(describe(code)) for code in codes],
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {SRCROOT: {"uri": root_uri(options.root)}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(run: Run, options: ReportOptions, describe: Callable[[str], RulePage] = catalog.get) -> str:
    return json.dumps(sarif_log(run, options, describe), indent=2, allow_nan=False) + "\n"
