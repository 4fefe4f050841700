"""Quantisation: QuantizeLinear/DequantizeLinear are monotone affine maps with rounding and saturation
(kernel on both ends); integer and QLinear matmul/conv are the linear family on dequantised values,
then requantised."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from nanlint.graph.interval import Interval
from nanlint.graph.model import np_dtype
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.elementwise import monotone_either
from nanlint.graph.transfer.linear import bilinear, matmul_product
from nanlint.graph.transfer.registry import register


@register("quantization", "QuantizeLinear", "DequantizeLinear", note="monotone; a negative scale swaps ends")
def quantize_linear(ctx: NodeContext):
    return [monotone_either(ctx)]


@register("quantization", "QuantizeLinear", "DequantizeLinear", domain="com.microsoft")
def quantize_linear_contrib(ctx: NodeContext):
    return [monotone_either(ctx)]


@register("quantization", "DynamicQuantizeLinear", fold=True, note="uint8 output, scale from the input's range")
def dynamic_quantize(ctx: NodeContext):
    x = ctx.x(0)
    top = (max(x.max(), 0.0) - min(x.min(), 0.0)) / 255.0
    return [
        Interval.range(0, 255, x.shape, np.float64),
        Interval.range(0.0, top, (), np.float32),
        Interval.range(0, 255, (), np.float64),
    ]


def _dequantized(ctx: NodeContext, value: int, scale: int | None, zero: int | None, row_axis: bool) -> Interval:
    """(x - zero_point) * scale as a float64 interval; per-row parameters of A broadcast along rows."""
    x = ctx.x(value)
    x = Interval(np.asarray(x.lo, np.float64), np.asarray(x.hi, np.float64), x.may_nan, x.shape)

    def param(i):
        if i is None or not ctx.has(i):
            return None
        p = ctx.x(i)
        lo, hi = np.asarray(p.lo, np.float64), np.asarray(p.hi, np.float64)
        if row_axis and lo.ndim == 1 and lo.size > 1:
            lo, hi = lo.reshape(-1, 1), hi.reshape(-1, 1)
        return Interval(lo, hi if not p.is_point else lo, p.may_nan)

    z, s = param(zero), param(scale)
    if z is not None:
        x = x - z
    if s is not None:
        x = x * s
    return x


def _requantize(real: Interval, scale: Interval, zero: Interval | None, out_type: int | None) -> Interval:
    dtype = np_dtype(out_type) if out_type else np.dtype(np.uint8)
    info = np.iinfo(dtype)
    s = float(np.min(np.abs(np.asarray(scale.lo, np.float64))))
    if s == 0 or not scale.is_point:
        return Interval.range(info.min, info.max, real.shape, np.float64)
    zp = np.asarray(zero.lo, np.float64) if zero is not None else 0.0
    sc = np.asarray(scale.lo, np.float64)
    with np.errstate(all="ignore"):
        a = np.rint(np.asarray(real.lo, np.float64) / sc) + zp
        b = np.rint(np.asarray(real.hi, np.float64) / sc) + zp
    lo = np.clip(np.fmin(a, b), info.min, info.max)
    hi = np.clip(np.fmax(a, b), info.min, info.max)
    return Interval(lo, hi, False, real.shape)


@register("quantization", "MatMulInteger", depth="widen")
def matmul_integer(ctx: NodeContext):
    a = _dequantized(ctx, 0, None, 2, row_axis=True)
    b = _dequantized(ctx, 1, None, 3, row_axis=False)
    return [bilinear(matmul_product(ctx), a, b, np.float64)]


@register("quantization", "QLinearMatMul", depth="widen")
def qlinear_matmul(ctx: NodeContext):
    a = _dequantized(ctx, 0, 1, 2, row_axis=True)
    b = _dequantized(ctx, 3, 4, 5, row_axis=False)
    real = bilinear(matmul_product(ctx), a, b, np.float64)
    return [_requantize(real, ctx.x(6), ctx.x(7) if ctx.has(7) else None, ctx.out_type(0))]


def _real_conv(ctx: NodeContext, x: Interval, w: Interval, bias: Interval | None) -> Interval:
    attrs = {k: v for k, v in ctx.attrs.items()}
    f32 = lambda iv: Interval(np.asarray(iv.lo, np.float32), np.asarray(iv.hi, np.float32), iv.may_nan, iv.shape)
    inputs = [f32(x), f32(w)] + ([f32(bias)] if bias is not None else [])
    (out,) = ctx.engine.eval_synthetic(
        "Conv", inputs, attrs, scope=ctx.scope, dtypes=[TensorProto.FLOAT] * len(inputs)
    )[:1]
    return out


@register("quantization", "ConvInteger", depth="widen")
def conv_integer(ctx: NodeContext):
    x = _dequantized(ctx, 0, None, 2, row_axis=False)
    w = _dequantized(ctx, 1, None, None, row_axis=False)
    if ctx.has(3):
        wz = ctx.x(3)
        lo = np.asarray(wz.lo, np.float64)
        lo = lo.reshape((-1,) + (1,) * (len(w.shape) - 1)) if lo.ndim == 1 and lo.size > 1 else lo
        w = w - Interval.point(lo)
    return [_real_conv(ctx, x, w, None)]


@register("quantization", "QLinearConv", depth="widen")
def qlinear_conv(ctx: NodeContext):
    x = _dequantized(ctx, 0, 1, 2, row_axis=False)
    w = ctx.x(3)
    if w.shape is None:
        raise NotExact("unknown weight shape")
    per_channel = (-1,) + (1,) * (len(w.shape) - 1)
    w_iv = Interval(np.asarray(w.lo, np.float64), np.asarray(w.hi, np.float64), w.may_nan, w.shape)
    for index, op in ((5, "zero"), (4, "scale")):
        p = np.asarray(ctx.const(index), np.float64)
        p = p.reshape(per_channel) if p.ndim == 1 and p.size > 1 else p
        w_iv = w_iv - Interval.point(p) if op == "zero" else w_iv * Interval.point(p)
    bias = None
    if ctx.has(8):
        xs = np.asarray(ctx.const(1), np.float64)
        ws = np.asarray(ctx.const(4), np.float64)
        bias = Interval.point(np.asarray(ctx.const(8), np.float64) * xs * ws)
    real = _real_conv(ctx, x, w_iv, bias)
    return [_requantize(real, ctx.x(6), ctx.x(7) if ctx.has(7) else None, ctx.out_type(0))]
