"""Attention scores: products of two varying operands whose rows have bounded L2 norms.

A score is the dot product of a query row and a key row: |q . k| <= ||q|| ||k|| (Cauchy-Schwarz).
Interval arithmetic bounds it by sum_d max|q_d| max|k_d| over the two boxes instead, which for linear
maps of rows of norm r is about ||Wq[:, head]||_F ||Wk[:, head]||_F r^2: the Frobenius norms of the
heads' column blocks where their largest singular values would do (5-40x less on real transformers,
squared). Two facts give the norms:

- Block norms. A head's query is x @ Wq[:, head] + bq[head], so its norm is at most
  sigma_max(Wq[:, head]) * ||x|| + ||bq[head]||, where sigma_max is the largest singular value of
  the column block (from the block's d x d Gram matrix, once per weight). A MatMul/Gemm with exact
  weights whose output reshapes cut into blocks records them (`record_linear_rows`: the weights may
  be released by the time the reshape runs); rownorm.py's Reshape rule asks `block_norm`, whose
  walk back from the reshape passes through the scalings, bias additions and last-axis slices (fused
  QKV) exporters put in between.
- Column norms of the second operand. The columns of k^T are the rows of k, found back through the
  transposes, reshapes (of leading axes) and scalings between them (`column_norm`).

`score_band` combines them for a MatMul of two varying operands: |(A @ B)[i, j]| <= ||A_i|| ||B_:,j||.
Rounding: the float32 accumulation of K products adds at most K u ||x|| ||W_block||_F to a block's
norm and K u ||A_i|| ||B_:,j|| to a score (u = 2^-24, doubled).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from nanlint.graph.interval import Interval
from nanlint.graph.model import FLOAT_TYPES
from nanlint.graph.transfer.context import NodeContext

UNIT = 2.0**-23  # twice float32's unit roundoff
# Steps of the walk back from a reshape to the linear map (scalings, bias additions, slices).
MAX_STEPS = 8
# Column blocks wider than this are not decomposed (a d x d eigenvalue problem per block).
MAX_BLOCK = 1024


# -- block norms of a linear map's rows ------------------------------------------------------------------


@dataclass
class LinearRows:
    """What a MatMul/Gemm with exact weights records about its output rows y = alpha * x @ W + beta * C
    for the reshapes downstream that cut them into blocks (the weights may be gone by then)."""

    x_norm: float  # the norm of x's rows
    depth: int  # K, the number of products per output element
    scale: float  # |alpha|
    bias: np.ndarray | None  # beta * C as a row of the output (Gemm), float64
    blocks: dict[int, tuple[np.ndarray, np.ndarray]]  # width -> (sigma_max, Frobenius norm) per block


def record_linear_rows(ctx: NodeContext, weight: np.ndarray, scale: float = 1.0, bias=None) -> None:
    """For a MatMul/Gemm with exact weights W (K x N, as multiplied) that the analysis computed (dequantised
    weights are released after their last use): when reshapes downstream cut the output's rows into
    blocks, the singular values of W's column blocks of those widths. Stored weights (initializers) are
    read again when a reshape asks."""
    if _stored(ctx, ctx.node.input[1]) is not None:
        return
    out = ctx.node.output[0]
    n = weight.shape[1] if weight.ndim == 2 else 0
    widths = _block_widths(ctx, out, n)
    rows = _linear_rows(ctx, ctx.node.input[0], weight, scale, bias, widths)
    if rows is not None:
        ctx.engine.analysis.linear_rows[out] = rows


def _linear_rows(ctx: NodeContext, x: str, weight: np.ndarray, scale: float, bias, widths) -> LinearRows | None:
    n = weight.shape[1] if weight.ndim == 2 else 0
    widths = [w for w in widths if 0 < w <= MAX_BLOCK and w < n and n % w == 0]
    if not widths:
        return None
    x_norm = input_norm(ctx, x, weight.shape[0])
    if x_norm is None:
        return None
    blocks = {}
    for width in widths:
        found = block_sigmas(weight, 0, width, n // width)
        if found is not None:
            blocks[width] = found
    return LinearRows(x_norm, weight.shape[0], scale, bias, blocks) if blocks else None


# Ops between a linear map and the reshape into heads that block_norm sees through.
FOLLOWED = frozenset({"Identity", "Cast", "Mul", "Div", "Add", "Slice", "Split"})
# Head widths tried when a reshape's shape is only known later in the analysis (computed weights only,
# while K * N * width stays below GUESS_BUDGET multiply-adds).
GUESSED_WIDTHS = (32, 64, 128)
GUESS_BUDGET = 2e8


def _block_widths(ctx: NodeContext, name: str, n: int) -> set[int]:
    """Last-axis lengths of the reshapes that cut `name`'s rows, through the ops block_norm follows."""
    model = ctx.engine.model
    widths: set[int] = set()
    unknown = False
    stack, seen = [name], 0
    while stack and seen < 4 * MAX_STEPS:
        current = stack.pop()
        for consumer in model.consumers.get(current, ()):
            seen += 1
            op = consumer.op_type
            if op == "Reshape" and consumer.input[0] == current:
                shape = model.shapes.get(consumer.output[0])
                if shape:
                    widths.add(int(shape[-1]))
                else:
                    unknown = True
            elif op in FOLLOWED:
                stack.extend(o for o in consumer.output if o)
    if unknown:
        k = _shape(ctx, ctx.node.input[0])
        depth = k[-1] if k else 0
        widths.update(w for w in GUESSED_WIDTHS if depth * n * w <= GUESS_BUDGET)
    return widths


