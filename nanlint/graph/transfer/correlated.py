"""Binary ops whose two operands are element-wise functions of one tensor: x * g(x), x + c*x^3, ...

Gated activations written out op by op -- hard-swish `x * clip(x + 3, 0, 6) / 6`, hard-sigmoid
gates, SiLU `x * sigmoid(x)`, GELU `x * 0.5 * (1 + erf(x / sqrt 2))` and its tanh form -- combine two
operands that move together. Interval arithmetic treats them as independent: x * g(x) over x in
[-a, a] gets -a * max g, while the true minimum is a small constant (-0.375 for hard-swish, -0.28
for SiLU), and every layer after it inherits the error.

When both operands of an element-wise binary op are element-wise functions of the same tensor x
(through element-wise ops whose other operands are exact scalars), the op computes h(x) for one
function h. `refine` bounds h by cutting x's range into pieces (0, and magnitudes a factor 2^(1/8)
apart), running the whole sub-graph from x to the op through the transfer functions on a vector of
all the pieces at once, and intersecting the op's own bounds with the hull over the pieces. Within
one piece x varies by at most 9%, so treating the operands as independent there costs little.
Sound: every element of x lies in some piece, and each transfer function bounds its op on any
interval, so h(x) lies within that piece's bounds.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import helper

from nanlint.graph.interval import Interval, intersect
from nanlint.graph.model import FLOAT_TYPES
from nanlint.graph.transfer.context import NodeContext, NotExact
from nanlint.graph.transfer.kernels import KernelError

# Element-wise ops with one data input (their other inputs, if any, must be exact scalars).
UNARY = frozenset(
    {
        "Identity", "Neg", "Abs", "Relu", "LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu",
        "Sigmoid", "HardSigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Softplus",
        "Softsign", "Gelu", "HardSwish", "Mish", "Swish", "Sin", "Cos", "Atan", "Asinh", "Sinh",
        "Floor", "Ceil", "Round", "Sign", "Clip", "Cast",
    }
)  # fmt: skip
# Element-wise ops with two data inputs (either may be an exact scalar instead).
BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"})
# The sub-graph from x to the op: at most this many nodes.
MAX_NODES = 24
# Pieces: magnitudes from max|x| * 2^-TINY_EXPONENT up to max|x|, STEPS_PER_OCTAVE per factor 2.
STEPS_PER_OCTAVE = 8
TINY_EXPONENT = 40


def refine(ctx: NodeContext, out: Interval) -> Interval:
    """`out` (the op's bounds from interval arithmetic) intersected with the piecewise bounds of h(x)
    when both operands are element-wise functions of one tensor x; `out` itself otherwise."""
    return ctx.optional(_refine, ctx, out, default=out)


def _refine(ctx: NodeContext, out: Interval) -> Interval:
    if out.is_point or not ctx.out_is_float():
        return out
    plan = _plan(ctx)
    if plan is None:
        return out
    source, nodes = plan
    x = ctx.engine.analysis.bounds.get(source)
    if x is None or x.is_point or x.lo.dtype.kind != "f":
        return out
    low, high = x.min(), x.max()
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        return out
    pieces = _pieces(low, high, x.lo.dtype)
    h = _evaluate(ctx, source, pieces, nodes)
    if h is None or h.shape is None:
        return out
    lo, hi = np.min(h.lo), np.max(h.hi)
    if np.isnan(lo) or np.isnan(hi):
        return out
    return intersect(out, Interval(np.asarray(lo), np.asarray(hi), h.may_nan, ()))


# -- finding the sub-graph ----------------------------------------------------------------------------


def _plan(ctx: NodeContext) -> tuple[str, list[onnx.NodeProto]] | None:
    """(x, the sub-graph's nodes in dependency order ending with this node) when both varying operands
    are element-wise functions of x alone. x is the tensor furthest back that both depend on only."""
    node = ctx.node
    if node.op_type not in BINARY or len(node.input) != 2 or node.input[0] == node.input[1]:
        return None
    if any(_exact_scalar(ctx, name) for name in node.input):
        return None
    walks = [_walk(ctx, [name], None) for name in node.input]
    if any(w is None for w in walks):
        return None
    (first, first_leaves), (second, second_leaves) = walks  # type: ignore[misc]
    if first_leaves == second_leaves and len(first_leaves) == 1 and (first or second):
        merged = _walk(ctx, node.input, None)
        return (next(iter(first_leaves)), merged[0] + [node]) if merged is not None else None
    # Several sources (x itself is, e.g., a residual sum a + b): the furthest tensor that both operands
    # depend on and that every path from them passes through.
    reached = {n.output[0] for n in first} | first_leaves
    common = [n.output[0] for n in second if n.output[0] in reached]
    for candidate in common:
        stopped = _walk(ctx, node.input, candidate)
        if stopped is not None and stopped[1] == {candidate} and stopped[0]:
            return candidate, stopped[0] + [node]
    return None


def _walk(ctx: NodeContext, names, stop: str | None) -> tuple[list[onnx.NodeProto], set[str]] | None:
    """The element-wise producers of `names` back to their varying sources (the leaves, `stop` being
    one), in dependency order; None when the sub-graph grows too big."""
    found: dict[str, onnx.NodeProto] = {}
    leaves: set[str] = set()
    stack = list(names)
    while stack:
        current = stack.pop()
        producer = ctx.engine.model.producer.get(current) if current != stop else None
        if producer is None or not _elementwise(ctx, producer):
            leaves.add(current)
            continue
        if current in found:
            continue
        found[current] = producer
        if len(found) > MAX_NODES:
            return None
        stack.extend(i for i in producer.input if i and not _exact_scalar(ctx, i))
    return _topological(found), leaves


def _elementwise(ctx: NodeContext, node: onnx.NodeProto) -> bool:
    """An element-wise op of the default domain whose non-data inputs are exact scalars."""
    if node.domain not in ("", "ai.onnx") or len(node.output) != 1 or not node.input:
        return False
    op = node.op_type
    if op in UNARY:
        if op == "Cast" and ctx.engine.dtype_of(node.output[0]) not in FLOAT_TYPES:
            return False
        return all(_exact_scalar(ctx, i) for i in node.input[1:] if i)
    if op in BINARY:
        # A non-scalar exact operand (a bias per channel) differs per element: x is its output.
        return len(node.input) == 2 and all(_exact_scalar(ctx, i) or not _exact(ctx, i) for i in node.input)
    return False


def _exact(ctx: NodeContext, name: str) -> bool:
    if name in ctx.engine.model.constants:
        return True
    iv = ctx.engine.analysis.bounds.get(name)
    return iv is not None and iv.is_point


def _exact_scalar(ctx: NodeContext, name: str) -> bool:
    if not name:
        return True
    value = ctx.engine.model.constants.get(name)
    if value is not None:
        return np.size(value) == 1
    iv = ctx.engine.analysis.bounds.get(name)
    return iv is not None and iv.is_point and iv.lo.size == 1


def _topological(found: dict[str, onnx.NodeProto]) -> list[onnx.NodeProto]:
    """The sub-graph's nodes, each after the nodes it reads from (`found`: output name -> node)."""
    order: list[onnx.NodeProto] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in found:
            return
        done.add(name)
        for i in found[name].input:
            visit(i)
        order.append(found[name])

    for name in found:
        visit(name)
    return order


# -- evaluating it on pieces ----------------------------------------------------------------------------


def _pieces(low: float, high: float, dtype) -> Interval:
    """Intervals covering [low, high]: cut at 0 and at magnitudes 2^(k/8) * max|x| (down to 2^-40)."""
    top = max(abs(low), abs(high))
    steps = np.arange(0, -TINY_EXPONENT * STEPS_PER_OCTAVE - 1, -1, dtype=np.float64) / STEPS_PER_OCTAVE
    magnitudes = top * np.exp2(steps)
    cuts = np.concatenate([-magnitudes, [0.0], magnitudes])
    cuts = np.unique(np.clip(cuts, low, high))
    cuts = cuts.astype(dtype)
    # Rounding the cuts to the bound dtype keeps them ordered; the ends are the exact range's ends.
    cuts[0], cuts[-1] = np.asarray(low, dtype), np.asarray(high, dtype)
    return Interval(cuts[:-1].copy(), cuts[1:].copy(), False, (len(cuts) - 1,))


def _evaluate(ctx: NodeContext, source: str, pieces: Interval, nodes: list[onnx.NodeProto]) -> Interval | None:
    engine = ctx.engine
    values: dict[str, Interval] = {source: pieces}
    for node in nodes:
        inputs: list[Interval | None] = []
        dtypes: list[int | None] = []
        for name in node.input:
            if not name:
                inputs.append(None)
                dtypes.append(None)
                continue
            iv = values.get(name)
            if iv is None:
                iv = _scalar(ctx, name)
                if iv is None:
                    return None
            inputs.append(iv)
            dtypes.append(engine.dtype_of(name))
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        try:
            (result,) = engine.eval_synthetic(
                node.op_type, inputs, attrs, node.domain, n_outputs=1, scope=ctx.scope, dtypes=dtypes
            )[:1]
        except (NotExact, KernelError):
            return None
        if result is None:
            return None
        values[node.output[0]] = result
    return values[nodes[-1].output[0]]


def _scalar(ctx: NodeContext, name: str) -> Interval | None:
    value = ctx.engine.model.constants.get(name)
    if value is None:
        iv = ctx.engine.analysis.bounds.get(name)
        if iv is None or not iv.is_point:
            return None
        value = iv.lo
    return Interval.point(np.asarray(value).reshape(()))
