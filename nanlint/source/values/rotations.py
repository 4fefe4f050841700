"""The cosine of a rotation's angle, cos θ = (trace(R) - 1) / 2: exactly ±1 at the identity and at a half turn,
where rounding in R's entries puts it just past (acos of it is NaN, and its gradient infinite at ±1).

A trace is spelled many ways: trace(R), einsum('...ii', R), R.diagonal(...).sum(-1), or the diagonal entries
added by hand, R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2]. The facts mark each as kind "trace"; the affine map
(t - 1) / 2, (t - 1) * 0.5 or 0.5 * (t - 1) of such a value is the rotation's cosine.
"""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source.values.fact import BUILT, Fact, Reason

ROTATION_COSINE = Fact(
    lo=-1,
    hi=1,
    rounding=Reason("the rotation cosine (trace - 1) / 2", BUILT, "cosine"),
    why="the cosine of a rotation's angle",
    kind="cosine",
)
TRACE = Fact(why="a matrix trace", kind="trace")
_TRACE_EQUATION = re.compile(r"^\s*(\.\.\.)?\s*([a-z]*)([a-z])\3\s*(->\s*(\.\.\.)?\s*[a-z]*\s*)?$")


def trace_equation(equation: str) -> bool:
    """einsum('...ii', R), einsum('bii->b', R): one operand whose last two indices repeat, summed away."""
    match = _TRACE_EQUATION.match(equation)
    return match is not None and (match.group(4) is None or match.group(3) not in match.group(4))


def diagonal_entries(expr: cst.BaseExpression, const) -> bool:
    """R[..., 0, 0] + R[..., 1, 1] (+ R[..., 2, 2]): distinct diagonal entries of one matrix, added."""
    terms: list[cst.BaseExpression] = []
    while isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        terms.append(expr.right)
        expr = expr.left
    terms.append(expr)
    entries = [entry for entry in (_diagonal_entry(term, const) for term in terms) if entry is not None]
    if len(terms) < 2 or len(entries) < len(terms):
        return False
    indices = [index for _, index in entries]
    return len({base for base, _ in entries}) == 1 and len(set(indices)) == len(indices)


def _diagonal_entry(term: cst.BaseExpression, const) -> tuple[str, float] | None:
    if not isinstance(term, cst.Subscript) or len(term.slice) < 2:
        return None
    row, column = (_index(element, const) for element in term.slice[-2:])
    if row is None or row != column:
        return None
    code = cst.Module([]).code_for_node
    return code(term.value) + str([code(element) for element in term.slice[:-2]]), row


def _index(element: cst.SubscriptElement, const) -> float | None:
    return const(element.slice.value) if isinstance(element.slice, cst.Index) else None


def rotation_cosine(expr: cst.BinaryOperation, of, const) -> bool:
    """(t - 1) / 2, (t - 1) * 0.5 or 0.5 * (t - 1), with t a trace (`of` gives an operand's fact)."""
    if isinstance(expr.operator, cst.Divide) and const(expr.right) == 2:
        shifted = expr.left
    elif isinstance(expr.operator, cst.Multiply) and const(expr.right) == 0.5:
        shifted = expr.left
    elif isinstance(expr.operator, cst.Multiply) and const(expr.left) == 0.5:
        shifted = expr.right
    else:
        return False
    return (
        isinstance(shifted, cst.BinaryOperation)
        and isinstance(shifted.operator, cst.Subtract)
        and const(shifted.right) == 1
        and of(shifted.left).kind == "trace"
    )
