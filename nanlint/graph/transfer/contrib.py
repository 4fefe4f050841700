"""onnxruntime contrib ops (domain com.microsoft) that exporters and the transformer optimizer emit,
and the attention ops. Fused ops are bounded as the composition of the ops they fuse (evaluated as
synthetic nodes through the registry).

Attention's output is a convex combination of value rows (softmax weights are >= 0 and sum to 1), so
each output column lies within the hull of that column over the value sequence (and the past values).
"""

from __future__ import annotations

import numpy as np

from nanlint.graph.interval import Interval, contiguous
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.elementwise import GELU_MIN, silu_min, with_extrema
from nanlint.graph.transfer.layout import reachable
from nanlint.graph.transfer.linear import bilinear, matmul_product, transpose_last2
from nanlint.graph.transfer.registry import register

MS = "com.microsoft"


@register("contrib", "Gelu", "FastGelu", "BiasGelu", domain=MS, note="bias added first; minimum -0.17")
def gelu(ctx: NodeContext):
    if ctx.has(1):
        op = "Gelu" if ctx.node.op_type == "BiasGelu" else ctx.node.op_type
        return ctx.engine.eval_synthetic(op, [ctx.x(0) + ctx.x(1)], domain=MS, scope=ctx.scope)
    return [with_extrema(ctx, [(GELU_MIN[0], GELU_MIN[1], "min")])]


@register("contrib", "QuickGelu", domain=MS, note="x * sigmoid(alpha x)")
def quick_gelu(ctx: NodeContext):
    return [with_extrema(ctx, [silu_min(float(ctx.attr("alpha", 1.702)))])]


@register("contrib", "BiasAdd", domain=MS)
def bias_add(ctx: NodeContext):
    return [ctx.x(0) + ctx.x(1) + ctx.x(2)]


def _skip_sum(ctx: NodeContext, bias_index: int) -> Interval:
    x = ctx.x(0) + ctx.x(1)
    if ctx.has(bias_index):
        x = x + ctx.x(bias_index)
    return x


@register("contrib", "SkipLayerNormalization", domain=MS, depth="reset")
def skip_layer_norm(ctx: NodeContext):
    x = _skip_sum(ctx, 4)
    inputs = [x, ctx.x(2), ctx.x(3) if ctx.has(3) else None]
    y, mean, inv_std = ctx.engine.eval_synthetic(
        "LayerNormalization",
        inputs,
        {"axis": -1, "epsilon": float(ctx.attr("epsilon", 1e-12))},
        n_outputs=3,
        scope=ctx.scope,
    )
    return [y, mean, inv_std, x]


@register("contrib", "SkipSimplifiedLayerNormalization", domain=MS, depth="reset")
def skip_simplified_layer_norm(ctx: NodeContext):
    x = _skip_sum(ctx, 3)
    y, inv_std = ctx.engine.eval_synthetic(
        "SimplifiedLayerNormalization",
        [x, ctx.x(2)],
        {"axis": -1, "epsilon": float(ctx.attr("epsilon", 1e-12))},
        n_outputs=2,
        scope=ctx.scope,
    )
    return [y, None, inv_std, x]


@register("contrib", "EmbedLayerNormalization", domain=MS, depth="reset", note="LayerNorm of summed embedding lookups")
def embed_layer_norm(ctx: NodeContext):
    ids = ctx.x(0)
    if ids.shape is None:
        raise NotExact("unknown ids shape")
    batch, seq = ids.shape
    word = _lookup(ctx, 2, 0)
    pos = _lookup(ctx, 3, 8 if ctx.has(8) else None, rows=seq)
    total = word + pos
    if ctx.has(4) and ctx.has(1):
        total = total + _lookup(ctx, 4, 1)
    table_shape = ctx.x(2).shape
    assert table_shape is not None  # _lookup broadcast the table: its shape is known
    hidden = table_shape[1]
    total = Interval(
        np.broadcast_to(total.lo, (batch, seq, hidden)) if total.lo.ndim else total.lo,
        np.broadcast_to(total.hi, (batch, seq, hidden)) if total.hi.ndim else total.hi,
        total.may_nan,
        (batch, seq, hidden),
    )
    inputs: list[Interval | None] = [total, ctx.x(5), ctx.x(6)]
    y, _, _ = ctx.engine.eval_synthetic(
        "LayerNormalization",
        inputs,
        {"axis": -1, "epsilon": float(ctx.attr("epsilon", 1e-12))},
        n_outputs=3,
        scope=ctx.scope,
    )
    return [y, Interval.range(0, seq, (batch,), np.float64), total]


