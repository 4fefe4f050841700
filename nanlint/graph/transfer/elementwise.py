"""Element-wise unary ops.

Monotone ones run the kernel on `lo` and `hi` (swapped when decreasing). Ops with a restricted domain
(Log, Sqrt, Acos, ...) see their input clipped into the domain, and flag NaN when the input can leave
it. Non-monotone ones (Gelu, Mish, Abs, Cos, ...) add their known extrema when the interval reaches
them: each extremum is stored as a small interval around the critical point and a value slightly
beyond the true extreme, so the bound stays sound whatever the kernel's rounding.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto

from nanlint.graph.interval import Interval, finish
from nanlint.graph.model import np_dtype
from nanlint.graph.transfer.context import INT_TYPES, NodeContext, NotExact
from nanlint.graph.transfer.registry import register

_INF = np.inf


def _clip_domain(x: Interval, low: float, high: float) -> tuple[Interval, bool]:
    """x clipped into [low, high]; True when x can lie outside (-> NaN)."""
    outside = x.min() < low or x.max() > high
    if not outside:
        return x, False
    lo = np.clip(x.lo, low, high).astype(x.lo.dtype, copy=False)
    hi = np.clip(x.hi, low, high).astype(x.hi.dtype, copy=False)
    return Interval(lo, hi, x.may_nan, x.shape), True


def _finite(x: Interval) -> Interval:
    """Infinite bounds replaced by the largest finite value (for kernels that give NaN at +-inf)."""
    big = np.finfo(x.lo.dtype).max if x.lo.dtype.kind == "f" else np.finfo(np.float32).max
    return Interval(np.clip(x.lo, -big, big), np.clip(x.hi, -big, big), x.may_nan, x.shape)


def _lift(ctx: NodeContext, x: Interval, decreasing: bool = False) -> Interval:
    """The kernel run on the bounds of `x` as input 0: the op's one output."""
    return ctx.lift_first((0,), decreasing=decreasing, values={0: x}, elementwise=True)


def monotone(
    ctx: NodeContext, decreasing: bool = False, domain: tuple[float, float] | None = None, x: Interval | None = None
) -> Interval:
    """Bounds of an element-wise monotone op on input 0 (or `x`)."""
    x = ctx.x(0) if x is None else x
    nan = False
    if domain is not None:
        x, nan = _clip_domain(x, *domain)
    out = _lift(ctx, x, decreasing)
    low, high = (
        (np.min(out.lo), np.max(out.hi))
        if not out.is_point and out.lo.size and out.lo.dtype.kind == "f"
        else (0.0, 0.0)
    )
    if not (np.isnan(low) or np.isnan(high)) and not out.is_point and out.lo.size and out.lo.dtype.kind == "f":
        out._stats = (float(low), float(high))
    if np.isnan(low) or np.isnan(high):
        # The kernel's value at an infinite bound is NaN (e.g. x * Phi(x) at -inf): use the limit
        # approached from the largest finite input instead.
        alt = _lift(ctx, _finite(x), decreasing)
        out = Interval(
            np.where(np.isnan(out.lo), alt.lo, out.lo),
            np.where(np.isnan(out.hi), alt.hi, out.hi),
            out.may_nan,
            out.shape,
        )
    if (nan or x.may_nan) and not out.may_nan:
        stats = out._stats
        out = Interval(out.lo, out.hi, True, out.shape)
        out._stats = stats
    return out


def monotone_either(ctx: NodeContext, x: Interval | None = None) -> Interval:
    """Element-wise monotone op whose direction may differ per element (e.g. a signed scale)."""
    x = ctx.x(0) if x is None else x
    out = _lift(ctx, x)
    if out.is_point:
        return out
    return Interval(np.fmin(out.lo, out.hi), np.fmax(out.lo, out.hi), out.may_nan, out.shape)


# -- monotone increasing ----------------------------------------------------------------------------


