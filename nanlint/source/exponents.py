"""What exps make up a value, and whether they can overflow: the reasoning NAN101, NAN103 and NAN113 share.

- `exp_calls`: which exp calls make up a value (`exp(x)`, `e * mask`, `e[idx]`, `where(m, e, 0)`);
- `normaliser`: is a value a sum of exps (`e.sum(-1, keepdim=True) + eps`, a segment sum or mean,
  `exp(a) + exp(b)`)?
- `capped`: can the exp not overflow (its max or a logsumexp subtracted, clamped from above, bounded,
  `-abs(x)`, `-distance`)? The value analysis says when the exponent is bounded above.

Asked in semantic ops through names and `self` attributes (`ctx.origins`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TypeGuard

import libcst as cst

from nanlint.source import guards, squares
from nanlint.source.dataflow import binding_key
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall
from nanlint.source.values import clamp_bounds, select_parts


def exponent(found: OpCall) -> cst.BaseExpression:
    """x of exp(x) / x.exp()."""
    return found.args[0]


def op_call(ctx: Context, expr: cst.BaseExpression | None) -> OpCall | None:
    """The op a call computes; a method called on `self`/`cls` is the class's own method, not a tensor op."""
    found = ctx.call(expr)
    if (
        found is not None
        and found.method
        and isinstance(found.args[0], cst.Name)
        and found.args[0].value in ("self", "cls")
    ):
        return None
    return found


# --- what a value is made of ----------------------------------------------------------------------------------


def _attribute_of_value(expr: cst.BaseExpression) -> TypeGuard[cst.Attribute]:
    """`x.max(0).values`: an attribute of a computed value, not a variable."""
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, (cst.Call, cst.Subscript))


