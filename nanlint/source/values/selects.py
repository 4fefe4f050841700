"""A select written as a sum: `a * (x <= t).float() + b * (x > t).float()` is `where(x <= t, a, b)`.

Each term is 0 where its indicator is, but the two indicators are complementary, so at every element exactly one
term survives: the sum takes a's or b's value, never the 0 a mask leaves. Its fact is the join of a's and b's,
as a where()'s is. Branch-free code (piecewise splines, clipped objectives written without `where`) spells its
selects this way.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from nanlint.source.values import arithmetic
from nanlint.source.values.fact import Fact, join

# The comparison each operator's complement is, on the same operands: `x <= t` and `x > t`.
_COMPLEMENTS: dict[type, type] = {
    cst.LessThan: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.LessThan,
    cst.LessThanEqual: cst.GreaterThan,
    cst.GreaterThan: cst.LessThanEqual,
    cst.Equal: cst.NotEqual,
    cst.NotEqual: cst.Equal,
}
_INDICATOR_OPS = frozenset({"cast", "float"})


def select_as_sum(ctx, expr: cst.BinaryOperation, fact_of: Callable[[cst.BaseExpression], Fact]) -> Fact | None:
    """The fact of `a * [c] + b * [not c]` (as `where(c, a, b)`), or None when expr is no such sum."""
    if not isinstance(expr.operator, cst.Add):
        return None
    left, right = _split(ctx, expr.left), _split(ctx, expr.right)
    if left is None or right is None or not _complementary(ctx, left[0], right[0]):
        return None
    return join(_product(left[1], fact_of), _product(right[1], fact_of))


def _split(ctx, term: cst.BaseExpression) -> tuple[cst.Comparison, list[cst.BaseExpression]] | None:
    """(the indicator's comparison, the other factors) of a product with exactly one indicator factor."""
    factors = _factors(term)
    indicators = [(i, c) for i, c in ((i, _indicator(ctx, f)) for i, f in enumerate(factors)) if c is not None]
    if len(indicators) != 1 or len(factors) < 2:
        return None
    index, comparison = indicators[0]
    return comparison, factors[:index] + factors[index + 1 :]


def _factors(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        return _factors(expr.left) + _factors(expr.right)
    return [expr]


def _indicator(ctx, expr: cst.BaseExpression) -> cst.Comparison | None:
    """The comparison of `(x <= t).float()`, `cast(x <= t, dtype)`, or a bare comparison."""
    if isinstance(expr, cst.Comparison):
        return expr if len(expr.comparisons) == 1 else None
    found = ctx.call(expr)
    if found is not None and found.op in _INDICATOR_OPS and found.args:
        inner = found.args[0]
        return inner if isinstance(inner, cst.Comparison) and len(inner.comparisons) == 1 else None
    return None


def _complementary(ctx, a: cst.Comparison, b: cst.Comparison) -> bool:
    """`x <= t` and `x > t` (or `t < x`): the same operands under complementary operators."""
    a_op, b_op = a.comparisons[0].operator, b.comparisons[0].operator
    a_sides = (ctx.code_of(a.left), ctx.code_of(a.comparisons[0].comparator))
    b_sides = (ctx.code_of(b.left), ctx.code_of(b.comparisons[0].comparator))
    if a_sides == b_sides:
        return _COMPLEMENTS.get(type(a_op)) is type(b_op)
    if a_sides == b_sides[::-1]:  # x <= t and t < x
        return _COMPLEMENTS.get(type(a_op)) is _MIRRORED.get(type(b_op))
    return False


_MIRRORED: dict[type, type] = {
    cst.LessThan: cst.GreaterThan,
    cst.GreaterThan: cst.LessThan,
    cst.LessThanEqual: cst.GreaterThanEqual,
    cst.GreaterThanEqual: cst.LessThanEqual,
    cst.Equal: cst.Equal,
    cst.NotEqual: cst.NotEqual,
}


def _product(factors: list[cst.BaseExpression], fact_of: Callable[[cst.BaseExpression], Fact]) -> Fact:
    fact = fact_of(factors[0])
    for factor in factors[1:]:
        fact = arithmetic.multiply(fact, fact_of(factor))
    return fact
