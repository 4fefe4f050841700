"""SARIF 2.1.0: byte for byte on fixed findings, valid against the official schema, and what GitHub needs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from nanlint import __version__, catalog
from nanlint.findings import Finding, GraphLocation, GraphResult, Severity, SourceLocation
from nanlint.report import ReportOptions, Run, sarif
from tests.report.samples import (
    AWKWARD,
    COMPARISON,
    GRAPH_FINDINGS,
    LOG_SOFTMAX,
    NOTEBOOK,
    PAGES,
    SOURCE_FINDINGS,
    UNSAFE_FIX,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
ROOT = "/repo"
OPTIONS = ReportOptions(root=ROOT)


def rooted(finding: Finding, root: str = ROOT) -> Finding:
    """The finding with its path made absolute under `root` (output must not depend on the test's cwd)."""
    loc = finding.location
    if isinstance(loc, SourceLocation):
        return dataclasses.replace(finding, location=dataclasses.replace(loc, path=f"{root}/{loc.path}"))
    return dataclasses.replace(finding, location=dataclasses.replace(loc, model=f"{root}/{loc.model}"))


def all_findings_run() -> Run:
    findings = [rooted(f) for f in [*SOURCE_FINDINGS, AWKWARD, *GRAPH_FINDINGS]]
    return Run(command="check", findings=findings, checked=4)


def render_fixed(run: Run, options: ReportOptions = OPTIONS) -> str:
    return sarif.render(run, options, describe=PAGES.__getitem__)


def schema_errors(log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(log)]


def test_byte_for_byte():
    # tests/data/sarif/sample.sarif was reviewed by hand; regenerate it only for an intended change.
    expected = (DATA / "sarif" / "sample.sarif").read_text(encoding="utf-8")
    assert render_fixed(all_findings_run()) == expected


def test_render_uses_the_real_catalog_and_is_valid():
    log = json.loads(sarif.render(all_findings_run(), OPTIONS))
    assert schema_errors(log) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["NAN102", "NAN104", "NAN105", "NAN112", "NAN113", "NAN502", "NAN601", "NAN701"]
    nan112 = rules[3]
    page = catalog.get("NAN112")
    assert nan112["name"] == "nan-comparison"
    assert nan112["shortDescription"] == {"text": page.summary}
    assert nan112["fullDescription"]["text"] == " ".join(page.section("What it does").split())
    assert nan112["help"] == {"text": page.text, "markdown": page.text}
    assert nan112["defaultConfiguration"] == {"level": "error"}


def test_schema_rejects_what_github_would_reject():
    # The validator is not vacuous: a driver without a name, a bad level and a 0 line are caught.
    log = json.loads(render_fixed(all_findings_run()))
    del log["runs"][0]["tool"]["driver"]["name"]
    log["runs"][0]["results"][0]["level"] = "fatal"
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert len(schema_errors(log)) == 3


@pytest.mark.parametrize(
    "findings", [[], SOURCE_FINDINGS, GRAPH_FINDINGS, [AWKWARD]], ids=["none", "source", "graph", "awkward"]
)
def test_valid_against_the_schema(findings):
    run = Run(command="check", findings=[rooted(f) for f in findings], errors=["x.py: cannot read"])
    assert schema_errors(json.loads(render_fixed(run))) == []


def _results(findings, options=OPTIONS) -> list[dict]:
    return json.loads(render_fixed(Run(command="check", findings=list(findings)), options))["runs"][0]["results"]


def test_driver():
    driver = json.loads(render_fixed(all_findings_run()))["runs"][0]["tool"]["driver"]
    assert driver["name"] == "nanlint"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")


def test_levels_and_rule_index():
    results = _results([rooted(f) for f in [COMPARISON, LOG_SOFTMAX, NOTEBOOK]])
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("NAN112", 1, "error"),
        ("NAN102", 0, "warning"),
        ("NAN113", 2, "note"),
    ]


def test_severity_override_changes_the_level_not_the_default():
    demoted = rooted(COMPARISON.with_severity(Severity.warning))
    log = json.loads(render_fixed(Run(command="check", findings=[demoted])))
    assert log["runs"][0]["results"][0]["level"] == "warning"
    assert log["runs"][0]["tool"]["driver"]["rules"][0]["defaultConfiguration"] == {"level": "error"}


def test_source_location_is_repo_relative_with_a_region():
    [result] = _results([rooted(COMPARISON)])
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 12, "startColumn": 8, "endLine": 12, "endColumn": 25},
            }
        }
    ]


def test_relative_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    monkeypatch.chdir(tmp_path / "pkg")
    finding = dataclasses.replace(COMPARISON, location=dataclasses.replace(COMPARISON.location, path="m/a b.py"))
    [result] = _results([finding], ReportOptions(root=str(tmp_path)))
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "pkg/m/a%20b.py",
        "uriBaseId": "%SRCROOT%",
    }


def test_path_outside_the_root_is_an_absolute_file_uri():
    [result] = _results([rooted(COMPARISON, "/elsewhere")])
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "file:///elsewhere/src/train.py"}


def test_notebook_result_points_at_line_1_and_names_the_cell():
    # GitHub requires region.startLine (GH1003); cell lines match no line of the notebook's JSON
    [result] = _results([rooted(NOTEBOOK)])
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "notebooks/explore.ipynb", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1},
            }
        }
    ]
    assert result["message"]["text"] == "cell 2, line 3: log(1 + x) loses precision for small x; use log1p(x)"
    assert result["properties"] == {"cell": 2, "line": 3, "column": 7}
    assert "fixes" not in result  # its edits are in cell coordinates, which SARIF regions cannot express


