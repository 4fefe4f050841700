"""Quantisation: QuantizeLinear/DequantizeLinear are monotone affine maps with rounding and saturation
(kernel on both ends); integer and QLinear matmul/conv are the linear family on dequantised values,
then requantised.

Dynamic quantisation (onnxruntime's quantize_dynamic) writes a float linear layer as
    x_q, s, z = DynamicQuantizeLinear(x);  acc = ConvInteger/MatMulInteger(x_q, W_q, z, z_W)
    y = Cast(acc [+ floor(b / S)]) * S,  S = s * s_W
The zero point z is shared by the whole tensor: x_q - z lies in [-z, 255 - z], so the accumulator is
bounded by the hull of its bounds at z = 0 and z = 255 (its ends are linear in z), not by x_q - z in
[-255, 255]. And y is the float layer itself up to the quantisation error: (x_q - z) * s = x + e with
|e| <= s (half a step of rounding, a step where the top saturates), so `dequantized_layer` bounds y by
the float op on x +- max(s) with the dequantised weights (W_q - z_W) * s_W, plus b - S <= floor(b/S) S <= b
(or, where b / S overflows int32, anything within +-2|b|).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from onnx.helper import get_attribute_value as onnx_attr

from nanlint.graph.interval import Interval, join
from nanlint.graph.model import FLOAT_TYPES, np_dtype
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.elementwise import monotone_either
from nanlint.graph.transfer.linear import bilinear, by_column_blocks, column_blocks, matmul_product, take_columns
from nanlint.graph.transfer.registry import register


@register("quantization", "QuantizeLinear", "DequantizeLinear", note="monotone; a negative scale swaps ends")
def quantize_linear(ctx: NodeContext):
    return [monotone_either(ctx)]


@register("quantization", "QuantizeLinear", "DequantizeLinear", domain="com.microsoft")
def quantize_linear_contrib(ctx: NodeContext):
    return [monotone_either(ctx)]


@register(
    "quantization",
    "DynamicQuantizeLinear",
    fold=True,
    note="uint8 output, scale from the input's range; zero point 0 (255) for inputs >= 0 (<= 0)",
)
def dynamic_quantize(ctx: NodeContext):
    x = ctx.x(0)
    top = (max(x.max(), 0.0) - min(x.min(), 0.0)) / 255.0
    zero = Interval.range(0, 255, (), np.float64)
    if not x.may_nan and x.min() >= 0:
        zero = Interval.point(np.asarray(0, np.uint8))  # zero point round(-min(x, 0) / s) = 0
    elif not x.may_nan and x.max() <= 0 and x.min() < 0:
        zero = Interval.point(np.asarray(255, np.uint8))
    return [Interval.range(0, 255, x.shape, np.float64), Interval.range(0.0, top, (), np.float32), zero]


def _dequantized(
    ctx: NodeContext, value: int, scale: int | None, zero: int | None, row_axis: bool, cols: slice | None = None
) -> Interval:
    """(x - zero_point) * scale as a float64 interval; per-row parameters of A broadcast along rows.
    `cols`: only these columns of x (the last axis; per-column parameters of B are sliced with it)."""
    x = ctx.x(value)
    columns = x.shape[-1] if x.shape else None
    if cols is not None:
        x = take_columns(x, cols)
    lo = np.asarray(x.lo, np.float64)
    # An exact x (weights) stays exact: one array, and the product treats it as a point.
    x = Interval(lo, lo if x.is_point else np.asarray(x.hi, np.float64), x.may_nan, x.shape)

    def param(i):
        if i is None or not ctx.has(i):
            return None
        p = ctx.x(i)
        if cols is not None and not row_axis and p.shape and p.shape[-1] == columns and columns > 1:
            p = take_columns(p, cols)
        lo, hi = np.asarray(p.lo, np.float64), np.asarray(p.hi, np.float64)
        if row_axis and lo.ndim == 1 and lo.size > 1:
            lo, hi = lo.reshape(-1, 1), hi.reshape(-1, 1)
        # A parameter broadcasts into x: its bounds' own shape (0-d: one value for all) is the shape to use.
        return Interval(lo, hi if not p.is_point else lo, p.may_nan, lo.shape)

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


def _shared_zero_point(ctx: NodeContext) -> bool:
    """Inputs 0 and 2 are the quantised tensor and zero point of one DynamicQuantizeLinear (one z for all)."""
    node = ctx.engine.model.producer.get(ctx.node.input[0])
    return (
        node is not None
        and node.op_type == "DynamicQuantizeLinear"
        and len(ctx.node.input) > 2
        and list(node.output[:3:2]) == [ctx.node.input[0], ctx.node.input[2]]
        and not ctx.is_exact(2)
    )


def _over_zero_points(ctx: NodeContext, accumulate) -> Interval:
    """accumulate(x_q - z as an interval): the hull at z = 0 and z = 255 when z is one dynamic zero point."""
    if not _shared_zero_point(ctx):
        return accumulate(_dequantized(ctx, 0, None, 2, row_axis=True))
    shape = ctx.x(0).shape
    low = accumulate(Interval.range(0, 255, shape, np.float64))
    high = accumulate(Interval.range(-255, 0, shape, np.float64))
    return join(low, high)


@register("quantization", "MatMulInteger", depth="widen", note="one dynamic zero point: hull over its ends")
def matmul_integer(ctx: NodeContext):
    # A large weight is dequantised (to float64) and multiplied one block of columns at a time.
    shape = ctx.x(1).shape
    blocks = column_blocks(shape, np.dtype(np.float64).itemsize) if shape is not None and len(shape) >= 2 else None
    if blocks is None:
        return [_integer_product(ctx, None)]
    may_nan = ctx.x(0).may_nan or ctx.x(1).may_nan
    return [by_column_blocks(lambda cols: _integer_product(ctx, cols), blocks, may_nan)]


def _integer_product(ctx: NodeContext, cols: slice | None) -> Interval:
    b = _dequantized(ctx, 1, None, 3, row_axis=False, cols=cols)
    return _over_zero_points(ctx, lambda a: bilinear(matmul_product(ctx), a, b, np.float64))


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
    assert out is not None  # Conv always has its output
    return out


@register("quantization", "ConvInteger", depth="widen", note="one dynamic zero point: hull over its ends")
def conv_integer(ctx: NodeContext):
    w = _dequantized(ctx, 1, None, None, row_axis=False)
    if ctx.has(3):
        wz = ctx.x(3)
        lo = np.asarray(wz.lo, np.float64)
        if lo.ndim == 1 and lo.size > 1:
            if w.shape is None:
                raise NotExact("per-channel zero points of a weight of unknown shape")
            lo = lo.reshape((-1,) + (1,) * (len(w.shape) - 1))
        w = w - Interval.point(lo)
    if not _shared_zero_point(ctx):
        return [_real_conv(ctx, _dequantized(ctx, 0, None, 2, row_axis=False), w, None)]
    return [_over_zero_points(ctx, lambda x: _real_conv(ctx, x, w, None))]


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


# -- dynamically quantised layers: Cast(acc [+ bias]) * S --------------------------------------------------

_INTEGER_LAYERS = ("ConvInteger", "MatMulInteger")


def dequantized_layer(ctx: NodeContext) -> Interval | None:
    """Bounds of this Mul when it rescales the accumulator of a dynamically quantised layer (see the module
    docstring): the float layer on x +- max(s) with the dequantised weights, plus the bias. None otherwise."""
    model = ctx.engine.model
    for index in (0, 1):
        cast = model.producer.get(ctx.node.input[index])
        if cast is None or cast.op_type != "Cast" or ctx.out_type(0) not in FLOAT_TYPES:
            continue
        scale_name = ctx.node.input[1 - index]
        layer, bias = _layer_and_bias(ctx, cast.input[0], scale_name)
        if layer is None:
            continue
        found = _layer_parts(ctx, layer, scale_name)
        if found is None:
            continue
        x, step, weight, scale_top = found
        y = _float_layer(ctx, layer, x, step, weight)
        if y is None:
            continue
        if bias is not None:
            y = _with_bias(y, bias, scale_top)
        slack = Interval(np.asarray(-(2.0**-20)), np.asarray(2.0**-20), False, ())
        return y + y * slack
    return None


def _with_bias(y: Interval, bias: np.ndarray, scale_top: float) -> Interval:
    """y + floor(b / S) * S, which is within [b - S, b] -- unless b / S leaves int32 (S tiny, x all but 0):
    then the cast is undefined and the int32 sum, times S <= 2|b| / 2^31, stays within +-2|b|."""
    normal = y + Interval(bias - scale_top, bias, False, bias.shape)
    magnitude = 2 * np.abs(bias)
    return join(normal, Interval(-magnitude, magnitude, False, bias.shape))


def _layer_and_bias(ctx: NodeContext, name: str, scale_name: str):
    """(the integer layer node, the float bias b or None) for acc or acc + reshape(floor(b / S))."""
    model = ctx.engine.model
    node = model.producer.get(name)
    if node is not None and node.op_type in _INTEGER_LAYERS:
        return node, None
    if node is None or node.op_type != "Add" or len(node.input) != 2:
        return None, None
    for index in (0, 1):
        layer = model.producer.get(node.input[index])
        if layer is None or layer.op_type not in _INTEGER_LAYERS:
            continue
        bias = _quantized_bias(ctx, node.input[1 - index], scale_name)
        return (layer, bias) if bias is not None else (None, None)
    return None, None


def _quantized_bias(ctx: NodeContext, name: str, scale_name: str) -> np.ndarray | None:
    """b shaped like `name` when `name` is floor(b / S) (through casts and reshapes), S the same scale."""
    from nanlint.graph.transfer.normalization import _strip

    model = ctx.engine.model
    target = ctx.engine.analysis.bounds.get(name)
    node = model.producer.get(_strip(model, name, ("Cast", "Reshape", "Identity", "Unsqueeze")))
    if node is None or node.op_type != "Floor" or target is None or target.shape is None:
        return None
    div = model.producer.get(node.input[0])
    if div is None or div.op_type != "Div" or not _same_product(model, div.input[1], scale_name):
        return None
    value = ctx.engine.model.constants.get(div.input[0])
    if value is None or np.size(value) != int(np.prod(target.shape)):
        return None
    return np.asarray(value, np.float64).reshape(target.shape)


def _same_product(model, first: str, second: str) -> bool:
    """The two tensors hold the same value: the same tensor, or Muls of the same two tensors."""
    from nanlint.graph.transfer.normalization import _strip

    first, second = _strip(model, first), _strip(model, second)
    if first == second:
        return True
    a, b = model.producer.get(first), model.producer.get(second)
    return (
        a is not None
        and b is not None
        and a.op_type == b.op_type == "Mul"
        and sorted(_strip(model, i) for i in a.input) == sorted(_strip(model, i) for i in b.input)
    )


def _layer_parts(ctx: NodeContext, layer, scale_name: str):
    """(x, max step s, dequantised weights, max S) when `layer` reads DynamicQuantizeLinear(x) and S is its
    scale times exact weight scales."""
    model = ctx.engine.model
    bounds = ctx.engine.analysis.bounds
    quantize = model.producer.get(layer.input[0])
    if (
        quantize is None
        or quantize.op_type != "DynamicQuantizeLinear"
        or len(layer.input) < 3
        or list(quantize.output[:3:2]) != [layer.input[0], layer.input[2]]
    ):
        return None
    x = bounds.get(quantize.input[0])
    step = bounds.get(quantize.output[1])
    if x is None or step is None or x.may_nan or x.shape is None:
        return None
    weight_scale = _weight_scale(ctx, scale_name, quantize.output[1])
    weight_q = model.constants.get(layer.input[1])
    if weight_scale is None or weight_q is None:
        return None
    weight = np.asarray(weight_q, np.float64)
    out_axis = 0 if layer.op_type == "ConvInteger" else weight.ndim - 1
    per_channel = lambda v: _along(v, weight.shape, out_axis)
    if len(layer.input) > 3 and layer.input[3]:
        zero = model.constants.get(layer.input[3])
        zero_per_channel = per_channel(zero) if zero is not None else None
        if zero_per_channel is None:
            return None
        weight = weight - zero_per_channel
    scale = per_channel(weight_scale)
    if scale is None:
        return None
    weight = weight * scale
    scale_top = step.max() * float(np.max(np.abs(weight_scale)))
    return x, step.max(), weight.astype(np.float32), scale_top


def _weight_scale(ctx: NodeContext, scale_name: str, step_name: str) -> np.ndarray | None:
    """s_W when S = s * s_W (either order; S = s gives 1)."""
    from nanlint.graph.transfer.normalization import _strip

    model = ctx.engine.model
    scale_name = _strip(model, scale_name)
    if scale_name == step_name:
        return np.ones((), np.float64)
    node = model.producer.get(scale_name)
    if node is None or node.op_type != "Mul" or len(node.input) != 2:
        return None
    for index in (0, 1):
        if _strip(model, node.input[index]) == step_name:
            value = model.constants.get(node.input[1 - index])
            return None if value is None else np.asarray(value, np.float64)
    return None


def _along(value, shape: tuple, axis: int) -> np.ndarray | None:
    """A scalar or a vector over output channel `axis`, shaped to broadcast against a tensor of `shape`."""
    value = np.asarray(value, np.float64)
    if value.size == 1:
        return value.reshape(())
    if value.size != shape[axis]:
        return None
    return value.reshape([-1 if k == axis else 1 for k in range(len(shape))])


def _float_layer(ctx: NodeContext, layer, x: Interval, step: float, weight: np.ndarray) -> Interval | None:
    """The float op of `layer` on x +- step with exact weights."""
    if not np.isfinite(step):
        return None
    wide = x + Interval(np.asarray(-step, np.float32), np.asarray(step, np.float32), False, ())
    attrs = {a.name: onnx_attr(a) for a in layer.attribute}
    op = "Conv" if layer.op_type == "ConvInteger" else "MatMul"
    (out,) = ctx.engine.eval_synthetic(
        op,
        [wide, Interval.point(weight)],
        attrs if op == "Conv" else None,
        scope=ctx.scope,
        dtypes=[TensorProto.FLOAT, TensorProto.FLOAT],
    )[:1]
    return out