def settled(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """The first definition of expr that is not a plain variable (None when only an unknown variable remains)."""
    for step in ctx.origins(expr):
        if guards.is_variable(step) and not _attribute_of_value(step):
            continue
        return step
    return None


def exp_calls(ctx: Context, expr: cst.BaseExpression | None, depth: int = 6) -> list[OpCall]:
    """The exp calls whose values make up expr: exp(x), a name assigned one, e * mask, e[i], where(m, e, 0), ..."""
    step = settled(ctx, expr) if expr is not None and depth > 0 else None
    if step is None:
        return []
    if isinstance(step, cst.Subscript):
        return exp_calls(ctx, step.value, depth - 1)
    if isinstance(step, (cst.GeneratorExp, cst.ListComp)):
        return exp_calls(ctx, step.elt, depth - 1)
    if guards.is_binary(step, cst.Multiply):
        return exp_calls(ctx, step.left, depth - 1) + exp_calls(ctx, step.right, depth - 1)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return []
    if found.op == "exp":
        return [found]
    if found.op in ("gather", "masked_fill"):
        return exp_calls(ctx, found.args[0], depth - 1)
    if found.op == "mul":
        return [e for a in found.args for e in exp_calls(ctx, a, depth - 1)]
    if found.op == "where":
        parts = select_parts(found)
        return [e for b in (parts[1] if parts else []) for e in exp_calls(ctx, b, depth - 1)]
    return []


def pure_exp(ctx: Context, expr: cst.BaseExpression) -> tuple[OpCall, bool] | None:
    """(the exp call, whether it is written right here) when expr is an exp (possibly through names)."""
    step = settled(ctx, expr)
    found = op_call(ctx, step)
    if found is None or found.op != "exp" or not found.args:
        return None
    return found, step is expr


@dataclass(frozen=True)
class Normaliser:
    """A sum of exps: `reduction` is the sum call (None for `exp(a) + exp(b)`)."""

    exps: tuple[OpCall, ...]
    reduction: OpCall | None
    plain: bool  # the expression is the sum call itself, summing an exp call written inside it


def segment_reduce(found: OpCall) -> str:
    """How a scatter/segment op reduces: "sum" unless a reduce string says otherwise."""
    reduce = found.keywords.get("reduce") or next((a for a in found.args if isinstance(a, cst.SimpleString)), None)
    if isinstance(reduce, cst.SimpleString):
        value = reduce.evaluated_value
        return value if isinstance(value, str) else "sum"
    return "sum"


def normaliser(
    ctx: Context, expr: cst.BaseExpression, inplace: dict | None = None, depth: int = 6
) -> Normaliser | None:
    """The sum of exps that expr is -- through names, `+ eps`, clamps, indexing, reshapes -- or None."""
    if depth <= 0:
        return None
    for step in ctx.origins(expr):
        if guards.is_variable(step) and not _attribute_of_value(step):
            recorded = _inplace_sum(ctx, step, inplace)
            if recorded is not None:
                return recorded
            continue
        found = _normaliser_of(ctx, step, inplace, depth)
        if found is not None and found.plain and step is not expr:
            found = replace(found, plain=False)
        return found
    return None


def _inplace_sum(ctx: Context, variable: cst.BaseExpression, inplace: dict | None) -> Normaliser | None:
    """`d = zeros(n); d.index_add_(0, idx, e)`: a statement that summed exps into the variable's current value."""
    key = binding_key(variable)
    if not inplace or key not in inplace:
        return None
    binding, found = inplace[key]
    if binding is not ctx.dataflow.value_of(variable):
        return None
    exps = tuple(e for a in (*found.args[1:], *found.keywords.values()) for e in exp_calls(ctx, a))
    return Normaliser(exps, found, plain=False) if exps else None


def _normaliser_of(ctx: Context, step: cst.BaseExpression, inplace: dict | None, depth: int) -> Normaliser | None:
    if isinstance(step, cst.Subscript):
        inner = normaliser(ctx, step.value, inplace, depth - 1)
        return replace(inner, plain=False) if inner else None
    if _attribute_of_value(step):
        return None
    if guards.is_binary(step, cst.Add):
        return _sum_of_terms(ctx, step, inplace, depth)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return None
    if found.op == "sum":
        exps = tuple(exp_calls(ctx, found.args[0]))
        direct = op_call(ctx, found.args[0])
        plain = direct is not None and direct.op == "exp"
        return Normaliser(exps, found, plain) if exps else None
    if found.op == "segment_sum" and segment_reduce(found) in ("sum", "add", "mean"):
        exps = tuple(e for a in (*found.args, *found.keywords.values()) for e in exp_calls(ctx, a))
        return Normaliser(exps, found, plain=False) if exps else None
    if found.op in ("clamp", "maximum", "gather"):  # an eps guard or an index does not prevent inf / inf
        for operand in found.args:
            inner = normaliser(ctx, operand, inplace, depth - 1)
            if inner is not None:
                return replace(inner, plain=False)
    return None


def _sum_of_terms(ctx: Context, expr: cst.BinaryOperation, inplace: dict | None, depth: int) -> Normaliser | None:
    """`s + eps` (a sum of exps plus a guard) or `exp(a) + exp(b) (+ c)` (a sum written out)."""
    terms = list(additive_terms(expr))
    sums = [normaliser(ctx, t, inplace, depth - 1) for t in terms]
    reduced = [s for s in sums if s is not None and s.reduction is not None]
    if len(reduced) == 1:  # an eps (or anything else) added to the sum does not prevent inf / inf
        return replace(reduced[0], plain=False)
    written = [pure_exp(ctx, t) for t in terms]
    if any(written) and all(w is not None or is_constant(ctx, t) for w, t in zip(written, terms)):
        return Normaliser(tuple(w[0] for w in written if w), None, plain=False)
    return None


def additive_terms(expr: cst.BaseExpression):
    if guards.is_binary(expr, cst.Add):
        yield from additive_terms(expr.left)
        yield from additive_terms(expr.right)
    else:
        yield expr


def is_constant(ctx: Context, expr: cst.BaseExpression) -> bool:
    return ctx.const(expr) is not None or guards.is_eps(ctx, expr)


# --- exponents -------------------------------------------------------------------------------------------------

# Ops whose output is bounded: exp of it cannot overflow.
_BOUNDED = frozenset({"tanh", "sigmoid", "softmax", "cos", "cosine_similarity"})
# Ops whose output is >= 0: exp of minus it cannot overflow.
_NONNEGATIVE = frozenset(
    {"abs", "relu", "sqrt", "square", "norm", "exp", "softplus", "sigmoid", "softmax", "count", "std", "var"}
)
_OVERFLOW = 80.0  # exp(88.7) overflows float32; constants below this are harmless exponents


def capped(ctx: Context, expr: cst.BaseExpression, trusting: bool = True) -> bool:
    """Can exp(expr) not overflow? Its max (or a logsumexp) is subtracted, or it is capped from above or bounded.

    exp(-distance), exp(-abs(x)) cannot overflow either; they can underflow to 0 / 0 when every term is far
    away, which depends on the data and is left alone (a Gaussian kernel on a grid is fine).
    `trusting`: a subtracted value nanlint cannot see counts as the max (softmax code subtracts one); not for a
    softplus, where nobody subtracts a max (`log(1 + exp(r_rejected - r_chosen))`).
    """
    return _safe_exponent(ctx, expr, depth=6, trusting=trusting)


def _safe_exponent(ctx: Context, expr: cst.BaseExpression, depth: int, trusting: bool = True) -> bool:
    if depth <= 0:
        return False
    step = settled(ctx, expr)
    if step is None:
        return False
    value = ctx.const(step)
    if value is not None:
        return value < _OVERFLOW

    def safe(part: cst.BaseExpression) -> bool:
        """A capped value (not a mere constant: `2 * x` is not capped because 2 is)."""
        return ctx.const(part) is None and _safe_exponent(ctx, part, depth - 1, trusting)

    def scale(part: cst.BaseExpression) -> bool:
        """A positive constant or an unknown factor (a temperature)."""
        value = ctx.const(part)
        return value is None or value > 0

    if isinstance(step, cst.BinaryOperation):
        left, operator, right = step.left, step.operator, step.right
        if isinstance(operator, cst.Subtract):  # x - max(x), min(x) - x, (x - max) - c
            shift = ctx.const(left) is None and subtracts_max(ctx, right, trusting=trusting)  # 1 - x: no shift
            return shift or _is_min(ctx, left) or safe(left)
        if isinstance(operator, cst.Add):
            return (safe(left) and is_constant(ctx, right)) or (safe(right) and is_constant(ctx, left))
        if isinstance(operator, cst.Multiply):  # a temperature or scale times a capped exponent
            return (
                (safe(left) and scale(right))
                or (safe(right) and scale(left))
                or _negative_times_nonnegative(ctx, left, right)
                or _negative_times_nonnegative(ctx, right, left)
            )
        if isinstance(operator, cst.Divide):
            return safe(left) and scale(right)
        return isinstance(operator, cst.MatrixMultiply) and squares.normalised_dot(ctx, step)
    if isinstance(step, cst.UnaryOperation) and isinstance(step.operator, cst.Minus):
        inner = settled(ctx, step.expression)
        if guards.is_binary(inner, cst.Subtract) and _is_min(ctx, inner.right):  # -(x - min(x))
            return True
        return inner is not None and _nonnegative(ctx, inner)
    if isinstance(step, cst.Subscript):
        return safe(step.value)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return False
    if found.op in _BOUNDED or found.op in ("log_softmax", "log_sigmoid"):  # bounded, or <= 0
        return True
    if found.op == "clamp":
        return clamp_bounds(found)[2] is not None
    if found.op == "minimum":
        return len(found.args) >= 2
    if found.op == "neg":  # x.abs().neg(): -|x| <= 0, as the unary minus above
        inner = settled(ctx, found.args[0])
        return inner is not None and _nonnegative(ctx, inner)
    if found.op == "gather":
        return safe(found.args[0])
    if found.op == "where":
        parts = select_parts(found)
        return parts is not None and all(safe(b) for b in parts[1])
    return found.op == "dot" and squares.normalised_dot(ctx, step)


def _negative_times_nonnegative(ctx: Context, factor: cst.BaseExpression, other: cst.BaseExpression) -> bool:
    """-0.5 * (x / sigma) ** 2: a Gaussian exponent."""
    value = ctx.const(factor)
    if value is None or value >= 0:
        return False
    step = settled(ctx, other)
    return step is not None and _nonnegative(ctx, step)


def _nonnegative(ctx: Context, expr: cst.BaseExpression, depth: int = 4) -> bool:
    if squares.is_square(ctx, expr):
        return True
    if guards.is_binary(expr, cst.Add, cst.Multiply, cst.Divide):
        return depth > 0 and all(
            _nonnegative(ctx, settled(ctx, side) or side, depth - 1) for side in (expr.left, expr.right)
        )
    value = ctx.const(expr)
    if value is not None:
        return value >= 0
    found = op_call(ctx, expr)
    return found is not None and found.op in _NONNEGATIVE


# A name that says it holds a maximum (`maxval`, `x_max`, `running_max`, `m_max`).
_MAX_NAME = re.compile(r"(?:^|_|\.)(?:max|maxval|max_val|maximum|amax)(?:_|\d|$)|max$")


def subtracts_max(ctx: Context, expr: cst.BaseExpression, depth: int = 4, trusting: bool = True) -> bool:
    """Is expr a maximum of the values (or their logsumexp)? `x.max(-1, keepdims=True)`, `.values`, `[0]`,
    `stop_gradient(...)`, a segment max gathered back; an unknown variable or call gets the benefit of the doubt."""
    if depth <= 0:
        return False
    last = None
    for step in ctx.origins(expr):
        if ctx.const(step) is not None:
            return False
        if isinstance(step, cst.Subscript) or _attribute_of_value(step):
            return subtracts_max(ctx, step.value, depth - 1, trusting)
        if guards.is_variable(step):
            last = step
            continue
        found = ctx.call(step)
        if found is None:
            return trusting and isinstance(step, cst.Call)  # some helper of the project's own
        if found.op in ("max", "segment_max", "logsumexp"):
            return True
        if found.op == "maximum":  # builtins max(xs), or a running max: maximum(m_old, max(x)) >= max(x)
            return len(found.args) == 1 or any(subtracts_max(ctx, a, depth - 1) for a in found.args)
        if found.op == "layout" and found.args:  # m.unsqueeze(-1), reshape(m, ...)
            return subtracts_max(ctx, found.args[0], depth - 1)
        if found.op == "segment_sum":
            return segment_reduce(found) in ("max", "amax")
        if found.op == "gather" and found.args:
            return subtracts_max(ctx, found.args[0], depth - 1)
        return False
    if last is None or ctx.qualify(last) is not None:
        return False
    return trusting or _MAX_NAME.search(dotted(last) or "") is not None  # unseen: trusted, or named a max


def _is_min(ctx: Context, expr: cst.BaseExpression) -> bool:
    step = settled(ctx, expr)
    for _ in range(4):  # x.min(0).values, x.min(0)[0]; bounded: `x = x[0]` refers to itself
        if not (isinstance(step, cst.Subscript) or (step is not None and _attribute_of_value(step))):
            break
        step = settled(ctx, step.value)
    found = op_call(ctx, step)
    if found is None:
        return False
    if found.op == "minimum":
        return len(found.args) == 1
    return found.op == "min" or (found.op == "segment_sum" and segment_reduce(found) in ("min", "amin"))
