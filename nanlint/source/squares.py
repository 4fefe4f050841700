"""Sums of squares, variances and norms: shared by the rules on sqrt at 0, E[x^2] - E[x]^2, divisions and cosines.

- `square_sum_kind`: is it a sum of squares, a squared distance or a variance (sqrt at 0)?
- `variance_by_moments`: is it E[x^2] - E[x]^2?
- `normalised_dot` / `has_norm`: is it a dot product of normalised vectors (a cosine), is it a norm?

Asked like everything in nanlint.source.guards: in semantic ops, through names, first deciding step wins.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from nanlint.source.guards import (
    bare,
    call,
    clamp_bounds,
    const_is,
    definitions,
    is_binary,
    is_eps,
    is_variable,
    no_reentry,
    op,
    peel,
    positive_guard,
)
from nanlint.source.rule import Context, OpCall

# What a sqrt's argument is (NAN106).
SUM_OF_SQUARES = "a sum of squares"
SQUARED_DISTANCE = "a squared distance"
VARIANCE_UNDER_SQRT = "a variance"

# --- sums of squares (sqrt at 0) -----------------------------------------------------------------------


def is_square(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """x**2, x*x, square(x), pow(x, 2)."""
    if expr is None:
        return False
    expr = peel(ctx, expr)
    if is_binary(expr, cst.Power):
        return const_is(ctx, expr.right, 2)
    if is_binary(expr, cst.Multiply):
        return bare(ctx, expr.left) == bare(ctx, expr.right)
    found = call(ctx, expr)
    if found is None:
        return False
    return found.op == "square" or (found.op == "pow" and const_is(ctx, found.arg(1, "exponent", "y", "x2"), 2))


def square_base(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """x of x**2 / x*x / square(x) / pow(x, 2)."""
    expr = peel(ctx, expr)
    if isinstance(expr, cst.BinaryOperation):
        return expr.left
    found = call(ctx, expr)
    return found.args[0] if found and found.args else None


@no_reentry(None)
def square_sum_kind(ctx: Context, expr: cst.BaseExpression | None, elementwise: bool = True) -> str | None:
    """SUM_OF_SQUARES, SQUARED_DISTANCE or VARIANCE_UNDER_SQRT when it has no eps, else None.

    `elementwise` also accepts sums of squared scalars (`dx**2 + dy**2`); without it only
    reductions count (`sum(d**2)`, `var(x)`), which is what `** 0.5` of plain names needs to be
    told apart from scalar arithmetic such as `(sigma**2 + sigma_data**2) ** 0.5`.
    """
    for step in definitions(ctx, expr):
        if positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is not None:
            return _call_square_kind(ctx, found, elementwise)
        if is_binary(step, cst.Add, cst.Subtract):
            return _terms_kind(ctx, step, elementwise)
        return None
    return None


def _call_square_kind(ctx: Context, found: OpCall, elementwise: bool) -> str | None:
    if found.op == "var":
        return VARIANCE_UNDER_SQRT
    if found.op in ("sum", "mean") and found.args and is_square(ctx, found.args[0]):
        base = square_base(ctx, found.args[0])
        return SQUARED_DISTANCE if is_binary(peel(ctx, base), cst.Subtract) else SUM_OF_SQUARES
    if found.op in ("clamp", "relu", "abs", "maximum") and found.args:  # clamp(v, 0) still lets sqrt reach 0
        operand = clamp_bounds(found)[0] if found.op == "clamp" else found.args[0]
        return square_sum_kind(ctx, operand, elementwise)
    return None


def _terms_kind(ctx: Context, expr: cst.BinaryOperation, elementwise: bool) -> str | None:
    """E[x^2] - E[x]^2 (a variance); |a|^2 + |b|^2 - 2ab (a squared distance); x**2 + y**2 (a sum of squares).

    A difference of squares (`a**2 - b**2`, `b**2 - 4ac`) is none of these: it is not 0 only where
    everything is 0.
    """
    if isinstance(expr.operator, cst.Subtract) and variance_by_moments(ctx, expr):
        return VARIANCE_UNDER_SQRT
    squares, subtracted_products = 0, 0
    for negative, term in _signed_terms(expr):
        kind = _term_kind(ctx, term, elementwise)
        if (kind is not None and negative) or is_eps(ctx, term):
            return None
        if kind == SQUARED_DISTANCE:
            return kind
        if kind is not None:
            squares += 1
        elif negative and is_binary(peel(ctx, term), cst.Multiply, cst.MatrixMultiply):
            subtracted_products += 1
        else:
            return None
    if squares >= 2 and subtracted_products:
        return SQUARED_DISTANCE
    return SUM_OF_SQUARES if squares >= 2 and not subtracted_products else None


def _signed_terms(expr: cst.BaseExpression) -> Iterator[tuple[bool, cst.BaseExpression]]:
    """The terms of a sum with their signs, left to right (iterative: sums can be long)."""
    stack = [(False, expr)]
    while stack:
        negative, node = stack.pop()
        if is_binary(node, cst.Add, cst.Subtract):
            stack.append((negative != isinstance(node.operator, cst.Subtract), node.right))
            stack.append((negative, node.left))
        else:
            yield negative, node


def _term_kind(ctx: Context, term: cst.BaseExpression, elementwise: bool) -> str | None:
    while isinstance(term, cst.Subscript):  # (a ** 2).sum(1)[:, None]
        term = term.value
    if is_square(ctx, term):
        return SUM_OF_SQUARES if elementwise else None
    found = call(ctx, peel(ctx, term))
    return _call_square_kind(ctx, found, elementwise) if found is not None else None


# --- E[x^2] - E[x]^2 -------------------------------------------------------------------------------------


def variance_by_moments(ctx: Context, expr: cst.BinaryOperation) -> bool:
    """`mean(x**2) - mean(x)**2` in any spelling, the same x on both sides (through names)."""
    second = _mean_of_square(ctx, expr.left)
    first = _square_of_mean(ctx, expr.right)
    return second is not None and first is not None and bare(ctx, peel(ctx, second)) == bare(ctx, peel(ctx, first))


@no_reentry(None)
def _mean_operand(ctx: Context, expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """x of mean(x), or of sum(x) / n."""
    for step in definitions(ctx, expr, depth=2):
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is not None:
            return found.args[0] if found.op == "mean" and found.args else None
        if is_binary(step, cst.Divide):
            total = call(ctx, peel(ctx, step.left))
            return total.args[0] if total is not None and total.op == "sum" and total.args else None
        return None
    return None


def _mean_of_square(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    operand = _mean_operand(ctx, expr)
    return square_base(ctx, operand) if operand is not None and is_square(ctx, operand) else None


@no_reentry(None)
def _square_of_mean(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    for step in definitions(ctx, expr, depth=2):
        if is_square(ctx, step):
            return _mean_operand(ctx, square_base(ctx, step))
        if not is_variable(step):
            return None
    return None


# --- norms and normalised dot products ---------------------------------------------------------------------


def normalised_dot(ctx: Context, expr: cst.BaseExpression) -> bool:
    """dot(a, b) / (norm(a) * norm(b)); (a * b).sum(-1), a @ b, einsum(..., a, b) of normalised a and b."""
    if is_binary(expr, cst.Divide):
        return has_norm(ctx, expr.right) and _dot_operands(ctx, expr.left) is not None
    operands = _dot_operands(ctx, expr)
    return operands is not None and len(operands) >= 2 and all(_is_normalised(ctx, o) for o in operands[:2])


@no_reentry(None)
def _dot_operands(ctx: Context, expr: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    expr = peel(ctx, expr)
    if is_binary(expr, cst.Divide) and has_norm(ctx, expr.right):  # dot(a, b) / norm(a) / norm(b)
        return _dot_operands(ctx, expr.left)
    if is_binary(expr, cst.MatrixMultiply, cst.Multiply):
        return [expr.left, expr.right]
    found = call(ctx, expr)
    if found is None:
        return None
    if found.op == "sum" and found.args:
        return _dot_operands(ctx, found.args[0])
    if found.op in ("dot", "mul"):
        return [a for a in found.args if not isinstance(a, (cst.SimpleString, cst.ConcatenatedString))]
    return None


@no_reentry(False)
def _is_normalised(ctx: Context, expr: cst.BaseExpression) -> bool:
    """normalize(x), x / norm(x), through names, transposes and indexing."""
    for step in definitions(ctx, expr):
        if isinstance(step, cst.Attribute) and step.attr.value in ("T", "mT"):
            return _is_normalised(ctx, step.value)
        if isinstance(step, cst.Subscript):
            return _is_normalised(ctx, step.value)
        if is_variable(step):
            continue
        if op(ctx, step) == "normalize":
            return True
        if (
            isinstance(step, cst.Call)
            and isinstance(step.func, cst.Attribute)
            and step.func.attr.value in ("t", "transpose", "permute")
        ):
            return _is_normalised(ctx, step.func.value)
        return is_binary(step, cst.Divide) and has_norm(ctx, step.right)
    return False


@no_reentry(False)
def has_norm(ctx: Context, expr: cst.BaseExpression) -> bool:
    """A norm, a product of norms, or sqrt of a sum of squares (possibly clamped or with an eps)."""
    for step in definitions(ctx, expr):
        if is_binary(step, cst.Multiply, cst.Add):
            return has_norm(ctx, step.left) or has_norm(ctx, step.right)
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is None:
            return False
        if found.op in ("clamp", "maximum") and found.args:
            return has_norm(ctx, found.args[0])
        return found.op == "norm" or (
            found.op == "sqrt"
            and bool(found.args)
            and square_sum_kind(ctx, found.args[0]) in (SUM_OF_SQUARES, SQUARED_DISTANCE)
        )
    return False
