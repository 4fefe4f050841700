"""Soundness and tightness of softmax and the normalisations (the ops that reset bounds)."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval
from nanlint.graph.model import load_model
from tests.graph._soundness import Box, Case, check

rng = np.random.default_rng(7)
X = Box((2, 3, 6))
GAMMA = rng.standard_normal(6).astype(np.float32)
BETA = rng.standard_normal(6).astype(np.float32)
NORM = dict(rtol=1e-4, scale_tol=1e-4)  # float32 mean/variance in the kernel

CASES = [
    Case("Softmax", [X], opset=13),
    Case("Softmax", [X], attrs={"axis": 1}, opset=13, name="Softmax-axis1"),
    Case("Softmax", [X], attrs={"axis": 1}, opset=11, name="Softmax-opset11-flatten"),
    Case("LogSoftmax", [X], opset=13, rtol=1e-4),
    Case("Hardmax", [X], opset=13),
    Case("LayerNormalization", [X, GAMMA, BETA], outputs=3, **NORM),
    Case(
        "LayerNormalization",
        [X, np.ones((3, 6), np.float32)],
        attrs={"axis": 1, "epsilon": 1e-3},
        name="LayerNormalization-axis1",
        **NORM,
    ),
    Case("LayerNormalization", [X, Box((6,)), Box((6,))], name="LayerNormalization-varying-affine", **NORM),
    Case("RMSNormalization", [X, GAMMA], opset=23, **NORM),
    Case("SimplifiedLayerNormalization", [X, GAMMA], outputs=2, **NORM),
    Case(
        "InstanceNormalization",
        [Box((2, 3, 4, 2)), np.array([1.0, -2.0, 0.5], np.float32), np.array([0.0, 1.0, -1.0], np.float32)],
        **NORM,
    ),
    Case(
        "GroupNormalization",
        [Box((2, 4, 3)), np.array([1.0, -0.5], np.float32), np.array([0.2, 0.0], np.float32)],
        attrs={"num_groups": 2},
        opset=18,
        **NORM,
    ),
    Case(
        "GroupNormalization",
        [Box((2, 4, 3)), np.array([1.0, -0.5, 2.0, 1.0], np.float32), np.array([0.2, 0.0, -1.0, 0.5], np.float32)],
        attrs={"num_groups": 2},
        opset=21,
        name="GroupNormalization-per-channel",
        **NORM,
    ),
    Case("MeanVarianceNormalization", [Box((2, 3, 2, 2))], **NORM),
    Case("LpNormalization", [X], attrs={"axis": -1, "p": 2}, **NORM),
    Case("LpNormalization", [X], attrs={"axis": 1, "p": 1}, name="LpNormalization-L1", **NORM),
    Case("LRN", [Box((1, 5, 3, 3))], attrs={"size": 3}, **NORM),
    Case(
        "BatchNormalization",
        [
            Box((2, 3, 4)),
            np.ones(3, np.float32),
            np.zeros(3, np.float32),
            np.zeros(3, np.float32),
            np.ones(3, np.float32),
        ],
        attrs={"training_mode": 1},
        outputs=3,
        opset=15,
        check_outputs=(0,),
        name="BatchNormalization-training",
        **NORM,
    ),
    Case("Attention", [Box((1, 2, 3, 4)), Box((1, 2, 5, 4)), Box((1, 2, 5, 4))], opset=23, **NORM),
    Case(
        "Attention",
        [Box((1, 3, 8)), Box((1, 5, 4)), Box((1, 5, 4))],
        attrs={"q_num_heads": 2, "kv_num_heads": 1},
        opset=23,
        name="Attention-3d-gqa",
        **NORM,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_bounds_are_attained_at_vertices():
    out = check(Case("Softmax", [Box((2, 5))], opset=13), seeds=(3,), points=2)
    x, b = out["inputs"]["in0"], out["bounds"][0]
    lo, hi = x.lo.astype(np.float64), x.hi.astype(np.float64)
    for row in range(2):
        for i in range(5):
            low_point = hi[row].copy()
            low_point[i] = lo[row, i]
            high_point = lo[row].copy()
            high_point[i] = hi[row, i]
            assert b.lo[row, i] == pytest.approx(_softmax(low_point)[i], rel=1e-5, abs=1e-12)
            assert b.hi[row, i] == pytest.approx(_softmax(high_point)[i], rel=1e-5, abs=1e-12)


def test_softmax_of_anything_stays_in_unit_interval():
    out = check(Case("Softmax", [Box((2, 5))], opset=13, regimes=("huge",)), seeds=(0,), points=2)
    b = out["bounds"][0]
    assert b.min() >= 0.0 and b.max() <= 1.0
    assert out["analysis"].depth["out0"] == 0


def _single(op, inputs, bounds, attrs=None, opset=17, outputs=1):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        from tests.graph._soundness import build_model

        build_model(Case(op, inputs, attrs=attrs or {}, opset=opset, outputs=outputs), path)
        model = load_model(path)
    return analyze(model, {}, input_bounds=bounds, strict=True)


def test_layer_norm_is_bounded_whatever_the_input():
    n = 6
    lo = np.full((1, n), -1e20, np.float32)
    hi = np.full((1, n), 1e20, np.float32)
    a = _single("LayerNormalization", [Box((1, n)), GAMMA, BETA], {"in0": Interval(lo, hi)})
    y = a.bounds["out0"]
    cap = math.sqrt(n - 1)
    np.testing.assert_allclose(np.broadcast_to(y.hi, (1, n))[0], cap * np.abs(GAMMA) + BETA, rtol=1e-5)
    np.testing.assert_allclose(np.broadcast_to(y.lo, (1, n))[0], -cap * np.abs(GAMMA) + BETA, rtol=1e-5)
    assert a.depth["out0"] == 0


def test_layer_norm_of_an_exact_input_is_exact():
    x = rng.standard_normal((2, 6)).astype(np.float32)
    a = _single("LayerNormalization", [Box((2, 6)), GAMMA, BETA], {"in0": Interval(x, x.copy())})
    y = a.bounds["out0"]
    z = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y.lo, z * GAMMA + BETA, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.hi, z * GAMMA + BETA, rtol=1e-5, atol=1e-5)


def test_rms_norm_cap_is_sqrt_n():
    a = _single(
        "RMSNormalization",
        [Box((1, 4)), np.ones(4, np.float32)],
        {"in0": Interval(np.full((1, 4), -1e10, np.float32), np.full((1, 4), 1e10, np.float32))},
        opset=23,
    )
    assert a.bounds["out0"].max() == pytest.approx(2.0, rel=1e-6)


def _decomposed_rms_model(path, eps=1e-6, reduce="ReduceMean", square="Pow"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = []
    if square == "Pow":
        nodes.append(helper.make_node("Pow", ["x", "two"], ["sq"]))
    else:
        nodes.append(helper.make_node("Mul", ["x", "x"], ["sq"]))
    nodes += [
        helper.make_node(reduce, ["sq", "axes"], ["ms"], keepdims=1),
        helper.make_node("Add", ["ms", "eps"], ["mse"]),
        helper.make_node("Sqrt", ["mse"], ["rms"]),
        helper.make_node("Div", ["x", "rms"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.float32(2.0), "two"),
        numpy_helper.from_array(np.array([-1], np.int64), "axes"),
        numpy_helper.from_array(np.float32(eps), "eps"),
    ]
    g = helper.make_graph(nodes, "rms", [x], [y], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), path)


@pytest.mark.parametrize("square", ["Pow", "Mul"])
def test_decomposed_rms_norm_is_recognised(tmp_path, square):
    path = str(tmp_path / "rms.onnx")
    _decomposed_rms_model(path, square=square)
    a = analyze(load_model(path), {"x": (-1e4, 1e4)}, strict=True)
    y = a.bounds["y"]
    assert y.max() <= math.sqrt(8) + 1e-6 and y.min() >= -math.sqrt(8) - 1e-6
    assert a.depth["y"] == 0


def test_decomposed_l2_normalisation_is_bounded_by_one(tmp_path):
    path = str(tmp_path / "l2.onnx")
    _decomposed_rms_model(path, reduce="ReduceSum")
    a = analyze(load_model(path), {"x": (-1e4, 1e4)}, strict=True)
    assert a.bounds["y"].max() <= 1.0 + 1e-6


def test_division_by_an_unrelated_norm_is_not_capped(tmp_path):
    path = str(tmp_path / "other.onnx")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Mul", ["z", "z"], ["sq"]),
        helper.make_node("ReduceMean", ["sq", "axes"], ["ms"], keepdims=1),
        helper.make_node("Add", ["ms", "eps"], ["mse"]),
        helper.make_node("Sqrt", ["mse"], ["rms"]),
        helper.make_node("Div", ["x", "rms"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1], np.int64), "axes"),
        numpy_helper.from_array(np.float32(1e-6), "eps"),
    ]
    onnx.save(
        helper.make_model(
            helper.make_graph(nodes, "g", [x, z], [y], inits), opset_imports=[helper.make_opsetid("", 18)]
        ),
        path,
    )
    a = analyze(load_model(path), {"x": (-1.0, 1.0), "z": (-1.0, 1.0)}, strict=True)
    assert a.bounds["y"].max() == pytest.approx(1 / math.sqrt(1e-6), rel=1e-3)


# -- weighted means: masked mean pooling -------------------------------------------------------------------

POOL_T, POOL_H = 5, 4


def _mean_pooling(weights_from_mask: bool = True, guard: str = "Clip"):
    """sum(x * m, axis=1) / clip(sum(m, axis=1), 1e-9), as sentence-transformers exports mean pooling
    (m: the attention mask expanded over the hidden axis); `weights_from_mask=False` takes a float
    weight input that can be negative instead (no mean then)."""
    from onnx import helper, numpy_helper

    nodes = [
        helper.make_node("Mul", ["x", "m"], ["xm"]),
        helper.make_node("ReduceSum", ["xm", "axis"], ["num"], keepdims=0),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, POOL_T, POOL_H])]
    if weights_from_mask:
        nodes = [
            helper.make_node("Unsqueeze", ["mask", "last"], ["mu"]),
            helper.make_node("Expand", ["mu", "full"], ["me"]),
            helper.make_node("Cast", ["me"], ["m"], to=TensorProto.FLOAT),
            *nodes,
        ]
        inputs.append(helper.make_tensor_value_info("mask", TensorProto.INT64, [1, POOL_T]))
    else:
        inputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, [1, POOL_T, POOL_H]))
    nodes.append(helper.make_node("ReduceSum", ["m", "axis"], ["total"], keepdims=0))
    if guard == "Clip":
        nodes.append(helper.make_node("Clip", ["total", "eps"], ["den"]))
    else:
        nodes.append(helper.make_node("Max", ["total", "eps"], ["den"]))
    nodes.append(helper.make_node("Div", ["num", "den"], ["y"]))
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axis"),
        numpy_helper.from_array(np.array([-1], np.int64), "last"),
        numpy_helper.from_array(np.array([1, POOL_T, POOL_H], np.int64), "full"),
        numpy_helper.from_array(np.float32(1e-9), "eps"),
    ]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return helper.make_graph(nodes, "pool", inputs, [out], inits)


@pytest.mark.parametrize("guard", ["Clip", "Max"])
def test_masked_mean_is_within_the_hull_of_its_rows(guard):
    mask = Box((1, POOL_T), dtype=TensorProto.INT64, integer=True, low=0, high=1)
    x = Box((1, POOL_T, POOL_H))
    out = check(Case("pool", [x, mask], graph=_pooling_inputs(_mean_pooling(guard=guard)), opset=13, name=guard))
    bound, xb = out["bounds"][0], out["inputs"]["in0"]
    lo, hi = np.broadcast_to(xb.lo, xb.shape), np.broadcast_to(xb.hi, xb.shape)
    assert np.all(np.broadcast_to(bound.hi, bound.shape) <= np.maximum(hi.max(axis=1), 0))
    assert np.all(np.broadcast_to(bound.lo, bound.shape) >= np.minimum(lo.min(axis=1), 0))


def test_masked_mean_of_a_range_is_the_range():
    """x in [-2, 3] and a mask in {0, 1}: the mean lies in [-2, 3] (0 for an empty mask), while the
    division alone gives T * 3 / 1e-9."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pool.onnx")
        graph = _mean_pooling()
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        bound = analyze(load_model(path), {"x": (-2.0, 3.0), "mask": (0, 1)}, strict=True).bounds["y"]
    assert (bound.min(), bound.max()) == (-2.0, 3.0)


def test_weights_that_can_be_negative_make_no_mean():
    """sum(x * w) / max(sum(w), eps) with w in [-1, 1]: no convex combination, interval arithmetic only."""
    g = _pooling_inputs(_mean_pooling(weights_from_mask=False))
    out = check(Case("signed", [Box((1, POOL_T, POOL_H)), Box((1, POOL_T, POOL_H))], graph=g, opset=13), seeds=(0,))
    x = out["inputs"]["in0"]
    assert out["bounds"][0].abs_max() > 10 * x.abs_max()


def _pooling_inputs(graph):
    """The harness names graph inputs in0, in1, ...: rename x -> in0 and the mask/weights -> in1."""
    rename = {"x": "in0", "mask": "in1", "m": "in1"}
    weights = graph.input[1].name
    for value in graph.input:
        value.name = rename[value.name]
    for node in graph.node:
        node.input[:] = [rename.get(i, i) if i in ("x", weights) else i for i in node.input]
    return graph
