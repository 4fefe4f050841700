"""The analysis engine: control flow, unsupported ops, depth, clamping, collapsing, the registry and docs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph import transfer
from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval
from nanlint.graph.model import ModelError, load_model
from nanlint.graph.transfer.docs import ops_markdown
from tests.graph import (
    test_transfer_arithmetic,
    test_transfer_contrib,
    test_transfer_elementwise,
    test_transfer_layout,
    test_transfer_linear,
    test_transfer_normalization,
    test_transfer_quantization,
    test_transfer_recurrent,
    test_transfer_reduction,
    test_transfer_shape,
)
from tests.graph._soundness import Box, Case, check, check_model
from tests.graph.test_model import if_model

F = TensorProto.FLOAT
ROOT = Path(__file__).resolve().parents[2]


def _save(graph, path, opset=17, domains=()) -> str:
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return str(path)


def const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


# -- control flow -----------------------------------------------------------------------------------


def test_if_joins_both_branches_and_is_sound(tmp_path):
    path = _save(if_model().graph, tmp_path / "if.onnx", opset=13)
    a = check_model(path, {"x": (-2.0, 1.0)})
    y = a.bounds["y"]
    assert y.min() == pytest.approx(-1.0) and y.max() == pytest.approx(np.e)  # join of Neg and Exp
    assert not a.unsupported
    assert a.bounds["t"].max() == pytest.approx(np.exp(1.0), rel=1e-6)  # branch tensors are bounded too


def test_if_with_a_known_condition_takes_one_branch(tmp_path):
    a = analyze(load_model(_save(if_model().graph, tmp_path / "if.onnx", opset=13)), {"x": (0.5, 1.0)}, strict=True)
    assert a.bounds["y"].min() == pytest.approx(np.exp(0.5), rel=1e-6)


def loop_model(trips: int, outer_bias: bool = True) -> onnx.GraphProto:
    """v <- v * 0.5 + bias, trips times; scan output 2 * v each iteration."""
    body_in = [
        helper.make_tensor_value_info("i", TensorProto.INT64, []),
        helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
        helper.make_tensor_value_info("v_in", F, [3]),
    ]
    body_out = [
        helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
        helper.make_tensor_value_info("v_out", F, [3]),
        helper.make_tensor_value_info("scan", F, [3]),
    ]
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Mul", ["v_in", "half"], ["h"]),
            helper.make_node("Add", ["h", "bias" if outer_bias else "one"], ["v_out"]),
            helper.make_node("Mul", ["v_out", "two"], ["scan"]),
        ],
        "body",
        body_in,
        body_out,
        [const("half", np.float32(0.5)), const("two", np.float32(2.0)), const("one", np.float32(1.0))],
    )
    x = helper.make_tensor_value_info("x", F, [3])
    outs = [helper.make_tensor_value_info("v_final", F, None), helper.make_tensor_value_info("scans", F, None)]
    nodes = [helper.make_node("Loop", ["trips", "cond"], [], body=body)]
    nodes[0].input.append("x")
    nodes[0].output.extend(["v_final", "scans"])
    return helper.make_graph(
        nodes,
        "loop",
        [x],
        outs,
        [const("trips", np.int64(trips)), const("cond", np.array(True)), const("bias", np.float32(1.0))],
    )


@pytest.mark.parametrize("trips", [3, 20])
def test_loop_is_sound_unrolled_or_widened(tmp_path, trips):
    a = check_model(_save(loop_model(trips), tmp_path / "loop.onnx", opset=13), {"x": (-4.0, 4.0)})
    v = a.bounds["v_final"]
    assert not a.unsupported
    if trips == 3:
        # exactly 3 steps of v*0.5+1 from [-4, 4]: [0.25 - ... ] is tight
        assert v.min() == pytest.approx(-4 / 8 + 1.75) and v.max() == pytest.approx(4 / 8 + 1.75)
        assert a.bounds["scans"].shape == (3, 3)
    else:
        assert v.min() <= -4 / 2**20 + 2 - 1e-6 or v.min() == -np.inf


def test_loop_body_reads_outer_scope(tmp_path):
    a = check_model(_save(loop_model(2, outer_bias=True), tmp_path / "loop.onnx", opset=13), {"x": (0.0, 1.0)})
    assert a.bounds["v_final"].max() == pytest.approx(1 * 0.25 + 1.5)


def scan_model(length: int) -> onnx.GraphProto:
    """Running sum over the sequence axis; scan output is the running sum."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]), helper.make_node("Identity", ["s_out"], ["y_t"])],
        "body",
        [helper.make_tensor_value_info("s_in", F, [2]), helper.make_tensor_value_info("x_t", F, [2])],
        [helper.make_tensor_value_info("s_out", F, [2]), helper.make_tensor_value_info("y_t", F, [2])],
    )
    x = helper.make_tensor_value_info("x", F, [length, 2])
    node = helper.make_node("Scan", ["s0", "x"], ["s_final", "ys"], body=body, num_scan_inputs=1)
    return helper.make_graph(
        [node],
        "scan",
        [x],
        [helper.make_tensor_value_info("s_final", F, None), helper.make_tensor_value_info("ys", F, None)],
        [const("s0", np.zeros(2, np.float32))],
    )


