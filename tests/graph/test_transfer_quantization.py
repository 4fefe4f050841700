"""Soundness of quantize/dequantize and the integer/QLinear linear ops."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

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
