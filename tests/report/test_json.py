"""The JSON report: byte for byte, and exactly DESIGN.md's contract (keys, order, types)."""

from __future__ import annotations

import json

from nanlint.findings import GraphResult
from nanlint.report import ReportOptions, Run
from nanlint.report import json as json_report
from tests.report.samples import (
    AWKWARD,
    COMPARISON,
    GRAPH_FINDINGS,
    LOG_SOFTMAX,
    NOTEBOOK,
    SOURCE_FINDINGS,
    graph_run,
    source_run,
)

SOURCE_KEYS = ["code", "name", "message", "severity", "path", "line", "column", "end_line", "end_column", "fix"]
FIX_KEYS = ["applicability", "message", "edits"]
EDIT_KEYS = ["line", "column", "end_line", "end_column", "content"]
GRAPH_KEYS = ["model", "targets", "findings", "summary"]
GRAPH_FINDING_KEYS = [
    "code",
    "name",
    "message",
    "severity",
    "target",
    "node",
    "op_type",
    "tensor",
    "evidence",
    "bound",
    "observed",
    "cascade",
    "source",
]

EXPECTED_SOURCE = """\
[
  {
    "code": "NAN112",
    "name": "nan-comparison",
    "message": "comparison with NaN is always False; use isnan() to test for NaN",
    "severity": "error",
    "path": "src/train.py",
    "line": 12,
    "column": 8,
    "end_line": 12,
    "end_column": 25,
    "fix": null
  },
  {
    "code": "NAN102",
    "name": "log-of-probability",
    "message": "log of a softmax: -inf when a probability underflows to 0",
    "severity": "warning",
    "path": "src/train.py",
    "line": 20,
    "column": 12,
    "end_line": 20,
    "end_column": 38,
    "fix": {
      "applicability": "safe",
      "message": "Use log_softmax",
      "edits": [
        {
          "line": 20,
          "column": 12,
          "end_line": 20,
          "end_column": 38,
          "content": "F.log_softmax(logits, dim=-1)"
        }
      ]
    }
  },
  {
    "code": "NAN113",
    "name": "log1p-expm1",
    "message": "log(1 + x) loses precision for small x; use log1p(x)",
    "severity": "info",
    "path": "notebooks/explore.ipynb",
    "line": 3,
    "column": 7,
    "end_line": 3,
    "end_column": 23,
    "fix": {
      "applicability": "safe",
      "message": "Use log1p",
      "edits": [
        {
          "line": 3,
          "column": 7,
          "end_line": 3,
          "end_column": 23,
          "content": "np.log1p(x)"
        }
      ]
    },
    "cell": 2
  }
]
"""

EXPECTED_GRAPH = """\
{
  "model": "models/net.onnx",
  "targets": [
    "cuda-fp16"
  ],
  "findings": [
    {
      "code": "NAN502",
      "name": "division-by-zero",
      "message": "denominator can be 0",
      "severity": "error",
      "target": "cuda-fp16",
      "node": "Div_3",
      "op_type": "Div",
      "tensor": "div_out",
      "evidence": "static",
      "bound": [
        null,
        null
      ],
      "observed": null,
      "cascade": [],
      "source": null
    },
    {
      "code": "NAN601",
      "name": "activation-overflow",
      "message": "values reach 7.1e+04, above float16's max 65504",
      "severity": "error",
      "target": "cuda-fp16",
      "node": "MatMul_7",
      "op_type": "MatMul",
      "tensor": "hidden",
      "evidence": "sampled",
      "bound": [
        -150000.0,
        150000.0
      ],
      "observed": [
        -3.25,
        71000.0
      ],
      "cascade": [
        "gelu_out",
        "residual"
      ],
      "source": {
        "path": "src/net.py",
        "line": 41,
        "module": "encoder.mlp"
      }
    },
    {
      "code": "NAN701",
      "name": "constant-out-of-range",
      "message": "mask constant -1e9 becomes -inf in float16",
      "severity": "warning",
      "target": "cuda-fp16",
      "node": null,
      "op_type": null,
      "tensor": "mask_fill",
      "evidence": "static",
      "bound": [
        -1000000000.0,
        -1000000000.0
      ],
      "observed": null,
      "cascade": [],
      "source": null
    }
  ],
  "summary": {
    "nodes": 12,
    "findings": 3
  }
}
"""


def test_source_findings_byte_for_byte():
    run = source_run([COMPARISON, LOG_SOFTMAX, NOTEBOOK])
    assert json_report.render(run, ReportOptions()) == EXPECTED_SOURCE


