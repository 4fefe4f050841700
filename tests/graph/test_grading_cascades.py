"""Findings a user can trust: grading by the evidence of the finding's own tensor, cascades behind one
root, a normalisation that does not hide its division, and one finding that does not hide another.

Every model is built here with onnx.helper; each mechanism has a positive case and a safe look-alike."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.config import GraphSettings, Settings
from nanlint.graph import runtime
from nanlint.graph.driver import GraphOptions, analyze_models

F = TensorProto.FLOAT
SETTINGS = Settings(select=("ALL",))


def save(tmp_path, name, nodes, inputs, initializers=(), outputs=("y",), opset=17):
    """A model of float inputs {name: shape}; every output's type is left to inference."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, F, list(shape)) for n, shape in inputs.items()],
        [helper.make_tensor_value_info(n, F, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in dict(initializers).items()],
    )
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString())
    return path


def analyse(path, target="cuda-fp16", ranges=(), **runtime_options):
    options = GraphOptions.from_cli(GraphSettings(), (target,), ranges, (), **runtime_options)
    [result], errors = analyze_models([str(path)], SETTINGS, options)
    assert errors == []
    return result


def brief(result) -> list[tuple]:
    return [(f.code, f.location.tensor, f.severity.name, f.evidence.kind) for f in result.findings]


def overflows(result):
    """The NAN601 findings (the 40000 x products are NAN602 low-headroom notes besides)."""
    return [f for f in result.findings if f.code == "NAN601"]


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0], **attrs)


# --- grading -------------------------------------------------------------------------------------------


def difference(tmp_path, name, k, extra=(), initializers=None, output="y"):
    """y = 40000 x - k (x @ I): intervals see |y| <= 40000 + |k|, the values are |40000 - k| |x| (the identity
    matrix hides from the analysis that both terms are x: it sees through 40000 x - k x, not through this)."""
    nodes = [
        node("MatMul", ["x", "eye"], ["x2"]),
        node("Mul", ["x", "a"], ["ax"]),
        node("Mul", ["x2", "k"], ["kx"]),
        node("Sub", ["ax", "kx"], [output]),
    ]
    constants = {"a": 40000.0, "k": k, "eye": np.eye(8), **(initializers or {})}
    return save(tmp_path, name, [*nodes, *extra], {"x": [8]}, constants, outputs=["y"])


def test_a_bound_far_above_the_samples_is_info_worded_with_what_they_saw(tmp_path):
    result = analyse(difference(tmp_path, "loose", 39000.0))  # values within 1000: 65x below the max
    [finding] = overflows(result)
    assert (finding.code, finding.location.tensor, finding.severity.name, finding.evidence.kind) == (
        "NAN601",
        "y",
        "info",
        "static",
    )
    low, high = finding.evidence.observed
    assert finding.evidence.bound == (-79000.0, 79000.0) and -1000 <= low < 0 < high <= 1000
    assert finding.message == (
        "tensor 'y' can reach 79000, 1.21x float16's max 65504, where it overflows to inf (static bound only: "
        "79x above what the samples reached, which stay within [-1000, 1000])"
    )


def test_a_bound_whose_samples_come_near_the_limit_stays_a_warning(tmp_path):
    result = analyse(difference(tmp_path, "credible", 35000.0))  # values up to 5000: 13x below the max
    [finding] = overflows(result)
    assert (finding.code, finding.severity.name, finding.evidence.kind) == ("NAN601", "warning", "static")
    assert finding.evidence.observed == (-5000.0, 5000.0)  # the box's corners, on y itself
    assert "static bound only" not in finding.message


def test_samples_beyond_the_range_make_an_error_of_the_same_tensor(tmp_path):
    result = analyse(difference(tmp_path, "over", -30000.0))  # y = 70000 x
    [finding] = overflows(result)
    assert (finding.code, finding.location.tensor, finding.severity.name, finding.evidence.kind) == (
        "NAN601",
        "y",
        "error",
        "sampled",
    )
    assert finding.evidence.bound == (-70000.0, 70000.0) and finding.evidence.observed == (-70000.0, 70000.0)


def test_an_infinity_that_only_flows_through_a_tensor_does_not_confirm_its_overflow(tmp_path):
    # y = (40000 x - 39000 (x @ I)) + mask, the mask holding -inf: y is -inf on every sample, but its finite
    # values stay within 1000, and the -inf is the mask's, not an overflow of y
    mask = np.zeros(8, np.float32)
    mask[3] = -np.inf
    path = difference(tmp_path, "masked", 39000.0, [node("Add", ["d", "mask"], ["y"])], {"mask": mask}, output="d")
    found = [f for f in analyse(path).findings if f.code == "NAN601"]
    assert [(f.location.tensor, f.severity.name) for f in found] == [("d", "info")]


