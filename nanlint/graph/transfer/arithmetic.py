"""Arithmetic, selection, comparison and logic: interval arithmetic on the operands (interval.py)."""

from __future__ import annotations

import numpy as np

from nanlint.graph import interval as iv_ops
from nanlint.graph.interval import Interval, finish
from nanlint.graph.transfer import correlated, quantization
from nanlint.graph.transfer.context import INT_TYPES, NodeContext
from nanlint.graph.transfer.registry import register


def _no_integer_zero_divisor(ctx: NodeContext) -> bool:
    """Integer division by zero crashes kernels: fold only when the divisor has no zero."""
    if ctx.in_type(1) not in INT_TYPES or not ctx.has(1):
        return True
    return bool(np.all(ctx.x(1).lo != 0))


@register("arithmetic", "Add", note="x + f(x), both operands element-wise functions of one x: piecewise in x")
def add(ctx: NodeContext):
    return [correlated.refine(ctx, ctx.x(0) + ctx.x(1))]


@register("arithmetic", "Sub", note="x - max(x) (or - logsumexp(x)) is <= 0")
def sub(ctx: NodeContext):
    out = ctx.x(0) - ctx.x(1)
    if _minus_own_maximum(ctx):
        # Each element minus the maximum of its own group is <= 0 (the stable-softmax shift).
        zero = np.zeros((), out.hi.dtype)
        out = Interval(np.minimum(out.lo, zero), np.minimum(out.hi, zero), out.may_nan, out.shape)
    return [correlated.refine(ctx, out)]


def _minus_own_maximum(ctx: NodeContext) -> bool:
    from nanlint.graph.transfer.normalization import _strip

    model = ctx.engine.model
    x, m = ctx.node.input[0], ctx.node.input[1]
    reduce = model.producer.get(_strip(model, m, ("Cast", "Identity")))
    if reduce is None or reduce.op_type not in ("ReduceMax", "ReduceLogSumExp") or not reduce.input:
        return False
    if _strip(model, reduce.input[0], ("Cast", "Identity")) != _strip(model, x, ("Cast", "Identity")):
        return False
    attrs = {a.name: a for a in reduce.attribute}
    keepdims = attrs["keepdims"].i if "keepdims" in attrs else 1
    reduces_all = "axes" not in attrs and (len(reduce.input) < 2 or not reduce.input[1])
    return bool(keepdims) or reduces_all


