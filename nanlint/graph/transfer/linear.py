"""Linear ops in centre/radius form.

For a bilinear op (a sum of products: MatMul, Gemm, Conv, ConvTranspose, Einsum) with a = ma ± ra and
b = mb ± rb:
    one operand exact (weights):  mid = op(ma, B),  rad = op(ra, |B|)
    both varying (attention):     mid = op(ma, mb), rad = op(|ma|, rb) + op(ra, |mb| + rb)
which is exact in the first case and within a factor 1.5 of the best box in the second. MatMul, Gemm
and Einsum run in numpy (BLAS); Conv and ConvTranspose run onnxruntime's own kernel, mid and rad in
one call. Bounds are float32 like the kernels, so they hold up to float32 accumulation rounding.

Rows of bounded L2 norm (`Interval.row_norm`, e.g. after a LayerNorm): with exact weights W, output
column j also lies within +-||W[:, j]||_2 * r (Cauchy-Schwarz), which is intersected with the box
result; the column norms are computed once per weight.

Memory: a MatMul whose right operand is large (a dequantised weight in float64) runs over blocks of
its output columns, so that its temporaries (centre, |centre|, radius of each block) stay about
BLOCK_BYTES; every output element is the same sum in the same order, so the bounds are bit for bit
those of one product.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import onnx

from nanlint.graph.interval import Interval, contiguous, finish, round_outward
from nanlint.graph.transfer.attention import record_linear_rows, score_band
from nanlint.graph.transfer.context import NodeContext, NotExact, run_dtype
from nanlint.graph.transfer.registry import register

# A product's right operand above this many bytes (in the bounds' dtype) runs by blocks of columns.
BLOCK_BYTES = 16 << 20


def _full_mid_rad(iv: Interval, dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre and radius as full arrays of `dtype` (radius None for an exact value)."""
    if iv.shape is None:
        raise NotExact("operand of unknown shape")
    if iv.is_point:
        return contiguous(np.broadcast_to(iv.lo, iv.shape), dtype=dtype), None
    mid, rad = iv.mid_rad()
    mid = contiguous(np.broadcast_to(mid, iv.shape), dtype=dtype)
    rad = contiguous(np.broadcast_to(rad, iv.shape), dtype=dtype)
    return mid, rad


