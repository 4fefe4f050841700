"""Row norms: which ops create, keep or transform a bound on the L2 norm of last-axis rows.

`Interval.row_norm = r` says that every row along the last axis (free of NaN) has Euclidean norm
<= r. Normalisations create it whatever their input (LayerNorm: sum_i z_i^2 = N var / (var + eps)
<= N, so ||y|| <= sqrt(N) max|gamma| + ||beta||); linear maps with exact weights use it
(|x . w_j| <= ||w_j|| r, transfer/linear.py), which is much tighter than a box: a box of half-width
a per element gives sum_j |w_ij| a, about sqrt(2N/pi) times more for random weights.

`apply` runs after every op's transfer function: an op listed here gets the row norm its rule
computes, every other op's results drop it (also when the transfer function handed an input's
interval through unchanged), so nothing carries a row norm by accident. Rules are exact arithmetic
bounds grown by float rounding (`_rounded`). A rule may return None whenever it cannot prove a bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from onnx import TensorProto

from nanlint.graph.interval import Interval
from nanlint.graph.model import FLOAT_TYPES
from nanlint.graph.transfer.context import NodeContext, NotExact

# (domain, op) -> rule(ctx, output index, output interval) -> row-norm bound or None.
RULES: dict[tuple[str, str], Callable[[NodeContext, int, Interval], float | None]] = {}
# (domain, op) -> "creates" | "keeps" (documentation: docs/graph-ops.md). Mul and Div also create one
# for y / rms(y) patterns (decomposed normalisations).
ROLES: dict[tuple[str, str], str] = {}

# Relative growth of a row norm per rounded term: twice float32's unit roundoff (float32 kernels).
UNIT = 2.0**-23
# Normalisations compute mean and variance in float32 before dividing: their output norm may exceed
# the exact bound by a little more than a rounding of each element.
NORMALIZATION_SLACK = 2.0**-10
# Relative rounding of one stored value per float type (other float types: float32's).
_STORAGE_UNIT: dict[int | None, float] = {
    TensorProto.FLOAT16: 2.0**-11,
    TensorProto.BFLOAT16: 2.0**-8,
    TensorProto.DOUBLE: 2.0**-53,
}


def rule(role: str, *ops: str, domain: str = ""):
    """Decorator: `fn(ctx, j, out)` bounds the row norm of output j of every op in `ops`."""

    def decorate(fn):
        for op in ops:
            RULES[(domain, op)] = fn
            ROLES[(domain, op)] = role
        return fn

    return decorate


def apply(ctx: NodeContext, outputs: list) -> list:
    """The transfer function's outputs with the row norms this op proves (and no others)."""
    domain = "" if ctx.node.domain in ("", "ai.onnx") else ctx.node.domain
    fn = RULES.get((domain, ctx.node.op_type))
    result = list(outputs)
    for j, out in enumerate(outputs):
        if out is None:
            continue
        norm = None
        if fn is not None and _can_carry(out):
            try:
                norm = fn(ctx, j, out)
            except NotExact:
                norm = None
            except Exception:
                if ctx.engine.strict:
                    raise
                norm = None
            if norm is not None and not (math.isfinite(norm) and _finite_box(out)):
                # Rows with an infinite element have no finite norm: the proof's premises failed
                # (e.g. a variance that can vanish in float32).
                norm = None
        result[j] = out.with_row_norm(norm)
    return result


def _can_carry(out: Interval) -> bool:
    return not out.is_point and out.shape is not None and len(out.shape) >= 1 and out.lo.dtype.kind == "f"


def _finite_box(out: Interval) -> bool:
    return -math.inf < out.min() and out.max() < math.inf


def _rounded(norm: float | None, ctx: NodeContext, j: int = 0, terms: int = 1, slack: float = 0.0) -> float | None:
    """`norm` grown by the rounding of `terms`-term float32 sums and of storing the output."""
    if norm is None:
        return None
    storage = _STORAGE_UNIT.get(ctx.out_type(j), 2.0**-24)
    return norm * (1.0 + slack + terms * UNIT + 2 * storage)