@register(
    "monotone",
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
)
def increasing(ctx: NodeContext):
    return [monotone(ctx)]


@register("monotone", "Tanh", "Sigmoid", "Erf", depth="reset", note="bounded range: resets depth")
def increasing_bounded(ctx: NodeContext):
    return [monotone(ctx)]


@register("monotone", "HardSigmoid", depth="reset", note="decreasing when alpha < 0")
def hard_sigmoid(ctx: NodeContext):
    return [monotone(ctx, decreasing=float(ctx.attr("alpha", 0.2)) < 0)]


@register("monotone", "LeakyRelu", note="alpha < 0: minimum 0 at 0")
def leaky_relu(ctx: NodeContext):
    if float(ctx.attr("alpha", 0.01)) >= 0:
        return [monotone(ctx)]
    return [with_extrema(ctx, [((0.0, 0.0), 0.0, "min")])]


@register("monotone", "Elu", note="alpha < 0: minimum 0 at 0")
def elu(ctx: NodeContext):
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha >= 0:
        return [monotone(ctx)]
    # alpha*(exp(x)-1) decreases on x < 0 when alpha < 0, x increases after: the minimum 0 is at 0.
    return [with_extrema(ctx, [((0.0, 0.0), 0.0, "min")])]


@register("monotone", "ThresholdedRelu", note="alpha < 0: values approach alpha just above it")
def thresholded_relu(ctx: NodeContext):
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha >= 0:
        return [monotone(ctx)]
    # 0 up to alpha, then x: crossing alpha reaches values just above alpha (< 0).
    return [with_extrema(ctx, [((alpha, alpha), alpha, "min")])]


@register("monotone", "Shrink", note="monotone when bias <= lambd")
def shrink(ctx: NodeContext):
    if float(ctx.attr("bias", 0.0)) > float(ctx.attr("lambd", 0.5)):
        raise NotExact("Shrink with bias > lambd is not monotone")
    return [monotone(ctx)]


@register("monotone", "Log", note="x < 0 flags NaN")
def log(ctx: NodeContext):
    return [monotone(ctx, domain=(0.0, _INF))]


@register("monotone", "Sqrt", note="x < 0 flags NaN")
def sqrt(ctx: NodeContext):
    return [monotone(ctx, domain=(0.0, _INF))]


@register("monotone", "Asin", depth="reset", note="outside [-1, 1] flags NaN")
def asin(ctx: NodeContext):
    return [monotone(ctx, domain=(-1.0, 1.0))]


@register("monotone", "Acosh", note="x < 1 flags NaN")
def acosh(ctx: NodeContext):
    return [monotone(ctx, domain=(1.0, _INF))]


@register("monotone", "Atanh", note="outside [-1, 1] flags NaN")
def atanh(ctx: NodeContext):
    return [monotone(ctx, domain=(-1.0, 1.0))]


# -- monotone decreasing ----------------------------------------------------------------------------


@register("monotone", "Neg")
def negate(ctx: NodeContext):
    return [monotone(ctx, decreasing=True)]


@register("monotone", "Acos", depth="reset", note="decreasing; outside [-1, 1] flags NaN")
def acos(ctx: NodeContext):
    return [monotone(ctx, decreasing=True, domain=(-1.0, 1.0))]


@register("monotone", "Not", depth="reset")
def logical_not(ctx: NodeContext):
    return [monotone(ctx, decreasing=True)]