def test_an_infinity_a_tensor_makes_itself_confirms_it(tmp_path):
    # exp(100 x) is inf in float32 itself for x > 0.89: on the cpu target the Exp's own inf is the overflow
    path = save(tmp_path, "exp", [node("Mul", ["x", "c"], ["z"]), node("Exp", ["z"], ["y"])], {"x": [4]}, {"c": 100.0})
    [finding] = analyse(path, target="cpu").findings
    assert (finding.code, finding.location.tensor, finding.severity.name, finding.evidence.kind) == (
        "NAN504",
        "y",
        "error",
        "sampled",
    )
    assert (
        finding.evidence.bound[0] == pytest.approx(math.exp(-100), rel=0.05) and finding.evidence.bound[1] == math.inf
    )


def test_a_static_certainty_the_samples_refute_is_not_an_error():
    finding = runtime._unconfirmed(
        _finding("NAN601", severity="error"),
        runtime.Evidence("static", bound=(70000.0, 80000.0), observed=(1.0, 2.0)),
        None,
        None,
        SETTINGS,
    )
    assert finding.severity.name == "warning"


def _finding(code, severity):
    from nanlint.findings import Finding, GraphLocation, Severity

    return Finding(code, "x", "m", Severity[severity], GraphLocation("m.onnx", "cuda-fp16", "n", "Add", "t"))


# --- cascades ------------------------------------------------------------------------------------------


def residual_block(tmp_path, name="block"):
    """h = x W (column 0 of W is 10000: up to 80000), + bias, + x (residual), then a LayerNorm spelled out."""
    weight = np.full((8, 8), 0.01, np.float32)
    weight[:, 0] = 10000.0
    nodes = [
        node("MatMul", ["x", "w"], ["h"]),
        node("Add", ["h", "b"], ["hb"]),
        node("Add", ["hb", "x"], ["r"]),
        node("ReduceMean", ["r"], ["mean"], axes=[-1]),
        node("Sub", ["r", "mean"], ["d"]),
        node("Mul", ["d", "d"], ["sq"]),
        node("ReduceMean", ["sq"], ["var"], axes=[-1]),
        node("Add", ["var", "eps"], ["ve"]),
        node("Sqrt", ["ve"], ["sd"]),
        node("Div", ["d", "sd"], ["y"]),
    ]
    initializers = {"w": weight, "b": np.full(8, 100.0, np.float32), "eps": 1e-5}
    return save(tmp_path, name, nodes, {"x": [1, 4, 8]}, initializers)


def test_an_overflow_root_lists_its_cascade_until_a_value_is_back_in_range(tmp_path):
    # On the samples h, hb, r and d pass 65504 together; sq = d * d passes it alone too (wherever |d| > 256),
    # so it is a root of its own, whose cascade ends at sd = sqrt(var + eps), back in range
    found = [
        (f.location.tensor, f.severity.name, f.evidence.kind, f.evidence.cascade)
        for f in overflows(analyse(residual_block(tmp_path)))
    ]
    assert found == [("sq", "error", "sampled", ("var", "ve")), ("h", "error", "sampled", ("hb", "r", "d"))]


def test_the_static_cascade_follows_the_bounds_without_samples(tmp_path):
    [finding] = overflows(analyse(residual_block(tmp_path), samples=0))
    assert (finding.location.tensor, finding.severity.name) == ("h", "warning")
    assert finding.evidence.cascade == ("hb", "r", "d", "sq", "var", "ve")


def test_a_root_within_range_on_a_wider_dtype_has_no_cascade(tmp_path):
    assert [f.code for f in analyse(residual_block(tmp_path), target="cpu").findings] == []


def test_a_constant_root_lists_what_its_value_drives_out_of_range(tmp_path):
    # scores + (1 - mask) * -1e9 before a Softmax: the constant, its product and the sum exceed float16;
    # the Softmax brings the values back into [0, 1]
    nodes = [
        node("Mul", ["x", "four"], ["scores"]),
        node("Sub", ["one", "m"], ["keep"]),
        node("Mul", ["keep", "big"], ["bias"]),
        node("Add", ["scores", "bias"], ["z"]),
        node("Softmax", ["z"], ["y"], axis=-1),
    ]
    path = save(tmp_path, "mask", nodes, {"x": [2, 4], "m": [2, 4]}, {"four": 4.0, "one": 1.0, "big": -1e9})
    result = analyse(path, ranges=("m=0,1",))
    assert brief(result) == [("NAN701", "big", "error", "static")]
    assert result.findings[0].evidence.cascade == ("bias", "z")


def test_an_overflow_that_also_starts_on_its_own_is_a_root_of_its_own(tmp_path):
    # a = 1000 x, y = a * a: y passes the range on samples where a does not, so y is not a's consequence
    nodes = [node("Mul", ["x", "k"], ["a"]), node("Mul", ["a", "a"], ["y"])]
    result = analyse(save(tmp_path, "square", nodes, {"x": [4]}, {"k": 1000.0}), ranges=("x=-100,100",))
    overflows = {f.location.tensor: f.evidence.cascade for f in result.findings if f.code == "NAN601"}
    assert overflows == {"a": (), "y": ()}