def test_fix_becomes_a_sarif_fix():
    [safe, unsafe] = _results([rooted(LOG_SOFTMAX), rooted(UNSAFE_FIX)])
    assert safe["fixes"] == [
        {
            "description": {"text": "Use log_softmax"},
            "artifactChanges": [
                {
                    "artifactLocation": {"uri": "src/train.py", "uriBaseId": "%SRCROOT%"},
                    "replacements": [
                        {
                            "deletedRegion": {"startLine": 20, "startColumn": 12, "endLine": 20, "endColumn": 38},
                            "insertedContent": {"text": "F.log_softmax(logits, dim=-1)"},
                        }
                    ],
                }
            ],
            "properties": {"applicability": "safe"},
        }
    ]
    assert unsafe["fixes"][0]["properties"] == {"applicability": "unsafe"}
    assert "fixes" not in _results([rooted(COMPARISON)])[0]


def test_graph_result_points_at_the_model_with_a_logical_location():
    div, overflow, constant = _results([rooted(f) for f in GRAPH_FINDINGS])
    assert div["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "models/net.onnx", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1},
            },
            "logicalLocations": [{"name": "Div_3", "kind": "function", "fullyQualifiedName": "models/net.onnx::Div_3"}],
        }
    ]
    assert div["message"]["text"] == "Div_3 (Div): denominator can be 0 [static, cuda-fp16]"
    assert div["properties"] == {
        "target": "cuda-fp16",
        "node": "Div_3",
        "op_type": "Div",
        "tensor": "div_out",
        "evidence": "static",
        "bound": [None, None],
        "observed": None,
    }
    assert overflow["properties"]["observed"] == [-3.25, 71000.0]
    # A tensor without a producing node (an initializer) is a member, not a function.
    assert constant["locations"][0]["logicalLocations"] == [
        {"name": "mask_fill", "kind": "member", "fullyQualifiedName": "models/net.onnx::mask_fill"}
    ]
    assert constant["message"]["text"] == "mask_fill: mask constant -1e9 becomes -inf in float16 [static, cuda-fp16]"


def test_fingerprints_ignore_line_numbers_but_tell_findings_apart():
    moved = dataclasses.replace(COMPARISON, location=dataclasses.replace(COMPARISON.location, line=40, end_line=40))
    [before] = _results([rooted(COMPARISON)])
    [after] = _results([rooted(moved)])
    assert before["partialFingerprints"] == after["partialFingerprints"]
    assert list(before["partialFingerprints"]) == ["nanlint/v1"]
    # Same file, code and message twice: still two distinct, ordered identities.
    first, second = _results([rooted(COMPARISON), rooted(moved)])
    assert first["partialFingerprints"] == before["partialFingerprints"]
    assert second["partialFingerprints"] != first["partialFingerprints"]
    # Different file or different code: different fingerprint.
    other_file = dataclasses.replace(COMPARISON, location=dataclasses.replace(COMPARISON.location, path="b.py"))
    assert _results([rooted(other_file)])[0]["partialFingerprints"] != before["partialFingerprints"]


def test_fingerprints_do_not_depend_on_the_checkout_location():
    here = _results([rooted(COMPARISON, "/a/repo")], ReportOptions(root="/a/repo"))
    there = _results([rooted(COMPARISON, "/b/clone")], ReportOptions(root="/b/clone"))
    assert here[0]["partialFingerprints"] == there[0]["partialFingerprints"]


def test_graph_fingerprint_ignores_bounds_and_message():
    div = rooted(GRAPH_FINDINGS[0])
    looser = dataclasses.replace(
        div, message="denominator can be 0 (|x| < 1e-3)", evidence=dataclasses.replace(div.evidence, bound=(-1.0, 1.0))
    )
    assert _results([div])[0]["partialFingerprints"] == _results([looser])[0]["partialFingerprints"]
    other_target = dataclasses.replace(div, location=dataclasses.replace(div.location, target="cpu"))
    assert _results([div])[0]["partialFingerprints"] != _results([other_target])[0]["partialFingerprints"]


def test_errors_are_tool_execution_notifications():
    log = json.loads(render_fixed(Run(command="check", findings=[], errors=["nope.py: no such file or directory"])))
    assert log["runs"][0]["invocations"] == [
        {
            "executionSuccessful": False,
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": "nope.py: no such file or directory"}}
            ],
        }
    ]
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []


def test_graph_run_with_several_models():
    a = rooted(GRAPH_FINDINGS[0])
    b = dataclasses.replace(a, location=dataclasses.replace(a.location, model=f"{ROOT}/other.onnx"))
    run = Run(
        command="graph",
        findings=[a, b],
        checked=2,
        graphs=[GraphResult(a.location.model, ("cpu",), [a]), GraphResult(b.location.model, ("cpu",), [b])],
    )
    results = json.loads(render_fixed(run))["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results] == [
        "models/net.onnx",
        "other.onnx",
    ]


def test_graph_finding_without_node_or_tensor_has_no_logical_location():
    bare = Finding(
        "NAN799", "unsupported-op", "m", Severity.info, GraphLocation(f"{ROOT}/m.onnx", "cpu", None, None, None)
    )
    log = json.loads(sarif.render(Run(command="graph", findings=[bare]), OPTIONS))
    assert "logicalLocations" not in log["runs"][0]["results"][0]["locations"][0]
    assert schema_errors(log) == []
