"""Squares written out: shared by the value analysis and the rules on sqrt, E[x^2] - E[x]^2 and cosines.

- `is_square` / `square_base`: x**2, x*x, square(x), pow(x, 2) and its x;
- `expanded_square_kind`: E[x^2] - E[x]^2 or |a|^2 + |b|^2 - 2ab, squares that cancel (can come out < 0);
- `variance_by_moments`: is it E[x^2] - E[x]^2 (NAN107)?
- `normalised_dot` / `has_norm`: is it a dot product of normalised vectors (a cosine), is it a norm?

Asked in semantic ops, through names (`ctx.origins`), the first deciding step wins.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from nanlint.source.guards import bare, const_is, is_binary, is_variable, no_reentry
from nanlint.source.rule import Context

# --- sums of squares (sqrt at 0) -----------------------------------------------------------------------


def is_square(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """x**2, x*x, square(x), pow(x, 2)."""
    if expr is None:
        return False
    expr = ctx.peel(expr)
    if is_binary(expr, cst.Power):
        return const_is(ctx, expr.right, 2)
    if is_binary(expr, cst.Multiply):
        return bare(ctx, expr.left) == bare(ctx, expr.right)
    found = ctx.call(expr)
    if found is None:
        return False
    return found.op == "square" or (found.op == "pow" and const_is(ctx, found.arg(1, "exponent", "y", "x2"), 2))


def square_base(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """x of x**2 / x*x / square(x) / pow(x, 2)."""
    expr = ctx.peel(expr)
    if isinstance(expr, cst.BinaryOperation):
        return expr.left
    found = ctx.call(expr)
    return found.args[0] if found and found.args else None


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


def _term_kind(ctx: Context, term: cst.BaseExpression, elementwise: bool = True) -> str | None:
    """ "a square" or "a sum of squares" for x**2, sum(x**2), var(x) (through indexing and reshapes)."""
    while isinstance(term, cst.Subscript):  # (a ** 2).sum(1)[:, None]
        term = term.value
    if is_square(ctx, term):
        return "a square" if elementwise else None
    found = ctx.call(ctx.peel(term))
    if found is None or not found.args:
        return None
    if found.op == "var" or (found.op in ("sum", "mean") and is_square(ctx, found.args[0])):
        return "a sum of squares"
    return None


def expanded_square_kind(ctx: Context, expr: cst.BinaryOperation) -> str | None:
    """E[x^2] - E[x]^2, or |a|^2 + |b|^2 - 2ab: a square written as a difference of terms that cancel.

    Terms are followed through names (`dist = -2 * a @ b.T; dist += sa + sb` with `sa = sum(a**2)`).
    """
    if isinstance(expr.operator, cst.Subtract) and variance_by_moments(ctx, expr):
        return "E[x²] - E[x]²"
    squares, products = 0, 0
    for negative, term in _signed_terms(_through_names(ctx, expr)):
        term = _settled_term(ctx, term)
        if _term_kind(ctx, term, elementwise=True) is not None:
            if negative:
                return None
            squares += 1
        elif _subtracted_product(ctx, term, negative):
            products += 1
        else:
            return None
    return "a squared distance expanded as |a|² + |b|² - 2a·b" if squares >= 2 and products else None


def _through_names(ctx: Context, expr: cst.BaseExpression, depth: int = 3) -> cst.BaseExpression:
    """A sum whose left operand is a name bound to a sum: `d = -2ab; d += s` reads as `-2ab + s`."""
    if depth <= 0 or not is_binary(expr, cst.Add, cst.Subtract):
        return expr
    left = expr.left
    if is_variable(left):
        value = ctx.values.index.value_of(left)
        if isinstance(value, cst.BinaryOperation):
            left = _through_names(ctx, value, depth - 1)
    return expr.with_changes(left=left) if left is not expr.left else expr


def _settled_term(ctx: Context, term: cst.BaseExpression) -> cst.BaseExpression:
    """The term's value through names and reshapes: `tf.reshape(xs, (-1, 1))` with `xs = sum(x**2)` -> the sum."""
    for _ in range(4):
        peeled = ctx.peel(term)
        while isinstance(peeled, cst.Subscript):
            peeled = ctx.peel(peeled.value)
        value = ctx.values.index.value_of(peeled) if is_variable(peeled) else None
        if value is None:
            return peeled
        term = value
    return term


