"""Soundness of the linear family (centre/radius form) and tightness for exact weights."""

from __future__ import annotations

import numpy as np
import pytest

from tests.graph._soundness import Box, Case, check

rng = np.random.default_rng(42)
W = rng.standard_normal((5, 3)).astype(np.float32)
CONV_W = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
CONV_B = rng.standard_normal((4,)).astype(np.float32)
IMG = Box((1, 3, 6, 6))

# Products accumulate in float32 in a different order than the kernel on each point.
LIN = dict(scale_tol=1e-5)

CASES = [
    Case("MatMul", [Box((2, 4, 5)), W], **LIN),
    Case("MatMul", [Box((2, 4, 5), regimes=("narrow",)), W], name="MatMul-narrow", **LIN),
    Case("MatMul", [W.T.copy(), Box((5, 2))], name="MatMul-constant-left", **LIN),
    Case("MatMul", [Box((2, 3, 4)), Box((2, 4, 3))], name="MatMul-both-vary", **LIN),
    Case("MatMul", [Box((4,)), Box((4, 3))], name="MatMul-vector", **LIN),
    Case("Gemm", [Box((4, 5)), W, np.ones(3, np.float32)], attrs={"alpha": 0.5, "beta": -2.0}, **LIN),
    Case("Gemm", [Box((5, 4)), W.T.copy(), Box((3,))], attrs={"transA": 1, "transB": 1}, name="Gemm-trans", **LIN),
    Case("Conv", [IMG, CONV_W, CONV_B], attrs={"pads": [1, 1, 1, 1]}, **LIN),
    Case("Conv", [IMG, CONV_W], attrs={"strides": [2, 2], "dilations": [1, 1]}, name="Conv-stride", **LIN),
    Case(
        "Conv",
        [Box((1, 4, 5, 5)), rng.standard_normal((4, 1, 3, 3)).astype(np.float32)],
        attrs={"group": 4},
        name="Conv-depthwise",
        **LIN,
    ),
    Case("Conv", [IMG, Box((4, 3, 3, 3)), CONV_B], name="Conv-varying-weights", **LIN),
    Case("Conv", [Box((1, 3, 8)), rng.standard_normal((2, 3, 3)).astype(np.float32)], name="Conv-1d", **LIN),
    Case(
        "ConvTranspose",
        [IMG, rng.standard_normal((3, 2, 3, 3)).astype(np.float32), np.ones(2, np.float32)],
        attrs={"strides": [2, 2]},
        **LIN,
    ),
    Case(
        "BatchNormalization",
        [
            Box((2, 3, 4)),
            np.array([1.0, -2.0, 0.5], np.float32),
            np.array([0.1, 0.2, -0.3], np.float32),
            np.array([0.5, -1.0, 2.0], np.float32),
            np.array([1.0, 0.25, 4.0], np.float32),
        ],
        opset=15,
    ),
    Case(
        "BatchNormalization",
        [Box((2, 3, 4)), Box((3,)), Box((3,)), Box((3,)), Box((3,), low=0.1)],
        opset=15,
        name="BatchNormalization-varying",
        rtol=1e-4,
    ),
    Case("Einsum", [Box((2, 3)), np.ones((3, 4), np.float32)], attrs={"equation": "ij,jk->ik"}, **LIN),
    Case(
        "Einsum", [Box((2, 3, 4)), Box((2, 4, 5))], attrs={"equation": "bij,bjk->bik"}, name="Einsum-both-vary", **LIN
    ),
    Case("Einsum", [Box((3, 3))], attrs={"equation": "ii->i"}, name="Einsum-diagonal", **LIN),
    Case("Einsum", [Box((2, 3)), Box((2, 3))], attrs={"equation": "ij,ij->i"}, name="Einsum-dot", **LIN),
    Case(
        "RotaryEmbedding",
        [
            Box((1, 2, 3, 4)),
            np.cos(np.arange(6, dtype=np.float32)).reshape(3, 2),
            np.sin(np.arange(6, dtype=np.float32)).reshape(3, 2),
            np.array([[0, 1, 2]], np.int64),
        ],
        opset=23,
        **LIN,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_exact_weights_give_the_exact_box_of_a_matmul():
    out = check(Case("MatMul", [Box((4, 5)), W]), seeds=(0,), points=2)
    x, b = out["inputs"]["in0"], out["bounds"][0]
    lo64, hi64 = x.lo.astype(np.float64), x.hi.astype(np.float64)
    w_pos, w_neg = np.maximum(W, 0), np.minimum(W, 0)
    exact_lo = lo64 @ w_pos + hi64 @ w_neg
    exact_hi = hi64 @ w_pos + lo64 @ w_neg
    np.testing.assert_allclose(b.lo, exact_lo, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.hi, exact_hi, rtol=1e-4, atol=1e-4)
    assert out["analysis"].depth["out0"] == 1


def test_point_input_conv_is_the_kernel_value():
    out = check(Case("Conv", [IMG, CONV_W, CONV_B], regimes=("narrow",)), seeds=(0,), points=2)
    b = out["bounds"][0]
    assert float(np.max(b.hi - b.lo)) < 0.1


def test_rows_with_one_radius_share_the_radius_product(tmp_path):
    """Rows with equal radii (as after a capped LayerNorm) give the same bounds by the cheap path."""
    import os

    from nanlint.graph.analysis import analyze
    from nanlint.graph.interval import Interval
    from nanlint.graph.model import load_model
    from tests.graph._soundness import build_model

    path = os.path.join(tmp_path, "mm.onnx")
    build_model(Case("MatMul", [Box((6, 5)), W]), path)
    model = load_model(path)
    centers = rng.standard_normal((6, 5)).astype(np.float32)
    radius = np.abs(rng.standard_normal(5)).astype(np.float32)
    box = Interval(centers - radius, centers + radius)
    b = analyze(model, {}, input_bounds={"in0": box}, strict=True).bounds["out0"]
    lo64, hi64 = box.lo.astype(np.float64), box.hi.astype(np.float64)
    exact_lo = lo64 @ np.maximum(W, 0) + hi64 @ np.minimum(W, 0)
    exact_hi = hi64 @ np.maximum(W, 0) + lo64 @ np.minimum(W, 0)
    np.testing.assert_allclose(b.lo, exact_lo, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.hi, exact_hi, rtol=1e-4, atol=1e-4)