@pytest.mark.parametrize("length", [4, 12])
def test_scan_is_sound(tmp_path, length):
    a = check_model(_save(scan_model(length), tmp_path / "scan.onnx", opset=11), {"x": (-1.0, 2.0)})
    assert not a.unsupported
    if length == 4:
        assert (a.bounds["s_final"].min(), a.bounds["s_final"].max()) == (-4.0, 8.0)
        assert a.bounds["ys"].shape == (4, 2)


# -- unsupported ops --------------------------------------------------------------------------------


def test_unknown_op_is_unbounded_listed_and_the_analysis_goes_on(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2, 3])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [
            helper.make_node("Frobnicate", ["x"], ["f"], domain="acme.ops", name="weird"),
            helper.make_node("Sigmoid", ["f"], ["y"]),
        ],
        "g",
        [x],
        [y],
    )
    m = load_model(_save(g, tmp_path / "u.onnx", domains=("acme.ops",)))
    assert m.warnings  # the checker did not know the op, loading went on
    a = analyze(m, {"x": (-1.0, 1.0)})
    assert [n.name for n in a.unsupported] == ["weird"]
    assert a.bounds["f"].min() == -np.inf and a.bounds["f"].may_nan
    assert (a.bounds["y"].min(), a.bounds["y"].max()) == (0.0, 1.0)
    assert "no transfer function" in a.reasons["'weird' (Frobnicate)"]


def test_unknown_op_with_constant_inputs_is_folded_by_onnxruntime(tmp_path):
    # Celu is registered, but Det is not: with a constant input onnxruntime computes it exactly.
    x = helper.make_tensor_value_info("x", F, [2])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [helper.make_node("Det", ["m"], ["d"]), helper.make_node("Add", ["x", "d"], ["y"])],
        "g",
        [x],
        [y],
        [const("m", np.array([[2.0, 1.0], [1.0, 3.0]], np.float32))],
    )
    a = analyze(load_model(_save(g, tmp_path / "det.onnx")), {"x": (0.0, 1.0)}, strict=True)
    assert not a.unsupported and a.bounds["d"].is_point
    assert a.bounds["y"].max() == pytest.approx(6.0)


# -- depth, clamping, collapsing ---------------------------------------------------------------------


def mlp_graph() -> onnx.GraphProto:
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("x", F, [4, 8])
    y = helper.make_tensor_value_info("y", F, None)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["r1"]),
        helper.make_node("MatMul", ["r1", "w2"], ["h2"]),
        helper.make_node("Softmax", ["h2"], ["p"]),
        helper.make_node("MatMul", ["p", "w3"], ["y"]),
    ]
    inits = [const(f"w{i}", rng.standard_normal((8, 8)).astype(np.float32) * 3) for i in (1, 2, 3)]
    return helper.make_graph(nodes, "mlp", [x], [y], inits)


