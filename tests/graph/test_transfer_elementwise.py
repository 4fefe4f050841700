"""Soundness and tightness of the element-wise families (monotone and non-monotone unary ops)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from nanlint.graph.interval import Interval
from tests.graph._soundness import Box, Case, check

X = Box((3, 5))
UNIT = Box((3, 5), low=-1.0, high=1.0)

CASES = [
    Case(op, [X], opset=20)
    for op in (
        "Relu",
        "Exp",
        "Sinh",
        "Asinh",
        "Atan",
        "Softplus",
        "Softsign",
        "Floor",
        "Ceil",
        "Round",
        "Sign",
        "Selu",
        "Celu",
        "Tanh",
        "Sigmoid",
        "Erf",
        "HardSigmoid",
        "LeakyRelu",
        "Elu",
        "ThresholdedRelu",
        "Shrink",
        "Log",
        "Sqrt",
        "Asin",
        "Acosh",
        "Atanh",
        "Neg",
        "Acos",
        "Gelu",
        "Mish",
        "HardSwish",
        "Abs",
        "Cosh",
        "Sin",
        "Cos",
        "Tan",
        "IsNaN",
        "IsInf",
    )
] + [
    Case("Swish", [X], opset=24),
    Case("Swish", [X], attrs={"alpha": 2.5}, opset=24, name="Swish-alpha"),
    Case("Gelu", [X], attrs={"approximate": "tanh"}, opset=20, name="Gelu-tanh"),
    Case("LeakyRelu", [X], attrs={"alpha": -0.5}, name="LeakyRelu-negative"),
    Case("Elu", [X], attrs={"alpha": -0.5}, name="Elu-negative"),
    Case("ThresholdedRelu", [X], attrs={"alpha": -0.5}, name="ThresholdedRelu-negative"),
    Case("HardSigmoid", [X], attrs={"alpha": -0.3, "beta": 0.4}, name="HardSigmoid-decreasing"),
    Case("Asin", [UNIT], name="Asin-domain"),
    Case("Acos", [UNIT], name="Acos-domain"),
    Case("Sin", [Box((3, 5))], regimes=("straddle", "narrow"), name="Sin-small"),
    Case("Not", [Box((3, 5), dtype=TensorProto.BOOL)]),
    Case("Cast", [X], attrs={"to": TensorProto.FLOAT16}, name="Cast-fp16"),
    Case("Cast", [X], attrs={"to": TensorProto.INT32}, name="Cast-int32"),
    Case("Cast", [X], attrs={"to": TensorProto.BOOL}, name="Cast-bool"),
    Case(
        "Cast",
        [Box((3, 5), dtype=TensorProto.INT64, integer=True)],
        attrs={"to": TensorProto.FLOAT},
        name="Cast-int-to-float",
    ),
    Case("CastLike", [X, np.zeros((), np.float16)]),
    Case("CastLike", [X, np.zeros((), np.int64)], name="CastLike-int"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def _bounds(op, lo, hi, **kwargs):
    out = check(Case(op, [Box(np.shape(lo))], **kwargs), seeds=(0,), points=2)
    return out


def _bound_of(op, lo, hi, opset=17, attrs=None):
    """Bounds of a single-input op for one given box (through the analysis)."""
    import os
    import tempfile

    from nanlint.graph.analysis import analyze
    from nanlint.graph.model import load_model
    from tests.graph._soundness import build_model

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        build_model(Case(op, [Box(np.shape(lo))], attrs=attrs or {}, opset=opset), path)
        model = load_model(path)
    analysis = analyze(
        model, {}, input_bounds={"in0": Interval(np.asarray(lo, np.float32), np.asarray(hi, np.float32))}, strict=True
    )
    return analysis.bounds["out0"]


def test_relu_is_exact_on_intervals():
    lo = np.array([-3.0, -1.0, 0.5, -2.0], np.float32)
    hi = np.array([-1.0, 2.0, 4.0, 0.0], np.float32)
    out = _bound_of("Relu", lo, hi)
    np.testing.assert_array_equal(out.lo, [0, 0, 0.5, 0])
    np.testing.assert_array_equal(out.hi, [0, 2, 4, 0])


def test_sigmoid_and_tanh_are_tight_and_bounded():
    lo = np.array([-1e30, -2.0, 3.0], np.float32)
    hi = np.array([1e30, 1.0, 3.0], np.float32)
    s = _bound_of("Sigmoid", lo, hi)
    expect = 1 / (1 + np.exp(-np.array([-2.0, 1.0, 3.0])))
    np.testing.assert_allclose([s.lo[1], s.hi[1], s.lo[2]], [expect[0], expect[1], expect[2]], rtol=1e-6)
    assert s.lo[0] == 0 and s.hi[0] == 1
    t = _bound_of("Tanh", lo, hi)
    np.testing.assert_allclose([t.lo[1], t.hi[1]], np.tanh([-2.0, 1.0]), rtol=1e-6)
    assert t.lo[0] == -1 and t.hi[0] == 1


def test_log_of_interval_reaching_zero_flags_nan_and_minus_inf():
    out = _bound_of("Log", np.array([-1.0, 1.0], np.float32), np.array([2.0, 3.0], np.float32))
    assert out.may_nan
    assert out.lo[0] == -np.inf and out.hi[0] == pytest.approx(np.log(2.0))
    safe = _bound_of("Log", np.array([1.0], np.float32), np.array([3.0], np.float32))
    assert not safe.may_nan


def test_gelu_minimum_is_included_only_when_reached():
    out = _bound_of("Gelu", np.array([-2.0, 0.0], np.float32), np.array([1.0, 1.0], np.float32), opset=20)
    assert -0.1702 < out.lo[0] < -0.1699  # the interval holds the minimum near -0.75
    assert out.lo[1] == 0.0  # [0, 1]: monotone part only


def test_sin_bounds_follow_the_period():
    out = _bound_of("Sin", np.array([0.0, 0.0, 2.0], np.float32), np.array([1.0, 3.0, 9.0], np.float32))
    np.testing.assert_allclose([out.lo[0], out.hi[0]], [0.0, np.sin(1.0)], atol=1e-6)
    np.testing.assert_allclose([out.lo[1], out.hi[1]], [0.0, 1.0], atol=1e-6)  # peak at pi/2
    np.testing.assert_allclose([out.lo[2], out.hi[2]], [-1.0, 1.0], atol=1e-6)  # a full period


def test_decreasing_ops_swap_ends():
    out = _bound_of("Neg", np.array([-1.0], np.float32), np.array([2.0], np.float32))
    assert (out.lo[0], out.hi[0]) == (-2.0, 1.0)
    acos = _bound_of("Acos", np.array([0.0], np.float32), np.array([1.0], np.float32))
    np.testing.assert_allclose([acos.lo[0], acos.hi[0]], [0.0, np.pi / 2], atol=1e-6)


def test_cast_to_fp16_overflows_to_inf():
    out = _bound_of("Cast", np.array([0.0], np.float32), np.array([1e5], np.float32), attrs={"to": TensorProto.FLOAT16})
    assert out.hi[0] == np.inf and out.lo[0] == 0