@register(
    "arithmetic",
    "Mul",
    depth="widen",
    note="a product of two varying operands widens; x * 1/rms(x) patterns are bounded by sqrt(N); "
    "x * g(x) (gated activations written out: hard-swish, SiLU, GELU) is bounded piecewise in x",
)
def mul(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    # x * x of the same tensor is a square (>= 0), not a product of two independent values.
    out = iv_ops.square(a) if ctx.node.input[0] == ctx.node.input[1] else a * b
    if a.is_point or b.is_point:
        ctx.depth = "keep"  # scaling by a known value does not widen
    out = correlated.refine(ctx, _refine_norm(ctx, out))
    layer = ctx.optional(quantization.dequantized_layer, ctx)
    return [out if layer is None else iv_ops.intersect(out, layer)]


@register(
    "arithmetic",
    "Div",
    depth="widen",
    fold=_no_integer_zero_divisor,
    note="denominators touching 0 give infinite bounds; x / rms(x) patterns are bounded by sqrt(N); "
    "sum(w * x) / max(sum(w), c) with w >= 0 (masked mean) within the hull of x and 0",
)
def div(ctx: NodeContext):
    from nanlint.graph.transfer.normalization import weighted_mean_bound

    a, b = ctx.x(0), ctx.x(1)
    out = a / b
    if b.is_point:
        ctx.depth = "keep"
    out = correlated.refine(ctx, _refine_norm(ctx, out))
    mean = ctx.optional(weighted_mean_bound, ctx)
    if mean is not None:
        ctx.depth = "reset"
        out = iv_ops.intersect(out, mean)
    return [out]


def _refine_norm(ctx: NodeContext, out: Interval) -> Interval:
    from nanlint.graph.transfer.normalization import decomposed_norm_bound

    bound = decomposed_norm_bound(ctx)
    if bound is None:
        return out
    ctx.depth = "reset"
    return Interval(np.clip(out.lo, -bound, bound), np.clip(out.hi, -bound, bound), out.may_nan, out.shape)


@register("arithmetic", "Reciprocal", note="piecewise: 1/x over each side of 0")
def reciprocal(ctx: NodeContext):
    return [iv_ops.reciprocal(ctx.x(0))]


@register(
    "arithmetic",
    "Pow",
    depth="widen",
    note="integer exponents of any base; fractional exponents of negative bases flag NaN",
)
def power(ctx: NodeContext):
    if ctx.x(1).is_point:
        ctx.depth = "keep"
    return [correlated.refine(ctx, iv_ops.pow_(ctx.x(0), ctx.x(1)))]


@register("arithmetic", "Mod", fold=_no_integer_zero_divisor, note="|result| < |divisor|, sign by fmod")
def mod(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    _, mag = iv_ops.magnitude(b)
    mag = np.asarray(mag, np.float64)
    alo, ahi = np.asarray(a.lo, np.float64), np.asarray(a.hi, np.float64)
    blo, bhi = np.asarray(b.lo, np.float64), np.asarray(b.hi, np.float64)
    if int(ctx.attr("fmod", 0)):
        # C fmod: sign of the dividend, |r| <= |a| and |r| < |b|.
        lo = np.maximum(np.minimum(alo, 0), -mag)
        hi = np.minimum(np.maximum(ahi, 0), mag)
    else:
        # Python-style: sign of the divisor.
        lo = np.where(blo > 0, 0.0, -mag)
        hi = np.where(bhi < 0, 0.0, mag)
        hi = np.where((blo > 0) & (alo >= 0), np.minimum(hi, ahi), hi)
    may_nan = a.may_nan or b.may_nan or b.min() <= 0 <= b.max() or a.min() == -np.inf or a.max() == np.inf
    return [finish(lo, hi, may_nan, iv_ops._shape(a, b))]


@register("arithmetic", "Min", "Max", "Sum", "Mean")
def variadic(ctx: NodeContext):
    present = [ctx.x(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    combine = {"Min": iv_ops.minimum, "Max": iv_ops.maximum, "Sum": iv_ops.add, "Mean": iv_ops.add}
    out = present[0]
    for other in present[1:]:
        out = combine[ctx.node.op_type](out, other)
    if ctx.node.op_type == "Mean":
        out = out * Interval.point(np.asarray(1.0 / len(present), np.float64))
    return [correlated.refine(ctx, out)]


@register("arithmetic", "PRelu")
def prelu(ctx: NodeContext):
    x, slope = ctx.x(0), ctx.x(1)
    zero = np.zeros((), x.lo.dtype if x.lo.dtype.kind == "f" else np.float64)
    positive = Interval(np.maximum(x.lo, zero), np.maximum(x.hi, zero), x.may_nan, x.shape)
    negative = Interval(np.minimum(x.lo, zero), np.minimum(x.hi, zero), x.may_nan, x.shape)
    # At every x one of the two parts is 0, so their interval sum covers the value.
    return [positive + negative * slope]


@register("arithmetic", "Where", note="a mask known true/false picks one side, else the join")
def where(ctx: NodeContext):
    cond, a, b = ctx.x(0), ctx.x(1), ctx.x(2)
    dtype = iv_ops._result_dtype(a, b)
    surely = np.asarray(cond.lo) >= 1
    possibly = np.asarray(cond.hi) >= 1
    alo, ahi = iv_ops._f(a, dtype)
    blo, bhi = iv_ops._f(b, dtype)
    lo = np.where(surely, alo, np.where(~possibly, blo, np.minimum(alo, blo)))
    hi = np.where(surely, ahi, np.where(~possibly, bhi, np.maximum(ahi, bhi)))
    may_nan = (a.may_nan and bool(np.any(possibly))) or (b.may_nan and not bool(np.all(surely)))
    return [Interval(lo, hi, may_nan, iv_ops._shape(cond, a, b))]


@register("arithmetic", "Clip", note="resets depth when both limits are given")
def clip(ctx: NodeContext):
    x = ctx.x(0)
    if ctx.opset < 11:
        lo = ctx.attr("min")
        hi = ctx.attr("max")
        lo_iv = None if lo is None else Interval.point(np.asarray(lo, np.float32))
        hi_iv = None if hi is None else Interval.point(np.asarray(hi, np.float32))
    else:
        lo_iv = ctx.x(1) if ctx.has(1) else None
        hi_iv = ctx.x(2) if ctx.has(2) else None
    bounded = lo_iv is not None and hi_iv is not None and np.isfinite(lo_iv.min()) and np.isfinite(hi_iv.max())
    ctx.depth = "reset" if bounded else "keep"
    return [iv_ops.clip(x, lo_iv, hi_iv)]


# -- comparisons and logic: boolean intervals within [0, 1] ---------------------------------------


def _bool(lo, hi, shape) -> Interval:
    return Interval(np.asarray(lo, np.float64), np.asarray(hi, np.float64), False, shape)


@register("arithmetic", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal", depth="reset")
def compare(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    op = ctx.node.op_type
    with np.errstate(invalid="ignore"):
        if op == "Less":
            lo, hi = a.hi < b.lo, a.lo < b.hi
        elif op == "LessOrEqual":
            lo, hi = a.hi <= b.lo, a.lo <= b.hi
        elif op == "Greater":
            lo, hi = a.lo > b.hi, a.hi > b.lo
        elif op == "GreaterOrEqual":
            lo, hi = a.lo >= b.hi, a.hi >= b.lo
        else:
            lo = (a.lo == a.hi) & (b.lo == b.hi) & (a.lo == b.lo)
            hi = (a.lo <= b.hi) & (b.lo <= a.hi)
    if a.may_nan or b.may_nan:
        lo = np.zeros_like(lo)  # a comparison with NaN is false
    return [_bool(lo, hi, iv_ops._shape(a, b))]


@register("arithmetic", "And", "Or", "Xor", depth="reset")
def logic(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    alo, ahi = np.asarray(a.lo, np.float64), np.asarray(a.hi, np.float64)
    blo, bhi = np.asarray(b.lo, np.float64), np.asarray(b.hi, np.float64)
    op = ctx.node.op_type
    if op == "And":
        lo, hi = np.minimum(alo, blo), np.minimum(ahi, bhi)
    elif op == "Or":
        lo, hi = np.maximum(alo, blo), np.maximum(ahi, bhi)
    else:
        exact = (alo == ahi) & (blo == bhi)
        lo = exact & (alo != blo)
        hi = ~(exact & (alo == blo))
    return [_bool(lo, hi, iv_ops._shape(a, b))]


@register(
    "arithmetic",
    "BitShift",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "BitwiseNot",
    note="exact operands only; otherwise the integer type's range",
)
def bitwise(ctx: NodeContext):
    shape = iv_ops._shape(*(ctx.x(i) for i in range(ctx.n_inputs) if ctx.has(i)))
    return [Interval.range(-np.inf, np.inf, shape, np.float64)]
