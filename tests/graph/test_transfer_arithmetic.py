"""Soundness of arithmetic, selection, comparison and logic; the interval arithmetic itself."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from nanlint.graph import interval as iv
from nanlint.graph.interval import Interval
from tests.graph._soundness import Box, Case, check

A = Box((3, 4))
B = Box((3, 4))
ROW = Box((4,))
BOOL = Box((3, 4), dtype=TensorProto.BOOL)
INT = Box((3, 4), dtype=TensorProto.INT64, integer=True)
POS_INT = Box((3, 4), dtype=TensorProto.INT64, integer=True, low=1)
NEG_INT = Box((3, 4), dtype=TensorProto.INT64, integer=True, high=-1)

CASES = [
    Case("Add", [A, B]),
    Case("Sub", [A, ROW], name="Sub-broadcast"),
    Case("Mul", [A, B]),
    Case("Mul", [A, np.float32(-2.5)], name="Mul-constant"),
    Case("Div", [A, B]),
    Case("Div", [A, np.array([1.0, -2.0, 0.5, 4.0], np.float32)], name="Div-constant"),
    Case("Div", [A, Box((3, 4), regimes=("positive", "negative", "narrow"))], name="Div-signed"),
    Case("Reciprocal", [A]),
    Case("Pow", [A, np.float32(2.0)], name="Pow-square"),
    Case("Pow", [A, np.float32(3.0)], name="Pow-cube"),
    Case("Pow", [A, np.float32(-2.0)], name="Pow-minus2"),
    Case("Pow", [A, np.float32(-1.0)], name="Pow-minus1"),
    Case("Pow", [A, np.float32(0.5)], name="Pow-sqrt"),
    Case("Pow", [A, np.float32(-0.5)], name="Pow-rsqrt"),
    Case("Pow", [Box((3, 4), regimes=("positive", "narrow")), Box((3, 4), low=-3, high=3)], name="Pow-varying"),
    Case("Pow", [A, Box((3, 4), low=-3, high=3)], name="Pow-negative-base"),
    Case("Mod", [A, Box((3, 4), regimes=("positive", "negative"))], attrs={"fmod": 1}),
    Case("Mod", [INT, POS_INT], name="Mod-int"),
    Case("Mod", [INT, NEG_INT], name="Mod-int-negative"),
    Case("Mod", [INT, POS_INT], attrs={"fmod": 1}, name="Mod-int-fmod"),
    Case("Div", [INT, POS_INT], name="Div-int"),
    Case("Div", [INT, NEG_INT], name="Div-int-negative"),
    Case("Min", [A, B, ROW]),
    Case("Max", [A, B]),
    Case("Sum", [A, B, ROW]),
    Case("Mean", [A, B]),
    Case("PRelu", [A, ROW]),
    Case("PRelu", [A, np.array([0.1, -0.2, 2.0, 0.0], np.float32)], name="PRelu-const"),
    Case("Where", [BOOL, A, B]),
    Case("Where", [np.array([True, False, True, False]), A, B], name="Where-exact-mask"),
    Case("Clip", [A, np.float32(-0.5), np.float32(0.7)], opset=13),
    Case("Clip", [A, np.float32(0.0)], opset=13, name="Clip-min-only"),
    Case("Clip", [A, Box(()), Box(())], opset=13, name="Clip-varying-limits"),
    Case("Clip", [A], attrs={"min": -1.0, "max": 2.0}, opset=9, name="Clip-opset9"),
    Case("Clip", [INT, np.int64(-1), np.int64(2)], opset=13, name="Clip-int"),
    Case("Less", [A, B]),
    Case("LessOrEqual", [A, B]),
    Case("Greater", [A, ROW]),
    Case("GreaterOrEqual", [A, B]),
    Case("Equal", [INT, INT]),
    Case("Equal", [A, np.float32(0.0)], name="Equal-zero"),
    Case("And", [BOOL, BOOL]),
    Case("Or", [BOOL, BOOL]),
    Case("Xor", [BOOL, BOOL]),
    Case(
        "BitShift",
        [Box((3, 4), dtype=TensorProto.UINT32, integer=True, regimes=("positive",)), np.array([1, 2, 3, 0], np.uint32)],
        attrs={"direction": "LEFT"},
    ),
    Case("BitwiseAnd", [INT, INT], opset=18),
    Case("BitwiseOr", [INT, INT], opset=18),
    Case("BitwiseXor", [INT, INT], opset=18),
    Case("BitwiseNot", [INT], opset=18),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def box(lo, hi):
    return Interval(np.asarray(lo, np.float32), np.asarray(hi, np.float32))


def test_division_by_zero_straddling_denominator_is_unbounded():
    out = iv.div(box([1.0, 1.0, -1.0], [2.0, 2.0, 1.0]), box([-1.0, 0.0, 1.0], [1.0, 3.0, 2.0]))
    assert (out.lo[0], out.hi[0]) == (-np.inf, np.inf)
    assert out.lo[1] == pytest.approx(1 / 3) and out.hi[1] == np.inf  # [1,2] / [0,3]
    assert (out.lo[2], out.hi[2]) == (-1.0, 1.0)
    assert not out.may_nan  # no 0/0 possible
    assert iv.div(box([-1.0], [1.0]), box([0.0], [1.0])).may_nan  # 0/0 possible


def test_upper_zero_endpoint_gives_minus_infinity():
    out = iv.div(box([1.0], [3.0]), box([-2.0], [0.0]))
    assert out.lo[0] == -np.inf and out.hi[0] == pytest.approx(-0.5)


def test_mul_corners_and_zero_times_infinity():
    out = iv.mul(box([-2.0], [3.0]), box([-1.0], [4.0]))
    assert (out.lo[0], out.hi[0]) == (-8.0, 12.0)
    inf = iv.mul(box([0.0], [1.0]), box([1.0], [np.inf]))
    assert (inf.lo[0], inf.hi[0]) == (0.0, np.inf) and inf.may_nan


def test_square_and_abs_use_the_mignitude():
    assert iv.square(box([-2.0], [1.0])).lo[0] == 0.0
    assert iv.square(box([-3.0], [-2.0])).lo[0] == 4.0
    a = iv.abs_(box([-3.0, 1.0], [2.0, 5.0]))
    np.testing.assert_array_equal(a.lo, [0.0, 1.0])
    np.testing.assert_array_equal(a.hi, [3.0, 5.0])


def test_pow_integer_and_fractional_exponents():
    even = iv.pow_(box([-3.0], [2.0]), Interval.point(np.float32(2.0)))
    assert (even.lo[0], even.hi[0]) == (0.0, 9.0) and not even.may_nan
    odd = iv.pow_(box([-3.0], [2.0]), Interval.point(np.float32(3.0)))
    assert (odd.lo[0], odd.hi[0]) == (-27.0, 8.0)
    frac = iv.pow_(box([-1.0], [4.0]), Interval.point(np.float32(0.5)))
    assert (frac.lo[0], frac.hi[0]) == (0.0, 2.0) and frac.may_nan
    pole = iv.pow_(box([-1.0], [2.0]), Interval.point(np.float32(-1.0)))
    assert (pole.lo[0], pole.hi[0]) == (-np.inf, np.inf)


def test_join_clamp_and_min_max():
    j = iv.join(box([0.0, 5.0], [1.0, 6.0]), box([-1.0, 5.5], [0.5, 9.0]))
    np.testing.assert_array_equal(j.lo, [-1.0, 5.0])
    np.testing.assert_array_equal(j.hi, [1.0, 9.0])
    c = box([-1e6, 0.0], [1e6, 1.0]).clamp(65504.0)
    np.testing.assert_array_equal(c.lo, [-65504.0, 0.0])
    np.testing.assert_array_equal(c.hi, [65504.0, 1.0])
    m = iv.maximum(box([-1.0], [2.0]), box([0.0], [1.0]))
    assert (m.lo[0], m.hi[0]) == (0.0, 2.0)


def test_infinity_minus_infinity_flags_nan():
    out = iv.sub(box([0.0], [np.inf]), box([0.0], [np.inf]))
    assert out.may_nan and out.lo[0] == -np.inf and out.hi[0] == np.inf


def test_contains_and_stats():
    a = box([0.0, -2.0], [1.0, 3.0])
    assert a.min() == -2.0 and a.max() == 3.0 and a.abs_max() == 3.0
    assert a.contains([0.5, 3.0]) and not a.contains([1.5, 0.0])
    assert not a.contains([np.nan, 0.0])
    assert Interval(a.lo, a.hi, may_nan=True).contains([np.nan, 0.0])


def test_collapse_keeps_shape_and_extremes():
    a = box([[0.0, -2.0]], [[1.0, 3.0]]).collapse()
    assert a.shape == (1, 2) and a.lo.ndim == 0 and (a.min(), a.max()) == (-2.0, 3.0)


def test_where_with_known_mask_takes_one_side():
    out = check(Case("Where", [np.array([True, False, True, False]), A, B]), seeds=(0,), points=2)
    bounds, inputs = out["bounds"][0], out["inputs"]
    np.testing.assert_array_equal(bounds.lo[:, 0], inputs["in1"].lo[:, 0])
    np.testing.assert_array_equal(bounds.lo[:, 1], inputs["in2"].lo[:, 1])


def test_clip_is_exact_and_resets_depth():
    out = check(Case("Clip", [A, np.float32(-0.5), np.float32(0.7)], opset=13), seeds=(0,), points=2)
    x, b = out["inputs"]["in0"], out["bounds"][0]
    np.testing.assert_array_equal(b.lo, np.clip(x.lo, -0.5, 0.7))
    np.testing.assert_array_equal(b.hi, np.clip(x.hi, -0.5, 0.7))
    assert out["analysis"].depth["out0"] == 0
