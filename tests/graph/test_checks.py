"""The checks on hand-built bounds: each hazard, its safe look-alikes, and the one-hazard-one-finding rules.

Bounds are given by hand (as the analysis would compute them), so these tests pin the checks'
logic independently of the transfer functions; tests/graph/test_checks_fixtures.py runs the
whole pipeline on the same models.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint import options
from nanlint.config import Settings
from nanlint.findings import Severity
from nanlint.graph.checks import num
from nanlint.graph.interval import Interval
from tests.graph.checks_support import brief, fixture, run, save_and_load

INF = math.inf
FP16 = ("cuda-fp16", "coreml-fp16", "tensorrt-fp16", "directml-fp16", "webgpu-fp16")


def only(findings):
    assert len(findings) == 1, brief(findings)
    return findings[0]


# --- NAN501 log-domain -----------------------------------------------------------------------------

LOG_OF_RELU = {"x": (-1, 1), "r": (0, 1), "y": (-INF, 0)}


@pytest.mark.parametrize("target", ["cpu", *FP16])
def test_log_of_relu(target):
    finding = only(run(fixture("log_of_relu"), LOG_OF_RELU, target))
    assert brief([finding]) == [("NAN501", "log", "y", "warning")]
    assert (
        finding.message == "Log of a value that can be <= 0 (bound [0, 1]): -inf or NaN; clamp the input to a "
        "positive minimum first"
    )
    assert finding.location.target == target and finding.location.op_type == "Log"
    # `bound` describes the finding's tensor, the Log's output (the message gives its input's bound)
    assert (finding.evidence.kind, finding.evidence.bound, finding.evidence.margin) == ("static", LOG_OF_RELU["y"], 0.0)


def test_log_of_always_negative_is_an_error():
    finding = only(run(fixture("log_of_relu"), {"x": (-1, 1), "r": (-3, -1), "y": (-INF, INF)}))
    assert finding.severity is Severity.error
    assert finding.evidence.margin == pytest.approx(2.0)  # log2(1 + 3)


def test_log_of_clip_is_safe_everywhere():
    bounds = {"x": (-1, 1), "c": (1e-6, 1), "y": (math.log(1e-6), 0)}
    for target in ("cpu", *FP16):
        assert run(fixture("log_of_clip"), bounds, target) == []


def test_log_of_value_that_underflows_in_float16(tmp_path):
    """exp(x) for x in [-30, 0] is positive in float32 but can round to 0 in float16."""
    nodes = [helper.make_node("Exp", ["x"], ["e"], name="exp"), helper.make_node("Log", ["e"], ["y"], name="log")]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    bounds = {"x": (-30, 0), "e": (math.exp(-30), 1), "y": (-30, 0)}
    assert run(model, bounds, "cpu") == []
    finding = only(run(model, bounds, "cuda-fp16"))
    assert brief([finding]) == [("NAN501", "log", "y", "warning")]
    assert (
        finding.message == "Log of a value that can be <= 0: its lower bound 9.36e-14 underflows to 0 in "
        "float16 (-inf or NaN; clamp the input to a positive minimum first)"
    )


def test_log_softmax_of_fully_maskable_rows():
    model = fixture("log_softmax_masked")
    masked = Interval(np.full((1, 4, 4), -INF), np.ones((1, 4, 4)))
    finding = only(run(model, {"scores": (-1, 1), "masked": masked, "y": (-INF, 0)}))
    assert brief([finding]) == [("NAN501", "log_softmax", "y", "warning")]
    assert finding.message.startswith("LogSoftmax over rows that can be entirely -inf (fully masked")


# --- NAN502 division-by-zero ---------------------------------------------------------------------


def test_div_by_sum_that_can_be_zero():
    finding = only(run(fixture("div_by_sum"), {"x": (-1, 1), "r": (0, 1), "s": (0, 8), "y": (-INF, INF)}))
    assert brief([finding]) == [("NAN502", "div", "y", "warning")]
    assert (
        finding.message == "Div by a value that can be 0 (bound [0, 8]): inf or NaN; add an epsilon to the "
        "denominator or clamp it away from 0"
    )


def test_div_by_sum_plus_eps_is_safe():
    bounds = {"x": (-1, 1), "a": (0, 1), "s": (0, 8), "d": (1e-6, 8 + 1e-6), "y": (-1e6, 1e6)}
    assert run(fixture("div_by_sum_eps"), bounds) == []
    # In float16 the quotient's interval (1e6) is loose: x / (sum |x| + eps) is at most 1 in magnitude.
    assert run(fixture("div_by_sum_eps"), bounds, "cuda-fp16") == []


def test_division_by_exact_zero_is_an_error():
    finding = only(run(fixture("div_by_sum"), {"x": (-1, 1), "r": (0, 0), "s": (0, 0), "y": (-INF, INF)}))
    assert finding.severity is Severity.error


def test_pow_with_negative_exponent_of_zero():
    findings = run(fixture("pow_fractional"), {"x": (-1, 1), "y": (0, 1), "r": (0, 1), "z": (1, INF)})
    assert brief(findings) == [("NAN503", "root", "y", "warning"), ("NAN502", "inverse", "z", "warning")]
    assert (
        findings[1].message == "Pow with a negative exponent [-1, -1] of a base that can be 0 (bound [0, 1]): "
        "inf; add an epsilon to the base first"
    )


# --- NAN503 sqrt-domain ---------------------------------------------------------------------------


def test_sqrt_of_difference():
    finding = only(run(fixture("sqrt_of_difference"), {"a": (-1, 1), "b": (-1, 1), "d": (-2, 2), "y": (0, 1.5)}))
    assert brief([finding]) == [("NAN503", "sqrt", "y", "warning")]
    assert finding.message == "Sqrt of a value that can be negative (bound [-2, 2]): NaN; clamp at 0 first"


def test_sqrt_of_square_plus_eps_is_safe():
    bounds = {"x": (-1, 1), "sq": (0, 1), "v": (1e-6, 1 + 1e-6), "y": (1e-3, 1.01)}
    for target in ("cpu", *FP16):
        assert run(fixture("sqrt_of_square_eps"), bounds, target) == []


def test_acos_outside_its_domain_and_clipped():
    finding = only(run(fixture("acos_unclamped"), {"x": (-1, 1), "s": (-1.01, 1.01), "y": (0, math.pi)}))
    assert brief([finding]) == [("NAN503", "acos", "y", "warning")]
    assert (
        finding.message == "Acos of a value that can leave [-1, 1] (bound [-1.01, 1.01]): NaN; clamp the input "
        "to [-1, 1] first"
    )
    assert run(fixture("acos_clipped"), {"x": (-1, 1), "s": (-1.01, 1.01), "c": (-1, 1), "y": (0, math.pi)}) == []


def test_fractional_pow_of_negative_base():
    finding = run(fixture("pow_fractional"), {"x": (-1, 1), "y": (0, 1), "r": (0.5, 1), "z": (1, 2)})
    assert brief(finding) == [("NAN503", "root", "y", "warning")]
    assert (
        finding[0].message == "Pow with a fractional exponent [0.5, 0.5] of a base that can be negative "
        "(bound [-1, 1]): NaN; clamp the base at 0 first"
    )


# --- NAN504 exp-overflow --------------------------------------------------------------------------

EXP = {"x": (-1, 1), "z": (-16, 16), "y": (math.exp(-16), math.exp(16))}


def test_exp_overflow_only_in_float16():
    assert run(fixture("exp_overflow"), EXP, "cpu") == []
    assert run(fixture("exp_overflow"), EXP, "cuda-bf16") == []
    for target in FP16:
        finding = only(run(fixture("exp_overflow"), EXP, target))
        assert brief([finding]) == [("NAN504", "exp", "y", "warning")]
        assert (
            finding.message == "Exp input can reach 16, beyond ln(65504) = 11.09 for float16: the result "
            "overflows to inf; subtract the max or clamp the input first"
        )
        assert finding.evidence.margin == pytest.approx((16 - math.log(65504)) / math.log(2))


def test_exp_of_clip_is_safe_in_float16():
    bounds = {**EXP, "c": (-10, 10), "y": (math.exp(-10), math.exp(10))}
    for target in FP16:
        assert run(fixture("exp_of_clip"), bounds, target) == []


def test_model_already_in_float16_on_cpu():
    finding = only(run(fixture("fp16_exp"), {"x": (-1, 1), "s": (-16, 16), "y": (0, INF)}, "cpu"))
    assert brief([finding]) == [("NAN504", "exp", "y", "warning")]
    bounds = {"x": (-1, 1), "s": (-16, 16), "c": (-10, 10), "y": (0, 22027)}
    assert run(fixture("fp16_exp_of_clip"), bounds, "cpu") == []


# --- NAN505 naive-softmax-subgraph ----------------------------------------------------------------

NAIVE = {
    "x": (-1, 1),
    "z": (-16, 16),
    "e": (math.exp(-16), math.exp(16)),
    "s": (8 * math.exp(-16), 8 * math.exp(16)),
    "y": (0, math.exp(32)),
}


def test_naive_softmax_overflows_float16():
    assert run(fixture("naive_softmax"), NAIVE, "cpu") == []
    assert run(fixture("naive_softmax"), NAIVE, "openvino-gpu-fp16") == []  # kept in f32 by OpenVINO
    finding = only(run(fixture("naive_softmax"), NAIVE, "cuda-fp16"))
    assert brief([finding]) == [("NAN505", "exp", "e", "warning")]  # the tensor that overflows: the Exp's
    assert (
        finding.message == "softmax spelled Exp -> ReduceSum -> Div without subtracting the max: exp(16) "
        "overflows float16 (ln of its max is 11.09), giving inf/inf = NaN; use Softmax"
    )
    assert finding.evidence.bound == (math.exp(-16), math.exp(16))


def test_naive_softmax_whose_rows_can_underflow():
    bounds = {"x": (-1, 1), "z": (-200, -150), "e": (0, 1e-60), "s": (0, 1e-59), "y": (0, INF)}
    finding = only(run(fixture("naive_softmax"), bounds, "cpu"))
    assert brief([finding]) == [("NAN505", "div", "y", "warning")]
    assert "every exp of a row can underflow to 0 in float32" in finding.message


def test_stable_softmax_and_softmax_op_are_safe():
    # The interval of z - max(z) is loose ([-32, 32]) but Exp(x - max x) <= 1 whatever the interval says.
    stable = {
        "x": (-1, 1),
        "z": (-16, 16),
        "m": (-16, 16),
        "shifted": (-32, 32),
        "e": (0, math.exp(32)),
        "s": (0, 8 * math.exp(32)),
        "y": (0, INF),
    }
    for target in ("cpu", *FP16):
        assert run(fixture("stable_softmax"), stable, target) == []
        assert run(fixture("softmax_op"), {"x": (-1, 1), "z": (-16, 16), "y": (0, 1)}, target) == []


def test_fully_masked_softmax():
    masked = Interval(np.full((1, 4, 4), -INF), np.ones((1, 4, 4)))
    finding = only(run(fixture("masked_softmax"), {"scores": (-1, 1), "masked": masked, "y": (0, 1)}))
    assert brief([finding]) == [("NAN505", "softmax", "y", "warning")]
    assert (
        finding.message == "Softmax over rows that can be entirely -inf (fully masked, e.g. an all-padding "
        "sequence): 0/0 = NaN; mask with a large finite negative value or guard empty rows"
    )


def test_causal_mask_keeps_a_finite_entry_per_row():
    lo = np.triu(np.full((4, 4), -INF), k=1)
    lo[np.tril_indices(4)] = -1
    masked = Interval(lo[None], np.ones((1, 4, 4)))
    for target in ("cpu", *FP16):
        assert run(fixture("causal_softmax"), {"scores": (-1, 1), "masked": masked, "y": (0, 1)}, target) == []


def test_unbounded_logits_are_not_a_mask(tmp_path):
    """-inf in a bound that is merely unknown (an unsupported op) is not a fully masked row."""
    nodes = [
        helper.make_node("Mystery", ["x"], ["m"], name="mystery", domain="com.example"),
        helper.make_node("Softmax", ["m"], ["y"], name="softmax"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    model = save_and_load(proto, tmp_path)
    findings = run(model, {"x": (-1, 1), "m": (-INF, INF), "y": (0, 1)}, unsupported=("mystery",))
    assert brief(findings) == [("NAN799", "mystery", "m", "info")]


# --- NAN506 low-precision-normalization -----------------------------------------------------------

LAYERNORM = {
    "x": (-1, 1),
    "a": (-320, 320),
    "mean": (-320, 320),
    "centered": (-640, 640),
    "squared": (0, 409600),
    "var": (0, 409600),
    "var_eps": (1e-5, 409600),
    "std": (3.16e-3, 640),
    "normed": (-2.03e5, 2.03e5),
    "scaled": (-2.03e5, 2.03e5),
    "y": (-2.03e5, 2.03e5),
}


@pytest.mark.parametrize(
    "target,expected",
    [
        ("cpu", []),
        ("tensorrt-fp16-ln-fp32", []),
        ("openvino-gpu-fp16", []),
        ("cuda-fp16", [("NAN506", "ln.pow", "squared", "warning")]),
        ("tensorrt-fp16", [("NAN506", "ln.pow", "squared", "warning")]),
        ("coreml-fp16", [("NAN506", "ln.pow", "squared", "warning")]),
    ],
)
def test_decomposed_layernorm(target, expected):
    findings = run(fixture("decomposed_layernorm"), LAYERNORM, target)
    assert brief(findings) == expected
    if expected:
        assert findings[0].message == (
            f"LayerNorm decomposed into Pow/ReduceMean/Sqrt/Div runs in float16 on {target}: the square of its "
            "input can reach 409600, beyond float16's max 65504; use the fused LayerNormalization or keep these "
            "nodes in float32"
        )


def test_decomposed_layernorm_whose_sum_of_squares_overflows_the_reduction():
    """Each square fits float16 (<= 40000) but the float16 reduction of 8 of them does not."""
    bounds = {
        **LAYERNORM,
        "a": (-100, 100),
        "mean": (-100, 100),
        "centered": (-200, 200),
        "squared": Interval(np.zeros(()), np.full((), 40000.0), shape=(1, 4, 8)),
        "var": (0, 40000),
        "var_eps": (1e-5, 40000),
        "std": (3.16e-3, 200),
    }
    finding = only(run(fixture("decomposed_layernorm"), bounds, "tensorrt-fp16"))
    assert brief([finding]) == [("NAN506", "ln.var", "var", "warning")]
    assert "the sum of squares can reach 320000" in finding.message
    assert run(fixture("decomposed_layernorm"), bounds, "cuda-fp16") == []  # CUDA reductions accumulate in fp32


def test_fused_layernorm_is_safe():
    bounds = {"x": (-1, 1), "a": (-320, 320), "y": (-2.65, 2.65)}
    for target in ("cpu", *FP16):
        assert run(fixture("fused_layernorm"), bounds, target) == []


# --- NAN601 activation-overflow -------------------------------------------------------------------

LAYERS = {"x": (-1, 1), "h1": (-8000, 8000), "h2": (-640000, 640000), "r2": (0, 640000), "y": (-5.12e7, 5.12e7)}


def test_overflow_reported_at_its_root_only():
    assert run(fixture("activation_overflow"), LAYERS, "cpu") == []
    finding = only(run(fixture("activation_overflow"), LAYERS, "cuda-fp16", depth={"h2": 2}))
    assert brief([finding]) == [("NAN601", "layer2", "h2", "warning")]
    assert finding.message == "tensor 'h2' can reach 640000, 9.77x float16's max 65504, where it overflows to inf"
    assert finding.evidence.bound == (-640000.0, 640000.0)
    assert finding.evidence.margin == pytest.approx(math.log2(640000 / 65504))
    assert finding.evidence.depth == 2


def test_every_independent_overflow_is_reported(tmp_path):
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["a"], name="a"),
        helper.make_node("Pow", ["x", "eight"], ["b"], name="b"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [4]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]),
        ],
        [numpy_helper.from_array(np.float32(30000), "scale"), numpy_helper.from_array(np.float32(8), "eight")],
    )
    model = save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    findings = run(model, {"x": (3, 10), "a": (9e4, 3e5), "b": (6561, 1e8)}, "cuda-fp16")
    assert sorted(brief(findings)) == [("NAN601", "a", "a", "error"), ("NAN601", "b", "b", "warning")]
    by_node = {f.location.node: f for f in findings}
    assert by_node["a"].message == "tensor 'a' can reach 300000, 4.58x float16's max 65504, where it overflows to inf"
    assert by_node["b"].evidence.margin == pytest.approx(math.log2(1e8 / 65504))


def test_min_ratio_option():
    settings = dataclasses.replace(Settings(), select=("ALL",), rule_options={"NAN601": {"min-ratio": 100.0}})
    assert run(fixture("activation_overflow"), LAYERS, "cuda-fp16", settings=settings) == []


# --- NAN701 constant-out-of-range -----------------------------------------------------------------

BN = {"x": (-1, 1), "y": (-1, 1)}


def test_batchnorm_running_variance_beyond_float16():
    assert run(fixture("batchnorm_big_var"), BN, "cpu") == []
    finding = only(run(fixture("batchnorm_big_var"), BN, "cuda-fp16"))
    assert brief([finding]) == [("NAN701", None, "bn.running_var", "error")]
    assert finding.location.op_type is None
    assert (
        finding.message == "constant 'bn.running_var' holds 1e+08, beyond float16's finite range (max 65504): "
        "the float16 conversion clips it to 65504"
    )
    assert finding.evidence.bound == (1.0, 1e8)
    coreml = only(run(fixture("batchnorm_big_var"), BN, "coreml-fp16"))
    assert coreml.message.endswith(": it becomes inf")


def test_mask_of_float32_lowest_value():
    masked = Interval(np.triu(np.full((4, 4), -3.4028235e38), k=1)[None] - 1, np.ones((1, 4, 4)))
    bounds = {"scores": (-1, 1), "masked": masked, "y": (0, 1)}
    assert run(fixture("mask_fp32_min"), bounds, "cpu") == []
    finding = only(run(fixture("mask_fp32_min"), bounds, "cuda-fp16"))
    assert brief([finding]) == [("NAN701", None, "causal_mask", "error")]
    assert (
        finding.message == "constant 'causal_mask' holds -3.4e+38, beyond float16's finite range (max 65504): "
        "the float16 conversion clips it to -65504"
    )


# --- NAN702 eps-underflow-graph --------------------------------------------------------------------


def test_layernorm_epsilon_applied_in_float16():
    bounds = {"x": (-1, 1), "y": (-2.65, 2.65)}
    for target in ("cpu", "cuda-fp16", "tensorrt-fp16", "webgpu-fp16", "openvino-gpu-fp16"):
        assert run(fixture("layernorm_eps12"), bounds, target) == []
    for target in ("coreml-fp16", "directml-fp16"):
        finding = only(run(fixture("layernorm_eps12"), bounds, target))
        assert brief([finding]) == [("NAN702", "ln", None, "warning")]
        assert (
            finding.message == f"LayerNormalization epsilon 1e-12 becomes 0 in float16, where the kernel "
            f"applies it on {target}: a constant row divides 0 by 0; use an epsilon of at "
            "least 5.96e-08"
        )


def test_clip_minimum_rounded_to_zero():
    bounds = {"x": (-1, 1), "c": (1e-12, 1), "y": (math.log(1e-12), 0)}
    assert run(fixture("log_of_clip_tiny"), bounds, "cpu") == []
    assert run(fixture("log_of_clip_tiny"), bounds, "cuda-fp16") == []  # the converter clips it to 2**-24
    finding = only(run(fixture("log_of_clip_tiny"), bounds, "coreml-fp16"))
    assert brief([finding]) == [("NAN702", None, "clip_min", "warning")]
    assert (
        finding.message == "epsilon 1e-12 becomes 0 in float16, where Clip applies it: it no longer keeps the "
        "input of Log away from 0; use at least 5.96e-08"
    )


def test_ignoring_the_epsilon_finding_does_not_resurrect_the_log_finding():
    settings = dataclasses.replace(Settings(), select=("ALL",), ignore=("NAN702",))
    bounds = {"x": (-1, 1), "c": (1e-12, 1), "y": (math.log(1e-12), 0)}
    assert run(fixture("log_of_clip_tiny"), bounds, "coreml-fp16", settings=settings) == []


def test_decomposed_layernorm_with_tiny_epsilon():
    bounds = {
        "x": (-1, 1),
        "mean": (-1, 1),
        "centered": (-2, 2),
        "squared": (0, 4),
        "var": (0, 4),
        "var_eps": (1e-12, 4),
        "std": (1e-6, 2),
        "normed": (-2e6, 2e6),
        "scaled": (-2e6, 2e6),
        "y": (-2e6, 2e6),
    }
    assert run(fixture("decomposed_layernorm_eps12"), bounds, "cpu") == []
    assert run(fixture("decomposed_layernorm_eps12"), bounds, "cuda-fp16") == []
    assert run(fixture("decomposed_layernorm_eps12"), bounds, "tensorrt-fp16-ln-fp32") == []
    finding = only(run(fixture("decomposed_layernorm_eps12"), bounds, "coreml-fp16"))
    assert brief([finding]) == [("NAN702", None, "eps", "warning")]
    assert finding.message.startswith(
        "epsilon 1e-12 becomes 0 in float16, where Add applies it: it no longer keeps the input of Sqrt away from 0"
    )


def test_one_minus_eps_bound_absorbed(tmp_path):
    """p.clamp(eps, 1 - eps) then log(1 - p): 1 - 1e-7 is 1.0 in float16."""
    nodes = [
        helper.make_node("Clip", ["p", "lo", "hi"], ["c"], name="clip"),
        helper.make_node("Sub", ["one", "c"], ["q"], name="complement"),
        helper.make_node("Log", ["q"], ["y"], name="log"),
    ]
    inits = [
        numpy_helper.from_array(np.float32(1e-4), "lo"),
        numpy_helper.from_array(np.float32(1 - 1e-7), "hi"),
        numpy_helper.from_array(np.float32(1), "one"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        inits,
    )
    model = save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    bounds = {"p": (0, 1), "c": (1e-4, 1 - 1e-7), "q": (1e-7, 1 - 1e-4), "y": (-16.2, 0)}
    assert run(model, bounds, "cpu") == []
    finding = only(run(model, bounds, "cuda-fp16"))
    assert brief([finding]) == [("NAN702", None, "hi", "warning")]
    assert (
        finding.message == "bound 0.99999988 (1 - 1.2e-07) rounds to 1 in float16, where Clip applies it: the "
        "epsilon is absorbed and 1 - x can reach 0 before Log"
    )


def test_max_epsilon_option():
    settings = dataclasses.replace(Settings(), select=("ALL",), rule_options={"NAN702": {"max-epsilon": 1e-13}})
    bounds = {"x": (-1, 1), "c": (1e-12, 1), "y": (math.log(1e-12), 0)}
    # 1e-12 is no longer an epsilon: it is a plain positive value that rounds to 0, so the Log says so.
    finding = only(run(fixture("log_of_clip_tiny"), bounds, "coreml-fp16", settings=settings))
    assert brief([finding]) == [("NAN501", "log", "y", "warning")]
    assert options.schema()["NAN702"] == {"max-epsilon": 1e-3}


# --- NAN799 and what unknown bounds do not produce -------------------------------------------------


def test_unsupported_op_hides_nothing_and_invents_nothing():
    findings = run(
        fixture("unsupported_op"), {"x": (-1, 1), "m": (-INF, INF), "y": (-INF, INF)}, unsupported=("mystery",)
    )
    assert brief(findings) == [("NAN799", "mystery", "m", "info")]
    assert (
        findings[0].message == "com.example.Mystery is not supported by the interval analysis: its outputs are "
        "treated as unbounded, and hazards downstream of them are not reported"
    )


def test_domain_finding_claims_its_output():
    """The inf a division makes is the division's finding, not an activation overflow too."""
    findings = run(fixture("div_by_sum"), {"x": (-1, 1), "r": (0, 1), "s": (0, 8), "y": (-INF, INF)}, "cuda-fp16")
    assert [f.code for f in findings] == ["NAN502"]