def test_depth_counts_widening_since_the_last_reset(tmp_path):
    a = analyze(load_model(_save(mlp_graph(), tmp_path / "mlp.onnx")), {"x": (-1.0, 1.0)}, strict=True)
    assert [a.depth[t] for t in ("h1", "r1", "h2", "p", "y")] == [1, 1, 2, 0, 1]


def test_limit_clamps_and_records_the_raw_bound(tmp_path):
    x = helper.make_tensor_value_info("x", F, [3])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [helper.make_node("Exp", ["x"], ["e"]), helper.make_node("Add", ["e", "one"], ["y"])],
        "g",
        [x],
        [y],
        [const("one", np.float32(1.0))],
    )
    m = load_model(_save(g, tmp_path / "exp.onnx"))
    a = analyze(m, {"x": (0.0, 20.0)}, limit=lambda name: 65504.0, strict=True)
    assert a.clamped["e"] == (1.0, pytest.approx(np.exp(20.0), rel=1e-6))
    assert a.bounds["e"].max() == 65504.0
    assert "y" in a.clamped and a.bounds["y"].max() == 65504.0  # 65505 is still beyond the limit
    free = analyze(m, {"x": (0.0, 20.0)}, strict=True)
    assert not free.clamped and free.bounds["e"].max() == pytest.approx(np.exp(20.0), rel=1e-6)


def test_collapse_switch_keeps_shapes_and_soundness(tmp_path):
    path = _save(mlp_graph(), tmp_path / "mlp.onnx")
    a = check_model(path, {"x": (-1.0, 1.0)}, elementwise_limit=4)
    assert all(a.bounds[t].lo.ndim == 0 for t in ("h1", "r1", "y"))
    assert a.bounds["h1"].shape == (4, 8)
    full = analyze(load_model(path), {"x": (-1.0, 1.0)}, strict=True)
    # per column (the rows share their bounds: one range for every row of x, stored once)
    assert full.bounds["y"].shape == (4, 8) and full.bounds["y"].stored_shape() == (1, 8)
    assert full.bounds["y"].max() <= a.bounds["y"].max()


def test_released_tensors_shrink_to_scalars_unless_kept(tmp_path, monkeypatch):
    import nanlint.graph.analysis as analysis_mod

    monkeypatch.setattr(analysis_mod, "RETAIN_ELEMENTWISE", 4)
    path = _save(mlp_graph(), tmp_path / "mlp.onnx")
    a = analyze(load_model(path), {"x": (-1.0, 1.0)}, strict=True)
    assert a.bounds["r1"].lo.ndim == 0 and a.bounds["r1"].shape == (4, 8)  # consumed, shrunk
    # kept per column (every row of x has the same range: the rows' bounds are stored once)
    assert a.bounds["h2"].stored_shape() == (1, 8) and a.bounds["h2"].lo.ndim == 2  # feeds Softmax: kept
    assert a.bounds["y"].stored_shape() == (1, 8) and a.bounds["y"].lo.ndim == 2  # graph output: kept
    kept = analyze(load_model(path), {"x": (-1.0, 1.0)}, keep_elementwise=lambda n: n == "r1", strict=True)
    assert kept.bounds["r1"].stored_shape() == (1, 8) and kept.bounds["r1"].lo.ndim == 2