def test_graph_findings_byte_for_byte():
    assert json_report.render(graph_run(), ReportOptions()) == EXPECTED_GRAPH


def test_no_findings_is_an_empty_array():
    assert json_report.render(source_run([]), ReportOptions()) == "[]\n"


def test_options_do_not_change_json():
    plain = json_report.render(source_run(), ReportOptions())
    assert json_report.render(source_run(), ReportOptions(color=True, quiet=True)) == plain


def test_statistics_are_one_object_per_code_as_ruff_writes_them():
    findings = [COMPARISON, LOG_SOFTMAX, COMPARISON]
    rendered = json_report.render(source_run(findings), ReportOptions(statistics=True))
    assert json.loads(rendered) == [
        {"code": "NAN112", "name": "nan-comparison", "count": 2, "fixable": False},
        {"code": "NAN102", "name": "log-of-probability", "count": 1, "fixable": True},
    ]


def test_escaping_is_plain_json():
    data = json.loads(json_report.render(source_run([AWKWARD]), ReportOptions()))
    assert data[0]["message"] == "100% of x / s: s can be 0,\r\nthen inf"
    assert data[0]["path"] == "data,v1/odd:name.py"


def _check_source_object(obj: dict) -> None:
    expected_keys = SOURCE_KEYS + (["cell"] if "cell" in obj else [])
    assert list(obj) == expected_keys
    assert all(isinstance(obj[k], str) for k in ("code", "name", "message", "path"))
    assert obj["severity"] in ("error", "warning", "info")
    assert all(type(obj[k]) is int and obj[k] >= 1 for k in ("line", "column", "end_line", "end_column"))
    if "cell" in obj:
        assert type(obj["cell"]) is int and obj["cell"] >= 1
    fix = obj["fix"]
    if fix is not None:
        assert list(fix) == FIX_KEYS
        assert fix["applicability"] in ("safe", "unsafe") and isinstance(fix["message"], str)
        for edit in fix["edits"]:
            assert list(edit) == EDIT_KEYS
            assert all(type(edit[k]) is int for k in EDIT_KEYS[:4]) and isinstance(edit["content"], str)


def test_source_objects_follow_the_contract():
    data = json.loads(json_report.render(source_run(SOURCE_FINDINGS + [AWKWARD]), ReportOptions()))
    assert isinstance(data, list) and len(data) == 5
    for obj in data:
        _check_source_object(obj)
    assert [("cell" in obj) for obj in data] == [False, False, False, True, False]


def _number_or_null_pair(value) -> bool:
    return value is None or (
        isinstance(value, list) and len(value) == 2 and all(v is None or type(v) is float for v in value)
    )


def test_graph_object_follows_the_contract():
    data = json.loads(json_report.render(graph_run(), ReportOptions()))
    assert list(data) == GRAPH_KEYS
    assert isinstance(data["model"], str) and data["targets"] == ["cuda-fp16"]
    assert isinstance(data["summary"], dict)
    for obj in data["findings"]:
        assert list(obj) == GRAPH_FINDING_KEYS
        assert obj["severity"] in ("error", "warning", "info")
        assert obj["evidence"] in ("static", "sampled", "witness")
        assert all(obj[k] is None or isinstance(obj[k], str) for k in ("node", "op_type", "tensor"))
        assert _number_or_null_pair(obj["bound"]) and _number_or_null_pair(obj["observed"])


def test_several_models_give_one_object_each():
    first = GraphResult("a.onnx", ("cpu",), [GRAPH_FINDINGS[0]])
    second = GraphResult("b.onnx", ("cpu",), [])
    run = Run(command="graph", findings=[GRAPH_FINDINGS[0]], checked=2, graphs=[first, second])
    data = json.loads(json_report.render(run, ReportOptions()))
    assert [obj["model"] for obj in data] == ["a.onnx", "b.onnx"]
    assert [len(obj["findings"]) for obj in data] == [1, 0]


def test_non_finite_numbers_in_a_graph_summary_become_null():
    import json as std_json

    from nanlint.findings import GraphResult
    from nanlint.report import ReportOptions, Run
    from nanlint.report.json import render

    result = GraphResult("m.onnx", ("cpu",), [], {"max_bound": float("inf"), "nested": [float("nan"), 1.5]})
    data = std_json.loads(render(Run(command="graph", findings=[], graphs=[result]), ReportOptions()))
    assert data["summary"] == {"max_bound": None, "nested": [None, 1.5]}
