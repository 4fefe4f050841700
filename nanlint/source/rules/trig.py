"""NAN108: acos/asin of a cosine, and sqrt(1 - c**2), without clamping strictly inside [-1, 1]."""

from __future__ import annotations

import math
import re

import libcst as cst

from nanlint.source import guards, squares
from nanlint.source.rule import Context

STRICT_CLAMP = "clamp it strictly inside (-1 + eps, 1 - eps) first"

_COSINE_NAME = re.compile(r"(?:^|_)cos(?:ine)?(?:_|\d|$)|^cos(?:ine)?(?:theta|sim|_?angle)")

COSINE_SIMILARITY = "a cosine similarity"
NORMALISED_DOT = "a normalised dot product"
COSINE = "a cosine"


class UnclampedAcos(guards.SurroundedRule):
    """NAN108: acos(cosine_similarity(a, b)), asin(dot / (norm * norm)), sqrt(1 - cos**2)."""

    code = "NAN108"
    triggers = ("acos", "asin", "arccos", "arcsin", "sqrt", "**")

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is None or not found.args:
            return
        if found.op in ("acos", "asin"):
            self._check_arc(found)
        elif found.op == "sqrt":
            self._check_sine(node, found.args[0], guards.differentiable(self.ctx, found) and self.around.traced(node))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power) and self.ctx.const(node.right) == 0.5:
            self._check_sine(node, node.left, guards.uses_autodiff(self.ctx) and self.around.traced(node))

    def _check_arc(self, found) -> None:
        """acos(c): NaN once rounding pushes |c| past 1; its derivative is infinite at ±1."""
        name, operand = found.op, found.args[0]
        clamp = unit_clamp(self.ctx, operand)
        if clamp == "closed":
            if guards.differentiable(self.ctx, found) and self.around.traced(found.node):
                self._report(
                    found.node,
                    operand,
                    f"{name} of a value clamped to [-1, 1]: its gradient is infinite "
                    f"at ±1 (NaN in training); {STRICT_CLAMP}",
                )
        elif clamp is None:
            kind = cosine_kind(self.ctx, operand)
            if kind is not None:
                self._report(
                    found.node,
                    operand,
                    f"{name} of {kind} without clamping: rounding pushes it past ±1 "
                    f"(NaN) and the gradient is infinite at ±1; {STRICT_CLAMP}",
                )

    def _check_sine(
        self, node: cst.CSTNode, operand: cst.BaseExpression, traced: bool, clamped_at_zero: bool = False
    ) -> None:
        """sqrt(1 - c**2): NaN when |c| rounds past 1, infinite gradient at |c| = 1."""
        for step in guards.definitions(self.ctx, operand):
            if guards.positive_guard(self.ctx, step):
                return
            if guards.is_variable(step):
                continue
            found = guards.call(self.ctx, step)
            if found is not None and found.op in ("clamp", "maximum", "relu") and not clamped_at_zero:
                # clamp(1 - c**2, 0): no NaN any more, but still an infinite gradient at 0
                inner = guards.clamp_bounds(found)[0] if found.op == "clamp" else found.args[0]
                if inner is not None:
                    self._check_sine(node, inner, traced, clamped_at_zero=True)
                return
            self._check_one_minus_square(node, step, traced, clamped_at_zero)
            return

    def _check_one_minus_square(
        self, node: cst.CSTNode, expr: cst.BaseExpression, traced: bool, clamped_at_zero: bool
    ) -> None:
        expr = guards.peel(self.ctx, expr)
        if not (
            guards.is_binary(expr, cst.Subtract)
            and guards.const_is(self.ctx, expr.left, 1)
            and squares.is_square(self.ctx, expr.right)
        ):
            return
        cosine = squares.square_base(self.ctx, expr.right)
        clamp = unit_clamp(self.ctx, cosine)
        if clamp == "strict" or ((clamp == "closed" or clamped_at_zero) and not traced):
            return  # without gradients, a clamp to [-1, 1] (or of 1 - c², at 0) is enough
        kind = "a value clamped to [-1, 1]" if clamp == "closed" else cosine_kind(self.ctx, cosine)
        if kind is not None:
            self._report(
                node,
                cosine,
                f"sqrt(1 - c²) of {kind}: NaN when rounding makes |c| > 1 and an infinite "
                "gradient at |c| = 1; clamp c strictly inside (-1, 1) or 1 - c² to a positive "
                "minimum first",
            )

    def _report(self, node: cst.CSTNode, operand: cst.BaseExpression, message: str) -> None:
        if not self.around.checked(operand):
            self.report(node, message)


# --- cosines and the unit interval --------------------------------------------------------------------------


@guards.no_reentry(None)
def unit_clamp(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """ "strict" if clamped strictly inside (-1, 1) (here or on an earlier line), "closed" if to [-1, 1]."""
    for step in guards.definitions(ctx, expr):
        found = guards.call(ctx, step)
        if found is not None and found.op == "clamp":
            _, lower, upper = guards.clamp_bounds(found)
            low, high = _inside_unit(ctx, lower, -1), _inside_unit(ctx, upper, 1)
            if low is not None and high is not None:
                return "strict" if low and high else "closed"
            return None
        if not guards.is_variable(step):
            return None
    return None


def _inside_unit(ctx: Context, bound: cst.BaseExpression | None, unit: int) -> bool | None:
    """True if the bound is strictly inside ±1, False if it is ±1 itself, None if beyond or unknown."""
    if bound is None:
        return None
    value = ctx.const(bound)
    if value is not None:
        return None if math.isnan(value) or abs(value) > 1 or value * unit < 0 else abs(value) < 1
    if isinstance(bound, cst.UnaryOperation) and isinstance(bound.operator, cst.Minus):  # -(1 - eps)
        return _inside_unit(ctx, bound.expression, -unit)
    if unit > 0 and guards.is_binary(bound, cst.Subtract) and guards.const_is(ctx, bound.left, 1):  # 1 - eps
        return True if guards.is_eps(ctx, bound.right) else None
    if unit < 0 and guards.is_binary(bound, cst.Add):  # -1 + eps, eps - 1 is a Subtract
        pair = (bound.left, bound.right)
        return (
            True if any(guards.const_is(ctx, a, -1) and guards.is_eps(ctx, b) for a, b in (pair, pair[::-1])) else None
        )
    if (
        unit < 0
        and guards.is_binary(bound, cst.Subtract)
        and guards.const_is(ctx, bound.right, 1)
        and guards.is_eps(ctx, bound.left)
    ):
        return True
    return None


@guards.no_reentry(None)
def cosine_kind(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """Why a value is a cosine that may round past ±1, or None."""
    for step in guards.definitions(ctx, expr):
        if guards.is_variable(step):
            if ctx.dataflow.value_of(step) is None and _COSINE_NAME.search((guards.identifier(step) or "").lower()):
                return COSINE
            continue
        found = guards.call(ctx, step)
        if found is not None and found.op in ("cosine_similarity", "cos"):
            return COSINE_SIMILARITY if found.op == "cosine_similarity" else COSINE
        return NORMALISED_DOT if squares.normalised_dot(ctx, step) else None
    return None


RULES = [UnclampedAcos]