def block_norm(ctx: NodeContext, name: str, width: int) -> float | None:
    """An upper bound on the L2 norm of every `width`-element block (along the last axis) of the rows
    of `name`, when `name` is a linear map x @ W (+ b) of rows with a known norm, possibly scaled and
    cut along the last axis. None when `name` is not such a map."""
    if width <= 0 or width > MAX_BLOCK:
        return None
    model = ctx.engine.model
    shape = _shape(ctx, name)
    if not shape or shape[-1] % width:
        return None
    span = shape[-1]
    offset, scale, bias = 0, 1.0, None
    current = name
    for _ in range(MAX_STEPS):
        node = model.producer.get(current)
        if node is None:
            return None
        op = node.op_type
        if op in ("MatMul", "Gemm"):
            rows = _rows_of(ctx, node, width)
            return None if rows is None else _linear_block_norm(rows, offset, span, width, scale, bias)
        if op in ("Identity", "Cast") and _float(ctx, node.output[0]):
            current = node.input[0]
        elif op in ("Mul", "Div") and len(node.input) == 2:
            factor = _scalar_operand(ctx, node)
            if factor is None:
                return None
            index, value = factor
            if op == "Div" and index == 0:
                return None
            scale *= abs(value) if op == "Mul" else 1.0 / abs(value)
            current = node.input[1 - index]
        elif op == "Add" and len(node.input) == 2:
            found = _bias_operand(ctx, node)
            if found is None:
                return None
            index, vector = found
            piece = vector[offset : offset + span] * scale
            bias = piece if bias is None else bias + piece
            current = node.input[1 - index]
        elif op in ("Slice", "Split"):
            start = _last_axis_start(ctx, node, current)
            if start is None:
                return None
            offset += start
            current = node.input[0]
        else:
            return None
        if not math.isfinite(scale):
            return None
    return None


