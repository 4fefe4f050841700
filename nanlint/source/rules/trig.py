"""NAN108: acos/asin of a cosine, and sqrt(1 - c**2), without clamping strictly inside [-1, 1]."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Rule

STRICT_CLAMP = "clamp it strictly inside (-1 + eps, 1 - eps) first"


class UnclampedAcos(Rule):
    """NAN108: acos(cosine_similarity(a, b)), asin(dot / (norm * norm)), sqrt(1 - cos**2)."""

    code = "NAN108"
    triggers = ("acos", "asin", "arccos", "arcsin", "sqrt", "**")
    uses = (guards.Surroundings,)

    @property
    def around(self) -> guards.Surroundings:
        return self.ctx.tracker(guards.Surroundings)

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
        clamp = guards.unit_clamp(self.ctx, operand)
        if clamp == "closed":
            if guards.differentiable(self.ctx, found) and self.around.traced(found.node):
                self._report(found.node, operand, f"{name} of a value clamped to [-1, 1]: its gradient is infinite "
                                                  f"at ±1 (NaN in training); {STRICT_CLAMP}")
        elif clamp is None:
            kind = guards.cosine_kind(self.ctx, operand)
            if kind is not None:
                self._report(found.node, operand, f"{name} of {kind} without clamping: rounding pushes it past ±1 "
                                                  f"(NaN) and the gradient is infinite at ±1; {STRICT_CLAMP}")

    def _check_sine(self, node: cst.CSTNode, operand: cst.BaseExpression, traced: bool,
                    clamped_at_zero: bool = False) -> None:
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

    def _check_one_minus_square(self, node: cst.CSTNode, expr: cst.BaseExpression, traced: bool,
                                clamped_at_zero: bool) -> None:
        expr = guards.peel(self.ctx, expr)
        if not (guards.is_binary(expr, cst.Subtract) and guards.const_is(self.ctx, expr.left, 1)
                and guards.is_square(self.ctx, expr.right)):
            return
        cosine = guards.square_base(self.ctx, expr.right)
        clamp = guards.unit_clamp(self.ctx, cosine)
        if clamp == "strict" or (clamp == "closed" or clamped_at_zero) and not traced:
            return  # without gradients, a clamp to [-1, 1] (or of 1 - c², at 0) is enough
        kind = "a value clamped to [-1, 1]" if clamp == "closed" else guards.cosine_kind(self.ctx, cosine)
        if kind is not None:
            self._report(node, cosine, f"sqrt(1 - c²) of {kind}: NaN when rounding makes |c| > 1 and an infinite "
                                       "gradient at |c| = 1; clamp c strictly inside (-1, 1) or 1 - c² to a positive "
                                       "minimum first")

    def _report(self, node: cst.CSTNode, operand: cst.BaseExpression, message: str) -> None:
        if not self.around.checked(operand):
            self.report(node, message)


RULES = [UnclampedAcos]
