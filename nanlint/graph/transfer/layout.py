"""Layout ops: every output element is a copy of an input element (or a constant fill), so running the
kernel on the lower bounds and on the upper bounds bounds the output element-wise.

Parameters (shapes, axes, indices, pads) must be exact for that; when one is only bounded, the output
is bounded by the hull of the data (and the fill value), with the shape from shape inference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nanlint.graph.interval import Interval, contiguous, join
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register


def hull(ctx: NodeContext, data=(0,), extra: Sequence[Interval] = (), j: int = 0) -> Interval:
    """One bound pair covering every element of the data inputs (and `extra` fills)."""
    parts = [ctx.x(i).collapse() for i in data if ctx.has(i)] + [e.collapse() for e in extra]
    if not parts:
        raise NotExact("no data input")
    out = parts[0]
    for p in parts[1:]:
        out = join(out, p)
    return Interval(out.lo, out.hi, out.may_nan, ctx.out_shape(j))


def lift_or_hull(ctx: NodeContext, data=(0,), fill: Sequence[Interval] = ()) -> list[Interval | None]:
    if data == (0,):
        moved = ctx.optional(stored_layout, ctx)
        if moved is not None:
            return moved
    try:
        return ctx.lift(data)
    except NotExact:
        return [hull(ctx, data, list(fill))]


# -- bounds stored once along the axes where they do not vary (Interval.compact) -------------------------


def stored_layout(ctx: NodeContext) -> list[Interval] | None:
    """Reshape, Transpose, (Un)Squeeze, Flatten, Split, Gather and Identity moved on the bounds as
    stored (size 1 along axes where they do not vary) when that stays possible; None otherwise (the
    kernel then runs on the full bounds)."""
    x = ctx.x(0)
    if x.is_point or x.shape is None or not x.shape or 0 in x.shape:
        return None
    stored = x.stored_shape()
    if stored == tuple(x.shape):
        return None
    lo, hi = x.stored()
    op = ctx.node.op_type
    if op == "Identity":
        return [x]
    if op == "Transpose":
        rank = len(x.shape)
        perm = ctx.attr("perm")
        perm = list(reversed(range(rank))) if perm is None else [int(p) % rank for p in perm]
        shape = tuple(x.shape[p] for p in perm)
        return [Interval(np.transpose(lo, perm), np.transpose(hi, perm), x.may_nan, shape)]
    if op in ("Reshape", "Squeeze", "Unsqueeze", "Flatten"):
        reshaped = _reshaped_shape(ctx, x.shape)
        new = None if reshaped is None else _regrouped(x.shape, stored, reshaped)
        if new is None:
            return None
        return [Interval(lo.reshape(new), hi.reshape(new), x.may_nan, reshaped)]
    if op == "Split":
        return _stored_split(ctx, x, x.shape, lo, hi, stored)
    if op == "Gather" and ctx.is_exact(1):
        return _stored_gather(ctx, x, x.shape, lo, hi, stored)
    return None


def _reshaped_shape(ctx: NodeContext, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The output shape of a Reshape/Squeeze/Unsqueeze/Flatten of a tensor of `shape` (exact parameters)."""
    op, rank = ctx.node.op_type, len(shape)
    total = int(np.prod(shape, dtype=np.int64))
    if op == "Flatten":
        axis = int(ctx.attr("axis", 1)) % (rank + 1)
        return (int(np.prod(shape[:axis], dtype=np.int64)), int(np.prod(shape[axis:], dtype=np.int64)))
    if op == "Reshape":
        dims = [int(d) for d in ctx.ints(1)]
        if not int(ctx.attr("allowzero", 0)) or ctx.opset < 14:
            dims = [shape[i] if d == 0 and i < rank else d for i, d in enumerate(dims)]
        if dims.count(-1) > 1 or any(d < -1 for d in dims):
            return None
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
            if known == 0 or total % known:
                return None
            dims[dims.index(-1)] = total // known
        return tuple(dims) if int(np.prod(dims, dtype=np.int64)) == total else None
    axes = ctx.ints(1) if ctx.opset >= 13 and ctx.has(1) else list(ctx.attr("axes", []) or [])
    if op == "Squeeze":
        drop = {a % rank for a in axes} if axes else {a for a in range(rank) if shape[a] == 1}
        return tuple(d for a, d in enumerate(shape) if a not in drop) if all(shape[a] == 1 for a in drop) else None
    out_rank = rank + len(axes)
    inserted = {a % out_rank for a in axes}
    kept = iter(shape)
    return tuple(1 if a in inserted else next(kept) for a in range(out_rank))