def _rows_of(ctx: NodeContext, node, width: int) -> LinearRows | None:
    """The LinearRows of a MatMul/Gemm output: recorded when it ran, else from its stored weights."""
    rows = ctx.engine.analysis.linear_rows.get(node.output[0])
    if rows is not None:
        return rows if width in rows.blocks else None
    weight = _exact(ctx, node.input[1])
    if weight is None or weight.ndim != 2:
        return None
    scale, bias = 1.0, None
    if node.op_type == "Gemm":
        attrs = {a.name: a for a in node.attribute}
        if "transA" in attrs and attrs["transA"].i:
            return None
        if "transB" in attrs and attrs["transB"].i:
            weight = weight.T
        scale = abs(attrs["alpha"].f) if "alpha" in attrs else 1.0
        if len(node.input) > 2 and node.input[2]:
            c = _exact(ctx, node.input[2])
            if c is None or c.size not in (1, weight.shape[1]):
                return None
            beta = attrs["beta"].f if "beta" in attrs else 1.0
            bias = np.broadcast_to(np.asarray(c, np.float64).reshape(-1), (weight.shape[1],)) * beta
    return _linear_rows(ctx, node.input[0], weight, scale, bias, [width])


def _linear_block_norm(rows: LinearRows, offset: int, span: int, width: int, scale: float, bias) -> float | None:
    """Block norms of (x @ W * |alpha| + C) * scale + bias over columns [offset, offset + span)."""
    if width not in rows.blocks or offset % width:
        return None
    sigma, frobenius = rows.blocks[width]
    first, count = offset // width, span // width
    if first + count > len(sigma):
        return None
    sigma, frobenius = sigma[first : first + count], frobenius[first : first + count]
    if rows.bias is not None:
        piece = rows.bias[offset : offset + span] * scale
        bias = piece if bias is None else bias + piece
    k = rows.depth
    norms = (sigma + k * UNIT * frobenius) * rows.x_norm * rows.scale * scale * (1 + 2 * UNIT)
    if bias is not None:
        if not np.all(np.isfinite(bias)):
            return None
        norms = norms + np.linalg.norm(np.asarray(bias, np.float64).reshape(-1, width), axis=1) * (1 + 2 * UNIT)
    top = float(np.max(norms))
    return top if math.isfinite(top) else None


def input_norm(ctx: NodeContext, name: str, width: int) -> float | None:
    """A bound on the norm of the rows of `name` (its row norm, else the norm of its box's magnitudes)."""
    iv = ctx.engine.analysis.bounds.get(name)
    if iv is None or iv.shape is None or not iv.shape or iv.shape[-1] != width:
        return None
    if iv.row_norm is not None:
        return iv.row_norm
    if iv.lo.dtype.kind != "f" or iv.may_nan:
        return None
    from nanlint.graph.transfer.rownorm import value_row_norm

    mag = np.maximum(np.abs(iv.lo), np.abs(iv.hi))
    norm = value_row_norm(mag, width)
    return norm if math.isfinite(norm) else None


# Per weight array: (offset, width, count) -> (largest singular value, Frobenius norm) of each block.
_SIGMAS: dict[int, tuple[weakref.ref, dict]] = {}


def block_sigmas(weight: np.ndarray, offset: int, width: int, count: int):
    """(upper bounds of sigma_max, Frobenius norms) of the column blocks W[:, offset + b*width ...] for
    b < count, cached per weight array; None when W holds a non-finite value."""
    key = id(weight)
    entry = _SIGMAS.get(key)
    if entry is None or entry[0]() is not weight:
        try:
            ref = weakref.ref(weight, _forget(key))
        except TypeError:
            return _block_sigmas(weight, offset, width, count)
        entry = (ref, {})
        _SIGMAS[key] = entry
    blocks = (offset, width, count)
    if blocks not in entry[1]:
        entry[1][blocks] = _block_sigmas(weight, offset, width, count)
    return entry[1][blocks]


def _forget(key: int):
    """A weakref callback dropping the cache entry of a collected weight (before its id can be reused)."""

    def callback(_ref: weakref.ref) -> None:
        _SIGMAS.pop(key, None)

    return callback