def hard_swish_softmax_graph() -> onnx.GraphProto:
    """h = x W; s = h * Clip(h + 3, 0, 6) / 6 (hard-swish as exporters spell it); a naive softmax of
    logits = s W2 (Exp -> ReduceSum -> Div); and logits / d, d = Relu(s) (a divisor that can be 0)."""
    rng = np.random.default_rng(1)
    x = helper.make_tensor_value_info("x", F, [4, 8])
    outs = [helper.make_tensor_value_info(n, F, None) for n in ("p", "q")]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        helper.make_node("Add", ["h", "three"], ["h3"]),
        helper.make_node("Clip", ["h3", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["h", "c"], ["hc"]),
        helper.make_node("Div", ["hc", "six"], ["s"]),
        helper.make_node("MatMul", ["s", "w2"], ["logits"]),
        helper.make_node("Exp", ["logits"], ["e"]),
        helper.make_node("ReduceSum", ["e", "axes"], ["sum"], keepdims=1),
        helper.make_node("Div", ["e", "sum"], ["p"]),
        helper.make_node("Relu", ["s"], ["d"]),
        helper.make_node("Div", ["logits", "d"], ["q"]),
    ]
    inits = [
        const("w1", rng.standard_normal((8, 8)).astype(np.float32)),
        const("w2", rng.standard_normal((8, 8)).astype(np.float32) * 40),
        const("three", np.float32(3.0)),
        const("zero", np.float32(0.0)),
        const("six", np.float32(6.0)),
        const("axes", np.array([1], np.int64)),
    ]
    return helper.make_graph(nodes, "hswish", [x], outs, inits)


def test_only_softmax_logits_keep_elementwise_bounds_after_release(tmp_path, monkeypatch):
    """A Div's numerator and divisor shrink to their min and max once consumed, like any tensor: the domain
    checks read nothing else. The logits of an Exp (a row check: can a whole row underflow) stay
    element-wise. The findings are the same as with every bound kept."""
    import nanlint.graph.analysis as analysis_mod
    from nanlint import options
    from nanlint.config import Settings
    from nanlint.graph import checks
    from nanlint.graph.patterns import find_patterns
    from nanlint.graph.targets import load_profile
    from nanlint.graph.targets.precision import Precision

    monkeypatch.setattr(analysis_mod, "RETAIN_ELEMENTWISE", 4)
    model = load_model(_save(hard_swish_softmax_graph(), tmp_path / "hswish.onnx"))
    settings = dataclasses.replace(Settings(), select=("ALL",))
    profile = load_profile("cuda-fp16")
    patterns = find_patterns(model, options.default("NAN702", "max-epsilon"))
    precision = Precision(model, profile, patterns)

    def findings(**keep):
        analysis = analyze(model, {"x": (-1.0, 1.0)}, precision.limit, strict=True, **keep)
        found = checks.check(model, analysis, profile, precision, patterns, settings)
        return analysis, sorted((f.code, f.location.tensor, f.message) for f in found)

    a, got = findings()
    for name in ("hc", "s", "d"):  # a Div's numerator (hard-swish), its result, a divisor that can be 0
        assert a.bounds[name].lo.ndim == 0 and a.bounds[name].shape == (4, 8)
    assert a.bounds["logits"].lo.ndim == 2  # an Exp's input: kept
    everything, expected = findings(keep_elementwise=lambda name: True)
    assert everything.bounds["hc"].lo.ndim == 2
    assert got == expected
    assert {("NAN502", "q"), ("NAN505", "e")} <= {(code, tensor) for code, tensor, _ in got}


def test_input_ranges_defaults_and_integer_inputs(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2])
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", F, None)
    z = helper.make_tensor_value_info("z", TensorProto.INT64, None)
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["ids"], ["z"])], "g", [x, ids], [y, z]
    )
    m = load_model(_save(g, tmp_path / "in.onnx"))
    a = analyze(m, {"ids": (-0.5, 7.9)}, default_range=(-3.0, 2.0), strict=True)
    assert (a.bounds["y"].min(), a.bounds["y"].max()) == (0.0, 2.0)
    assert (a.bounds["z"].min(), a.bounds["z"].max()) == (0.0, 7.0)
    with pytest.raises(ModelError, match="names no graph input: nope"):
        analyze(m, {"nope": (0.0, 1.0)})
    exact = analyze(m, {"x": (1.5, 1.5)}, strict=True)
    assert exact.bounds["y"].is_point