def _regrouped(shape, stored, new_shape) -> tuple[int, ...] | None:
    """The stored shape after a C-order reshape from `shape` to `new_shape`: axes are matched in groups of
    equal size; a group stored whole stays whole, a group stored once (all size 1) stays once, any other
    group needs the full bounds (None)."""
    result: list[int] = []
    i = j = 0
    while i < len(shape) or j < len(new_shape):
        src: list[int] = []
        dst: list[int] = []
        a = b = 1
        while True:
            if a <= b and i < len(shape) and (not src or a < b or shape[i] == 1):
                src.append(i)
                a *= shape[i]
                i += 1
            elif j < len(new_shape) and (not dst or b < a or new_shape[j] == 1):
                dst.append(j)
                b *= new_shape[j]
                j += 1
            else:
                break
            if a == b and (i == len(shape) or shape[i] != 1) and (j == len(new_shape) or new_shape[j] != 1):
                break
        if a != b:
            return None
        whole = all(stored[k] == shape[k] for k in src)
        once = all(stored[k] == 1 for k in src)
        if not (whole or once):
            return None
        result.extend(new_shape[k] if whole else 1 for k in dst)
    return tuple(result)


def _stored_split(ctx: NodeContext, x: Interval, full: tuple[int, ...], lo, hi, stored) -> list[Interval] | None:
    """Split of bounds stored as `stored` (x's shape: `full`); the outputs' shapes from shape inference."""
    rank = len(full)
    axis = int(ctx.attr("axis", 0)) % rank
    outs = [o for o in (ctx.out_shape(j) for j in range(len(ctx.node.output))) if o is not None]
    if len(outs) != len(ctx.node.output):
        return None
    sizes = [o[axis] for o in outs]
    if sum(sizes) != full[axis]:
        return None
    result = []
    start = 0
    for size, shape in zip(sizes, outs):
        if stored[axis] == 1:
            part_lo, part_hi = lo, hi
        else:
            index = (slice(None),) * axis + (slice(start, start + size),)
            part_lo, part_hi = lo[index], hi[index]
        result.append(Interval(part_lo, part_hi, x.may_nan, tuple(shape)))
        start += size
    return result


def _stored_gather(ctx: NodeContext, x: Interval, full: tuple[int, ...], lo, hi, stored) -> list[Interval] | None:
    """Gather with exact indices from bounds stored as `stored` (x's shape: `full`)."""
    rank = len(full)
    axis = int(ctx.attr("axis", 0)) % rank
    indices = np.asarray(ctx.const(1)).astype(np.int64)
    n = full[axis]
    if indices.size and (indices.min() < -n or indices.max() >= n):
        return None
    shape = full[:axis] + indices.shape + full[axis + 1 :]
    if stored[axis] == 1:
        keep = stored[:axis] + (1,) * indices.ndim + stored[axis + 1 :]
        return [Interval(lo.reshape(keep), hi.reshape(keep), x.may_nan, shape)]
    indices = np.where(indices < 0, indices + n, indices)
    return [Interval(np.take(lo, indices, axis=axis), np.take(hi, indices, axis=axis), x.may_nan, shape)]


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
    moved = ctx.optional(stored_layout, ctx)
    if moved is not None:
        return moved
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
        moved = ctx.optional(stored_layout, ctx)
        return moved if moved is not None else ctx.lift((0,))
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
    if x.shape is None:
        raise NotExact("input 0 has an unknown shape")
    mid, rad = x.mid_rad()
    mid_full = contiguous(np.broadcast_to(mid, x.shape))
    center = ctx.lift_first((0,), values={0: Interval.point(mid_full)})
    assert center.shape is not None  # lifted on bounds of a known shape
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