# -- operand norms ----------------------------------------------------------------------------------


def value_row_norm(a: np.ndarray, last: int) -> float:
    """Largest L2 norm of the last-axis rows of `a` broadcast to a last axis of length `last`."""
    a = np.asarray(a)
    width = a.shape[-1] if a.ndim else 1
    squares = np.sum(np.square(a, dtype=np.float64), axis=-1) if a.ndim else np.square(float(a))
    stretch = last / width if width else 1.0
    return float(np.sqrt(np.max(squares, initial=0.0) * stretch))


def own_norm(ctx: NodeContext, i: int, box: bool = False) -> float | None:
    """Row-norm bound of input i: its row_norm, the exact norm of an exact value, or (with `box`) the
    norm of the box's magnitudes. None when unknown."""
    if not ctx.has(i):
        return None
    iv = ctx.x(i)
    if iv.shape is None:
        return None
    last = iv.shape[-1] if iv.shape else 1
    if iv.row_norm is not None:
        return iv.row_norm
    if iv.is_point and iv.lo.dtype.kind in "fiub":
        return value_row_norm(iv.lo, last)
    if box and iv.lo.dtype.kind == "f":
        mag = np.maximum(np.abs(iv.lo), np.abs(iv.hi))
        return value_row_norm(mag, last)
    return None


def operand_norm(ctx: NodeContext, i: int, out_shape, box: bool = False) -> float | None:
    """Row-norm bound of input i as broadcast into the output: a last axis of length 1 repeated n
    times multiplies the norm by sqrt(n); other axes only repeat rows."""
    norm = own_norm(ctx, i, box)
    if norm is None or not out_shape:
        return None
    shape = ctx.x(i).shape
    width = shape[-1] if shape else 1
    if width == out_shape[-1]:
        return norm
    if width == 1:
        return norm * math.sqrt(out_shape[-1])
    return None


def _carried(ctx: NodeContext, *indices: int) -> bool:
    """Some varying input among `indices` carries a row norm (otherwise there is nothing to keep)."""
    return any(ctx.has(i) and ctx.x(i).row_norm is not None for i in indices)


def _inputs(ctx: NodeContext) -> list[int]:
    return [i for i in range(ctx.n_inputs) if ctx.has(i)]


# -- ops that create a row norm ---------------------------------------------------------------------


def _normalized(ctx: NodeContext, out: Interval, count: int, scale: int | None, bias: int | None) -> float | None:
    """sqrt(count) * max|scale| + ||bias rows||: the output of a normalisation over `count` elements
    (z with sum z^2 <= count over each normalised group, a row lying in one group), then y = z*scale + bias."""
    if count <= 0:
        return None
    norm = math.sqrt(count)
    if scale is not None and ctx.has(scale):
        norm *= ctx.x(scale).abs_max()
    if bias is not None and ctx.has(bias):
        bias_norm = operand_norm(ctx, bias, out.shape, box=True)
        if bias_norm is None:
            return None
        norm += bias_norm
    return _rounded(norm, ctx, terms=count, slack=NORMALIZATION_SLACK)


def _group(ctx: NodeContext, axis_default: int = -1) -> int | None:
    """Elements normalised together: the axes [axis, rank) of input 0."""
    shape = ctx.x(0).shape
    if not shape:
        return None
    axis = int(ctx.attr("axis", axis_default)) % len(shape)
    return math.prod(shape[axis:])


@rule("creates", "LayerNormalization")
def _layer_norm(ctx, j, out):
    return _normalized(ctx, out, _group(ctx), 1, 2) if j == 0 else None


@rule("creates", "RMSNormalization", "SimplifiedLayerNormalization")
def _rms_norm(ctx, j, out):
    return _normalized(ctx, out, _group(ctx), 1, None) if j == 0 else None


