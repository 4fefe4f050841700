"""Fixed findings for the byte-for-byte format tests: source (with a fix and a notebook cell) and graph."""

from __future__ import annotations

import math

from nanlint.catalog import RulePage
from nanlint.findings import (
    Edit,
    Evidence,
    Finding,
    Fix,
    GraphLocation,
    GraphResult,
    PythonSource,
    Severity,
    SourceLocation,
)
from nanlint.report import Run

COMPARISON = Finding(
    "NAN112",
    "nan-comparison",
    "comparison with NaN is always False; use isnan() to test for NaN",
    Severity.error,
    SourceLocation("src/train.py", 12, 8, 12, 25),
)
LOG_SOFTMAX = Finding(
    "NAN102",
    "log-of-probability",
    "log of a softmax: -inf when a probability underflows to 0",
    Severity.warning,
    SourceLocation("src/train.py", 20, 12, 20, 38),
    fix=Fix("safe", "Use log_softmax", (Edit(20, 12, 20, 38, "F.log_softmax(logits, dim=-1)"),)),
)
UNSAFE_FIX = Finding(
    "NAN104",
    "unguarded-log",
    "log of `p`, which can be 0",
    Severity.warning,
    SourceLocation("src/train.py", 31, 5, 31, 15),
    fix=Fix("unsafe", "Clamp before log", (Edit(31, 9, 31, 10, "p.clamp_min(1e-12)"),)),
)
NOTEBOOK = Finding(
    "NAN113",
    "log1p-expm1",
    "log(1 + x) loses precision for small x; use log1p(x)",
    Severity.info,
    SourceLocation("notebooks/explore.ipynb", 3, 7, 3, 23, cell=2),
    fix=Fix("safe", "Use log1p", (Edit(3, 7, 3, 23, "np.log1p(x)"),)),
)
# Characters GitHub's workflow commands must escape, in the path and in the message.
AWKWARD = Finding(
    "NAN105",
    "unguarded-division",
    "100% of x / s: s can be 0,\r\nthen inf",
    Severity.warning,
    SourceLocation("data,v1/odd:name.py", 2, 1, 3, 4),
)

SOURCE_FINDINGS = [COMPARISON, LOG_SOFTMAX, UNSAFE_FIX, NOTEBOOK]

DIV = Finding(
    "NAN502",
    "division-by-zero",
    "denominator can be 0",
    Severity.error,
    GraphLocation("models/net.onnx", "cuda-fp16", "Div_3", "Div", "div_out"),
    evidence=Evidence("static", bound=(-math.inf, math.inf), margin=math.inf),
)
OVERFLOW = Finding(
    "NAN601",
    "activation-overflow",
    "values reach 7.1e+04, above float16's max 65504",
    Severity.error,
    GraphLocation(
        "models/net.onnx",
        "cuda-fp16",
        "MatMul_7",
        "MatMul",
        "hidden",
        source=PythonSource("src/net.py", 41, "encoder.mlp"),
    ),
    evidence=Evidence(
        "sampled", bound=(-1.5e5, 1.5e5), observed=(-3.25, 71000.0), margin=1.08, cascade=("gelu_out", "residual")
    ),
)
CONSTANT = Finding(
    "NAN701",
    "constant-out-of-range",
    "mask constant -1e9 becomes -inf in float16",
    Severity.warning,
    GraphLocation("models/net.onnx", "cuda-fp16", None, None, "mask_fill"),
    evidence=Evidence("static", bound=(-1e9, -1e9)),
)

GRAPH_FINDINGS = [DIV, OVERFLOW, CONSTANT]


def source_run(findings=None, **kwargs) -> Run:
    findings = SOURCE_FINDINGS if findings is None else findings
    return Run(command="check", findings=list(findings), checked=3, **kwargs)


def graph_run() -> Run:
    result = GraphResult("models/net.onnx", ("cuda-fp16",), list(GRAPH_FINDINGS), summary={"nodes": 12, "findings": 3})
    return Run(command="graph", findings=list(GRAPH_FINDINGS), checked=1, graphs=[result])


def page(code: str, name: str, severity: str, pass_: str = "source", implemented: bool = True) -> RulePage:
    """A small fixed catalog page, so the SARIF golden file does not change when rules/ is edited."""
    text = (
        f"# {code} {name}\n\nSummary of {name}.\n\n- Severity: {severity}\n- Fix: none\n- Pass: {pass_}\n\n"
        f"## What it does\n\nFlags {name}\nover two lines.\n"
    )
    return RulePage(code, name, f"Summary of {name}.", Severity.parse(severity), "none", pass_, implemented, text)


PAGES = {
    p.code: p
    for p in [
        page("NAN102", "log-of-probability", "warning"),
        page("NAN104", "unguarded-log", "warning"),
        page("NAN105", "unguarded-division", "warning"),
        page("NAN112", "nan-comparison", "error"),
        page("NAN113", "log1p-expm1", "info", implemented=False),
        page("NAN502", "division-by-zero", "warning", "graph"),
        page("NAN601", "activation-overflow", "error", "graph"),
        page("NAN701", "constant-out-of-range", "warning", "graph"),
    ]
}