def _lookup(ctx: NodeContext, table: int, ids: int | None, rows: int | None = None) -> Interval:
    """Per-column hull of the table rows that ids can address (all rows, or the first `rows`)."""
    t = ctx.x(table)
    lo, hi = t.broadcast()
    if ids is None:
        n = rows if rows is not None else lo.shape[0]
        return Interval(lo[:n].min(axis=0), hi[:n].max(axis=0), t.may_nan)
    idx = ctx.x(ids)
    spans = reachable(int(idx.min()), int(idx.max()), lo.shape[0]) or [(0, lo.shape[0])]
    los = [lo[a:b].min(axis=0) for a, b in spans]
    his = [hi[a:b].max(axis=0) for a, b in spans]
    return Interval(np.minimum.reduce(los), np.maximum.reduce(his), t.may_nan)


@register("contrib", "FusedMatMul", domain=MS, depth="widen")
def fused_matmul(ctx: NodeContext):
    if int(ctx.attr("transBatchA", 0)) or int(ctx.attr("transBatchB", 0)):
        raise NotExact("FusedMatMul with batch transposition")
    a, b = ctx.x(0), ctx.x(1)
    if int(ctx.attr("transA", 0)):
        a = transpose_last2(a)
    if int(ctx.attr("transB", 0)):
        b = transpose_last2(b)
    out = bilinear(matmul_product(ctx), a, b, np.float32)
    alpha = float(ctx.attr("alpha", 1.0))
    return [out * Interval.point(np.asarray(alpha, np.float32)) if alpha != 1.0 else out]


_ACTIVATION_PARAMS = {
    "LeakyRelu": ("alpha",),
    "HardSigmoid": ("alpha", "beta"),
    "Elu": ("alpha",),
    "Selu": ("alpha", "gamma"),
    "ThresholdedRelu": ("alpha",),
}


def _activation(ctx: NodeContext, y: Interval, name: str, params: list[float]) -> Interval:
    if name in ("", "None", "Identity"):
        return y
    if name == "Clip":
        lo = Interval.point(np.asarray(params[0] if params else -np.inf, np.float32))
        hi = Interval.point(np.asarray(params[1] if len(params) > 1 else np.inf, np.float32))
        return _synthetic(ctx, "Clip", [y, lo, hi])
    attrs = dict(zip(_ACTIVATION_PARAMS.get(name, ()), params))
    return _synthetic(ctx, name, [y], attrs)


def _synthetic(ctx: NodeContext, op_type: str, inputs: list[Interval | None], attrs: dict | None = None) -> Interval:
    """The one output of a made-up single-output node (a conv, a gemm, an activation) on `inputs`."""
    out = ctx.engine.eval_synthetic(op_type, inputs, attrs, scope=ctx.scope)[0]
    assert out is not None, f"{op_type} gave no bound for its output"
    return out


@register("contrib", "FusedConv", domain=MS, depth="widen", note="Conv (+ Z) then its activation")
def fused_conv(ctx: NodeContext):
    attrs = {k: v for k, v in ctx.attrs.items() if k not in ("activation", "activation_params")}
    inputs: list[Interval | None] = [ctx.x(0), ctx.x(1)]
    if ctx.has(2):
        inputs.append(ctx.x(2))  # the bias
    y = _synthetic(ctx, "Conv", inputs, attrs)
    if ctx.has(3):
        y = y + ctx.x(3)
    return [_activation(ctx, y, str(ctx.attr("activation", "")), list(ctx.attr("activation_params", [])))]


@register("contrib", "FusedGemm", domain=MS, depth="widen", note="Gemm then its activation")
def fused_gemm(ctx: NodeContext):
    attrs = {k: ctx.attrs[k] for k in ("alpha", "beta", "transA", "transB") if k in ctx.attrs}
    inputs: list[Interval | None] = [ctx.x(i) for i in range(ctx.n_inputs) if ctx.has(i)]
    y = _synthetic(ctx, "Gemm", inputs, attrs)
    name = str(ctx.attr("activation", ""))
    params = [float(ctx.attr(k)) for k in ("activation_alpha", "activation_beta") if ctx.attr(k) is not None]
    return [_activation(ctx, y, name, params)]