@register("monotone", "Cast", "CastLike", note="to bool: true unless the interval is exactly 0")
def cast(ctx: NodeContext):
    x = ctx.x(0)
    if ctx.node.op_type == "CastLike":
        # The target is the second input's dtype, which kernels see widened: cast explicitly.
        target = ctx.in_type(1)
        if target is None:
            raise NotExact("CastLike target type unknown")
        return ctx.engine.eval_synthetic("Cast", [x], {"to": target}, scope=ctx.scope)
    target = ctx.out_type(0)
    if target == TensorProto.BOOL:
        zero_free = (x.lo > 0) | (x.hi < 0)
        nonzero_possible = (x.lo != 0) | (x.hi != 0)
        return [
            Interval(
                zero_free.astype(np.float64),
                nonzero_possible.astype(np.float64) if not x.may_nan else np.ones((), np.float64),
                False,
                x.shape,
            )
        ]
    if target in INT_TYPES:
        info = np.iinfo(np_dtype(target))
        if x.min() < info.min or x.max() > info.max or x.may_nan:
            # Out-of-range float -> int conversion is implementation-defined: any value of the type.
            return [Interval.range(info.min, info.max, x.shape, np.float64)]
    return [monotone(ctx)]


# -- not monotone: known extrema --------------------------------------------------------------------


def with_extrema(ctx: NodeContext, extrema, x: Interval | None = None) -> Interval:
    """Kernel at both ends, plus each extremum ((c_lo, c_hi), value, "min"|"max") the interval reaches."""
    x = ctx.x(0) if x is None else x
    ends = _lift(ctx, x)
    if ends.is_point:
        return ends
    lo_end, hi_end = ends.lo, ends.hi
    if np.isnan(np.min(lo_end)) or np.isnan(np.max(hi_end)):
        alt = _lift(ctx, _finite(x))
        lo_end = np.where(np.isnan(lo_end), alt.lo, lo_end)
        hi_end = np.where(np.isnan(hi_end), alt.hi, hi_end)
    lo, hi = np.fmin(lo_end, hi_end), np.fmax(lo_end, hi_end)
    for (c_lo, c_hi), value, kind in extrema:
        reaches = (x.lo <= c_hi) & (x.hi >= c_lo)
        if kind == "min":
            lo = np.where(reaches, np.minimum(lo, value), lo)
        else:
            hi = np.where(reaches, np.maximum(hi, value), hi)
    return finish(lo, hi, x.may_nan, ends.shape, dtype=ends.lo.dtype)


# min of x * Phi(x) (exact erf GELU) is -0.16997 at x = -0.75179; the tanh approximation's is -0.17004
# at -0.7522. Critical intervals are generous, values a little below the true minimum.
GELU_MIN = ((-0.80, -0.70), -0.1701)
# x * sigmoid(x): minimum -0.278464542761074 at x = -1.2784645428.
SILU_MIN_T = ((-1.33, -1.23), -0.27847)
# x * tanh(softplus(x)): minimum -0.30884 at x = -1.1924.
MISH_MIN = ((-1.25, -1.14), -0.3089)


@register("elementwise", "Gelu", note="minimum -0.17 near x = -0.75")
def gelu(ctx: NodeContext):
    return [with_extrema(ctx, [(GELU_MIN[0], GELU_MIN[1], "min")])]


@register("elementwise", "Mish", note="minimum -0.309 near x = -1.19")
def mish(ctx: NodeContext):
    return [with_extrema(ctx, [(MISH_MIN[0], MISH_MIN[1], "min")])]


def silu_min(alpha: float):
    """Extremum of x * sigmoid(alpha * x): the minimum over t = alpha*x, scaled back."""
    (t_lo, t_hi), value = SILU_MIN_T
    if alpha > 0:
        return ((t_lo / alpha, t_hi / alpha), value / alpha, "min")
    if alpha < 0:
        return ((t_hi / alpha, t_lo / alpha), value / alpha, "max")
    return ((-_INF, _INF), 0.0, "min")


@register("elementwise", "Swish", note="minimum -0.2785/alpha near x = -1.278/alpha")
def swish(ctx: NodeContext):
    return [with_extrema(ctx, [silu_min(float(ctx.attr("alpha", 1.0)))])]


@register("elementwise", "HardSwish", note="minimum -0.375 at x = -1.5")
def hard_swish(ctx: NodeContext):
    return [with_extrema(ctx, [((-1.5, -1.5), -0.37500003, "min")])]