def _block_sigmas(weight: np.ndarray, offset: int, width: int, count: int):
    k = weight.shape[0]
    blocks = np.asarray(weight[:, offset : offset + width * count], np.float32).reshape(k, count, width)
    blocks = np.ascontiguousarray(blocks.transpose(1, 0, 2))  # (count, k, width)
    gram = np.matmul(blocks.transpose(0, 2, 1), blocks).astype(np.float64)  # (count, width, width)
    if not np.all(np.isfinite(gram)):
        return None
    frobenius_sq = np.trace(gram, axis1=1, axis2=2)
    top = _largest_eigenvalue_bound(gram, frobenius_sq)
    # float32 Gram: each entry off by at most k u (|B|^T |B|)_ij, a matrix of 2-norm <= k u ||B||_F^2.
    top = top + k * UNIT * frobenius_sq
    return np.sqrt(np.maximum(top, 0.0)), np.sqrt(frobenius_sq) * (1 + k * UNIT)


# lambda_max(G) <= trace(G^POWER)^(1/POWER) for a positive semi-definite G: at most rank^(1/POWER) times
# too big (1.30 for a 64 x 64 block at 16, the square root 1.14), in practice a few percent.
SQUARINGS = 3
POWER = 2 ** (SQUARINGS + 1)


def _largest_eigenvalue_bound(gram: np.ndarray, trace: np.ndarray) -> np.ndarray:
    """Upper bounds of the largest eigenvalue of each (symmetric, positive semi-definite) Gram matrix:
    trace(G^16)^(1/16) = ||G^8||_F^(1/8), by repeated squaring of G / trace(G) (no overflow; the float64
    products add a relative 1e-12 or so, covered by the 1e-9 slack)."""
    scale = np.where(trace > 0, trace, 1.0)
    power = gram / scale[:, None, None]
    for _ in range(SQUARINGS):
        power = np.matmul(power, power)
    frobenius = np.sqrt(np.einsum("bij,bij->b", power, power))
    return frobenius ** (2.0 / POWER) * scale * (1 + 1e-9)


# -- column norms of a MatMul's second operand -----------------------------------------------------------


def column_norm(ctx: NodeContext, name: str) -> float | None:
    """An upper bound on the L2 norm of the columns (axis -2) of `name`: the row norm of the tensor it
    transposes, through reshapes of leading axes and scalings."""
    model = ctx.engine.model
    bounds = ctx.engine.analysis.bounds
    scale = 1.0
    current = name
    for _ in range(MAX_STEPS):
        node = model.producer.get(current)
        if node is None:
            return None
        op = node.op_type
        if op == "Transpose":
            rank = len(_shape(ctx, current) or ())
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
            perm = list(reversed(range(rank))) if perm is None else [p % rank for p in perm]
            if rank < 2:
                return None
            if perm[-2] == rank - 1:
                source = bounds.get(node.input[0])
                norm = source.row_norm if source is not None else None
                return None if norm is None else norm * scale
            if perm[-2:] != [rank - 2, rank - 1]:
                return None
        elif op == "Reshape":
            before, after = _shape(ctx, node.input[0]), _shape(ctx, current)
            if not before or not after or len(before) < 2 or len(after) < 2 or before[-2:] != after[-2:]:
                return None
        elif op in ("Mul", "Div"):
            factor = _scalar_operand(ctx, node)
            if factor is None or (op == "Div" and factor[0] == 0):
                return None
            scale *= abs(factor[1]) if op == "Mul" else 1.0 / abs(factor[1])
            current = node.input[1 - factor[0]]
            continue
        elif op not in ("Identity", "Cast") or not _float(ctx, current):
            return None
        current = node.input[0]
    return None


def score_band(ctx: NodeContext, a: Interval, b: Interval) -> float | None:
    """max |(A @ B)[..., i, j]| <= ||A[..., i, :]|| ||B[..., :, j]||, or None without both norms."""
    if a.row_norm is None or a.shape is None or b.shape is None or len(b.shape) < 2:
        return None
    columns = column_norm(ctx, ctx.node.input[1])
    if columns is None:
        return None
    k = a.shape[-1]
    band = a.row_norm * columns * (1 + (k + 2) * UNIT)
    return band if math.isfinite(band) else None


