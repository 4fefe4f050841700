"""The whole static pass (load, interval analysis, checks) on every fixture model, for every target.

Each fixture is a hazard or its safe look-alike (fixtures/models/build.py says which); the table
below is the exact list of findings per target: code, node, tensor, severity. Every target not
listed for a fixture must give no finding.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import onnx
import pytest

from nanlint.config import GraphSettings, Settings
from nanlint.graph.driver import GraphOptions, analyze_models, list_target_names
from tests.graph.checks_support import FIXTURES

TARGETS = tuple(list_target_names())
FP16 = (
    "coreml-fp16",
    "cuda-fp16",
    "directml-fp16",
    "openvino-gpu-fp16",
    "tensorrt-fp16",
    "tensorrt-fp16-ln-fp32",
    "webgpu-fp16",
)
EVERY = TARGETS

# fixture -> [(targets, findings on each of them)]
EXPECTED = {
    "log_of_relu": [(EVERY, [("NAN501", "log", "y", "warning")])],
    "log_of_clip": [],
    "log_of_clip_tiny": [(("coreml-fp16",), [("NAN702", None, "clip_min", "warning")])],
    "log_softmax_masked": [(EVERY, [("NAN501", "log_softmax", "y", "warning")])],
    "div_by_sum": [(EVERY, [("NAN502", "div", "y", "warning")])],
    "div_by_sum_eps": [],
    "sqrt_of_difference": [(EVERY, [("NAN503", "sqrt", "y", "warning")])],
    "sqrt_of_square_eps": [],
    "acos_unclamped": [(EVERY, [("NAN503", "acos", "y", "warning")])],
    "acos_clipped": [],
    "pow_fractional": [(EVERY, [("NAN503", "root", "y", "warning"), ("NAN502", "inverse", "z", "warning")])],
    "exp_overflow": [(FP16, [("NAN504", "exp", "y", "warning")])],
    "exp_of_clip": [],
    "fp16_exp": [(EVERY, [("NAN504", "exp", "y", "warning")])],
    "fp16_exp_of_clip": [],
    "naive_softmax": [(tuple(t for t in FP16 if t != "openvino-gpu-fp16"), [("NAN505", "exp", "e", "warning")])],
    "stable_softmax": [],
    "softmax_op": [],
    "masked_softmax": [(EVERY, [("NAN505", "softmax", "y", "warning")])],
    "causal_softmax": [],
    "mask_fp32_min": [(FP16 + ("cuda-bf16",), [("NAN701", None, "causal_mask", "error")])],
    "decomposed_layernorm": [
        (
            ("coreml-fp16", "cuda-fp16", "directml-fp16", "tensorrt-fp16", "webgpu-fp16"),
            [("NAN506", "ln.pow", "squared", "warning")],
        )
    ],
    "fused_layernorm": [],
    "layernorm_eps12": [(("coreml-fp16", "directml-fp16"), [("NAN702", "ln", None, "warning")])],
    "decomposed_layernorm_eps12": [(("coreml-fp16",), [("NAN702", None, "eps", "warning")])],
    "activation_overflow": [(FP16, [("NAN601", "layer2", "h2", "warning")])],
    "batchnorm_big_var": [(FP16, [("NAN701", None, "bn.running_var", "error")])],
    "unsupported_op": [(EVERY, [("NAN799", "mystery", "m", "info")])],
    "torch_attention": [(EVERY, [("NAN505", "/Softmax", "/Softmax_output_0", "warning")])],
    "reciprocal_near_point": [(EVERY, [("NAN502", "recip", "y", "warning")])],
    "cancelled_square": [(EVERY, [("NAN501", "log", "y", "warning")])],
    "deep_relu_mlp": [(FP16, [("NAN601", "layer8", "h8", "warning")])],
    "nan_constant": [],
    "torch_rmsnorm": [
        (
            ("coreml-fp16", "cuda-fp16", "directml-fp16", "tensorrt-fp16", "webgpu-fp16"),
            [("NAN506", "/Pow", "/Pow_output_0", "warning")],
        )
    ],
}
SETTINGS = dataclasses.replace(Settings(), select=("ALL",))


def analyse(name: str, targets=TARGETS, ranges=(), settings=SETTINGS):
    options = GraphOptions.from_cli(GraphSettings(), targets, ranges, (), samples=0)  # the static pass alone
    results, errors = analyze_models([str(FIXTURES / f"{name}.onnx")], settings, options)
    assert errors == []
    return results[0]


def test_every_fixture_has_expectations():
    assert sorted(EXPECTED) == sorted(path.stem for path in FIXTURES.glob("*.onnx"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings_per_target(name):
    result = analyse(name)
    found = {target: [] for target in TARGETS}
    for finding in result.findings:
        loc = finding.location
        found[loc.target].append((finding.code, loc.node, loc.tensor, finding.severity.name))
    expected = {target: [] for target in TARGETS}
    for targets, findings in EXPECTED[name]:
        for target in targets:
            expected[target] = findings
    assert found == expected


def test_findings_are_grouped_by_target_in_the_order_given():
    result = analyse("exp_overflow", targets=("webgpu-fp16", "cpu", "cuda-fp16"))
    assert result.targets == ("webgpu-fp16", "cpu", "cuda-fp16")
    assert [f.location.target for f in result.findings] == ["webgpu-fp16", "cuda-fp16"]


def test_evidence_of_a_static_finding():
    finding = analyse("exp_overflow", targets=("cuda-fp16",)).findings[0]
    assert finding.evidence.kind == "static"
    assert finding.location.tensor == "y"  # the Exp's output: the bound is of that tensor, exp([-16, 16])
    assert finding.evidence.bound == pytest.approx((math.exp(-16), math.exp(16)), rel=1e-6)
    assert finding.evidence.margin == pytest.approx((16 - math.log(65504)) / math.log(2))
    overflow = analyse("activation_overflow", targets=("cuda-fp16",)).findings[0]
    assert overflow.evidence.bound == pytest.approx((-640000.0, 640000.0))
    assert overflow.evidence.depth == 2  # two MatMuls since the input


def test_input_ranges_decide():
    """With inputs in [-0.5, 0.5] the logits reach 8 < ln(65504): no overflow; with [0, 1] they reach 16."""
    assert analyse("exp_overflow", ("cuda-fp16",), ("x=-0.5,0.5",)).findings == []
    assert [f.code for f in analyse("exp_overflow", ("cuda-fp16",), ("*=0,1",)).findings] == ["NAN504"]
    assert analyse("log_of_relu", ("cpu",), ("x=0.5,2",)).findings == []


def test_summary():
    result = analyse("pow_fractional", targets=("cpu", "cuda-fp16"))
    assert result.summary == {
        "findings": 4,
        "by_severity": {"error": 0, "warning": 4, "info": 0},
        "by_code": {"NAN502": 2, "NAN503": 2},
        "tensors_analysed": result.summary["tensors_analysed"],
        "unsupported_ops": [],
        "targets": ["cpu", "cuda-fp16"],
    }
    assert result.summary["tensors_analysed"] >= 6  # x, y, z, r and the two exponents
    assert analyse("unsupported_op", targets=("cpu",)).summary["unsupported_ops"] == ["Mystery"]


def test_selection_and_severity_settings():
    settings = dataclasses.replace(SETTINGS, ignore=("NAN503",), severity={"NAN502": Severity_error()})
    result = analyse("pow_fractional", targets=("cpu",), settings=settings)
    assert [(f.code, f.severity.name) for f in result.findings] == [("NAN502", "error")]
    assert result.summary["by_code"] == {"NAN502": 1}


def Severity_error():
    from nanlint.findings import Severity

    return Severity.error


def test_several_models_one_unreadable(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    options = GraphOptions.from_cli(GraphSettings(), ("cpu",), (), (), samples=0)
    results, errors = analyze_models([str(bad), str(FIXTURES / "log_of_relu.onnx")], SETTINGS, options)
    assert errors == []  # a model that exists but cannot be read is a finding, not an error
    assert [f.code for f in results[0].findings] == ["NAN900"]
    assert [f.code for f in results[1].findings] == ["NAN501"]
    assert results[0].summary["by_code"] == {"NAN900": 1}


def test_input_range_naming_no_input():
    options = GraphOptions.from_cli(GraphSettings(), ("cpu",), ("pixels=0,1",), (), samples=0)
    results, errors = analyze_models([str(FIXTURES / "log_of_relu.onnx")], SETTINGS, options)
    assert errors == ["--input-range names no input of the model: pixels (inputs: x)"]
    assert [f.code for f in results[0].findings] == ["NAN501"]


def test_helper_fixtures_are_reproducible():
    done = subprocess.run([sys.executable, str(FIXTURES / "build.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["torch_attention", "torch_rmsnorm"])
def test_torch_fixtures_are_valid_onnx(name):
    model = onnx.load(str(FIXTURES / f"{name}.onnx"))
    onnx.checker.check_model(model)
    assert model.producer_name == "pytorch"


def test_hazards_inside_if_branches(tmp_path):
    """The Log in a branch is checked like any other (the branch's tensors have bounds too)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    then = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Log", ["r"], ["a"], name="log_in_branch"),
        ],
        "then",
        [],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4])],
    )
    other = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["b"])],
        "else",
        [],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])],
    )
    graph = helper.make_graph(
        [
            helper.make_node("Greater", ["flag", "zero"], ["c"]),
            helper.make_node("If", ["c"], ["y"], name="if", then_branch=then, else_branch=other),
        ],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
            helper.make_tensor_value_info("flag", TensorProto.FLOAT, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        [numpy_helper.from_array(np.float32(0), "zero")],
    )
    path = tmp_path / "if.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    options = GraphOptions.from_cli(GraphSettings(), ("cpu",), (), (), samples=0)
    results, errors = analyze_models([str(path)], SETTINGS, options)
    assert errors == []
    assert [(f.code, f.location.node, f.location.tensor) for f in results[0].findings] == [
        ("NAN501", "log_in_branch", "a")
    ]