def test_severity_configuration_applies():
    settings = dataclasses.replace(Settings(), select=("ALL",), severity={"NAN501": Severity.error})
    assert only(run(fixture("log_of_relu"), LOG_OF_RELU, settings=settings)).severity is Severity.error
    settings = dataclasses.replace(Settings(), ignore=("NAN5",))
    assert run(fixture("log_of_relu"), LOG_OF_RELU, settings=settings) == []


def test_number_format():
    assert [num(v) for v in (65504.0, 1e-12, 0.5, -INF, 3.4028235e38, 16.0)] == [
        "65504",
        "1e-12",
        "0.5",
        "-inf",
        "3.4e+38",
        "16",
    ]


def _single(tmp_path, op, inputs=("x",), initializers=(), **attrs):
    node = helper.make_node(op, list(inputs), ["y"], name="op", **attrs)
    values = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [4])
        for name in inputs
        if name not in {i.name for i in initializers}
    ]
    graph = helper.make_graph(
        [node], "g", values, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], list(initializers)
    )
    return save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)


@pytest.mark.parametrize(
    "op,inputs,bounds,expected",
    [
        ("Reciprocal", ("x",), {"x": (-1, 1)}, "NAN502"),
        ("Reciprocal", ("x",), {"x": (0.5, 1)}, None),
        ("Mod", ("x", "d"), {"x": (-1, 1), "d": (0, 3)}, "NAN502"),
        ("Mod", ("x", "d"), {"x": (-1, 1), "d": (1, 3)}, None),
        ("Atanh", ("x",), {"x": (-1, 0.5)}, "NAN503"),
        ("Atanh", ("x",), {"x": (-0.9, 0.9)}, None),
        ("Acosh", ("x",), {"x": (0.5, 2)}, "NAN503"),
        ("Acosh", ("x",), {"x": (1, 2)}, None),
        ("Asin", ("x",), {"x": (-1, 1)}, None),
        ("Sqrt", ("x",), {"x": (0, 1)}, None),  # sqrt(0) is 0: only negatives are NaN
        ("Log", ("x",), {"x": (1e-3, 1)}, None),
    ],
)
def test_domain_table(tmp_path, op, inputs, bounds, expected):
    attrs = {"fmod": 1} if op == "Mod" else {}
    model = _single(tmp_path, op, inputs, **attrs)
    codes = [f.code for f in run(model, {**bounds, "y": (-10, 10)})]
    assert codes == ([expected] if expected else [])


