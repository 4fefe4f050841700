"""Ops that reset bounds: softmax and the normalisations.

Normalisation (LayerNorm, RMSNorm, Instance/Group/BatchNorm in training mode, MVN): z_i = d_i / s with
d_i = x_i - mean (or x_i for RMS) and s = sqrt(var + eps). For a box of inputs,
  d_i ranges exactly over [lo_i(1-1/n) - (S_hi - hi_i)/n, hi_i(1-1/n) - (S_lo - lo_i)/n]  (linear in x),
  var lies within [mean_j mig(d_j)^2, mean_j mag(d_j)^2],
so z_i lies within d_i / sqrt(var + eps), and whatever the input |z_i| <= sqrt(n-1) (sqrt(n) for RMS),
since the z_j have mean 0 and mean square below 1. Both bounds are intersected: exact for exact inputs,
and about ±sqrt(N)·|scale| + bias for anything.

Softmax is bounded row-wise: p_i = 1 / (1 + sum_{j != i} exp(x_j - x_i)) is smallest when x_i is at
its lower bound and the others at their upper bounds, largest the other way round.

Decomposed RMS/L2 normalisation (y / sqrt(mean(y^2) + eps), y * 1/sqrt(...), y / max(||y||, eps)) is
recognised at its Div/Mul and bounded by sqrt(N) (mean) or 1 (sum).

The same arguments bound the L2 norm of each normalised row (sum z^2 <= N), which rownorm.py records
as the output's row norm for the linear maps that follow.
"""

from __future__ import annotations

import math

import numpy as np

from nanlint.graph.interval import Interval, round_outward
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.registry import register

_BIG = 1e30  # infinite input bounds are replaced by this in float64 row computations (NaN is flagged)
# Sums of squares below this may underflow to 0 in a float32 kernel (squares of values below ~1e-19).
FLOAT32_UNDERFLOW = 1e-30


