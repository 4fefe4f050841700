"""Reductions, scans and pooling: monotone in every element (of x, or of |x| for norms), so the
kernel runs on the lower and the upper bounds. Index outputs (ArgMax, TopK, MaxPool indices) are
bounded by the size of the reduced axis."""

from __future__ import annotations

import numpy as np

from nanlint.graph import interval as iv_ops
from nanlint.graph.interval import Interval
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register


def _known_shape(x: Interval) -> tuple[int, ...]:
    """x's shape, known once `ctx.lift` has run the kernel on x's bounds (it needs the full tensor)."""
    assert x.shape is not None
    return x.shape


def _lift_out0(ctx: NodeContext, values: dict[int, Interval] | None = None) -> Interval:
    """Output 0 of the kernel run on the bounds of input 0: a reduction always produces it."""
    return ctx.lift_first((0,), values=values)


@register(
    "reduction",
    "ReduceSum",
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceLogSumExp",
    "CumSum",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "MaxRoiPool",
    "RoiAlign",
)
def monotone_reduction(ctx: NodeContext):
    outs = ctx.lift((0,))
    if ctx.node.op_type == "MaxPool" and len(outs) > 1 and outs[1] is not None and not outs[1].is_point:
        x = ctx.x(0)
        outs[1] = Interval.range(0, float(np.prod(_known_shape(x), dtype=np.int64)) - 1, outs[1].shape, np.float64)
    return outs


@register("reduction", "ReduceLogSum", note="a sum that can be <= 0 flags NaN / -inf")
def reduce_log_sum(ctx: NodeContext):
    out = _lift_out0(ctx)
    lo, hi = out.lo, out.hi
    nan = bool(np.isnan(np.min(lo)) or np.isnan(np.max(hi)))
    lo = np.where(np.isnan(lo), -np.inf, lo)
    hi = np.where(np.isnan(hi), np.inf if nan else hi, hi)
    return [Interval(lo, hi, out.may_nan or nan, out.shape)]


@register("reduction", "ReduceL1", "ReduceL2", "ReduceSumSquare", "LpPool", "GlobalLpPool", note="monotone in |x|")
def magnitude_reduction(ctx: NodeContext):
    x = ctx.x(0)
    mig, mag = iv_ops.magnitude(x)
    values = Interval(mig, mag, x.may_nan, x.shape) if not x.is_point else Interval.point(mag)
    return ctx.lift((0,), values={0: values})


@register("reduction", "ReduceProd", "CumProd", note="monotone for x >= 0; otherwise +-prod(|x|)")
def reduce_prod(ctx: NodeContext):
    x = ctx.x(0)
    if x.min() >= 0:
        return ctx.lift((0,))
    _, mag = iv_ops.magnitude(x)
    big = _lift_out0(ctx, values={0: Interval(mag, mag, x.may_nan, x.shape)})
    return [Interval(-big.hi, big.hi, x.may_nan, big.shape)]


def _reduced_shape(shape, axis: int, keepdims: int) -> tuple[int, ...]:
    axis %= len(shape)
    if keepdims:
        return shape[:axis] + (1,) + shape[axis + 1 :]
    return shape[:axis] + shape[axis + 1 :]


@register("reduction", "ArgMax", "ArgMin", depth="reset", note="indices within the axis")
def arg_extreme(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None:
        raise NotExact("unknown shape")
    axis = int(ctx.attr("axis", 0))
    n = x.shape[axis % len(x.shape)]
    return [Interval.range(0, n - 1, _reduced_shape(x.shape, axis, int(ctx.attr("keepdims", 1))), np.float64)]


@register("reduction", "TopK", note="values are order statistics (monotone); indices within the axis")
def top_k(ctx: NodeContext):
    outs = ctx.lift((0,))
    x = ctx.x(0)
    if len(outs) > 1 and outs[1] is not None and not outs[1].is_point:
        shape = _known_shape(x)
        n = shape[int(ctx.attr("axis", -1)) % len(shape)]
        outs[1] = Interval.range(0, n - 1, outs[1].shape, np.float64)
    return outs