def _compact_mid_rad(iv: Interval, dtype, full_axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre and radius as stored (size 1 along axes where the bounds do not vary), full along
    `full_axes` (the contracted ones), with the tensor's rank."""
    if iv.shape is None:
        raise NotExact("operand of unknown shape")
    target = iv.stored_shape(full_axes)
    mid, rad = (iv.lo, None) if iv.is_point else iv.mid_rad()
    mid = contiguous(np.broadcast_to(mid, target), dtype=dtype)
    return mid, None if rad is None else contiguous(np.broadcast_to(rad, target), dtype=dtype)


class Product:
    """A bilinear op: `one(a, b)`, and `two(a1, b1, a2, b2)` for two products at once. `by_columns`: a
    MatMul (output column j depends on column j of b only), which can run by blocks of columns."""

    by_columns = False

    def __init__(self, fn: Callable):
        self.fn = fn

    def one(self, a, b):
        return self.fn(a, b)

    def two(self, a1, b1, a2, b2):
        return self.fn(a1, b1), self.fn(a2, b2)


class KernelProduct(Product):
    """A bilinear op run by onnxruntime (MatMul, Conv, ...): both products in one session call."""

    def __init__(self, kernels, node, by_columns: bool = False):
        self.kernels = kernels
        self.node = node
        self.by_columns = by_columns

    def one(self, a, b):
        return self.kernels.run(self.node, [a, b], flush=True)[0]

    def two(self, a1, b1, a2, b2):
        lo, hi = self.kernels.run_pair(self.node, [a1, b1], [a2, b2], {0, 1}, flush=True)
        return lo[0], hi[0]


_MATMUL = onnx.helper.make_node("MatMul", ["a", "b"], ["c"])


def matmul_product(ctx: NodeContext) -> Product:
    return KernelProduct(ctx.engine.kernels, _MATMUL, by_columns=True)


def bilinear(op: Product | Callable, a: Interval, b: Interval, dtype=np.float32, matmul_shape=None) -> Interval:
    """Bounds of op(a, b) for an op that is a sum of products of a's and b's elements. `matmul_shape`: the
    output shape of a MatMul of operands of rank >= 2, which then run as stored (size 1 where their bounds
    do not vary: rows of a broadcast over the output's rows, columns of b over its columns)."""
    if not isinstance(op, Product):
        op = Product(op)
    blocks = None
    if op.by_columns and b.shape is not None and len(b.shape) >= 2:
        stored = b.stored_shape((-2,)) if matmul_shape is not None else b.shape
        blocks = column_blocks(stored, np.dtype(dtype).itemsize)
    if blocks is None:
        return _bilinear(op, a, b, dtype, matmul_shape)

    def block(cols: slice) -> Interval:
        shape = None if matmul_shape is None else tuple(matmul_shape[:-1]) + (cols.stop - cols.start,)
        return _bilinear(op, a, take_columns(b, cols), dtype, shape)

    return by_column_blocks(block, blocks, a.may_nan or b.may_nan)


def column_blocks(shape: tuple[int, ...], itemsize: int, limit: int | None = None) -> list[slice] | None:
    """Slices of the last axis of an operand of `shape` whose blocks hold at most about `limit` bytes
    (BLOCK_BYTES by default; None: the operand is within the limit, or is one column)."""
    limit = BLOCK_BYTES if limit is None else limit
    columns = shape[-1]
    column_bytes = math.prod(shape[:-1]) * itemsize
    if columns <= 1 or column_bytes * columns <= limit:
        return None
    width = max(1, limit // max(1, column_bytes))
    return [slice(start, min(start + width, columns)) for start in range(0, columns, width)]


def take_columns(iv: Interval, cols: slice) -> Interval:
    """`iv` on columns `cols` of its last axis (bounds stored once along that axis stay as they are).
    The block keeps the extremes of the whole `iv` (its min() and max() are bounds, not attained):
    Interval.mid_rad picks its rounding from them, so each block is centred as the whole would be."""
    if iv.shape is None:
        raise NotExact("operand of unknown shape")
    shape = tuple(iv.shape[:-1]) + (cols.stop - cols.start,)
    lo = iv.lo[..., cols] if iv.lo.ndim and iv.lo.shape[-1] > 1 else iv.lo
    if iv.is_point:
        return Interval(lo, lo, iv.may_nan, shape)
    hi = iv.hi[..., cols] if iv.hi.ndim and iv.hi.shape[-1] > 1 else iv.hi
    block = Interval(lo, hi, iv.may_nan, shape)
    block._stats = (iv.min(), iv.max())
    return block


def by_column_blocks(block: Callable[[slice], Interval], blocks: list[slice], inputs_nan: bool) -> Interval:
    """The interval whose columns `blocks` are block(cols), written into one pair of output arrays.
    `inputs_nan`: an operand may be NaN (what an exact result's flag says, as in one product)."""
    lo = hi = None
    may_nan, exact = False, True
    for cols in blocks:
        part = block(cols)
        width = cols.stop - cols.start
        stored = part.stored_shape()  # a block's shape is known (stored_shape raises otherwise)
        if lo is None or hi is None:
            shape = tuple(part.shape or ())[:-1] + (blocks[-1].stop,)
            lo = np.empty(stored[:-1] + (blocks[-1].stop,), part.lo.dtype)
            hi = lo if part.is_point else np.empty_like(lo)
        lo[..., cols] = np.broadcast_to(part.lo, stored[:-1] + (width,))
        if hi is not lo:
            hi[..., cols] = np.broadcast_to(part.hi, stored[:-1] + (width,))
        may_nan = may_nan or part.may_nan
        exact = exact and part.is_point
    assert lo is not None and hi is not None
    if exact:
        return Interval.point(lo, shape) if not inputs_nan else Interval(lo, lo, True, shape)
    return finish(lo, hi, may_nan, shape)


def _bilinear(op: Product, a: Interval, b: Interval, dtype, matmul_shape) -> Interval:
    if matmul_shape is not None:
        ma, ra = _compact_mid_rad(a, dtype, (-1,))
        mb, rb = _compact_mid_rad(b, dtype, (-2,))
    else:
        ma, ra = _full_mid_rad(a, dtype)
        mb, rb = _full_mid_rad(b, dtype)
    may_nan = a.may_nan or b.may_nan
    with np.errstate(all="ignore"):
        if ra is None and rb is None:
            mid = op.one(ma, mb)
            if matmul_shape is not None:
                mid = np.ascontiguousarray(np.broadcast_to(mid, matmul_shape))
            return Interval.point(mid) if not may_nan else Interval(mid, mid, True)
        if rb is None:
            mid, rad = op.two(ma, mb, ra, np.abs(mb))
        elif ra is None:
            mid, rad = op.two(ma, mb, np.abs(ma), rb)
        else:
            mid, rad = op.two(ma, mb, np.abs(ma), rb)
            rad = rad + op.one(ra, np.abs(mb) + rb)
        return finish(mid - rad, mid + rad, may_nan, mid.shape if matmul_shape is None else matmul_shape)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul, with a stack times one matrix done as one GEMM (numpy would loop over the stack)."""
    if b.ndim == 2 and a.ndim > 2:
        return np.dot(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + (b.shape[1],))
    return np.matmul(a, b)


def exact_weight(
    ctx: NodeContext,
    node,
    x: Interval,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    dtype=np.float32,
    rad_attrs: dict | None = None,
    abs_weight: np.ndarray | None = None,
) -> Interval:
    """node(x, W[, B]) for exact W in one onnxruntime call (centre/radius conversion included).
    `abs_weight`: |W| in `dtype` when the caller has it already."""
    if x.shape is None:
        raise NotExact("operand of unknown shape")
    compact = node.op_type == "MatMul" and weight.ndim == 2 and len(x.shape) >= 2
    if compact:
        # Rows as stored (one per distinct row of bounds): the output's rows repeat the same way.
        lo, hi = (_compact_rows(v, x.shape) for v in (x.lo, x.hi))
        target = np.broadcast_shapes(lo.shape, hi.shape)
    else:
        lo, hi = (np.broadcast_to(v, x.shape) for v in (x.lo, x.hi))
        target = x.shape
    weight = contiguous(weight, dtype)
    abs_weight = np.abs(weight) if abs_weight is None else abs_weight
    bias = None if bias is None else contiguous(bias, dtype)
    out_shape = x.shape[:-1] + weight.shape[1:] if compact else None
    if node.op_type == "MatMul" and weight.ndim == 2 and len(target) >= 2:
        shared = _shared_radius(ctx, contiguous(lo, dtype), contiguous(hi, dtype), weight, abs_weight)
        if shared is not None:
            return Interval(shared[0], shared[1], x.may_nan, out_shape or shared[0].shape)
    # Bounds stored smaller than the tensor (a collapsed bound, rows stored once) go to onnxruntime as
    # stored, which centres and expands them itself, instead of as full copies made here.
    # (A stack of rows times one matrix goes to the kernel as one matrix, made here.)
    stacked = node.op_type == "MatMul" and weight.ndim == 2 and len(target) > 2
    expand = not stacked and not all(np.shape(v) == target for v in (x.lo, x.hi))
    if expand:
        lo, hi = (contiguous(np.reshape(v, _with_rank(np.shape(v), len(target))), dtype) for v in (x.lo, x.hi))
    else:
        lo, hi = contiguous(lo, dtype), contiguous(hi, dtype)
    if stacked:
        # A stack of rows times one matrix is one GEMM (kernels would loop over the stack).
        lead = lo.shape[:-1]
        lo, hi = lo.reshape(-1, lo.shape[-1]), hi.reshape(-1, hi.shape[-1])
    out_lo, out_hi, low, high = ctx.engine.kernels.run_linear(
        node, lo, hi, weight, bias, rad_attrs=rad_attrs, abs_weight=abs_weight, shape=target if expand else None
    )
    del lo, hi
    if stacked:
        out_lo, out_hi = out_lo.reshape(lead + out_lo.shape[-1:]), out_hi.reshape(lead + out_hi.shape[-1:])
    if np.isnan(low) or np.isnan(high):
        return finish(out_lo, out_hi, True, out_shape or out_lo.shape)
    out = Interval(out_lo, out_hi, x.may_nan, out_shape or out_lo.shape)
    out._stats = (low, high)
    return out


def _with_rank(shape: tuple[int, ...], rank: int) -> tuple[int, ...]:
    return (1,) * (rank - len(shape)) + tuple(shape)


def _compact_rows(bound: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bounds of a tensor of `shape` as stored, with its rank and a full last axis."""
    stored = (1,) * (len(shape) - np.ndim(bound)) + tuple(np.shape(bound))
    return np.broadcast_to(bound, stored[:-1] + shape[-1:])


# Rows whose radii agree within this factor share one radius product (see _shared_radius).
UNIFORM_RADIUS = 1.02


def _shared_radius(ctx: NodeContext, lo: np.ndarray, hi: np.ndarray, weight: np.ndarray, abs_weight: np.ndarray):
    """x @ W when every row of x has (nearly) the same radius r, as after a LayerNorm bounded by its own
    cap: rad' = max_rows(r) @ |W| is one vector-matrix product instead of a second full GEMM, and
    bounds each row's radius product (|W| >= 0), at most UNIFORM_RADIUS times too wide."""
    k = lo.shape[-1]
    rows_lo, rows_hi = lo.reshape(-1, k), hi.reshape(-1, k)
    if rows_lo.shape[0] < 2:
        return None
    with np.errstate(all="ignore"):
        rad = (rows_hi - rows_lo) * np.float32(0.5)
        r_max, r_min = rad.max(axis=0), rad.min(axis=0)
        if not (np.all(np.isfinite(r_max)) and np.all(r_max <= r_min * UNIFORM_RADIUS + np.float32(1e-30))):
            return None
        mid = (rows_lo + rows_hi) * np.float32(0.5)
        if not np.all(np.isfinite(mid)):
            return None
    kernels = ctx.engine.kernels
    mid_out = kernels.run(_MATMUL, [mid, weight], flush=True)[0]
    rad_out = kernels.run(_MATMUL, [r_max[None, :], abs_weight], flush=True)[0]
    out_shape = lo.shape[:-1] + (weight.shape[1],)
    return (mid_out - rad_out).reshape(out_shape), (mid_out + rad_out).reshape(out_shape)


def _matmul_shape(a: Interval, b: Interval) -> tuple[int, ...] | None:
    """The output shape of a @ b for operands of rank >= 2 (None otherwise: vectors run full)."""
    if a.shape is None or b.shape is None or len(a.shape) < 2 or len(b.shape) < 2:
        return None
    lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return tuple(lead) + (a.shape[-2], b.shape[-1])


def _box_by_column_sums(ctx: NodeContext, x: Interval, weight: np.ndarray) -> Interval | None:
    """x @ W for exact 2-D W as mid @ W +- max_k rad[i, k] * sum_k |W[k, j]|: one GEMM, no |W|. Looser than
    rad @ |W| when the radii differ along a row; used where the row-norm band (tighter still) follows."""
    if x.shape is None or weight.ndim != 2 or len(x.shape) < 1 or _dtype_of(ctx) != np.float32:
        return None
    sums = column_abs_sums(weight)
    if sums is None:
        return None
    k = weight.shape[0]
    mid, rad = _compact_mid_rad(x, np.float32, (-1,))  # rows as stored: one per distinct row of bounds
    if rad is None:  # an exact x (callers pass bounded ones)
        return None
    with np.errstate(all="ignore"):
        row_rad = np.max(rad, axis=-1, keepdims=True)
        if not (np.all(np.isfinite(mid)) and np.all(np.isfinite(row_rad))):
            return None
        out_mid = ctx.engine.kernels.run(_MATMUL, [mid.reshape(-1, k), contiguous(weight, np.float32)], flush=True)[0]
        out_mid = out_mid.reshape(mid.shape[:-1] + (weight.shape[1],))
        spread = row_rad * sums
        return finish(out_mid - spread, out_mid + spread, x.may_nan, x.shape[:-1] + (weight.shape[1],))


def _dtype_of(ctx: NodeContext, i: int = 0):
    return run_dtype(ctx.in_type(i))


# -- rows of bounded norm ------------------------------------------------------------------------------

# Column norms per weight array, shared by every analysis while the array lives (weights are the
# Model's own arrays, so analyses of one model for several targets compute them once).
_COLUMN_NORMS: dict[tuple[int, bool], tuple[weakref.ref, np.ndarray | None]] = {}


_COLUMN_SUMS: dict[int, tuple[weakref.ref, np.ndarray | None]] = {}


def _forget(cache: dict, key: Hashable) -> Callable[[object], None]:
    """A weakref callback dropping `key` from `cache` when its array goes."""

    def drop(_: object) -> None:
        cache.pop(key, None)

    return drop


def _per_weight(cache: dict, key: Hashable, weight: np.ndarray, compute: Callable[[], np.ndarray | None]):
    """compute(), remembered for `weight` while that array lives (its id may be reused after it goes)."""
    cached = cache.get(key)
    if cached is not None and cached[0]() is weight:
        return cached[1]
    result = compute()
    try:
        ref = weakref.ref(weight, _forget(cache, key))
    except TypeError:  # an object that takes no weak reference: not cached
        return result
    cache[key] = (ref, result)
    return result


def column_abs_sums(weight: np.ndarray) -> np.ndarray | None:
    """Upper bounds of sum_k |W[k, j]| (float32) for a 2-D W, cached per weight array; None if not finite."""
    return _per_weight(_COLUMN_SUMS, id(weight), weight, lambda: _column_abs_sums(weight))


def _column_abs_sums(weight: np.ndarray) -> np.ndarray | None:
    k = weight.shape[0]
    # float32 sums of k non-negative terms: at most k units (relative) below the exact sum.
    sums = np.add.reduce(np.abs(np.asarray(weight, np.float32)), axis=0, dtype=np.float32)
    result = None
    if np.all(np.isfinite(sums)):
        result = (sums.astype(np.float64) * (1 + (k + 2) * 2.0**-23)).astype(np.float32)
        result = np.nextafter(result, np.float32(np.inf))
    return result


def column_norms(weight: np.ndarray, transposed: bool = False, values: np.ndarray | None = None) -> np.ndarray | None:
    """Upper bounds of ||W[..., :, j]||_2 for every column j (row j of a transposed 2-D W; the whole
    vector of a 1-D W), cached per weight array. None when W holds a non-finite value. `values`: the
    same magnitudes in a faster layout (|W| in float32, aligned), used instead of W when computing."""
    source = weight if values is None else values
    return _per_weight(
        _COLUMN_NORMS, (id(weight), transposed), weight, lambda: _column_norms(source.T if transposed else source)
    )


def _column_norms(w: np.ndarray) -> np.ndarray | None:
    vector = w.ndim < 2
    w = w[:, None] if vector else w
    k, cols = w.shape[-2], w.shape[-1]
    dtype = np.float64 if w.dtype == np.float64 else np.float32
    if w.dtype == dtype:
        squares = np.einsum("...kj,...kj->...j", w, w)
    else:
        # Reduced-precision weights: summed in float32, in slices (no full float32 copy).
        squares = np.zeros(w.shape[:-2] + (cols,), dtype)
        step = max(1, (1 << 20) // max(1, cols * int(np.prod(w.shape[:-2], dtype=np.int64))))
        for start in range(0, k, step):
            part = np.asarray(w[..., start : start + step, :], dtype)
            squares += np.einsum("...kj,...kj->...j", part, part)
    squares = np.asarray(squares, np.float64)
    if not np.all(np.isfinite(squares)):
        return None
    # A sum of k non-negative terms rounds by at most k units (relative): float32's, doubled.
    norms = np.sqrt(squares) * (1.0 + k * 2.0**-23)
    return norms[..., 0] if vector else norms


def row_norm_band(
    x: Interval, weight: np.ndarray, transposed: bool = False, scale: float = 1.0, abs_weight: np.ndarray | None = None
) -> np.ndarray | None:
    """Half-widths h with |scale * x @ W| <= h column-wise, for rows of x with norm <= x.row_norm
    (broadcastable to the product's shape; float64), or None without a row norm."""
    if x.row_norm is None or x.shape is None or weight.ndim == 0:
        return None
    norms = column_norms(weight, transposed, abs_weight)
    if norms is None:
        return None
    k = weight.shape[-1] if transposed else weight.shape[-2] if weight.ndim >= 2 else weight.shape[0]
    # float32 accumulation of k products: |fl(x . w) - x . w| <= k u sum|x_i w_i| <= k u ||x|| ||w||.
    half = norms * (x.row_norm * abs(scale) * (1.0 + (k + 2) * 2.0**-23))
    if weight.ndim >= 2 and len(x.shape) >= 2:
        half = np.expand_dims(half, -2)  # one bound per column, shared by all rows
    return half


def within_band(out: Interval, lo: np.ndarray, hi: np.ndarray) -> Interval:
    """`out` intersected with [lo, hi] (both sound: the intersection is never looser than `out`).
    Writes into out's arrays: call it only on a result just computed, shared with nobody."""
    assert out.shape is not None  # callers band results of a known shape
    dtype = out.lo.dtype
    new_lo, new_hi = out.lo, out.hi
    if new_lo is new_hi or new_lo.shape != tuple(out.shape) or not new_lo.flags.writeable:
        new_lo, new_hi = np.array(np.broadcast_to(new_lo, out.shape)), np.array(np.broadcast_to(new_hi, out.shape))
    np.maximum(new_lo, lo.astype(dtype) if lo.dtype != dtype else lo, out=new_lo)
    np.minimum(new_hi, hi.astype(dtype) if hi.dtype != dtype else hi, out=new_hi)
    np.minimum(new_lo, new_hi, out=new_lo)  # rounding must not cross the ends
    return Interval(new_lo, new_hi, out.may_nan, out.shape)


def _band_bounds(half: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = round_outward(-half, half, dtype)
    return lo, hi


@register(
    "linear",
    "MatMul",
    depth="widen",
    note="softmax(s) @ V is a convex combination of V's rows; exact W "
    "and rows of L2 norm <= r: column j within ±‖W[:, j]‖·r; two varying operands with rows / columns of "
    "bounded norm (attention scores q·kᵀ): within ±‖q‖·‖k‖; one-hot rows (Equal with a row of distinct "
    "values, OneHot) times exact W look rows of W up",
)
def matmul_op(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    if b.is_point and not a.is_point:
        half = row_norm_band(a, b.lo)
        out = None
        if half is not None:
            out = _box_by_column_sums(ctx, a, b.lo)
        if out is None:
            out = exact_weight(ctx, _MATMUL, a, b.lo, dtype=_dtype_of(ctx))
        if half is not None:
            out = within_band(out, *_band_bounds(half, out.lo.dtype))
        if b.lo.ndim == 2 and one_hot_rows(ctx.engine.model, ctx.engine.analysis.bounds, ctx.node.input[0]):
            out = within_band(out, *row_lookup(a, b.lo, out.lo.dtype))
        if b.lo.ndim == 2:
            ctx.optional(record_linear_rows, ctx, b.lo)
        return [out]
    out = bilinear(matmul_product(ctx), a, b, _dtype_of(ctx), _matmul_shape(a, b))
    band = ctx.optional(score_band, ctx, a, b)
    if band is not None and out.shape is not None:
        out = within_band(out, *round_outward(np.asarray(-band), np.asarray(band), out.lo.dtype))
    rows = softmax_rows(ctx, ctx.node.input[0], a)
    if rows is not None and b.shape is not None and len(b.shape) >= 2:
        # Attention context: each row of probabilities sums to 1 (at most 1), so each output lies
        # within the hull of the corresponding column of V (and 0).
        v_lo, v_hi = (np.asarray(v) for v in (b.lo, b.hi))  # size 1 along -2: the same in every row
        v_lo = v_lo.reshape((1,) * (len(b.shape) - v_lo.ndim) + v_lo.shape)
        v_hi = v_hi.reshape((1,) * (len(b.shape) - v_hi.ndim) + v_hi.shape)
        hull_lo = np.min(v_lo, axis=-2, keepdims=True).astype(out.lo.dtype)
        hull_hi = np.max(v_hi, axis=-2, keepdims=True).astype(out.hi.dtype)
        if rows != "sum 1":
            hull_lo, hull_hi = np.minimum(hull_lo, 0), np.maximum(hull_hi, 0)
        lo = np.maximum(out.lo, hull_lo)
        hi = np.minimum(out.hi, hull_hi)
        out = Interval(np.minimum(lo, hi), hi, out.may_nan, out.shape)
        ctx.depth = "keep"
    return [out]


# -- one-hot rows: a MatMul that looks rows up ----------------------------------------------------------


def one_hot_rows(model, bounds, name: str) -> bool:
    """`name` has at most one non-zero element in each last-axis row: a Cast of Equal(u, v) where v is
    an exact row of distinct values and u one value per row (`one_hot(u)` as jax and tf write it),
    or a OneHot op over the last axis whose off value is 0."""
    from nanlint.graph.transfer.normalization import _strip

    node = model.producer.get(_strip(model, name, ("Cast", "Identity")))
    if node is None:
        return False
    if node.op_type == "OneHot":
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        values = _exact_value(model, bounds, node.input[2]) if len(node.input) > 2 else None
        rank = len(bounds[name].shape) if name in bounds and bounds[name].shape else 0
        return values is not None and values.size == 2 and values.reshape(-1)[0] == 0 and axis in (-1, rank - 1)
    if node.op_type != "Equal" or len(node.input) != 2:
        return False
    for u, v in (node.input, node.input[::-1]):
        table = _exact_value(model, bounds, v)
        u_bound = bounds.get(u)
        if table is None or table.ndim == 0 or table.shape[-1] < 2 or u_bound is None or not u_bound.shape:
            continue
        if u_bound.shape[-1] != 1:
            continue
        ordered = np.sort(table.reshape(-1, table.shape[-1]), axis=-1)
        if not np.any(ordered[:, 1:] == ordered[:, :-1]):
            return True
    return False


def _exact_value(model, bounds, name: str) -> np.ndarray | None:
    if name in model.constants:
        return np.asarray(model.constants[name])
    iv = bounds.get(name)
    return iv.lo if iv is not None and iv.is_point else None


def row_lookup(a: Interval, weight: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a @ W when each row of `a` has at most one non-zero element (k, value a_k): output
    column j is a_k * W[k, j] for one k, or 0. Per column: the hull over k of [lo_k, hi_k] * W[k, j]
    and 0 (lo_k, hi_k: element k's bounds over all rows)."""
    k = weight.shape[0]
    shape = a.shape if a.shape is not None else np.broadcast_shapes(a.lo.shape, a.hi.shape)
    lo = np.asarray(np.min(np.broadcast_to(a.lo, shape).reshape(-1, k), axis=0), np.float64)[:, None]
    hi = np.asarray(np.max(np.broadcast_to(a.hi, shape).reshape(-1, k), axis=0), np.float64)[:, None]
    w = np.asarray(weight, np.float64)
    with np.errstate(invalid="ignore"):
        ends = (lo * w, hi * w)
    low = np.minimum(np.nanmin(np.minimum(*ends), axis=0), 0.0)
    high = np.maximum(np.nanmax(np.maximum(*ends), axis=0), 0.0)
    return round_outward(low, high, dtype)


def _weight_and_abs(ctx: NodeContext, x: Interval, weight: np.ndarray):
    """W in the kernel's dtype, and |W| when rows of x have a norm bound (the column norms are computed
    from that aligned copy, which the radius product needs anyway)."""
    if x.row_norm is None:
        return weight, None
    weight = contiguous(weight, _dtype_of(ctx))
    return weight, np.abs(weight)


def _is_softmax_rows(ctx: NodeContext, name: str, a: Interval) -> bool:
    """`name`'s last-axis rows are non-negative with sum at most 1: a Softmax over its last axis (through
    casts and dropout), possibly with some entries replaced by 0 (`where(isnan(p), 0, p)`)."""
    return softmax_rows(ctx, name, a) is not None


def softmax_rows(ctx: NodeContext, name: str, a: Interval) -> str | None:
    """ "sum 1" for a Softmax over the last axis, "sum <= 1" when some entries may be zeroed; else None."""
    model = ctx.engine.model
    kind = "sum 1"
    node = model.producer.get(name)
    for _ in range(6):
        if node is not None and node.op_type == "Where" and len(node.input) == 3:
            kept = _zero_or_other(ctx, node.input[1], node.input[2])
            if kept is None:
                return None
            kind = "sum <= 1"
            node = model.producer.get(kept)
        elif node is not None and node.op_type in ("Cast", "Identity", "Dropout"):
            node = model.producer.get(node.input[0])
        else:
            break
    if node is None or node.op_type != "Softmax" or a.shape is None or len(a.shape) < 2:
        return None
    rank = len(a.shape)
    opset = model.domain_version(node.domain)
    default = -1 if opset >= 13 else 1
    axis = next((attr.i for attr in node.attribute if attr.name == "axis"), default)
    return kind if axis % rank == rank - 1 else None


def _zero_or_other(ctx: NodeContext, first: str, second: str) -> str | None:
    """The other operand when one of the two is an exact zero."""
    for zero, other in ((first, second), (second, first)):
        value = _exact_value(ctx.engine.model, ctx.engine.analysis.bounds, zero)
        if value is not None and value.size and not np.any(value):
            return other
    return None


def transpose_last2(iv: Interval) -> Interval:
    if iv.shape is None or len(iv.shape) < 2:
        return iv
    shape = iv.shape[:-2] + (iv.shape[-1], iv.shape[-2])
    lo = np.swapaxes(iv.lo, -1, -2) if iv.lo.ndim >= 2 else iv.lo
    hi = lo if iv.is_point else (np.swapaxes(iv.hi, -1, -2) if iv.hi.ndim >= 2 else iv.hi)
    return Interval(lo, hi, iv.may_nan, shape)


@register(
    "linear",
    "Gemm",
    depth="widen",
    note="exact W and rows of L2 norm <= r (transA = 0): column j within ±‖W[:, j]‖·r + bias",
)
def gemm(ctx: NodeContext):
    a, b = ctx.x(0), ctx.x(1)
    banded = b.is_point and not a.is_point and not int(ctx.attr("transA", 0))
    weight, abs_weight = _weight_and_abs(ctx, a, b.lo) if banded else (b.lo, None)
    out = _gemm_box(ctx, weight, abs_weight)
    if banded:
        ctx.optional(_record_gemm_rows, ctx)
    return [_gemm_row_norm(ctx, out, abs_weight) if banded else out]


def _record_gemm_rows(ctx: NodeContext) -> None:
    """attention.record_linear_rows for alpha * A @ B + beta * C with exact B (and C, if any)."""
    weight = ctx.const(1)
    if weight.ndim != 2:
        return
    if int(ctx.attr("transB", 0)):
        weight = weight.T
    bias = None
    if ctx.has(2):
        if not ctx.is_exact(2) or ctx.const(2).size not in (1, weight.shape[1]):
            return
        row = np.asarray(ctx.const(2), np.float64).reshape(-1)
        bias = np.broadcast_to(row, (weight.shape[1],)) * float(ctx.attr("beta", 1.0))
    record_linear_rows(ctx, weight, abs(float(ctx.attr("alpha", 1.0))), bias)


def _gemm_row_norm(ctx: NodeContext, out: Interval, abs_weight: np.ndarray | None) -> Interval:
    """alpha * A @ B + beta * C within the row-norm band of A's rows (exact B, transA = 0)."""
    a, b = ctx.x(0), ctx.x(1)
    if out.shape is None:
        return out
    half = row_norm_band(a, b.lo, bool(int(ctx.attr("transB", 0))), float(ctx.attr("alpha", 1.0)), abs_weight)
    if half is None:
        return out
    lo, hi = _band_bounds(half, out.lo.dtype)
    band = Interval(lo, hi, shape=out.shape)
    if ctx.has(2):
        band = band + ctx.x(2) * Interval.point(np.asarray(float(ctx.attr("beta", 1.0)), out.lo.dtype))
        if band.may_nan:
            return out
    return within_band(out, band.lo, band.hi)


def _gemm_box(ctx: NodeContext, weight: np.ndarray, abs_weight: np.ndarray | None) -> Interval:
    a, b = ctx.x(0), ctx.x(1)
    if b.is_point and not a.is_point and (not ctx.has(2) or ctx.is_exact(2)):
        rad_attrs: dict[str, Any] = {k: ctx.attrs[k] for k in ("transA", "transB") if k in ctx.attrs}
        rad_attrs["alpha"] = abs(float(ctx.attr("alpha", 1.0)))
        bias = ctx.const(2) if ctx.has(2) else None
        return exact_weight(ctx, ctx.node, a, weight, bias, _dtype_of(ctx), rad_attrs, abs_weight)
    if int(ctx.attr("transA", 0)):
        a = transpose_last2(a)
    if int(ctx.attr("transB", 0)):
        b = transpose_last2(b)
    out = bilinear(matmul_product(ctx), a, b, _dtype_of(ctx))
    alpha = float(ctx.attr("alpha", 1.0))
    if alpha != 1.0:
        out = out * Interval.point(np.asarray(alpha, out.lo.dtype))
    if ctx.has(2):
        beta = float(ctx.attr("beta", 1.0))
        c = ctx.x(2)
        if beta != 1.0:
            c = c * Interval.point(np.asarray(beta, out.lo.dtype))
        out = out + c
    return out


@register("linear", "Einsum", depth="widen", note="one varying operand, or two (interval product)")
def einsum(ctx: NodeContext):
    equation = ctx.attr("equation")
    operands = [ctx.x(i) for i in range(ctx.n_inputs)]
    varying = [i for i, iv in enumerate(operands) if not iv.is_point]
    dtype = _dtype_of(ctx)
    if len(operands) == 1:
        x = operands[0]
        mid, rad = _full_mid_rad(x, dtype)
        if rad is None:
            raise NotExact("one exact operand that the kernel could not fold")
        out_mid = np.einsum(equation, mid)
        out_rad = np.einsum(equation, rad)
        return [finish(out_mid - out_rad, out_mid + out_rad, x.may_nan, np.shape(out_mid))]
    if len(varying) > 2:
        raise NotExact("einsum with more than two varying operands")
    fixed = {i: np.asarray(iv.lo, dtype) for i, iv in enumerate(operands) if iv.is_point}
    pair = varying + [i for i in range(len(operands)) if i not in varying][: 2 - len(varying)]
    i, j = sorted(pair)

    def op(a, b):
        args = [fixed.get(k) for k in range(len(operands))]
        args[i], args[j] = a, b
        return np.einsum(equation, *args, optimize=True)

    # With the other operands fixed the op is bilinear in (operand i, operand j); a fixed operand in
    # the pair is taken as-is, and bilinear() gives |fixed| the radius of the varying one.
    return [bilinear(op, operands[i], operands[j], dtype)]


def _conv_lifted(ctx: NodeContext) -> Interval:
    """Conv/ConvTranspose: linear in X and in W; onnxruntime computes mid and rad in one call."""
    x, w = ctx.x(0), ctx.x(1)
    dtype = _dtype_of(ctx)
    if w.is_point and not x.is_point and (not ctx.has(2) or ctx.is_exact(2)):
        return exact_weight(ctx, ctx.node, x, w.lo, ctx.const(2) if ctx.has(2) else None, dtype)
    mx, rx = _full_mid_rad(x, dtype)
    mw, rw = _full_mid_rad(w, dtype)
    bias = np.asarray(ctx.const(2), dtype) if ctx.has(2) and ctx.is_exact(2) else None
    bias_iv = ctx.x(2) if ctx.has(2) and not ctx.is_exact(2) else None
    kernels = ctx.engine.kernels
    node = ctx.node
    zero_bias = None if bias is None else np.zeros_like(bias)
    may_nan = x.may_nan or w.may_nan
    with np.errstate(all="ignore"):
        if rx is None and rw is None:
            (mid,) = kernels.run(node, [mx, mw] + ([bias] if bias is not None else []), flush=True)[:1]
            rad = None
        elif rw is None:
            lo, hi = kernels.run_pair(
                node,
                [mx, mw] + ([bias] if bias is not None else []),
                [rx, np.abs(mw)] + ([zero_bias] if bias is not None else []),
                {0, 1, 2},
                flush=True,
            )
            mid, rad = lo[0], hi[0]
        else:
            lo, hi = kernels.run_pair(
                node,
                [mx, mw] + ([bias] if bias is not None else []),
                [np.abs(mx), rw] + ([zero_bias] if bias is not None else []),
                {0, 1, 2},
                flush=True,
            )
            mid, rad = lo[0], hi[0]
            if rx is not None:
                (extra,) = kernels.run(node, [rx, np.abs(mw) + rw], flush=True)[:1]
                rad = rad + extra
        if rad is None:
            out = Interval.point(mid) if not may_nan else Interval(mid, mid, True)
        else:
            out = finish(mid - rad, mid + rad, may_nan, mid.shape)
    if bias_iv is not None:
        assert out.shape is not None  # a convolution's output has rank >= 3
        channel = (1, -1) + (1,) * (len(out.shape) - 2)
        out = out + Interval(
            np.reshape(bias_iv.lo, channel) if bias_iv.lo.ndim else bias_iv.lo,
            np.reshape(bias_iv.hi, channel) if bias_iv.hi.ndim else bias_iv.hi,
            bias_iv.may_nan,
        )
    return out


@register("linear", "Conv", "ConvTranspose", depth="widen", note="onnxruntime's kernel on centre and radius")
def conv(ctx: NodeContext):
    return [_conv_lifted(ctx)]


@register("linear", "BatchNormalization", note="inference: a per-channel affine map (resets nothing)")
def batch_norm(ctx: NodeContext):
    if int(ctx.attr("training_mode", 0)) and ctx.opset >= 14:
        from nanlint.graph.transfer.normalization import batch_norm_training

        return batch_norm_training(ctx)
    x = ctx.x(0)
    if x.shape is None:
        raise NotExact("unknown input shape")
    eps = float(ctx.attr("epsilon", 1e-5))
    channel = (1, -1) + (1,) * (len(x.shape) - 2) if len(x.shape) >= 2 else (-1,)
    params = [ctx.x(i) for i in (1, 2, 3, 4)]
    if all(p.is_point for p in params):
        scale, bias, mean, var = (np.asarray(p.lo, np.float64).reshape(channel) for p in params)
        with np.errstate(all="ignore"):
            k = scale / np.sqrt(var + eps)
            offset = bias - mean * k
        dtype = x.lo.dtype if x.lo.dtype.kind == "f" else np.float32
        return [x * Interval.point(k.astype(dtype)) + Interval.point(offset.astype(dtype))]
    scale_iv, bias_iv, mean_iv, var_iv = (
        Interval(np.reshape(p.lo, channel), np.reshape(p.hi, channel), p.may_nan) for p in params
    )
    var_eps = var_iv + Interval.point(np.asarray(eps, np.float64))
    lo_v = np.maximum(np.asarray(var_eps.lo, np.float64), 0)
    std = Interval(
        np.sqrt(lo_v), np.sqrt(np.maximum(np.asarray(var_eps.hi, np.float64), 0)), var_eps.may_nan or var_eps.min() < 0
    )
    return [(x - mean_iv) / std * scale_iv + bias_iv]