@rule("creates", "SkipLayerNormalization", domain="com.microsoft")
def _skip_layer_norm(ctx, j, out):
    return _normalized(ctx, out, out.shape[-1], 2, 3) if j == 0 else None


@rule("creates", "SkipSimplifiedLayerNormalization", domain="com.microsoft")
def _skip_simplified_layer_norm(ctx, j, out):
    return _normalized(ctx, out, out.shape[-1], 2, None) if j == 0 else None


@rule("creates", "EmbedLayerNormalization", domain="com.microsoft")
def _embed_layer_norm(ctx, j, out):
    return _normalized(ctx, out, out.shape[-1], 5, 6) if j == 0 else None


# -- element-wise arithmetic -------------------------------------------------------------------------


@rule("keeps", "Mul")
def _mul(ctx, j, out):
    """x * c: ||x_row * c_row|| <= ||x_row|| max|c| (c exact or only bounded); y / rms(y) patterns create one."""
    from nanlint.graph.transfer.normalization import decomposed_row_norm

    pattern = decomposed_row_norm(ctx, out.shape)
    if pattern is not None:
        return _rounded(pattern, ctx, terms=out.shape[-1], slack=NORMALIZATION_SLACK)
    candidates = []
    for i, other in ((0, 1), (1, 0)):
        if _carried(ctx, i):
            norm = operand_norm(ctx, i, out.shape)
            if norm is not None:
                candidates.append(norm * ctx.x(other).abs_max())
    candidates = [c for c in candidates if math.isfinite(c)]
    return _rounded(min(candidates), ctx) if candidates else None


@rule("keeps", "Div")
def _div(ctx, j, out):
    """x / c with c away from 0: ||x_row|| / min|c|; y / rms(y) patterns create one."""
    from nanlint.graph.transfer.normalization import decomposed_row_norm

    pattern = decomposed_row_norm(ctx, out.shape)
    if pattern is not None:
        return _rounded(pattern, ctx, terms=out.shape[-1], slack=NORMALIZATION_SLACK)
    if not _carried(ctx, 0):
        return None
    norm = operand_norm(ctx, 0, out.shape)
    d = ctx.x(1)
    smallest = d.min() if d.min() > 0 else -d.max() if d.max() < 0 else 0.0
    if norm is None or not smallest > 0:
        return None
    return _rounded(norm / smallest, ctx)


@rule("keeps", "Add", "Sub", "Sum")
def _sum(ctx, j, out):
    """Triangle inequality: ||a + b|| <= ||a|| + ||b|| (an exact operand with its own rows' norms)."""
    present = _inputs(ctx)
    if not _carried(ctx, *present):
        return None
    norms = [operand_norm(ctx, i, out.shape) for i in present]
    if None in norms:
        return None
    return _rounded(sum(norms), ctx, terms=len(norms))


@rule(
    "keeps",
    "Identity", "Neg", "Abs", "Relu", "Tanh", "Softsign", "Atan", "Asinh", "Sin", "Gelu", "Mish", "HardSwish", "Swish",
)  # fmt: skip
def _same_magnitude(ctx, j, out):
    """|f(x)| <= |x| element-wise (and the same shape); the kernel's rounding adds a unit."""
    return _rounded(ctx.x(0).row_norm, ctx) if j == 0 else None


@rule("keeps", "Erf")
def _erf(ctx, j, out):
    """|erf(x)| <= 2/sqrt(pi) |x|."""
    norm = ctx.x(0).row_norm
    return None if norm is None else _rounded(norm * 2 / math.sqrt(math.pi), ctx)


@rule("keeps", "LeakyRelu")
def _leaky_relu(ctx, j, out):
    norm = ctx.x(0).row_norm
    return None if norm is None else norm * max(1.0, abs(float(ctx.attr("alpha", 0.01))))


