"""Layout ops: every output element is a copy of an input element (or a constant fill), so running the
kernel on the lower bounds and on the upper bounds bounds the output element-wise.

Parameters (shapes, axes, indices, pads) must be exact for that; when one is only bounded, the output
is bounded by the hull of the data (and the fill value), with the shape from shape inference.
"""

from __future__ import annotations

import numpy as np

from nanlint.graph.interval import Interval, contiguous, join
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register


def hull(ctx: NodeContext, data=(0,), extra: list[Interval] = (), j: int = 0) -> Interval:
    """One bound pair covering every element of the data inputs (and `extra` fills)."""
    parts = [ctx.x(i).collapse() for i in data if ctx.has(i)] + [e.collapse() for e in extra]
    if not parts:
        raise NotExact("no data input")
    out = parts[0]
    for p in parts[1:]:
        out = join(out, p)
    return Interval(out.lo, out.hi, out.may_nan, ctx.out_shape(j))


def lift_or_hull(ctx: NodeContext, data=(0,), fill: list[Interval] = ()) -> list[Interval]:
    try:
        return ctx.lift(data)
    except NotExact:
        return [hull(ctx, data, list(fill))]


@register(
    "layout",
    "Identity",
    "Reshape",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Flatten",
    "DepthToSpace",
    "SpaceToDepth",
    "Tile",
    "Expand",
    "Slice",
    "ReverseSequence",
    "Trilu",
    "CenterCropPad",
    "Compress",
    "Upsample",
)
def copy_layout(ctx: NodeContext):
    return lift_or_hull(ctx, (0,))


@register("layout", "Trilu", domain="com.microsoft")
def trilu_contrib(ctx: NodeContext):
    return lift_or_hull(ctx, (0,))


@register("layout", "Concat")
def concat(ctx: NodeContext):
    return lift_or_hull(ctx, tuple(range(ctx.n_inputs)))


@register("layout", "Split")
def split(ctx: NodeContext):
    try:
        return ctx.lift((0,))
    except NotExact:
        return [hull(ctx, (0,), j=j) for j in range(len(ctx.node.output))]


@register("layout", "Pad", note="the pad value joins the bounds in constant mode")
def pad(ctx: NodeContext):
    # The constant pad value (input 2 from opset 11) is copied into the output like data.
    data = (0, 2) if ctx.opset >= 11 else (0,)
    fill = []
    if ctx.opset < 11 and ctx.attr("mode", "constant") == "constant":
        fill = [Interval.point(np.asarray(ctx.attr("value", 0.0), np.float32))]
    elif ctx.opset >= 11 and not ctx.has(2) and ctx.attr("mode", "constant") == "constant":
        fill = [Interval.point(np.zeros((), np.float32))]
    return lift_or_hull(ctx, data, fill)


@register("layout", "ScatterND", "ScatterElements", "Scatter", "TensorScatter")
def scatter(ctx: NodeContext):
    # Output elements are data elements or update elements: monotone in both.
    data = (0, 1) if ctx.node.op_type == "TensorScatter" else (0, 2)
    return lift_or_hull(ctx, data)


@register("layout", "MaxUnpool", note="zeros fill the unused positions")
def max_unpool(ctx: NodeContext):
    return lift_or_hull(ctx, (0,), [Interval.point(np.zeros((), np.float32))])


@register("layout", "Col2Im", note="sums overlapping patches: positive weights, so monotone")
def col2im(ctx: NodeContext):
    return ctx.lift((0,))


@register("layout", "Gather", note="indices that are only bounded: per-column hull over the reachable rows")
def gather(ctx: NodeContext):
    if ctx.is_exact(1):
        return ctx.lift((0,))
    return [gather_hull(ctx)]