# -- helpers ------------------------------------------------------------------------------------------


def _shape(ctx: NodeContext, name: str):
    iv = ctx.engine.analysis.bounds.get(name)
    if iv is not None and iv.shape is not None:
        return iv.shape
    return ctx.engine.model.shapes.get(name)


def _float(ctx: NodeContext, name: str) -> bool:
    return ctx.engine.dtype_of(name) in FLOAT_TYPES


def _exact(ctx: NodeContext, name: str) -> np.ndarray | None:
    """The exact value of `name`: a stored constant (through Identity), or exact bounds still held."""
    stored = _stored(ctx, name)
    if stored is not None:
        return stored
    iv = ctx.engine.analysis.bounds.get(name)
    return iv.lo if iv is not None and iv.is_point else None


def _stored(ctx: NodeContext, name: str) -> np.ndarray | None:
    model = ctx.engine.model
    for _ in range(4):
        if name in model.constants:
            return np.asarray(model.constants[name])
        node = model.producer.get(name)
        if node is None or node.op_type != "Identity":
            return None
        name = node.input[0]
    return None


def _scalar_operand(ctx: NodeContext, node) -> tuple[int, float] | None:
    """(index, value) of an exact scalar operand that is finite and non-zero."""
    for index, name in enumerate(node.input):
        value = _exact(ctx, name)
        if value is not None and value.size == 1:
            v = float(np.asarray(value, np.float64).reshape(()))
            return (index, v) if math.isfinite(v) and v != 0 else None
    return None


def _bias_operand(ctx: NodeContext, node) -> tuple[int, np.ndarray] | None:
    """(index, vector over the last axis) of an exact operand that varies along the last axis only."""
    out = _shape(ctx, node.output[0])
    if not out:
        return None
    for index, name in enumerate(node.input):
        value = _exact(ctx, name)
        if value is None:
            continue
        value = np.asarray(value, np.float64)
        if value.ndim and any(d != 1 for d in value.shape[:-1]):
            return None
        if value.size not in (1, out[-1]):
            return None
        vector = np.broadcast_to(value.reshape(-1), (out[-1],))
        return (index, vector) if np.all(np.isfinite(vector)) else None
    return None


def _last_axis_start(ctx: NodeContext, node, output: str) -> int | None:
    """Where along the last axis of its input a Slice (step 1) or Split output starts."""
    shape = _shape(ctx, node.input[0])
    if not shape:
        return None
    rank, length = len(shape), shape[-1]
    if node.op_type == "Split":
        attrs = {a.name: a for a in node.attribute}
        if (attrs["axis"].i if "axis" in attrs else 0) % rank != rank - 1:
            return None
        sizes = [(_shape(ctx, o) or (0,))[-1] for o in node.output]
        index = list(node.output).index(output)
        return int(sum(sizes[:index]))
    if len(node.input) < 3:
        return None  # Slice before opset 10 (attributes): not followed
    starts, ends = _exact(ctx, node.input[1]), _exact(ctx, node.input[2])
    axes = _exact(ctx, node.input[3]) if len(node.input) > 3 and node.input[3] else np.arange(rank)
    steps = _exact(ctx, node.input[4]) if len(node.input) > 4 and node.input[4] else None
    if starts is None or ends is None or axes is None:
        return None
    start = 0
    for position, axis in enumerate(np.asarray(axes).reshape(-1)):
        if int(axis) % rank != rank - 1:
            continue
        if steps is not None and int(np.asarray(steps).reshape(-1)[position]) != 1:
            return None
        begin = int(np.asarray(starts).reshape(-1)[position])
        start = min(max(begin + length if begin < 0 else begin, 0), length)
    return start