def test_elementwise_input_bounds(tmp_path):
    x = helper.make_tensor_value_info("x", F, [3])
    y = helper.make_tensor_value_info("y", F, None)
    m = load_model(
        _save(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]), tmp_path / "r.onnx")
    )
    box = Interval(np.array([-1.0, 2.0, -3.0], np.float32), np.array([1.0, 3.0, -2.0], np.float32))
    a = analyze(m, {}, input_bounds={"x": box}, strict=True)
    np.testing.assert_array_equal(a.bounds["y"].lo, [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(a.bounds["y"].hi, [1.0, 3.0, 0.0])


def test_fp16_model_bounds_in_float32_and_overflow_shows(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)
    g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "g", [x], [y], [const("k", np.float16(1000.0))])
    a = analyze(load_model(_save(g, tmp_path / "h.onnx")), {"x": (-100.0, 100.0)}, strict=True)
    assert a.bounds["y"].lo.dtype == np.float32 and a.bounds["y"].max() == 100000.0


# -- the harness, the registry, the docs -------------------------------------------------------------


def test_the_soundness_harness_catches_a_wrong_transfer_function(monkeypatch):
    entry = transfer.REGISTRY[("", "Relu")]

    def too_tight(ctx):
        x = ctx.x(0)
        return [Interval(np.zeros_like(x.lo), np.zeros_like(x.hi), False, x.shape)]

    monkeypatch.setitem(transfer.REGISTRY, ("", "Relu"), dataclasses.replace(entry, fn=too_tight))
    with pytest.raises(AssertionError, match="outside"):
        check(Case("Relu", [Box((3, 4))]), seeds=(0,))


ALL_CASES = [
    c
    for module in (
        test_transfer_arithmetic,
        test_transfer_contrib,
        test_transfer_elementwise,
        test_transfer_layout,
        test_transfer_linear,
        test_transfer_normalization,
        test_transfer_quantization,
        test_transfer_recurrent,
        test_transfer_reduction,
        test_transfer_shape,
    )
    for c in module.CASES
]
# Ops whose soundness is checked on whole models in this file.
MODEL_TESTED = {("", "If"), ("", "Loop"), ("", "Scan")}


def test_every_registered_op_has_a_soundness_test():
    covered = {(c.domain, c.op) for c in ALL_CASES} | MODEL_TESTED
    missing = sorted(f"{d}::{op}" if d else op for d, op in transfer.REGISTRY if (d, op) not in covered)
    assert not missing, f"ops without a soundness case: {missing}"


def test_ops_doc_is_generated_from_the_registry():
    doc = (ROOT / "docs" / "graph-ops.md").read_text(encoding="utf-8")
    assert doc == ops_markdown() + "\n", "docs/graph-ops.md is stale: run python -m nanlint.graph.transfer"
    assert f"bounds {len(transfer.REGISTRY)} ops" in doc


# -- relational refinements ---------------------------------------------------------------------------


def test_stable_softmax_shift_is_at_most_zero(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2, 5])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [
            helper.make_node("ReduceMax", ["x"], ["m"], axes=[-1], keepdims=1),
            helper.make_node("Sub", ["x", "m"], ["d"]),
            helper.make_node("Exp", ["d"], ["y"]),
        ],
        "g",
        [x],
        [y],
    )
    a = check_model(_save(g, tmp_path / "shift.onnx", opset=13), {"x": (-30.0, 30.0)})
    assert a.bounds["d"].max() == 0.0 and a.bounds["d"].min() == -60.0
    assert a.bounds["y"].max() == 1.0


def test_attention_context_lies_within_the_value_hull(tmp_path):
    s = helper.make_tensor_value_info("s", F, [2, 4, 6])
    v = helper.make_tensor_value_info("v", F, [2, 6, 3])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [helper.make_node("Softmax", ["s"], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["y"])],
        "g",
        [s, v],
        [y],
    )
    a = check_model(_save(g, tmp_path / "attn.onnx", opset=13), {"s": (-5.0, 5.0), "v": (-2.0, 3.0)})
    assert (a.bounds["y"].min(), a.bounds["y"].max()) == (-2.0, 3.0)
    assert a.depth["y"] == 0


def test_dtypes_of_computed_tensors_are_reported(tmp_path):
    a = analyze(load_model(_save(mlp_graph(), tmp_path / "mlp.onnx")), {}, strict=True)
    assert a.dtypes["h1"] == F and a.dtypes["y"] == F