@rule("keeps", "Cast", "CastLike")
def _cast(ctx, j, out):
    """To another float type: each element rounds by at most the target's unit."""
    if ctx.out_type(0) not in FLOAT_TYPES:
        return None
    return _rounded(ctx.x(0).row_norm, ctx)


@rule("keeps", "Dropout")
def _dropout(ctx, j, out):
    """Inference: the transfer function passes the input through (training mode drops the norm)."""
    return ctx.x(0).row_norm if j == 0 and out is ctx.inputs[0] else None


# -- products -----------------------------------------------------------------------------------------


@rule("keeps", "MatMul")
def _matmul(ctx, j, out):
    """softmax(s) @ V: each output row is a convex combination of V's rows (weights >= 0 summing to 1,
    up to n roundings), so its norm is at most V's row norm."""
    from nanlint.graph.transfer.linear import _is_softmax_rows

    if not _carried(ctx, 1) or not _is_softmax_rows(ctx, ctx.node.input[0], ctx.x(0)):
        return None
    n = ctx.x(0).shape[-1]
    return _rounded(ctx.x(1).row_norm, ctx, terms=2 * n)


# -- layout -----------------------------------------------------------------------------------------


@rule("keeps", "Reshape", "Flatten", "Squeeze", "Unsqueeze")
def _reshape(ctx, j, out):
    """C-order reshapes: a last axis of length L cut from rows of length D (D % L == 0) lies within one
    old row; one of length k*D holds k whole old rows (norm times sqrt(k)); anything else mixes rows.
    Rows of a linear map x @ W cut into blocks (attention heads) have the block's own, smaller norm
    (attention.block_norm)."""
    x = ctx.x(0)
    old, new = x.shape[-1] if x.shape else 1, out.shape[-1]
    candidates = []
    if x.row_norm is not None:
        if old == 0 or new == 0 or old % new == 0:
            candidates.append(x.row_norm)
        elif new % old == 0:
            candidates.append(x.row_norm * math.sqrt(new // old))
    if ctx.node.op_type == "Reshape" and 0 < new < old and old % new == 0:
        from nanlint.graph.transfer.attention import block_norm

        blocks = _rounded(block_norm(ctx, ctx.node.input[0], new), ctx)
        if blocks is not None:
            candidates.append(blocks)
    return min(candidates) if candidates else None


@rule("keeps", "Transpose")
def _transpose(ctx, j, out):
    x = ctx.x(0)
    if x.row_norm is None:
        return None
    rank = len(x.shape)
    perm = ctx.attr("perm")
    perm = list(reversed(range(rank))) if perm is None else [int(p) % rank for p in perm]
    return x.row_norm if perm and perm[-1] == rank - 1 else None


@rule("keeps", "Slice", "Split")
def _subset(ctx, j, out):
    """Every output row is a subset of one input row's elements."""
    return ctx.x(0).row_norm


@rule("keeps", "Gather")
def _gather(ctx, j, out):
    """Whole rows are selected unless the gather runs along the last axis (which can repeat elements)."""
    x = ctx.x(0)
    if x.row_norm is None:
        return None
    rank = len(x.shape)
    return x.row_norm if int(ctx.attr("axis", 0)) % rank != rank - 1 else None


@rule("keeps", "Expand")
def _expand(ctx, j, out):
    return operand_norm(ctx, 0, out.shape) if _carried(ctx, 0) else None


@rule("keeps", "Concat")
def _concat(ctx, j, out):
    """Along the last axis rows are joined (norms add in squares); along another, rows are stacked."""
    present = _inputs(ctx)
    if not _carried(ctx, *present):
        return None
    norms = [own_norm(ctx, i) for i in present]
    if None in norms:
        return None
    rank = len(out.shape)
    if int(ctx.attr("axis")) % rank == rank - 1:
        return _rounded(math.sqrt(sum(n * n for n in norms)), ctx)
    return max(norms)