# -- attention ------------------------------------------------------------------------------------


def _column_hull(values: list[tuple[Interval, str]], heads_out: int, head_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per (batch, head, d) hull of value rows. values: (interval, "BLD" (3-D packed) or "BNLH")."""
    los, his = [], []
    for iv, layout in values:
        lo, hi = iv.broadcast()
        if layout == "BLD":
            b, length, hidden = lo.shape
            lo = lo.reshape(b, length, hidden // head_size, head_size).transpose(0, 2, 1, 3)
            hi = hi.reshape(b, length, hidden // head_size, head_size).transpose(0, 2, 1, 3)
        los.append(lo.min(axis=2))
        his.append(hi.max(axis=2))
    lo = np.minimum.reduce([np.asarray(v, np.float32) for v in _same_heads(los)])
    hi = np.maximum.reduce([np.asarray(v, np.float32) for v in _same_heads(his)])
    kv_heads = lo.shape[1]
    if kv_heads != heads_out:
        # Grouped-query attention: any key/value head may serve a query head; use the hull over heads.
        lo = np.repeat(lo.min(axis=1, keepdims=True), heads_out, axis=1)
        hi = np.repeat(hi.max(axis=1, keepdims=True), heads_out, axis=1)
    return lo, hi  # (B, heads_out, H)


def _same_heads(parts: list[np.ndarray]) -> list[np.ndarray]:
    heads = {p.shape[1] for p in parts}
    if len(heads) == 1:
        return parts
    return [p.min(axis=1, keepdims=True) for p in parts]


def _hull_output(lo: np.ndarray, hi: np.ndarray, out_shape, layout: str, may_nan: bool) -> Interval:
    """Broadcast a (B, N, H) hull over the query sequence, as (B, S, N*H) or (B, N, S, H)."""
    b, n, h = lo.shape
    if layout == "BSD":
        return Interval(lo.reshape(b, 1, n * h), hi.reshape(b, 1, n * h), may_nan, out_shape)
    return Interval(lo.reshape(b, n, 1, h), hi.reshape(b, n, 1, h), may_nan, out_shape)


@register("contrib", "Attention", domain=MS, depth="reset", note="convex combination of the value rows")
def attention_contrib(ctx: NodeContext):
    x, w = ctx.x(0), ctx.x(1)
    if x.shape is None or w.shape is None or len(x.shape) != 3:
        raise NotExact("Attention shapes")
    heads = int(ctx.attr("num_heads"))
    sizes = list(ctx.attr("qkv_hidden_sizes", []))
    total = w.shape[1]
    q_size, k_size, v_size = sizes if sizes else (total // 3,) * 3
    if not w.is_point:
        raise NotExact("Attention with varying weights")
    wv = np.asarray(w.lo)[:, q_size + k_size : q_size + k_size + v_size]
    v = bilinear(matmul_product(ctx), x, Interval.point(contiguous(wv, np.float32)), np.float32)
    if ctx.has(2):
        bias = ctx.x(2)
        v = v + Interval(np.asarray(bias.lo)[q_size + k_size :], np.asarray(bias.hi)[q_size + k_size :], bias.may_nan)
    head_size = v_size // heads
    values = [(v, "BLD")]
    if ctx.has(4):
        past = ctx.x(4)  # (2, B, N, P, H)
        lo, hi = past.broadcast()
        values.append((Interval(lo[1], hi[1], past.may_nan), "BNLH"))
    lo, hi = _column_hull(values, heads, head_size)
    out_shape = (x.shape[0], x.shape[1], v_size)
    return [_hull_output(lo, hi, out_shape, "BSD", v.may_nan)]


@register(
    "contrib",
    "MultiHeadAttention",
    "GroupQueryAttention",
    domain=MS,
    depth="reset",
    note="convex combination of the value rows",
)
def multi_head_attention(ctx: NodeContext):
    q = ctx.x(0)
    if not ctx.has(2) or q.shape is None or len(q.shape) != 3:
        raise NotExact("packed or unknown attention inputs")
    heads = int(ctx.attr("num_heads"))
    value = ctx.x(2)
    shape = value.shape  # unchanged by the bias below, which broadcasts along the last axis
    if shape is None:
        raise NotExact("unknown value shape")
    op = ctx.node.op_type
    if op == "MultiHeadAttention" and ctx.has(3) and len(shape) == 3:
        bias = ctx.x(3)
        d = shape[2]
        value = value + Interval(np.asarray(bias.lo)[-d:], np.asarray(bias.hi)[-d:], bias.may_nan)
    values = []
    if len(shape) == 3:
        kv_heads = int(ctx.attr("kv_num_heads", heads)) if op == "GroupQueryAttention" else heads
        head_size = shape[2] // kv_heads
        values.append((value, "BLD"))
    else:
        head_size = shape[3]
        values.append((value, "BNLH"))
    past_index = 7 if op == "MultiHeadAttention" else 4
    if ctx.has(past_index):
        values.append((ctx.x(past_index), "BNLH"))
    lo, hi = _column_hull(values, heads, head_size)
    out_shape = (q.shape[0], q.shape[1], heads * head_size)
    return [_hull_output(lo, hi, out_shape, "BSD", value.may_nan)]


def _mask_may_nan(mask: Interval | None) -> bool:
    """A row of the mask that can hide every key makes softmax 0/0."""
    if mask is None:
        return False
    lo = np.asarray(mask.lo)
    if lo.ndim == 0:
        return bool(lo == 0 or lo == -np.inf)
    blocked = (
        (lo == 0)
        if lo.dtype == bool or (mask.lo.dtype.kind == "f" and mask.max() <= 1 and mask.min() >= 0)
        else (lo == -np.inf)
    )
    return bool(np.any(np.all(blocked, axis=-1)))


@register("normalization", "Attention", depth="reset", note="convex combination of the value rows")
def attention(ctx: NodeContext):
    q, v = ctx.x(0), ctx.x(2)
    if q.shape is None or v.shape is None:
        raise NotExact("unknown attention shapes")
    q_heads = int(ctx.attr("q_num_heads", q.shape[1] if len(q.shape) == 4 else 0) or 0)
    kv_heads = int(ctx.attr("kv_num_heads", v.shape[1] if len(v.shape) == 4 else 0) or 0)
    if not q_heads or not kv_heads:
        raise NotExact("attention heads")
    values = []
    if len(v.shape) == 3:
        head_size = v.shape[2] // kv_heads
        values.append((v, "BLD"))
    else:
        head_size = v.shape[3]
        values.append((v, "BNLH"))
    if ctx.has(5):
        values.append((ctx.x(5), "BNLH"))
    lo, hi = _column_hull(values, q_heads, head_size)
    may_nan = v.may_nan or q.may_nan or ctx.data_nan(1) or _mask_may_nan(ctx.x(3) if ctx.has(3) else None)
    if len(q.shape) == 3:
        y = _hull_output(lo, hi, (q.shape[0], q.shape[1], q_heads * head_size), "BSD", may_nan)
    else:
        y = _hull_output(lo, hi, (q.shape[0], q_heads, q.shape[2], head_size), "BNSH", may_nan)
    return [y]


def _rotary(ctx: NodeContext, x_index: int, cos_index: int, sin_index: int):
    x = ctx.x(x_index)
    cos, sin = ctx.x(cos_index), ctx.x(sin_index)
    # Each rotated pair gives x_i cos - x_j sin: at most (|cos| + |sin|) * max|x|; others pass through.
    factor = max(1.0, cos.abs_max() + sin.abs_max())
    m = x.abs_max() * factor
    return [
        Interval(
            np.asarray(-m, np.float32), np.asarray(m, np.float32), x.may_nan or cos.may_nan or sin.may_nan, x.shape
        )
    ]


@register("contrib", "RotaryEmbedding", domain=MS, note="|y| <= (|cos| + |sin|) max|x|")
def rotary_contrib(ctx: NodeContext):
    return _rotary(ctx, 0, 2, 3)


@register("linear", "RotaryEmbedding", note="|y| <= (|cos| + |sin|) max|x|")
def rotary(ctx: NodeContext):
    return _rotary(ctx, 0, 1, 2)
