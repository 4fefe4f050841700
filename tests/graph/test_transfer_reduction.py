"""Soundness of reductions, scans and pooling."""

from __future__ import annotations

import numpy as np
import pytest

from tests.graph._soundness import Box, Case, check

X = Box((2, 3, 4))
IMG = Box((1, 2, 5, 5))
AX = np.array([1], np.int64)
SUM = dict(scale_tol=1e-5)

CASES = [
    Case("ReduceSum", [X, AX], opset=13, **SUM),
    Case("ReduceMean", [X], attrs={"axes": [0, 2]}, opset=13, **SUM),
    Case("ReduceMax", [X], attrs={"keepdims": 0}, opset=13),
    Case("ReduceMin", [X, AX], opset=18),
    Case("ReduceLogSumExp", [X, AX], opset=18, **SUM),
    Case("ReduceLogSum", [X, AX], opset=18, **SUM),
    Case("ReduceL1", [X, AX], opset=18, **SUM),
    Case("ReduceL2", [X, AX], opset=18, **SUM),
    Case("ReduceSumSquare", [X, AX], opset=18, **SUM),
    Case("ReduceProd", [X, AX], opset=18, **SUM),
    Case(
        "ReduceProd", [Box((2, 3, 4), regimes=("positive", "narrow")), AX], opset=18, name="ReduceProd-positive", **SUM
    ),
    Case("CumSum", [X, np.array(2, np.int64)], attrs={"reverse": 1}, **SUM),
    Case("CumProd", [X, np.array(2, np.int64)], opset=26, **SUM),
    Case("ArgMax", [X], attrs={"axis": 1}),
    Case("ArgMin", [X], attrs={"axis": -1, "keepdims": 0}),
    Case("TopK", [X, np.array([2], np.int64)], outputs=2),
    Case("TopK", [X, np.array([3], np.int64)], attrs={"largest": 0, "axis": 1}, outputs=2, name="TopK-smallest"),
    Case("MaxPool", [IMG], attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [2, 2]}),
    Case("MaxPool", [IMG], attrs={"kernel_shape": [2, 2]}, outputs=2, name="MaxPool-indices"),
    Case("AveragePool", [IMG], attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1}, **SUM),
    Case("GlobalAveragePool", [IMG], **SUM),
    Case("GlobalMaxPool", [IMG]),
    Case("LpPool", [IMG], attrs={"kernel_shape": [2, 2], "p": 2}, **SUM),
    Case("GlobalLpPool", [IMG], attrs={"p": 3}, **SUM),
    Case("MaxRoiPool", [IMG, np.array([[0, 0, 0, 3, 3], [0, 1, 1, 4, 4]], np.float32)], attrs={"pooled_shape": [2, 2]}),
    Case(
        "RoiAlign",
        [IMG, np.array([[0.5, 0.5, 3.0, 3.5]], np.float32), np.array([0], np.int64)],
        attrs={"output_height": 2, "output_width": 2},
        opset=16,
        **SUM,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_reduce_sum_bounds_are_sums_of_bounds():
    out = check(Case("ReduceSum", [X, AX], opset=13), seeds=(0,), points=2)
    x, b = out["inputs"]["in0"], out["bounds"][0]
    np.testing.assert_allclose(b.lo, x.lo.sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(b.hi, x.hi.sum(axis=1, keepdims=True), rtol=1e-6)


def test_argmax_is_an_index_range():
    out = check(Case("ArgMax", [X], attrs={"axis": 1}), seeds=(0,), points=2)
    b = out["bounds"][0]
    assert (b.min(), b.max()) == (0.0, 2.0) and b.shape == (2, 1, 4)