def _rows(iv: Interval, outer_axes: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Bounds as float64 (outer, n) arrays: the first `outer_axes` axes are rows, as stored (size 1
    where the bounds do not vary: one row stands for all). Returns the stored shape too."""
    if iv.shape is None:
        raise NotExact("input of unknown shape")
    shape = iv.stored_shape(range(outer_axes, len(iv.shape)))
    lo, hi = iv.stored(range(outer_axes, len(iv.shape)))
    outer = int(np.prod(shape[:outer_axes], dtype=np.int64))
    lo = np.clip(np.asarray(lo, np.float64).reshape(outer, -1), -_BIG, _BIG)
    hi = np.clip(np.asarray(hi, np.float64).reshape(outer, -1), -_BIG, _BIG)
    return lo, hi, shape


def _infinite(iv: Interval) -> bool:
    return iv.min() == -np.inf or iv.max() == np.inf


def normalized_bounds(
    lo: np.ndarray, hi: np.ndarray, eps: float, centered: bool = True, add: float = 0.0
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Bounds of z = d / (sqrt(var + eps) + add) row-wise over (outer, n) float64 bounds."""
    n = lo.shape[1]
    if centered:
        s_lo = lo.sum(axis=1, keepdims=True)
        s_hi = hi.sum(axis=1, keepdims=True)
        d_lo = lo * (1 - 1 / n) - (s_hi - hi) / n
        d_hi = hi * (1 - 1 / n) - (s_lo - lo) / n
    else:
        d_lo, d_hi = lo, hi
    mig = np.maximum(np.maximum(d_lo, 0), -d_hi)
    mag = np.maximum(np.abs(d_lo), np.abs(d_hi))
    v_lo = np.mean(mig * mig, axis=1, keepdims=True)
    v_hi = np.mean(mag * mag, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        den_lo = np.sqrt(v_lo + eps) + add
        den_hi = np.sqrt(v_hi + eps) + add
        z_lo = np.where(d_lo >= 0, d_lo / den_hi, d_lo / den_lo)
        z_hi = np.where(d_hi >= 0, d_hi / den_lo, d_hi / den_hi)
    cap = math.sqrt(max(n - 1, 0)) if centered else math.sqrt(n)
    z_lo = np.clip(np.nan_to_num(z_lo, nan=-cap), -cap, cap)
    z_hi = np.clip(np.nan_to_num(z_hi, nan=cap), -cap, cap)
    # A float32 kernel squares the deviations: below ~1e-19 they underflow, the variance can come out
    # 0 and the division gives +-inf (or 0/0). The cap only holds where the denominator cannot vanish.
    vanish = (v_lo + eps < FLOAT32_UNDERFLOW) & (add < FLOAT32_UNDERFLOW)
    if np.any(vanish):
        z_lo = np.where(vanish & (d_lo < 0), -np.inf, np.where(vanish, np.minimum(z_lo, 0), z_lo))
        z_hi = np.where(vanish & (d_hi > 0), np.inf, np.where(vanish, np.maximum(z_hi, 0), z_hi))
    zero_div = bool(np.any(vanish))
    stats = {"v_lo": v_lo, "v_hi": v_hi, "zero_div": zero_div}
    if centered:
        stats["mean"] = (s_lo / n, s_hi / n)
    return z_lo, z_hi, stats


def _affine(z: Interval, scale: Interval | None, bias: Interval | None) -> Interval:
    out = z
    if scale is not None:
        out = out * scale
    if bias is not None:
        out = out + bias
    return out


def _as_float32(lo64: np.ndarray, hi64: np.ndarray, shape, may_nan: bool, dtype=np.float32) -> Interval:
    lo, hi = round_outward(lo64.reshape(shape), hi64.reshape(shape), dtype)
    return Interval(lo, hi, may_nan, tuple(shape))


def normalize_last(
    ctx: NodeContext, x: Interval, axis: int, eps: float, centered: bool, add: float = 0.0
) -> tuple[Interval, dict]:
    """z for a normalisation over the axes [axis, rank) of x."""
    if x.shape is None:
        raise NotExact("input of unknown shape")
    axis = axis % len(x.shape) if x.shape else 0
    lo, hi, stored = _rows(x, axis)
    z_lo, z_hi, stats = normalized_bounds(lo, hi, eps, centered, add)
    may_nan = x.may_nan or _infinite(x) or stats["zero_div"]
    dtype = x.lo.dtype if x.lo.dtype.kind == "f" else np.float32
    shape = x.shape
    stats["outer_shape"] = shape[:axis] + (1,) * (len(shape) - axis)
    stats["stored_outer"] = stored[:axis] + (1,) * (len(shape) - axis)
    z = _as_float32(z_lo, z_hi, stored, may_nan, dtype)
    return Interval(z.lo, z.hi, z.may_nan, shape), stats


# -- LayerNormalization and RMS variants -------------------------------------------------------------


def _inv_std(stats: dict, eps: float, shape) -> Interval:
    with np.errstate(divide="ignore"):
        lo = 1 / np.sqrt(stats["v_hi"] + eps)
        hi = 1 / np.sqrt(stats["v_lo"] + eps)
    return _outer(lo, hi, stats, shape, False)


def _outer(lo: np.ndarray, hi: np.ndarray, stats: dict, shape, may_nan: bool) -> Interval:
    """Per-row statistics (stored per distinct row) as an interval of the rows' `shape`."""
    out = _as_float32(lo, hi, stats["stored_outer"], may_nan)
    return Interval(out.lo, out.hi, may_nan, tuple(shape))


@register("normalization", "LayerNormalization", depth="reset")
def layer_norm(ctx: NodeContext):
    x = ctx.x(0)
    axis = int(ctx.attr("axis", -1))
    eps = float(ctx.attr("epsilon", 1e-5))
    z, stats = normalize_last(ctx, x, axis, eps, centered=True)
    y = _affine(z, ctx.x(1) if ctx.has(1) else None, ctx.x(2) if ctx.has(2) else None)
    outer = stats["outer_shape"]
    mean = _outer(stats["mean"][0], stats["mean"][1], stats, outer, x.may_nan)
    return [y, mean, _inv_std(stats, eps, outer)]


@register(
    "normalization", "RMSNormalization", "SimplifiedLayerNormalization", depth="reset", note="|x / rms(x)| <= sqrt(N)"
)
def rms_norm(ctx: NodeContext):
    x = ctx.x(0)
    eps = float(ctx.attr("epsilon", 1e-5))
    z, stats = normalize_last(ctx, x, int(ctx.attr("axis", -1)), eps, centered=False)
    y = _affine(z, ctx.x(1) if ctx.has(1) else None, None)
    return [y, _inv_std(stats, eps, stats["outer_shape"])]


@register("normalization", "InstanceNormalization", depth="reset")
def instance_norm(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None or len(x.shape) < 3:
        raise NotExact("instance norm needs (N, C, ...)")
    z, _ = normalize_last(ctx, x, 2, float(ctx.attr("epsilon", 1e-5)), centered=True)
    channel = (1, -1) + (1,) * (len(x.shape) - 2)
    return [_affine(z, _reshaped(ctx.x(1), channel), _reshaped(ctx.x(2), channel))]


def _reshaped(iv: Interval | None, shape) -> Interval | None:
    if iv is None:
        return None
    lo = np.reshape(iv.lo, shape) if iv.lo.ndim else iv.lo
    hi = lo if iv.is_point else (np.reshape(iv.hi, shape) if iv.hi.ndim else iv.hi)
    return Interval(lo, hi, iv.may_nan)


@register(
    "normalization",
    "GroupNormalization",
    depth="reset",
    note="scale/bias per group (opset 18) or per channel (opset 21)",
)
def group_norm(ctx: NodeContext):
    x = ctx.x(0)
    groups = int(ctx.attr("num_groups"))
    if x.shape is None or len(x.shape) < 2 or x.shape[1] % groups:
        raise NotExact("group norm shape")
    n, c = x.shape[:2]
    full_lo, full_hi = x.broadcast() if x.lo.ndim else (x.lo, x.hi)
    grouped = Interval(
        full_lo.reshape((n, groups, -1)) if x.lo.ndim else x.lo,
        full_hi.reshape((n, groups, -1)) if x.hi.ndim else x.hi,
        x.may_nan,
        (n, groups, int(np.prod(x.shape[2:], dtype=np.int64)) * (c // groups)),
    )
    z, _ = normalize_last(ctx, grouped, 2, float(ctx.attr("epsilon", 1e-5)), centered=True)
    z_lo, z_hi = z.broadcast()
    z = Interval(z_lo.reshape(x.shape), z_hi.reshape(x.shape), z.may_nan, x.shape)
    channel = (1, -1) + (1,) * (len(x.shape) - 2)
    scale, bias = ctx.x(1), ctx.x(2)
    if scale.shape is not None and scale.shape[0] == groups and groups != c:
        repeat = c // groups
        scale, bias = _repeated(scale, repeat), _repeated(bias, repeat)
    return [_affine(z, _reshaped(scale, channel), _reshaped(bias, channel))]


def _repeated(iv: Interval, repeat: int) -> Interval:
    """Per-group bounds repeated for each channel of the group (flat)."""
    lo, hi = iv.broadcast()
    return Interval(np.repeat(lo, repeat), np.repeat(hi, repeat), iv.may_nan)


def _normalize_axes(ctx: NodeContext, x: Interval, axes: list[int], eps: float, add: float) -> Interval:
    """Normalisation over arbitrary axes: move them last, normalise, move back."""
    lo, hi = x.broadcast()
    rank = lo.ndim
    axes = sorted(a % rank for a in axes)
    rest = [a for a in range(rank) if a not in axes]
    perm = rest + axes
    moved = Interval(np.transpose(lo, perm), np.transpose(hi, perm), x.may_nan)
    z, _ = normalize_last(ctx, moved, len(rest), eps, centered=True, add=add)
    inverse = np.argsort(perm)
    return Interval(np.transpose(z.lo, inverse), np.transpose(z.hi, inverse), z.may_nan, x.shape)


@register("normalization", "MeanVarianceNormalization", depth="reset")
def mvn(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None:
        raise NotExact("unknown shape")
    axes = list(ctx.attr("axes", [0, 2, 3]))
    # (x - mean) / sqrt(var), no epsilon: a constant group divides 0 by 0.
    return [_normalize_axes(ctx, x, axes, 0.0, 0.0)]


def batch_norm_training(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None or len(x.shape) < 2:
        raise NotExact("unknown shape")
    axes = [0] + list(range(2, len(x.shape)))
    z = _normalize_axes(ctx, x, axes, float(ctx.attr("epsilon", 1e-5)), 0.0)
    channel = (1, -1) + (1,) * (len(x.shape) - 2)
    return [_affine(z, _reshaped(ctx.x(1), channel), _reshaped(ctx.x(2), channel))]


@register("normalization", "LpNormalization", depth="reset", note="within [-1, 1]")
def lp_norm(ctx: NodeContext):
    x = ctx.x(0)
    if x.shape is None:
        raise NotExact("unknown shape")
    axis = int(ctx.attr("axis", -1)) % len(x.shape)
    p = int(ctx.attr("p", 2))
    lo, hi = x.broadcast()
    lo64, hi64 = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    mig = np.maximum(np.maximum(lo64, 0), -hi64)
    mag = np.maximum(np.abs(lo64), np.abs(hi64))
    norm_lo = np.sum(mig**p, axis=axis, keepdims=True) ** (1 / p)
    norm_hi = np.sum(mag**p, axis=axis, keepdims=True) ** (1 / p)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_lo = np.where(lo64 >= 0, lo64 / norm_hi, lo64 / norm_lo)
        z_hi = np.where(hi64 >= 0, hi64 / norm_lo, hi64 / norm_hi)
    z_lo = np.clip(np.nan_to_num(z_lo, nan=-1.0), -1.0, 1.0)
    z_hi = np.clip(np.nan_to_num(z_hi, nan=1.0), -1.0, 1.0)
    # A norm that can vanish (or underflow in float32) makes the kernel return 0 there.
    vanish = norm_lo**p < FLOAT32_UNDERFLOW if p == 2 else norm_lo < FLOAT32_UNDERFLOW
    z_lo = np.where(vanish, np.minimum(z_lo, 0.0), z_lo)
    z_hi = np.where(vanish, np.maximum(z_hi, 0.0), z_hi)
    may_nan = x.may_nan or _infinite(x)
    return [_as_float32(z_lo, z_hi, x.shape, may_nan)]


@register("normalization", "LRN", note="|y| <= |x| / bias^beta")
def lrn(ctx: NodeContext):
    x = ctx.x(0)
    alpha = float(ctx.attr("alpha", 1e-4))
    beta = float(ctx.attr("beta", 0.75))
    bias = float(ctx.attr("bias", 1.0))
    size = int(ctx.attr("size"))
    if bias <= 0 or beta < 0 or alpha < 0:
        raise NotExact("LRN parameters")
    # y = x * f with f = (bias + alpha/size * window sum of squares)^-beta in (0, bias^-beta].
    top = x.abs_max() ** 2 * size
    f_lo = (bias + alpha / size * top) ** -beta if math.isfinite(top) else 0.0
    factor = Interval(np.asarray(f_lo, np.float64), np.asarray(bias**-beta, np.float64), False, ())
    return [x * factor]


# -- softmax ----------------------------------------------------------------------------------------


def _softmax_layout(ctx: NodeContext, rank: int) -> tuple[int, int]:
    """(outer axes count, whether the softmax runs over all trailing axes) for an input of `rank`."""
    if ctx.opset < 13:
        axis = int(ctx.attr("axis", 1)) % max(rank, 1)
        return axis, True
    axis = int(ctx.attr("axis", -1)) % max(rank, 1)
    return axis, False


def _softmax_rows(ctx: NodeContext, x: Interval):
    """Bounds as float64 arrays (rows, n, inner) with the softmax over axis 1, rows as stored (one for
    all rows whose bounds are the same), and the stored shape."""
    if x.shape is None:
        raise NotExact("unknown shape")
    axis, flatten = _softmax_layout(ctx, len(x.shape))
    full = range(axis, len(x.shape)) if flatten else (axis,)
    shape = x.stored_shape(full)
    lo, hi = x.stored(full)
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    if flatten:
        shape3 = (outer, int(np.prod(shape[axis:], dtype=np.int64)), 1)
    else:
        shape3 = (outer, shape[axis], int(np.prod(shape[axis + 1 :], dtype=np.int64)))
    lo = np.asarray(lo, np.float64).reshape(shape3)
    hi = np.asarray(hi, np.float64).reshape(shape3)
    return lo, hi, shape


def softmax_log_terms(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log A_i >= log sum_{j != i} exp(hi_j - lo_i) and log B_i <= log sum_{j != i} exp(lo_j - hi_i), over
    axis 1, in the log domain so that huge logits neither overflow nor underflow."""
    n = lo.shape[1]
    finite = bool(np.all(np.abs(lo) < _BIG)) and bool(np.all(np.abs(hi) < _BIG))
    lo_c = lo if finite else np.clip(lo, -_BIG, _BIG)
    hi_c = hi if finite else np.clip(hi, -_BIG, _BIG)
    slack = 4 * n * np.finfo(np.float64).eps
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        m_hi = hi_c.max(axis=1, keepdims=True)
        e_hi = np.exp(hi_c - m_hi)
        s_hi = e_hi.sum(axis=1, keepdims=True)
        # The sum without element i, rounded up (A must not be underestimated).
        others_hi = (s_hi - e_hi) + slack * s_hi
        log_a = (m_hi - lo_c) + np.log(others_hi)
        m_lo = lo_c.max(axis=1, keepdims=True)
        e_lo = np.exp(lo_c - m_lo)
        s_lo = e_lo.sum(axis=1, keepdims=True)
        others_lo = np.maximum((s_lo - e_lo) - slack * s_lo, 0.0)  # rounded down
        log_b = (m_lo - hi_c) + np.log(others_lo)
    if not finite:
        log_a = np.where(np.isnan(log_a), np.inf, log_a)
        log_b = np.where(np.isnan(log_b), -np.inf, log_b)
    return log_a, log_b


def _softmax_nan(x: Interval, lo: np.ndarray) -> bool:
    """NaN when an input can be +inf, or a whole row can be -inf (fully masked)."""
    if x.may_nan or x.max() == np.inf:
        return True
    if x.min() == -np.inf:
        return bool(np.any(np.all(lo == -np.inf, axis=1)))
    return False


@register("normalization", "Softmax", depth="reset", note="row-aware bounds within [0, 1]")
def softmax(ctx: NodeContext):
    x = ctx.x(0)
    lo, hi, stored = _softmax_rows(ctx, x)
    log_a, log_b = softmax_log_terms(lo, hi)
    # p = 1 / (1 + A); exp overflows to inf for huge A, which gives the right limit 0.
    with np.errstate(over="ignore"):
        p_lo = 1.0 / (1.0 + np.exp(log_a))
        p_hi = np.minimum(1.0 / (1.0 + np.exp(log_b)), 1.0)
    out = _as_float32(p_lo, p_hi, stored, _softmax_nan(x, lo))
    return [Interval(out.lo, np.minimum(out.hi, np.float32(1.0)), out.may_nan, x.shape)]


@register("normalization", "LogSoftmax", depth="reset", note="row-aware bounds within (-inf, 0]")
def log_softmax(ctx: NodeContext):
    x = ctx.x(0)
    lo, hi, stored = _softmax_rows(ctx, x)
    log_a, log_b = softmax_log_terms(lo, hi)
    out = _as_float32(-np.logaddexp(0.0, log_a), -np.logaddexp(0.0, log_b), stored, _softmax_nan(x, lo))
    return [Interval(out.lo, out.hi, out.may_nan, x.shape)]


@register("normalization", "Hardmax", depth="reset")
def hardmax(ctx: NodeContext):
    x = ctx.x(0)
    return [Interval.range(0.0, 1.0, x.shape, np.float32)]


# -- decomposed normalisations (pattern at Div / Mul) -----------------------------------------------

_TRANSPARENT = ("Cast", "Identity", "Expand")


def decomposed_norm_bound(ctx: NodeContext) -> float | None:
    """sqrt(N) (or 1) when this Div/Mul computes y / sqrt(mean(y^2) + eps) or y / ||y|| in any spelling."""
    found = _decomposed_norm(ctx)
    return None if found is None else found[0]


def decomposed_row_norm(ctx: NodeContext, out_shape) -> float | None:
    """The same bound for the L2 norm of each last-axis row, when the reduction covers the last axis:
    sum_i y_i^2 / (mean(y^2) + eps) <= N over a reduced group, and a row is part of one group."""
    found = _decomposed_norm(ctx)
    if found is None:
        return None
    bound, y_shape, axes = found
    if not y_shape or not out_shape or out_shape[-1] != y_shape[-1] or len(y_shape) - 1 not in axes:
        return None
    return bound


def _decomposed_norm(ctx: NodeContext):
    """(bound, shape of y, reduced axes) for a normalisation by y's own root mean square or norm."""
    node = ctx.node
    model = ctx.engine.model
    if len(node.input) != 2:
        return None
    pairs = [(node.input[0], node.input[1])]
    if node.op_type == "Mul":
        pairs.append((node.input[1], node.input[0]))
    for num, den in pairs:
        if node.op_type == "Mul":
            root = _reciprocal_root(model, den)
        else:
            root = _den_root(model, den)
        if root is None:
            continue
        y, kind, reduced = root
        if _strip(model, num, ("Cast", "Identity")) != _strip(model, y, ("Cast", "Identity")):
            continue
        group = _reduced_axes(ctx, y, reduced)
        if group is not None:
            count, shape, axes = group
            if count:
                return (1.0 if kind == "sum" else math.sqrt(count)), shape, axes
    return None


def _strip(model, name: str, ops=_TRANSPARENT) -> str:
    for _ in range(8):
        node = model.producer.get(name)
        if node is None or node.op_type not in ops or not node.input:
            return name
        name = node.input[0]
    return name


def _const(model, name: str) -> np.ndarray | None:
    value = model.constants.get(_strip(model, name))
    return None if value is None else np.asarray(value, np.float64)


def _nonneg_const(model, name: str) -> bool:
    value = _const(model, name)
    return value is not None and bool(np.all(value >= 0))


def _reciprocal_root(model, name: str):
    node = model.producer.get(_strip(model, name))
    if node is None:
        return None
    if node.op_type == "Reciprocal":
        return _den_root(model, node.input[0])
    if node.op_type == "Pow" and _is_value(model, node.input[1], -0.5):
        return _mean_square(model, node.input[0])
    if node.op_type == "Div" and _is_value(model, node.input[0], 1.0):
        return _den_root(model, node.input[1])
    return None


def _is_value(model, name: str, value: float) -> bool:
    c = _const(model, name)
    return c is not None and c.size == 1 and float(c.reshape(())) == value


def _den_root(model, name: str):
    """(y, "mean"|"sum", reduce node) when `name` >= sqrt(mean(y^2)) (or sqrt(sum(y^2)))."""
    node = model.producer.get(_strip(model, name))
    if node is None:
        return None
    op = node.op_type
    if op == "Sqrt" or (op == "Pow" and _is_value(model, node.input[1], 0.5)):
        return _mean_square(model, node.input[0])
    if op in ("Add", "Max") and len(node.input) == 2:
        for keep, other in ((0, 1), (1, 0)):
            if _nonneg_const(model, node.input[other]):
                return _den_root(model, node.input[keep])
    if op == "Clip" and len(node.input) >= 2 and node.input[1] and _nonneg_const(model, node.input[1]):
        return _den_root(model, node.input[0])
    if op == "ReduceL2":
        return node.input[0], "sum", node
    return None


def _mean_square(model, name: str):
    node = model.producer.get(_strip(model, name))
    if node is None:
        return None
    op = node.op_type
    if op in ("Add", "Max") and len(node.input) == 2:
        for keep, other in ((0, 1), (1, 0)):
            if _nonneg_const(model, node.input[other]):
                return _mean_square(model, node.input[keep])
    if op == "Clip" and len(node.input) >= 2 and node.input[1] and _nonneg_const(model, node.input[1]):
        return _mean_square(model, node.input[0])
    if op == "ReduceSumSquare":
        return node.input[0], "sum", node
    if op in ("ReduceMean", "ReduceSum"):
        y = _square_of(model, node.input[0])
        if y is not None:
            return y, "mean" if op == "ReduceMean" else "sum", node
    return None


def _square_of(model, name: str) -> str | None:
    node = model.producer.get(_strip(model, name, ("Cast", "Identity")))
    if node is None:
        return None
    if node.op_type == "Pow" and _is_value(model, node.input[1], 2.0):
        return node.input[0]
    if node.op_type == "Mul" and node.input[0] == node.input[1]:
        return node.input[0]
    return None


def _reduced_axes(ctx: NodeContext, y: str, reduce_node):
    """(elements per group, y's shape, reduced axes) of the reduction (keepdims=1 only, so groups
    broadcast back element-wise)."""
    iv = ctx.engine.analysis.bounds.get(y)
    shape = iv.shape if iv is not None else ctx.engine.model.shapes.get(y)
    if shape is None:
        return None
    attrs = {a.name: a for a in reduce_node.attribute}
    keepdims = attrs["keepdims"].i if "keepdims" in attrs else 1
    axes = list(attrs["axes"].ints) if "axes" in attrs else None
    if axes is None and len(reduce_node.input) > 1 and reduce_node.input[1]:
        value = _const(ctx.engine.model, reduce_node.input[1])
        if value is None:
            return None
        axes = [int(v) for v in value.reshape(-1)]
    if not axes:
        axes = list(range(len(shape)))
    if not keepdims and len(axes) != len(shape):
        return None
    reduced = {a % len(shape) for a in axes} if shape else set()
    return int(np.prod([shape[a] for a in reduced], dtype=np.int64)), tuple(shape), reduced


# -- weighted means (masked mean pooling) at Div -------------------------------------------------------


def weighted_mean_bound(ctx: NodeContext) -> Interval | None:
    """sum(w * x) / D over some axes, with w >= 0 and D >= sum(w) (D = sum(w), or clipped/max'ed/plus a
    constant >= 0 to guard an empty mask): a mean of x weighted by w / D, weights >= 0 summing to at most
    1, so it lies within the hull of x over the reduced axes and 0 (masked mean pooling). None otherwise."""
    node = ctx.node
    model = ctx.engine.model
    bounds = ctx.engine.analysis.bounds
    numerator = model.producer.get(_strip(model, node.input[0], ("Cast", "Identity")))
    total = _guarded_sum(model, node.input[1])
    if (
        numerator is None
        or total is None
        or numerator.op_type != "ReduceSum"
        or not _same_reduction(ctx, numerator, total)
    ):
        return None
    product = model.producer.get(_strip(model, numerator.input[0], ("Cast", "Identity")))
    if product is None or product.op_type != "Mul" or len(product.input) != 2:
        return None
    weights = _strip(model, total.input[0], ("Cast", "Identity"))
    for w, x in (product.input, product.input[::-1]):
        w_bound = bounds.get(w)
        if _strip(model, w, ("Cast", "Identity")) != weights or w_bound is None or w_bound.min() < 0:
            continue
        return _hull_over_axes(ctx, bounds.get(x), numerator)
    return None


def _guarded_sum(model, name: str):
    """The ReduceSum node when `name` is sum(w), max(sum(w), c), clip(sum(w), c) or sum(w) + c with c >= 0."""
    for _ in range(4):
        node = model.producer.get(_strip(model, name, ("Cast", "Identity")))
        if node is None:
            return None
        if node.op_type == "ReduceSum":
            return node
        if node.op_type == "Clip" and len(node.input) >= 2 and node.input[1] and _nonneg_const(model, node.input[1]):
            name = node.input[0]
        elif node.op_type in ("Max", "Add") and len(node.input) == 2:
            keep = [i for i in node.input if not _nonneg_const(model, i)]
            if len(keep) != 1:
                return None
            name = keep[0]
        else:
            return None
    return None


def _reduce_axes(ctx: NodeContext, node, rank: int) -> tuple[tuple[int, ...], bool] | None:
    """(axes, keepdims) of a ReduceSum (opset 13 reads the axes from input 1; none means all)."""
    attrs = {a.name: a for a in node.attribute}
    keepdims = bool(attrs["keepdims"].i) if "keepdims" in attrs else True
    if "axes" in attrs:
        axes = list(attrs["axes"].ints)
    elif len(node.input) > 1 and node.input[1]:
        value = _const(ctx.engine.model, node.input[1])
        if value is None:
            return None
        axes = [int(v) for v in value.reshape(-1)]
    else:
        axes = []
    if not axes:
        if "noop_with_empty_axes" in attrs and attrs["noop_with_empty_axes"].i:
            return None
        axes = list(range(rank))
    return tuple(sorted({a % rank for a in axes})), keepdims


def _same_reduction(ctx: NodeContext, first, second) -> bool:
    shapes = [ctx.engine.analysis.bounds.get(n.input[0]) for n in (first, second)]
    if any(s is None or s.shape is None for s in shapes):
        return False
    a = _reduce_axes(ctx, first, len(shapes[0].shape))
    b = _reduce_axes(ctx, second, len(shapes[1].shape))
    return a is not None and a == b


def _hull_over_axes(ctx: NodeContext, x: Interval | None, reduce_node) -> Interval | None:
    """min/max of x over the reduce node's axes (kept or dropped as it does), widened to include 0."""
    if x is None or x.shape is None:
        return None
    found = _reduce_axes(ctx, reduce_node, len(x.shape))
    if found is None:
        return None
    axes, keepdims = found
    lo, hi = x.broadcast()
    lo = np.minimum(np.min(lo, axis=axes, keepdims=keepdims), 0)
    hi = np.maximum(np.max(hi, axis=axes, keepdims=keepdims), 0)
    return Interval(lo, hi, x.may_nan, lo.shape)
