"""Transfer functions of the semantic ops: the fact of `op(args)` from the facts of its arguments.

One small function per family of ops, registered in TRANSFERS by op name (nanlint.source.ops).
An op without a row yields TOP: unknown, never a reason to report.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import libcst as cst

from nanlint.source import ops
from nanlint.source.names import dotted
from nanlint.source.values import arithmetic, rotations
from nanlint.source.values.fact import (
    BUILT,
    DEGENERATE,
    INF,
    NAMED,
    TOP,
    Fact,
    Reason,
    constant,
    first,
    join,
)

if TYPE_CHECKING:
    from nanlint.source.rule import OpCall
    from nanlint.source.values.analysis import Env, Values

Transfer = Callable[["Values", "OpCall", "Env | None"], Fact]
TRANSFERS: dict[str, Transfer] = {}

_EXP_UNDERFLOW = -87.0  # exp below this is 0 in float32
_EXP_OVERFLOW = 88.0


def transfer(*ops: str):
    def register(function: Transfer) -> Transfer:
        for op in ops:
            TRANSFERS[op] = function
        return function

    return register


def _arg(values: Values, found: OpCall, env: Env | None, index: int = 0, *keywords: str) -> Fact:
    expr = found.arg(index, *keywords)
    return values.of(expr, env) if expr is not None else TOP


def _bases(found: OpCall) -> frozenset[str]:
    """The variables a reduction summarises: norm(x) -> {"x"}, (x - m).norm() -> {"x"}, sum(x**2) -> {"x"}."""
    names: set[str] = set()
    pending = [(found.args[0], 0)] if found.args else []
    while pending:
        operand, depth = pending.pop()
        if depth > 4:
            continue
        if isinstance(operand, (cst.Name, cst.Attribute)):
            name = dotted(operand)
            if name is not None:
                names.add(name)
        elif isinstance(operand, cst.BinaryOperation) and isinstance(operand.operator, (cst.Subtract, cst.Power)):
            pending.append((operand.left, depth + 1))
        elif isinstance(operand, cst.BinaryOperation) and isinstance(operand.operator, cst.Multiply):
            pending.extend(((operand.left, depth + 1), (operand.right, depth + 1)))
        elif isinstance(operand, cst.Subscript):
            pending.append((operand.value, depth + 1))
        elif isinstance(operand, cst.Call) and isinstance(operand.func, cst.Attribute) and not operand.args:
            pending.append((operand.func.value, depth + 1))  # x.float(), x.abs()
        elif isinstance(operand, cst.Call) and operand.args:
            pending.append((operand.args[0].value, depth + 1))  # abs(x), square(x), x.pow(2)
            if isinstance(operand.func, cst.Attribute):
                pending.append((operand.func.value, depth + 1))
        elif isinstance(operand, cst.UnaryOperation):
            pending.append((operand.expression, depth + 1))
    return frozenset(names)


# --- exponentials and logarithms ------------------------------------------------------------------


@transfer("exp")
def _exp(values, found, env) -> Fact:
    x = _arg(values, found, env)
    hi = math.exp(min(x.hi, 700)) if x.hi < _EXP_OVERFLOW else INF
    overflows = _overflows(found, hi)
    if x.lo > _EXP_UNDERFLOW:
        return Fact(
            lo=math.exp(min(x.lo, 700)), hi=hi, guarded=True, scalar=x.scalar, why="an exp", overflows=overflows
        )
    return Fact(
        lo=0,
        hi=hi,
        zero=Reason("an exp, which underflows to 0 for very negative input", DEGENERATE, "exp"),
        one=arithmetic.exact(x, 0),
        scalar=x.scalar,
        why="an exp",
        kind="exp",
        overflows=overflows,
    )


@transfer("expm1")
def _expm1(values, found, env) -> Fact:
    x = _arg(values, found, env)
    hi = math.expm1(x.hi) if x.hi < _EXP_OVERFLOW else INF
    lo = -1 if x.lo < _EXP_UNDERFLOW else math.expm1(x.lo)
    return Fact(lo=lo, hi=hi, zero=arithmetic.exact(x, 0), overflows=_overflows(found, hi))


def _overflows(found: OpCall, hi: float) -> bool:
    """A tensor exp is inf past 88 (float32), an argument any unbounded input reaches; math.exp raises instead."""
    return math.isinf(hi) and not (found.qualified or "").startswith("math.")


@transfer("log")
def _log(values, found, env) -> Fact:
    x = _arg(values, found, env)
    lo = math.log(x.lo) if x.lo > 0 and not math.isinf(x.lo) else -INF
    hi = math.log(x.hi) if 0 < x.hi < INF else (-INF if x.hi <= 0 else INF)
    one = arithmetic.exact(x, 1)
    zero = Reason(f"the log of {one.text}", one.level, one.kind) if one is not None else None
    return Fact(lo=lo, hi=hi, zero=zero, scalar=x.scalar, why="a log")


@transfer("log1p")
def _log1p(values, found, env) -> Fact:
    x = _arg(values, found, env)
    return Fact(lo=-INF, hi=INF if x.hi == INF else math.log1p(max(x.hi, -1 + 1e-300)), zero=arithmetic.exact(x, 0))


@transfer("log_softmax", "log_sigmoid")
def _log_probability(values, found, env) -> Fact:
    infinite = _arg(values, found, env).infinite if found.op == "log_softmax" else None  # -inf stays -inf
    return Fact(lo=-INF, hi=0, why="a log-probability", kind="log-probability", infinite=infinite)


@transfer("logsumexp", "logaddexp", "softplus")
def _soft_maximum(values, found, env) -> Fact:
    if found.op == "softplus":
        return Fact(lo=0, zero=Reason("a softplus, which underflows to 0 for very negative input", DEGENERATE))
    return TOP


# --- probabilities ---------------------------------------------------------------------------------


@transfer("sigmoid")
def _sigmoid(values, found, env) -> Fact:
    """In [0, 1], within the sigmoids of the argument's bounds. It underflows to 0 only where exp(x) does (very
    negative input, as the half-precision threshold below says): evidence as weak as exp's, where a softmax's zeros
    come from any masked logit; it rounds to 1 for any x > 17, which ordinary logits reach."""
    x = _arg(values, found, env, len(found.args) - 1)
    lo, hi = _logistic(x.lo), _logistic(x.hi)
    return Fact(
        lo=lo,
        hi=hi,
        zero=Reason("a sigmoid, which underflows to 0 for very negative input", DEGENERATE, "probability")
        if x.lo < _EXP_UNDERFLOW / 6
        else None,
        one=Reason("a sigmoid, which rounds to 1 for large input", BUILT, "probability") if x.hi > 17 else None,
        guarded=x.lo >= _EXP_UNDERFLOW / 6,
        scalar=x.scalar,
        why="a sigmoid",
        kind="probability",
    )


def _logistic(x: float) -> float:
    return 0.0 if x < -700 else 1 / (1 + math.exp(-x)) if x < 700 else 1.0


@transfer("softmax")
def _softmax(values, found, env) -> Fact:
    return Fact(
        lo=0,
        hi=1,
        zero=Reason("a softmax probability, which underflows to 0", BUILT, "probability"),
        one=Reason("a softmax probability, which can round to 1", BUILT, "probability"),
        why="a softmax",
        kind="probability",
        distribution=True,
    )


@transfer("one_hot")
def _one_hot(values, found, env) -> Fact:
    return Fact(
        lo=0,
        hi=1,
        zero=Reason("a one-hot, which is 0 off its class", BUILT, "mask"),
        one=Reason("a one-hot", BUILT, "mask"),
        integer=True,
        why="a one-hot",
        kind="mask",
    )


# Where the bounds of a uniform sampler stand among its positional arguments.
_POSITIONAL_BOUNDS = {"tensorflow.random.uniform": 1, "jax.random.uniform": 3}


@transfer("uniform")
def _uniform(values, found, env) -> Fact:
    low = found.keywords.get("minval", found.keywords.get("low", found.keywords.get("a")))
    high = found.keywords.get("maxval", found.keywords.get("high", found.keywords.get("b")))
    qualified = found.qualified or ""
    if qualified.startswith(("numpy.random.uniform", "random.uniform")) and low is None:
        low, high = found.arg(0, "low"), found.arg(1, "high")
    elif qualified in _POSITIONAL_BOUNDS:  # tf.random.uniform([], 0.1, 2.0): bounds after the shape (and key)
        at = _POSITIONAL_BOUNDS[qualified]
        low, high = found.arg(at, "minval"), found.arg(at + 1, "maxval")
    lo = values.of(low, env) if low is not None else Fact(lo=0, hi=0)
    hi = values.of(high, env) if high is not None else Fact(lo=1, hi=1)
    if math.isinf(lo.lo) and math.isinf(hi.hi):
        return TOP
    zero = (
        Reason("a uniform sample, which is exactly 0 now and then", BUILT, "uniform")
        if lo.lo <= 0 <= hi.hi and not lo.nonzero
        else None
    )
    return Fact(lo=lo.lo, hi=hi.hi, zero=zero, why="a uniform sample", kind="uniform", guarded=lo.lo > 0)


# --- reductions ---------------------------------------------------------------------------------------


@transfer("sum", "mean", "segment_sum")
def _sum(values, found, env) -> Fact:
    if not found.args:
        return TOP
    if found.qualified == "builtins.sum" and len(found.args) > 1:
        return TOP
    from nanlint.source import squares

    if squares.normalised_dot(values.ctx, found.node):
        return NORMALISED_DOT
    x = values.of(found.args[0], env)
    if x.kind == "diagonal" and found.op == "sum":  # R.diagonal(dim1=-2, dim2=-1).sum(-1)
        return rotations.TRACE
    if x.distribution and found.op == "sum":
        return Fact(lo=1, hi=1, guarded=True, why="a sum of probabilities")
    segment = found.op == "segment_sum"
    made = "masked" if arithmetic.is_masked(x) and x.kind != "mask" else x.kind  # a join keeps the reason, not the kind
    kind = {"mask": "count", "masked": "masked", "square": "square-sum"}.get(made, found.op)
    kind = "segment" if segment else kind
    zero = _sum_zero(x, found, kind)
    return Fact(
        lo=0 if x.nonnegative else -INF,
        hi=INF if found.op != "mean" else x.hi,
        zero=zero,
        guarded=x.nonzero and x.nonnegative and not segment,
        scalar=x.scalar,
        integer=x.integer,
        why=_sum_why(x, zero),
        kind=kind,
        bases=_bases(found),
        overflows=x.overflows,
    )


# Element-wise zeros that ordinary input makes all at once: everything masked out, every input negative.
_ALL_ZERO_KINDS = frozenset({"mask", "masked", "relu", "clamp-zero", "count", "selection", "segment"})
# Element-wise zeros by underflow: a sum of them is 0 only if every term underflows.
_UNDERFLOW_KINDS = frozenset({"exp", "probability"})
_SUM_WHY = {
    "segment": "a segment sum",
    "masked": "a masked sum",
    "count": "a count",
    "square-sum": "a sum of squares",
    "weight-sum": "a sum of sample weights",
}


def _sum_why(x: Fact, zero: Reason | None) -> str:
    if zero is None:
        return "a sum"
    if zero.kind == "square-sum" and x.zero is not None and x.zero.kind == "difference":
        return SQUARED_DISTANCE  # sum((a - b) ** 2): 0 wherever the points are equal
    return _SUM_WHY.get(zero.kind, "a sum")


SQUARED_DISTANCE = "a squared distance"
_PYTHON_SUMS = ("builtins.sum", "math.fsum")  # of Python lists: configuration (sum(loss_weights)), not a batch


def _sum_zero(x: Fact, found: OpCall, kind: str) -> Reason | None:
    if kind == "segment":
        return Reason("a segment sum, which is 0 for an empty segment", BUILT, "segment")
    if x.empty is not None:
        return Reason("a masked sum, which is 0 when everything is masked out", BUILT, "masked")
    if kind == "count":
        return Reason("a count of a possibly empty selection", BUILT, "count")
    if kind == "masked":
        return Reason("a masked sum, which is 0 when everything is masked out", BUILT, "masked")
    if kind == "square-sum" and not x.nonzero:
        level = BUILT if x.zero is not None and x.zero.level >= BUILT else DEGENERATE
        return Reason("a sum of squares, which is 0 for a zero vector", level, "square-sum")
    if x.nonzero:
        return None
    if x.kind == "probability" or (x.zero is not None and x.zero.kind == "probability"):
        # 0 only when every term underflows (a class no position predicts): weak evidence, for logs
        return Reason("a sum of probabilities, which is 0 where every one of them underflows", NAMED, "probability-sum")
    if x.kind == "exp" or (x.zero is not None and x.zero.kind in _UNDERFLOW_KINDS):
        return None  # all of them underflowing at once (exps, a Gaussian kernel): NAN101's concern
    if x.zero is not None and x.zero.kind == "weight" and found.qualified not in _PYTHON_SUMS:
        return Reason("a sum of sample weights, which is 0 when every weight in it is 0", x.zero.level, "weight-sum")
    if x.nonnegative and x.zero is not None:  # all of them 0 at once: ordinary for masks and relus
        level = BUILT if x.zero.level >= BUILT and x.zero.kind in _ALL_ZERO_KINDS else min(x.zero.level, DEGENERATE)
        return Reason("a sum that can be 0", level, "sum")
    if x.nonnegative:
        return Reason("a sum of non-negative values, which is 0 when they all are", DEGENERATE, "sum")
    if found.qualified in _PYTHON_SUMS:
        return None  # mostly configuration arithmetic: sum(ratios), sum(block_counts)
    return Reason("a sum that can be 0", NAMED, "plain-sum")


@transfer("count")
def _count(values, found, env) -> Fact:
    x = _arg(values, found, env)
    if found.qualified == "builtins.len":
        zero = Reason("a count of a possibly empty selection", BUILT, "count") if x.empty is not None else None
        one = (
            Reason("a count of distinct values, which is 1 for constant data", BUILT, "count")
            if (x.kind == "unique")
            else None
        )
        return Fact(lo=0, zero=zero, one=one, integer=True, scalar=True, why="a length", kind="count")
    return Fact(
        lo=0,
        zero=Reason("a count of nonzeros, which can be 0", BUILT, "nonzero-count"),
        integer=True,
        why="a count of nonzeros",
        kind="count",
    )


@transfer("unique")
def _unique(values, found, env) -> Fact:
    return replace(_arg(values, found, env), kind="unique", why="the distinct values")


@transfer("norm")
def _norm(values, found, env) -> Fact:
    x = _arg(values, found, env)
    if found.qualified == "math.hypot":
        return Fact(lo=0, scalar=True, why="a norm")
    built = x.zero is not None and x.zero.level >= BUILT and not x.nonzero and x.zero.kind in _ALL_ZERO_KINDS
    return Fact(
        lo=0,
        zero=Reason("a norm, which is 0 for a zero vector", BUILT if built else DEGENERATE, "norm"),
        guarded=x.nonzero and x.kind != "",
        why="a norm",
        kind="norm",
        bases=_bases(found),
    )


@transfer("distance")
def _distance(values, found, env) -> Fact:
    return Fact(
        lo=0,
        zero=Reason("a distance, which is 0 between equal points", BUILT, "distance"),
        why="a distance",
        kind="distance",
        scalar=found.qualified == "math.dist",
    )


@transfer("std", "var")
def _spread(values, found, env) -> Fact:
    return spread(found.op, _bases(found))


def spread(kind: str, bases: frozenset[str]) -> Fact:
    """A standard deviation ("std") or a variance ("var"): >= 0, and 0 for constant input."""
    name = "standard deviation" if kind == "std" else "variance"
    return Fact(
        lo=0,
        zero=Reason(f"a {name}, which is 0 for constant input", DEGENERATE, kind),
        why=f"a {name}",
        kind=kind,
        bases=bases,
    )


def element(found: OpCall, position: int) -> Fact:
    """The fact of one result of a multi-result op (TOP when it has none)."""
    kinds = ops.MOMENT_RESULTS.get(found.qualified or "", ())
    kind = kinds[position] if 0 <= position < len(kinds) else None
    return spread(kind, _bases(found)) if kind is not None else TOP


@transfer("max", "min", "segment_max")
def _extreme(values, found, env) -> Fact:
    if found.qualified in ("builtins.max", "builtins.min") and len(found.args) > 1:
        return TOP
    if _elementwise_pair(values, found, env):  # torch.max(n, torch.tensor(1.)): a clamp, not a reduction
        return (_maximum if found.op == "max" else _minimum)(values, found, env)
    x = _arg(values, found, env)
    return Fact(
        lo=x.lo,
        hi=x.hi,
        zero=x.zero,
        guarded=x.nonzero,
        scalar=x.scalar,
        integer=x.integer,
        why=f"a {found.op}",
        kind=found.op,
        bases=_bases(found),
        overflows=x.overflows,
    )


def _elementwise_pair(values, found, env) -> bool:
    """max(a, b) / min(a, b) of two tensors (torch.max's other form) is the element-wise maximum / minimum; a
    second argument that is an integer (a dim: `torch.max(x, 1)`) keeps it a reduction."""
    if len(found.args) != 2 or found.qualified in ("builtins.max", "builtins.min") or "dim" in found.keywords:
        return False
    second = found.args[1]
    if _tensor_literal(values, second):
        return True
    if found.method or not (found.qualified or "").startswith("torch."):
        return False
    return values.ctx.const(second) is None and not values.of(second, env).integer


def _tensor_literal(values, expr: cst.BaseExpression) -> bool:
    """A tensor made here (torch.tensor([1]), ones_like(x)), through conversions: never a dim."""
    found = values.ctx.call(expr)
    while found is not None and found.op in ("float", "cast", "layout") and found.args:
        found = values.ctx.call(found.args[0])
    return found is not None and found.op in _TENSOR_MAKING


_TENSOR_MAKING = frozenset({"tensor", "ones", "full", "zeros"})


# --- guards and element-wise bounds -----------------------------------------------------------------


@transfer("maximum")
def _maximum(values, found, env) -> Fact:
    facts = [values.of(a, env) for a in found.args]
    if len(facts) == 1:  # builtins max(xs): a reduction
        return replace(facts[0], kind="max", bases=_bases(found))
    if len(facts) < 2:
        return TOP
    lo, hi = max(f.lo for f in facts), max(f.hi for f in facts)
    positive = any(f.lo > 0 for f in facts) or any(f.guarded and f.lo > 0 for f in facts)
    return Fact(
        lo=lo,
        hi=hi,
        zero=None if positive else first(*(f.zero for f in facts if f.hi >= 0)),
        guarded=positive,
        scalar=all(f.scalar for f in facts),
        integer=all(f.integer for f in facts),
        kind="clamp" if positive or any(arithmetic.is_constant(f) for f in facts) else "",
        overflows=any(f.overflows for f in facts),
    )


@transfer("minimum")
def _minimum(values, found, env) -> Fact:
    facts = [values.of(a, env) for a in found.args]
    if len(facts) == 1:
        return replace(facts[0], kind="min", bases=_bases(found))
    if len(facts) < 2:
        return TOP
    return Fact(
        lo=min(f.lo for f in facts),
        hi=min(f.hi for f in facts),
        zero=first(*(f.zero for f in facts)),
        scalar=all(f.scalar for f in facts),
        integer=all(f.integer for f in facts),
        kind="clamp" if any(arithmetic.is_constant(f) for f in facts) else "",
    )


@transfer("clamp")
def _clamp(values, found, env) -> Fact:
    from nanlint.source.values.analysis import clamp_bounds

    operand, lower, upper = clamp_bounds(found)
    x = values.of(operand, env) if operand is not None else TOP
    low = values.of(lower, env) if lower is not None else None
    high = values.of(upper, env) if upper is not None else None
    lo, hi = x.lo, x.hi
    zero = x.zero
    guarded = x.nonzero
    if low is not None:
        lo = max(lo, low.lo)
        if low.lo > 0 or (low.guarded and low.lo > 0):
            guarded, zero = True, None
        elif low.lo == 0 and low.hi == 0:
            zero = Reason("a value clamped at 0, which is 0 wherever it was negative", BUILT, "clamp-zero")
    if high is not None:
        hi = min(hi, high.hi)
    return Fact(
        lo=lo,
        hi=hi,
        zero=zero,
        one=x.one if high is None or high.lo != 1 else Reason("a value clamped at 1", BUILT),
        minus_one=x.minus_one if low is None or low.hi != -1 else Reason("a value clamped at -1", BUILT),
        guarded=guarded,
        scalar=x.scalar,
        integer=x.integer,
        why=x.why,
        kind="clamp",
        bases=x.bases,
        overflows=x.overflows and math.isinf(hi),
    )


@transfer("relu")
def _relu(values, found, env) -> Fact:
    x = _arg(values, found, env, len(found.args) - 1)
    return Fact(
        lo=0,
        hi=max(x.hi, 0),
        zero=Reason("a relu output, which is 0 for negative inputs", BUILT, "relu"),
        why="a relu output",
        kind="relu",
    )


@transfer("neg")
def _neg(values, found, env) -> Fact:
    return arithmetic.negate(_arg(values, found, env))


@transfer("abs")
def _abs(values, found, env) -> Fact:
    x = _arg(values, found, env)
    return Fact(
        lo=0 if x.lo <= 0 <= x.hi else min(abs(x.lo), abs(x.hi)),
        hi=max(abs(x.lo), abs(x.hi)),
        zero=arithmetic.exact(x, 0),
        one=first(arithmetic.exact(x, 1), arithmetic.exact(x, -1)),
        guarded=x.nonzero,
        scalar=x.scalar,
        integer=x.integer,
        why=x.why,
        overflows=x.overflows,
    )


@transfer("sqrt")
def _sqrt(values, found, env) -> Fact:
    return root(_arg(values, found, env))


def root(x: Fact) -> Fact:
    """sqrt(x): a standard deviation of a variance, a norm of a sum of squares."""
    zero = arithmetic.exact(x, 0)
    kind, why = "sqrt", "a square root"
    if zero is not None and x.kind in ("var", "variance"):
        kind, why = "std", "a standard deviation"
        zero = Reason("a standard deviation, which is 0 for constant input", zero.level, "std")
    elif zero is not None and x.kind == "square-sum":
        kind, why = "norm", "a norm"
        zero = Reason("a norm, which is 0 for a zero vector", zero.level, "norm")
    return Fact(
        lo=math.sqrt(x.lo) if x.lo > 0 and not math.isinf(x.lo) else 0,
        hi=math.sqrt(x.hi) if 0 <= x.hi < INF else INF,
        zero=zero,
        one=arithmetic.exact(x, 1),
        guarded=x.nonzero and x.lo >= 0,
        scalar=x.scalar,
        why=why,
        kind=kind,
        bases=x.bases,
        overflows=x.overflows,  # sqrt(1 + exp(x)) is inf once exp is
    )


@transfer("rsqrt", "reciprocal")
def _reciprocal(values, found, env) -> Fact:
    x = _arg(values, found, env)
    if found.op == "rsqrt":
        x = _sqrt(values, found, env)
    return arithmetic.divide(Fact(lo=1, hi=1, one=Reason("1", BUILT)), x)


@transfer("square")
def _square(values, found, env) -> Fact:
    return arithmetic.power(_arg(values, found, env), 2)


@transfer("squared_difference")
def _squared_difference(values, found, env) -> Fact:
    difference = arithmetic.subtract(_arg(values, found, env), _arg(values, found, env, 1))
    return arithmetic.power(difference, 2)


@transfer("pow")
def _pow(values, found, env) -> Fact:
    exponent = found.arg(1, "exponent", "y", "x2")
    k = values.of(exponent, env) if exponent is not None else TOP
    return arithmetic.power(_arg(values, found, env), k.lo if arithmetic.is_constant(k) else None, k)


@transfer("tanh", "cos", "sin")
def _bounded(values, found, env) -> Fact:
    x = _arg(values, found, env, len(found.args) - 1)
    zero = arithmetic.exact(x, 0) if found.op in ("tanh", "sin") else None
    rounding = Reason("a cosine", BUILT, "cosine") if found.op == "cos" else None
    one = minus_one = None
    if found.op == "tanh":  # saturates: exactly ±1 in float32 once |x| > ~9, which unbounded input reaches
        one = _SATURATED if x.hi > _TANH_SATURATION else None
        minus_one = _SATURATED if x.lo < -_TANH_SATURATION else None
    return Fact(
        lo=-1,
        hi=1,
        zero=zero,
        one=one,
        minus_one=minus_one,
        rounding=rounding,
        scalar=x.scalar,
        why=f"a {found.op}",
        kind=found.op,
    )


_TANH_SATURATION = 9.0  # tanh(9.01) rounds to 1.0 in float32
_SATURATED = Reason("a tanh, which saturates to ±1 for |x| > ~9", BUILT, "tanh")


@transfer("tan")
def _tan(values, found, env) -> Fact:
    x = _arg(values, found, env)
    return Fact(zero=arithmetic.exact(x, 0), scalar=x.scalar, why="a tan")


@transfer("acos", "asin")
def _arc(values, found, env) -> Fact:
    return Fact(lo=0 if found.op == "acos" else -math.pi / 2, hi=math.pi if found.op == "acos" else math.pi / 2)


@transfer("cosine_similarity")
def _cosine(values, found, env) -> Fact:
    return Fact(
        lo=-1,
        hi=1,
        rounding=Reason("a cosine similarity", BUILT, "cosine"),
        why="a cosine similarity",
        kind="cosine",
    )


@transfer("normalize")
def _normalize(values, found, env) -> Fact:
    return Fact(
        lo=-1,
        hi=1,
        rounding=Reason("a component of a normalised vector", BUILT, "cosine"),
        why="a normalised vector",
        kind="unit",
    )


# --- selections and re-arrangements ---------------------------------------------------------------------


@transfer("cast", "layout", "gather", "float", "tensor")
def _same(values, found, env) -> Fact:
    if not found.args:
        return TOP
    if found.qualified == "builtins.float" and isinstance(found.args[0], cst.SimpleString):
        return _float_literal(found.args[0])
    x = values.of(found.args[0], env)
    if found.op == "cast" and _to_integer(found):
        return replace(x, integer=True)
    return x


def _float_literal(text: cst.SimpleString) -> Fact:
    """float("-inf"), float("nan"), float("1e-8")."""
    try:
        value = float(str(text.evaluated_value))
    except ValueError:
        return TOP
    if math.isinf(value):
        from nanlint.source.values.analysis import INFINITY

        return INFINITY if value > 0 else arithmetic.negate(INFINITY)
    return constant(value)


def _to_integer(found: OpCall) -> bool:
    func = found.node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else ""
    return name in ("long", "int")


@transfer("where")
def _where(values, found, env) -> Fact:
    from nanlint.source.values.analysis import select_parts

    parts = select_parts(found)
    if parts is None:
        return TOP
    condition, (taken, other) = parts
    return join(values.refined(taken, condition, True, env), values.refined(other, condition, False, env))


@transfer("masked_fill")
def _masked_fill(values, found, env) -> Fact:
    if len(found.args) < 3:
        return TOP
    return join(values.refined(found.args[0], found.args[1], False, env), values.of(found.args[2], env))


@transfer("nan_to_num", "safe_div")
def _repaired(values, found, env) -> Fact:
    return Fact(guarded=True, why="a repaired value")


@transfer("full")
def _full(values, found, env) -> Fact:
    fill = found.arg(1, "fill_value", "value")
    return values.of(fill, env) if fill is not None else TOP


@transfer("ones")
def _ones(values, found, env) -> Fact:
    return constant(1.0)  # a tensor of ones: `n.maximum(torch.ones_like(n))` is at least 1


@transfer("parameter")
def _parameter(values, found, env) -> Fact:
    """nn.Parameter(torch.ones(d)): trained, it can reach 0 (a scale with no positivity transform); a frozen one
    (requires_grad=False, trainable=False) is a loaded constant nanlint cannot see."""
    for keyword in ("requires_grad", "trainable"):
        flag = found.keywords.get(keyword)
        if flag is not None and isinstance(flag, cst.Name) and flag.value == "False":
            return TOP
    return Fact(
        zero=Reason("a trainable parameter, which training can move to 0", NAMED, "parameter"), kind="parameter"
    )


@transfer("mul")
def _mul(values, found, env) -> Fact:
    if len(found.args) < 2:
        return TOP
    return arithmetic.multiply(values.of(found.args[0], env), values.of(found.args[1], env))


@transfer("div")
def _div(values, found, env) -> Fact:
    if len(found.args) < 2:
        return TOP
    return arithmetic.divide(values.of(found.args[0], env), values.of(found.args[1], env))


@transfer("dot")
def _dot(values, found, env) -> Fact:
    """A linear map: 0 wherever an operand is 0 everywhere; a weighted sum of squares is 0 for a zero input."""
    from nanlint.source import squares

    if squares.normalised_dot(values.ctx, found.node):
        return NORMALISED_DOT
    equation = found.args[0] if found.args else None
    if isinstance(equation, cst.SimpleString) and rotations.trace_equation(str(equation.evaluated_value or "")):
        return rotations.TRACE
    tensors = [a for a in found.args if not isinstance(a, cst.SimpleString)]
    if _self_product(values, found, tensors):  # dot(x, x), batch_dot(x, x, axes): a sum of squares
        square = arithmetic.power(values.of(tensors[0], env), 2)
        zero = _sum_zero(square, found, "square-sum")
        return Fact(lo=0, zero=zero, why="a sum of squares", kind="square-sum", bases=_bases(found))
    operands = [values.of(a, env) for a in tensors]
    zero = first(*(f.zero for f in operands if f.zero is not None and f.zero.level >= BUILT))
    if zero is None and any(f.nonnegative and not f.nonzero and f.kind == "square" for f in operands):
        zero = Reason("a weighted sum of squares, which is 0 for a zero input", DEGENERATE, "square-sum")
        return Fact(zero=zero, why="a weighted sum of squares", kind="square-sum")
    if zero is None and any(f.kind == "square-eps" for f in operands):  # W @ (x**2 + eps): a 0 weight drops it
        zero = Reason("a weighted sum of (x² + eps), whose eps a weight of 0 drops", DEGENERATE, "square-sum")
        return Fact(zero=zero, why=zero.text, kind="square-sum")
    return Fact(zero=zero, why="a linear map")


def _self_product(values, found: OpCall, tensors: list[cst.BaseExpression]) -> bool:
    """The first two operands are one tensor (an einsum only with no third operand; others take axes after)."""
    if len(tensors) < 2 or (len(tensors) > 2 and (found.qualified or "").endswith("einsum")):
        return False
    a, b = tensors[:2]
    return isinstance(a, (cst.Name, cst.Attribute, cst.Subscript)) and values.ctx.code_of(a) == values.ctx.code_of(b)


NORMALISED_DOT = Fact(
    lo=-1,
    hi=1,
    rounding=Reason("a normalised dot product", BUILT, "cosine"),
    why="a normalised dot product",
    kind="cosine",
)


@transfer("trace")
def _trace(values, found, env) -> Fact:
    return rotations.TRACE


@transfer("diagonal")
def _diagonal(values, found, env) -> Fact:
    return Fact(why="a matrix diagonal", kind="diagonal")


@transfer("xlogy", "xlog1py")
def _xlogy(values, found, env) -> Fact:
    return TOP
