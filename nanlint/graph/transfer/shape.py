"""Shapes, sizes, generators and index tensors.

Shape and Size are exact (the analysis knows every tensor's shape), so the integer arithmetic that
builds Reshape/Expand/Slice parameters folds exactly through onnxruntime. Generators with bounded
parameters give bounded values; random ops are bounded by their distribution's support (normal
samples: mean ± 16·scale, documented: beyond any float32 Box-Muller sample).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.interval import Interval, join
from nanlint.graph.model import np_dtype
from nanlint.graph.transfer.context import NodeContext, NotExact, bound_dtype, check_size
from nanlint.graph.transfer.registry import register

NORMAL_SPREAD = 16.0


def _shape_of(ctx: NodeContext, i: int = 0) -> tuple[int, ...]:
    iv = ctx.x(i)
    shape = iv.shape if iv.shape is not None else ctx.engine.model.shapes.get(ctx.node.input[i])
    if shape is None:
        raise NotExact("unknown shape")
    return tuple(shape)


@register("shape", "Shape", depth="reset", note="exact")
def shape_op(ctx: NodeContext):
    shape = _shape_of(ctx)
    start = int(ctx.attr("start", 0))
    end = ctx.attr("end")
    dims = shape[start:] if end is None else shape[start : int(end)]
    return [Interval.point(np.asarray(dims, np.int64))]


@register("shape", "Size", depth="reset", note="exact")
def size_op(ctx: NodeContext):
    return [Interval.point(np.asarray(int(np.prod(_shape_of(ctx), dtype=np.int64)), np.int64))]


@register("shape", "Constant", depth="reset", note="exact")
def constant(ctx: NodeContext):
    value = ctx.engine.model.constants.get(ctx.node.output[0])
    if value is None:
        raise NotExact("constant of an unsupported type")
    return [Interval.point(value)]


def _fill_value(ctx: NodeContext) -> np.ndarray:
    value = ctx.attrs.get("value")
    if value is None:
        return np.zeros((), np.float32)
    return numpy_helper.to_array(value).reshape(())


@register("shape", "ConstantOfShape", depth="reset", note="the fill value; shape from inference when unknown")
def constant_of_shape(ctx: NodeContext):
    value = _fill_value(ctx)
    if ctx.is_exact(0):
        shape = tuple(ctx.ints(0))
        check_size(shape, ctx.node.output[0])
        return [Interval.point(np.full(shape, value))]
    v = np.asarray(value, bound_dtype(helper.np_dtype_to_tensor_dtype(value.dtype)))
    return [Interval(v, v.copy(), False, ctx.out_shape(0))]


@register("shape", "EyeLike", depth="reset")
def eye_like(ctx: NodeContext):
    shape = _shape_of(ctx)
    if len(shape) != 2:
        raise NotExact("EyeLike needs a 2-D input")
    dtype_attr = ctx.attr("dtype")
    dtype = np_dtype(dtype_attr) if dtype_attr is not None else np.float32
    return [Interval.point(np.eye(shape[0], shape[1], k=int(ctx.attr("k", 0)), dtype=dtype))]


@register("shape", "Range", note="bounded start/limit: values between them, length from inference")
def range_op(ctx: NodeContext):
    start, limit = ctx.x(0), ctx.x(1)
    lo = min(start.min(), limit.min())
    hi = max(start.max(), limit.max())
    return [
        Interval.range(lo, hi, ctx.out_shape(0), np.float64 if ctx.out_type(0) != TensorProto.FLOAT else np.float32)
    ]


@register("shape", "NonZero", note="indices within the input's dimensions; count from inference")
def non_zero(ctx: NodeContext):
    shape = _shape_of(ctx)
    top = max(shape) - 1 if shape else 0
    return [Interval.range(0, top, ctx.out_shape(0), np.float64)]


@register("shape", "OneHot", note="the off/on values")
def one_hot(ctx: NodeContext):
    indices, values = ctx.x(0), ctx.x(2)
    depth = int(np.asarray(ctx.const(1)).reshape(-1)[0])
    axis = int(ctx.attr("axis", -1))
    if indices.shape is None:
        raise NotExact("unknown shape")
    rank = len(indices.shape) + 1
    axis %= rank
    shape = indices.shape[:axis] + (depth,) + indices.shape[axis:]
    check_size(shape, ctx.node.output[0])
    return [Interval(np.asarray(values.min()), np.asarray(values.max()), values.may_nan, shape)]


def _random_shape(ctx: NodeContext) -> tuple[int, ...] | None:
    if ctx.node.op_type.endswith("Like"):
        return _shape_of(ctx)
    shape = ctx.attr("shape")
    return tuple(shape) if shape is not None else ctx.out_shape(0)


@register("shape", "RandomUniform", "RandomUniformLike", fold=False, depth="reset")
def random_uniform(ctx: NodeContext):
    return [Interval.range(float(ctx.attr("low", 0.0)), float(ctx.attr("high", 1.0)), _random_shape(ctx))]


@register("shape", "RandomNormal", "RandomNormalLike", fold=False, depth="reset", note="mean ± 16·scale")
def random_normal(ctx: NodeContext):
    mean, scale = float(ctx.attr("mean", 0.0)), abs(float(ctx.attr("scale", 1.0)))
    return [Interval.range(mean - NORMAL_SPREAD * scale, mean + NORMAL_SPREAD * scale, _random_shape(ctx))]


@register("shape", "Bernoulli", fold=False, depth="reset")
def bernoulli(ctx: NodeContext):
    return [Interval.range(0.0, 1.0, _shape_of(ctx))]


@register("shape", "Multinomial", fold=False, depth="reset")
def multinomial(ctx: NodeContext):
    x = _shape_of(ctx)
    return [Interval.range(0, x[-1] - 1, (x[0], int(ctx.attr("sample_size", 1))), np.float64)]


@register("shape", "Dropout", note="identity at inference; training mode scales by [0, 1/(1-ratio)]")
def dropout(ctx: NodeContext):
    x = ctx.x(0)
    training = False
    if ctx.opset >= 12 and ctx.has(2):
        t = ctx.x(2)
        training = not (t.is_point and not bool(np.any(t.lo)))
    elif ctx.opset < 12:
        training = not int(ctx.attr("is_test", 1)) if ctx.opset < 7 else False
    if not training:
        mask = Interval.point(np.ones(x.shape, bool)) if x.shape is not None else None
        return [x, mask]
    ratio = float(np.max(ctx.const(1))) if ctx.has(1) and ctx.is_exact(1) else float(ctx.attr("ratio", 0.5))
    scale = 1.0 / (1.0 - ratio) if ratio < 1 else np.inf
    zero = Interval.point(np.zeros((), np.float32))
    out = join(zero, x * Interval.point(np.asarray(scale, np.float32)))
    return [Interval(out.lo, out.hi, out.may_nan, x.shape), Interval.range(0, 1, x.shape, np.float64)]


# -- output sizes of generators, checked before anything is allocated --------------------------------


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= max(int(d), 0)
    return n


def _ints_or_none(ctx: NodeContext, i: int) -> list[int] | None:
    if not ctx.has(i) or not ctx.is_exact(i):
        return None
    return [int(v) for v in np.asarray(ctx.const(i), np.float64).reshape(-1)]


def _generator_size(ctx: NodeContext) -> int | None:
    """Elements a shape-generating op would produce, when its parameters are known."""
    op = ctx.node.op_type
    if op == "ConstantOfShape":
        dims = _ints_or_none(ctx, 0)
        return None if dims is None else _count(dims)
    if op in ("Expand", "Tile"):
        x = ctx.x(0).shape
        dims = _ints_or_none(ctx, 1)
        if x is None or dims is None:
            return None
        if op == "Tile":
            return _count(a * b for a, b in zip(x, dims))
        rank = max(len(x), len(dims))
        a = (1,) * (rank - len(x)) + tuple(x)
        b = (1,) * (rank - len(dims)) + tuple(dims)
        return _count(max(p, q) for p, q in zip(a, b))
    if op == "Range":
        values = [ctx.const(i) if ctx.is_exact(i) else None for i in range(3)]
        if any(v is None for v in values):
            return None
        start, limit, delta = (float(np.asarray(v).reshape(-1)[0]) for v in values)
        if delta == 0:
            return None
        return max(int(np.ceil((limit - start) / delta)), 0)
    if op in ("Resize", "Upsample"):
        x = ctx.x(0).shape
        if x is None:
            return None
        sizes = _ints_or_none(ctx, 3) if op == "Resize" else None
        if sizes:
            return _count(sizes)
        scale_index = 2 if op == "Resize" and ctx.opset >= 11 else 1
        if ctx.has(scale_index) and ctx.is_exact(scale_index):
            scales = np.asarray(ctx.const(scale_index), np.float64).reshape(-1)
            if scales.size == len(x):
                return _count(np.floor(np.asarray(x) * scales))
        return None
    if op == "Pad" and ctx.opset >= 11:
        x = ctx.x(0).shape
        pads = _ints_or_none(ctx, 1)
        if x is None or pads is None or len(pads) != 2 * len(x):
            return None
        return _count(d + pads[k] + pads[k + len(x)] for k, d in enumerate(x))
    if op == "OneHot":
        x = ctx.x(0).shape
        depth = _ints_or_none(ctx, 1)
        return None if x is None or not depth else _count(x) * depth[0]
    return None


GENERATORS = frozenset({"ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot"})


def check_generator_size(ctx: NodeContext) -> None:
    """Raise ModelError before a generator allocates more than MAX_TENSOR_ELEMENTS."""
    if ctx.node.op_type not in GENERATORS:
        return
    try:
        size = _generator_size(ctx)
    except NotExact:
        return
    if size is not None:
        check_size((size,), ctx.node.output[0])