@register("elementwise", "Abs")
def absolute(ctx: NodeContext):
    return [with_extrema(ctx, [((0.0, 0.0), 0.0, "min")])]


@register("elementwise", "Cosh")
def cosh(ctx: NodeContext):
    return [with_extrema(ctx, [((0.0, 0.0), 1.0, "min")])]


def _periodic_hits(lo: np.ndarray, hi: np.ndarray, phase: float) -> np.ndarray:
    """True where [lo, hi] contains phase + 2*pi*k for some integer k (with a little slack)."""
    lo64 = np.asarray(lo, np.float64)
    hi64 = np.asarray(hi, np.float64)
    slack = 1e-6 * (1 + np.maximum(np.abs(lo64), np.abs(hi64)))
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.ceil((lo64 - slack - phase) / (2 * math.pi))
        return (phase + 2 * math.pi * k <= hi64 + slack) | ~np.isfinite(k)


@register("elementwise", "Sin", "Cos", depth="reset")
def sin_cos(ctx: NodeContext):
    x = ctx.x(0)
    ends = _lift(ctx, x)
    if ends.is_point:
        return [ends]
    lo, hi = np.fmin(ends.lo, ends.hi), np.fmax(ends.lo, ends.hi)
    shift = 0.0 if ctx.node.op_type == "Sin" else math.pi / 2
    # sin peaks at pi/2 + 2k*pi and bottoms at -pi/2 + 2k*pi; cos(x) = sin(x + pi/2).
    wide = (np.asarray(x.hi, np.float64) - np.asarray(x.lo, np.float64) >= 2 * math.pi) | (
        np.maximum(np.abs(x.lo), np.abs(x.hi)) > 1e7
    )
    hi = np.where(_periodic_hits(x.lo, x.hi, math.pi / 2 - shift) | wide, 1.0, hi)
    lo = np.where(_periodic_hits(x.lo, x.hi, -math.pi / 2 - shift) | wide, -1.0, lo)
    nan = x.may_nan or x.min() == -_INF or x.max() == _INF
    return [finish(np.maximum(lo, -1.0), np.minimum(hi, 1.0), nan, ends.shape, dtype=ends.lo.dtype)]


@register("elementwise", "Tan", note="unbounded when the interval holds a pole")
def tan(ctx: NodeContext):
    x = ctx.x(0)
    ends = _lift(ctx, x)
    if ends.is_point:
        return [ends]
    pole = (
        _periodic_hits(x.lo, x.hi, math.pi / 2)
        | _periodic_hits(x.lo, x.hi, -math.pi / 2)
        | (np.asarray(x.hi, np.float64) - np.asarray(x.lo, np.float64) >= math.pi)
    )
    lo = np.where(pole, -_INF, ends.lo)
    hi = np.where(pole, _INF, ends.hi)
    nan = x.may_nan or x.min() == -_INF or x.max() == _INF
    return [finish(lo, hi, nan, ends.shape, dtype=ends.lo.dtype)]


@register("elementwise", "IsNaN", depth="reset")
def is_nan(ctx: NodeContext):
    x = ctx.x(0)
    return [Interval(np.zeros((), np.float64), np.asarray(1.0 if x.may_nan else 0.0), False, x.shape)]


@register("elementwise", "IsInf", depth="reset")
def is_inf(ctx: NodeContext):
    x = ctx.x(0)
    pos = int(ctx.attr("detect_positive", 1))
    neg = int(ctx.attr("detect_negative", 1))
    can = np.zeros(np.broadcast_shapes(np.shape(x.lo), np.shape(x.hi)), bool)
    must = np.zeros_like(can)
    if pos:
        can |= x.hi == _INF
        must |= x.lo == _INF
    if neg:
        can |= x.lo == -_INF
        must |= x.hi == -_INF
    return [Interval(must.astype(np.float64), can.astype(np.float64), False, x.shape)]