# --- one finding never hides another ----------------------------------------------------------------------


def masked_naive_softmax(tmp_path):
    nodes = [
        node("Mul", ["x", "sixteen"], ["logits"]),
        node("Sub", ["one", "m"], ["keep"]),
        node("Mul", ["keep", "big"], ["bias"]),
        node("Add", ["logits", "bias"], ["z"]),
        node("Exp", ["z"], ["e"]),
        node("ReduceSum", ["e", "axes"], ["s"], keepdims=1),
        node("Div", ["e", "s"], ["y"]),
    ]
    initializers = {"sixteen": 16.0, "one": 1.0, "big": -1e9}
    path = save(tmp_path, "masked_naive", nodes, {"x": [2, 4], "m": [2, 4]}, initializers)
    model = __import__("onnx").load(str(path))
    model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "axes"))
    path.write_bytes(model.SerializeToString())
    return path


def test_a_clipped_mask_constant_does_not_hide_the_naive_softmax_after_it(tmp_path):
    path = masked_naive_softmax(tmp_path)
    static = analyse(path, ranges=("m=0,1",), samples=0)
    assert brief(static) == [("NAN701", "big", "error", "static"), ("NAN505", "e", "warning", "static")]
    sampled = analyse(path, ranges=("m=0,1",))
    # every row whose mask is below 1 is all -5e8: its exps are 0 and 0/0 is NaN in float32 too (NAN603)
    assert brief(sampled) == [
        ("NAN701", "big", "error", "static"),
        ("NAN505", "e", "error", "sampled"),
        ("NAN603", "y", "error", "sampled"),
    ]
    assert [f.evidence.cascade for f in sampled.findings] == [("bias", "z"), ("s",), ()]


def test_the_float32_models_own_nan_is_reported_beside_a_float16_overflow(tmp_path):
    # y = exp(100 x) overflows float16 for x > 0.111 and float32 for x > 0.888; y - y is NaN where y is inf
    nodes = [node("Mul", ["x", "c"], ["z"]), node("Exp", ["z"], ["y"]), node("Sub", ["y", "y"], ["d"])]
    path = save(tmp_path, "nan", nodes, {"x": [4]}, {"c": 100.0}, outputs=["d"])
    half = analyse(path, ranges=("x=0,1",))
    assert brief(half) == [("NAN504", "y", "error", "sampled"), ("NAN603", "d", "error", "sampled")]
    single = analyse(path, target="cpu", ranges=("x=0,1",))  # the float32 overflow is the finding: no repeat
    assert brief(single) == [("NAN504", "y", "error", "sampled")]


# --- a normalisation never hides an unguarded division ------------------------------------------------------


def l2_normalised(tmp_path, eps: float | None):
    nodes = [node("Mul", ["x", "x"], ["sq"]), node("ReduceSum", ["sq", "axes"], ["ss"], keepdims=1)]
    nodes.append(node("Sqrt", ["ss"], ["norm"]))
    if eps is not None:
        nodes.append(node("Add", ["norm", "eps"], ["guarded"]))
    nodes.append(node("Div", ["x", "guarded" if eps is not None else "norm"], ["y"]))
    initializers = {"eps": eps} if eps is not None else {}
    path = save(tmp_path, f"l2_{eps}", nodes, {"x": [2, 8]}, initializers)
    model = __import__("onnx").load(str(path))
    model.graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "axes"))
    path.write_bytes(model.SerializeToString())
    return path


def standardised(tmp_path, eps: float | None):
    nodes = [
        node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        node("Sub", ["x", "mean"], ["d"]),
        node("Mul", ["d", "d"], ["sq"]),
        node("ReduceMean", ["sq"], ["var"], axes=[-1]),
    ]
    if eps is not None:
        nodes.append(node("Add", ["var", "eps"], ["ve"]))
    nodes += [node("Sqrt", ["ve" if eps is not None else "var"], ["std"]), node("Div", ["d", "std"], ["y"])]
    return save(tmp_path, f"std_{eps}", nodes, {"x": [2, 8]}, {"eps": eps} if eps is not None else {})


@pytest.mark.parametrize("build", [l2_normalised, standardised])
def test_an_unguarded_normalising_division_is_nan502_at_the_division(tmp_path, build):
    result = analyse(build(tmp_path, None), target="cpu", samples=0)
    assert [(f.code, f.location.node, f.severity.name) for f in result.findings] == [("NAN502", "y", "warning")]
    assert "Div by a value that can be 0 (bound [0, " in result.findings[0].message


@pytest.mark.parametrize("build", [l2_normalised, standardised])
def test_a_normalising_division_with_an_epsilon_is_safe_and_bounded(tmp_path, build):
    for target in ("cpu", "cuda-fp16"):
        assert analyse(build(tmp_path, 1e-5), target=target, samples=0).findings == []
