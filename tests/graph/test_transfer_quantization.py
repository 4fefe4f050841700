"""Soundness of quantize/dequantize and the integer/QLinear linear ops."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.graph._soundness import Box, Case, check

rng = np.random.default_rng(5)
U8 = Box((2, 4), dtype=TensorProto.UINT8, integer=True, low=0, high=255, regimes=("positive", "straddle"), scale=60)
I8 = Box((2, 4), dtype=TensorProto.INT8, integer=True, low=-128, high=127, scale=40)
IMG_U8 = Box((1, 2, 4, 4), dtype=TensorProto.UINT8, integer=True, low=0, high=255, regimes=("positive",), scale=60)
W8 = rng.integers(-100, 100, (4, 3)).astype(np.int8)
CW8 = rng.integers(-50, 50, (3, 2, 3, 3)).astype(np.int8)

CASES = [
    Case("QuantizeLinear", [Box((2, 4)), np.float32(0.05), np.uint8(128)], opset=13),
    Case(
        "QuantizeLinear",
        [Box((2, 4)), np.array([0.1, 0.02], np.float32), np.array([0, -3], np.int8)],
        attrs={"axis": 0},
        opset=13,
        name="QuantizeLinear-per-axis",
    ),
    Case("DequantizeLinear", [I8, np.float32(0.1), np.int8(-2)], opset=13),
    Case(
        "DequantizeLinear",
        [U8, np.array([0.5, 0.25], np.float32), np.array([3, 7], np.uint8)],
        attrs={"axis": 0},
        opset=13,
        name="DequantizeLinear-per-axis",
    ),
    Case(
        "QuantizeLinear",
        [Box((2, 4)), np.float32(0.05), np.uint8(128)],
        domain="com.microsoft",
        name="QuantizeLinear-contrib",
    ),
    Case(
        "DequantizeLinear", [I8, np.float32(0.1), np.int8(-2)], domain="com.microsoft", name="DequantizeLinear-contrib"
    ),
    Case("DynamicQuantizeLinear", [Box((2, 4))], outputs=3, opset=11),
    Case("MatMulInteger", [U8, W8.astype(np.uint8), np.uint8(3), np.uint8(5)], opset=10),
    Case("MatMulInteger", [I8, W8, np.int8(1)], opset=10, name="MatMulInteger-int8"),
    Case(
        "QLinearMatMul",
        [U8, np.float32(0.02), np.uint8(120), W8, np.float32(0.01), np.int8(0), np.float32(0.05), np.uint8(100)],
        opset=10,
    ),
    Case("ConvInteger", [IMG_U8, CW8.astype(np.uint8), np.uint8(10)], opset=10),
    Case(
        "QLinearConv",
        [
            IMG_U8,
            np.float32(0.02),
            np.uint8(100),
            CW8,
            np.float32(0.01),
            np.int8(0),
            np.float32(0.1),
            np.uint8(128),
            np.array([5, -3, 100], np.int32),
        ],
        attrs={"pads": [1, 1, 1, 1]},
        opset=10,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_quantize_saturates_to_the_type_range():
    out = check(
        Case("QuantizeLinear", [Box((2, 4)), np.float32(0.05), np.uint8(128)], opset=13, regimes=("huge",)),
        seeds=(0,),
        points=2,
    )
    b = out["bounds"][0]
    assert b.min() >= 0 and b.max() <= 255


# -- dynamically quantised layers (onnxruntime's quantize_dynamic) ----------------------------------------

QW = rng.integers(-60, 60, (4, 3, 3, 3)).astype(np.int8)  # ConvInteger weights: 4 output channels
QW_ZERO = np.int8(2)
W_SCALE = np.array([0.01, 0.02, 0.005, 0.03], np.float32).reshape(1, 4, 1, 1)  # per output channel
CONV_BIAS = np.array([0.5, -1.0, 0.0, 2.0], np.float32)
MW = rng.integers(0, 255, (5, 3)).astype(np.uint8)  # MatMulInteger weights: 3 output columns
MW_ZERO = np.array([128, 120, 130], np.uint8)
MW_SCALE = np.array([0.02, 0.01, 0.04], np.float32)


def _tensor(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def quantized_conv(with_bias: bool = True):
    """x -> DynamicQuantizeLinear -> ConvInteger -> (+ floor(b / S)) -> Cast -> * S, S = s * s_W (one weight
    scale with a bias, as onnxruntime writes it; one per output channel without)."""
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["in0"], ["xq", "s", "z"]),
        helper.make_node("ConvInteger", ["xq", "w", "z", "wz"], ["acc"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["s", "ws"], ["S"]),
    ]
    if with_bias:
        nodes += [
            helper.make_node("Div", ["b", "S"], ["bq_f"]),
            helper.make_node("Floor", ["bq_f"], ["bq_r"]),
            helper.make_node("Cast", ["bq_r"], ["bq_i"], to=TensorProto.INT32),
            helper.make_node("Reshape", ["bq_i", "channel"], ["bq"]),
            helper.make_node("Add", ["acc", "bq"], ["sum"]),
        ]
    nodes += [
        helper.make_node("Cast", ["sum" if with_bias else "acc"], ["sum_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["sum_f", "S"], ["y"]),
    ]
    inits = [
        _tensor("w", QW),
        _tensor("wz", QW_ZERO),
        _tensor("ws", np.float32(0.02) if with_bias else W_SCALE),
        _tensor("b", CONV_BIAS),
        _tensor("channel", np.array([1, 4, 1, 1], np.int64)),
    ]
    x = helper.make_tensor_value_info("in0", TensorProto.FLOAT, [1, 3, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return helper.make_graph(nodes, "qconv", [x], [y], inits)


def quantized_matmul():
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["in0"], ["xq", "s", "z"]),
        helper.make_node("MatMulInteger", ["xq", "w", "z", "wz"], ["acc"]),
        helper.make_node("Cast", ["acc"], ["acc_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["s", "ws"], ["S"]),
        helper.make_node("Mul", ["S", "acc_f"], ["y"]),
    ]
    inits = [_tensor("w", MW), _tensor("wz", MW_ZERO), _tensor("ws", MW_SCALE)]
    x = helper.make_tensor_value_info("in0", TensorProto.FLOAT, [2, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return helper.make_graph(nodes, "qmatmul", [x], [y], inits)


@pytest.mark.parametrize(
    "name,build,shape",
    [
        ("conv-bias", quantized_conv, (1, 3, 5, 5)),
        ("conv", lambda: quantized_conv(False), (1, 3, 5, 5)),
        ("matmul", quantized_matmul, (2, 5)),
    ],
)
def test_dynamically_quantized_layers_are_sound(name, build, shape):
    # tiny boxes quantise with a step so small that floor(b / S) leaves int32 (the cast is undefined)
    check(Case(name, [Box(shape)], graph=build(), opset=13, rtol=1e-4, scale_tol=1e-4, name=name))


def _bounds(graph, low, high):
    import tempfile

    from nanlint.graph.analysis import analyze
    from nanlint.graph.model import load_model
    from tests.graph._soundness import build_model

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/m.onnx"
        build_model(Case("g", [], graph=graph, opset=13), path)
        return analyze(load_model(path), {"in0": (low, high)}, strict=True).bounds


def test_the_rescaled_accumulator_is_the_float_layer():
    """The dequantised conv is bounded like the float conv of x +- one step, plus the bias (or +-2|b|)."""
    bounds = _bounds(quantized_conv(), -1.0, 3.0)
    weight = (QW.astype(np.float64) - QW_ZERO) * 0.02
    step = 4.0 / 255
    reach = np.abs(weight).sum(axis=(1, 2, 3)) * (3.0 + step)  # |x| <= 3 + step
    expected = np.max(np.maximum(reach + np.maximum(CONV_BIAS, 2 * np.abs(CONV_BIAS)), 0))
    assert bounds["y"].max() <= expected * 1.0001
    # interval arithmetic alone multiplies the accumulator's bound by the scale's
    assert bounds["sum_f"].max() * bounds["S"].max() > 3 * bounds["y"].max()


def test_one_dynamic_zero_point_bounds_the_accumulator_by_its_ends():
    bounds = _bounds(quantized_matmul(), -1.0, 1.0)
    centred = MW.astype(np.float64) - MW_ZERO
    positive, negative = np.maximum(centred, 0).sum(axis=0), np.maximum(-centred, 0).sum(axis=0)
    # x_q - z in [0, 255] (z = 0) or [-255, 0] (z = 255): 255 * max(P, N), not 255 * (P + N)
    assert bounds["acc"].max() == pytest.approx(255 * np.max(np.maximum(positive, negative)))