def _subtracted_product(ctx: Context, term: cst.BaseExpression, negative: bool) -> bool:
    """-2 * (a @ b.T), -2 * a @ b.T, - 2 * dot(a, b), -(a * b).sum(): a product with a negative sign."""
    factors, sign = [], negative
    stack = [ctx.peel(term)]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            sign = not sign
            stack.append(node.expression)
        elif is_binary(node, cst.Multiply, cst.MatrixMultiply):
            stack.extend((node.left, node.right))
            factors.append(node)
        else:
            value = ctx.const(node)
            if value is not None:
                sign = sign != (value < 0)
            elif not factors and not _is_product(ctx, node):
                return False
    return sign and (bool(factors) or _is_product(ctx, term))


def _is_product(ctx: Context, expr: cst.BaseExpression) -> bool:
    expr = ctx.peel(expr)
    if is_binary(expr, cst.MatrixMultiply, cst.Multiply):
        return True
    found = ctx.call(expr)
    return found is not None and found.op in ("dot", "mul", "sum")


# --- E[x^2] - E[x]^2 -------------------------------------------------------------------------------------


def variance_by_moments(ctx: Context, expr: cst.BinaryOperation) -> bool:
    """`mean(x**2) - mean(x)**2` in any spelling, the same x on both sides (through names)."""
    second = _mean_of_square(ctx, expr.left)
    first = _square_of_mean(ctx, expr.right)
    return second is not None and first is not None and bare(ctx, ctx.peel(second)) == bare(ctx, ctx.peel(first))


@no_reentry(None)
def _mean_operand(ctx: Context, expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """x of mean(x), or of sum(x) / n."""
    for step in ctx.origins(expr, depth=2):
        if is_variable(step):
            continue
        found = ctx.call(step)
        if found is not None:
            return found.args[0] if found.op == "mean" and found.args else None
        if is_binary(step, cst.Divide):
            total = ctx.call(ctx.peel(step.left))
            return total.args[0] if total is not None and total.op == "sum" and total.args else None
        return None
    return None


def _mean_of_square(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    operand = _mean_operand(ctx, expr)
    return square_base(ctx, operand) if operand is not None and is_square(ctx, operand) else None


@no_reentry(None)
def _square_of_mean(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    for step in ctx.origins(expr, depth=2):
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
    expr = ctx.peel(expr)
    if is_binary(expr, cst.Divide) and has_norm(ctx, expr.right):  # dot(a, b) / norm(a) / norm(b)
        return _dot_operands(ctx, expr.left)
    if is_binary(expr, cst.MatrixMultiply, cst.Multiply):
        return [expr.left, expr.right]
    found = ctx.call(expr)
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
    for step in ctx.origins(expr):
        if isinstance(step, cst.Attribute) and step.attr.value in ("T", "mT"):
            return _is_normalised(ctx, step.value)
        if isinstance(step, cst.Subscript):
            return _is_normalised(ctx, step.value)
        if is_variable(step):
            continue
        if ctx.op(step) == "normalize":
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
    for step in ctx.origins(expr):
        if is_binary(step, cst.Multiply, cst.Add):
            return has_norm(ctx, step.left) or has_norm(ctx, step.right)
        if is_variable(step):
            continue
        found = ctx.call(step)
        if found is None:
            return False
        if found.op in ("clamp", "maximum") and found.args:
            return has_norm(ctx, found.args[0])
        return found.op == "norm" or (
            found.op == "sqrt"
            and bool(found.args)
            and ctx.values.of(found.args[0]).kind in ("square-sum", "square-terms")
        )
    return False