def reachable(lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    """Row ranges [a, b) that indices within [lo, hi] can address in an axis of length n (negative wrap)."""
    spans = []
    if hi >= 0 and lo <= n - 1:
        spans.append((max(lo, 0), min(hi, n - 1) + 1))
    if lo < 0 and hi >= -n:
        spans.append((n + max(lo, -n), n + min(hi, -1) + 1))
    return spans


def gather_hull(ctx: NodeContext) -> Interval:
    data, idx = ctx.x(0), ctx.x(1)
    if data.shape is None or idx.shape is None:
        raise NotExact("unknown shapes")
    axis = int(ctx.attr("axis", 0)) % len(data.shape)
    n = data.shape[axis]
    spans = reachable(int(idx.min()), int(idx.max()), n)
    if not spans:
        raise NotExact("indices out of range")
    lo_full, hi_full = data.broadcast()
    lows, highs = [], []
    for a, b in spans:
        sl = (slice(None),) * axis + (slice(a, b),)
        lows.append(lo_full[sl].min(axis=axis, keepdims=True))
        highs.append(hi_full[sl].max(axis=axis, keepdims=True))
    lo, hi = np.minimum.reduce(lows), np.maximum.reduce(highs)
    out_shape = data.shape[:axis] + idx.shape + data.shape[axis + 1 :]
    keep = data.shape[:axis] + (1,) * len(idx.shape) + data.shape[axis + 1 :]
    return Interval(lo.reshape(keep), hi.reshape(keep), data.may_nan, out_shape)


@register("layout", "GatherElements", note="bounded indices: hull along the gathered axis")
def gather_elements(ctx: NodeContext):
    if ctx.is_exact(1):
        return ctx.lift((0,))
    data, idx = ctx.x(0), ctx.x(1)
    if data.shape is None or idx.shape is None:
        raise NotExact("unknown shapes")
    axis = int(ctx.attr("axis", 0)) % len(data.shape)
    lo, hi = data.broadcast()
    sl = tuple(slice(0, idx.shape[k]) if k != axis else slice(None) for k in range(len(data.shape)))
    return [
        Interval(lo[sl].min(axis=axis, keepdims=True), hi[sl].max(axis=axis, keepdims=True), data.may_nan, idx.shape)
    ]


@register("layout", "GatherND", note="bounded indices: hull of the data")
def gather_nd(ctx: NodeContext):
    if ctx.is_exact(1):
        return ctx.lift((0,))
    return [hull(ctx, (0,))]


@register(
    "layout", "Resize", note="nearest and linear: monotone; cubic: exact centre, radius times the kernel's absolute sum"
)
def resize(ctx: NodeContext):
    mode = ctx.attr("mode", "nearest")
    if mode != "cubic":
        return ctx.lift((0,))
    if int(ctx.attr("antialias", 0)):
        raise NotExact("cubic resize with antialias")
    x = ctx.x(0)
    mid, rad = x.mid_rad()
    mid_full = contiguous(np.broadcast_to(mid, x.shape))
    (center,) = ctx.lift((0,), values={0: Interval.point(mid_full)})[:1]
    # Each resized axis multiplies the radius by at most the kernel's absolute weight sum.
    axes = sum(1 for a, b in zip(x.shape, ctx.out_shape(0) or center.shape) if a != b) or len(x.shape)
    radius = float(np.max(rad)) * cubic_abs_sum(float(ctx.attr("cubic_coeff_a", -0.75))) ** axes
    return [Interval(center.lo - radius, center.lo + radius, x.may_nan)]


def cubic_abs_sum(a: float) -> float:
    """max over t of sum_i |w_i(t)| for the Keys cubic kernel with coefficient a (grid + margin)."""

    def w(s):
        s = np.abs(s)
        return np.where(
            s <= 1,
            (a + 2) * s**3 - (a + 3) * s**2 + 1,
            np.where(s < 2, a * s**3 - 5 * a * s**2 + 8 * a * s - 4 * a, 0.0),
        )

    t = np.linspace(0, 1, 2001)
    total = sum(np.abs(w(t + k)) for k in (-2, -1, 0, 1))
    return float(total.max()) * 1.001 + 1e-6


@register("layout", "GridSample", note="bilinear/nearest: monotone in the image; bounded grid: hull with 0")
def grid_sample(ctx: NodeContext):
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    if mode in ("cubic", "bicubic"):
        raise NotExact("bicubic grid sampling is not monotone")
    if ctx.is_exact(1):
        return ctx.lift((0,))
    zero = Interval.point(np.zeros((), np.float32))
    return [hull(ctx, (0,), [zero])]