def test_profile_can_mark_a_kernel_that_overflows_like_exp(tmp_path):
    """onnxruntime's Softplus is stable; a profile can say that another engine's is not."""
    model = _single(tmp_path, "Softplus")
    bounds = {"x": (-20, 20), "y": (0, 20)}
    assert run(model, bounds, "cuda-fp16") == []
    profile = tmp_path / "naive.json"
    profile.write_text(
        '{"name": "naive", "description": "d", "extends": "cuda-fp16", "ops": {"Softplus": {"exp_overflow": true}}}'
    )
    finding = only(run(model, bounds, str(profile)))
    assert brief([finding]) == [("NAN504", "op", "y", "warning")]
    assert finding.message.startswith("Softplus input can reach 20, beyond ln(65504) = 11.09 for float16")


def test_constant_holding_inf_and_a_large_finite_value_reports_the_finite_one(tmp_path):
    """The analysis's bound of such a constant is infinite; the message names the largest finite value."""
    import onnx

    from nanlint.config import GraphSettings
    from nanlint.graph.driver import GraphOptions, analyze_models

    mask = np.array([[0.0, -np.inf], [-1e9, 0.0]], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "mask"], ["y"], name="add")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        [numpy_helper.from_array(mask, "mask")],
    )
    path = tmp_path / "m.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    options = GraphOptions.from_cli(GraphSettings(), ("cuda-fp16",), ["x=-1,1"], (), samples=0, search=False)
    results, errors = analyze_models([str(path)], dataclasses.replace(Settings(), select=("NAN701",)), options)
    assert errors == []
    assert [f.message for f in results[0].findings] == [
        "constant 'mask' holds -1e+09, beyond float16's finite range (max 65504): "
        "the float16 conversion clips it to -65504; 1 tensor downstream exceeds the range with it ('y')"
    ]
