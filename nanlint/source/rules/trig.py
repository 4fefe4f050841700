"""NAN108: acos/asin of a cosine, and sqrt(1 - c**2), without clamping strictly inside [-1, 1].

A cosine computed from vectors (a cosine similarity, a normalised dot product, a component of a
normalised vector, a value named like a cosine) lands just past ±1 after rounding: NaN. Clamped to
exactly [-1, 1] it no longer is NaN, but acos's derivative is infinite at ±1 (NaN in training).
"""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards, squares
from nanlint.source.rule import Context, OpCall
from nanlint.source.values import Fact
from nanlint.source.values.evidence import named

STRICT_CLAMP = "clamp it strictly inside (-1 + eps, 1 - eps) first"
CLOSED = "a value clamped to [-1, 1]"


class UnclampedAcos(guards.SurroundedRule):
    """NAN108: acos(cosine_similarity(a, b)), asin(dot / (norm * norm)), sqrt(1 - cos**2), acos(clamp(c, -1, 1))."""

    code = "NAN108"
    triggers = ("acos", "asin", "arccos", "arcsin", "sqrt", "**", "geodesic")
    overrides = ("NAN106",)  # sqrt(1 - c²) at |c| = 1 is this rule's

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is None or not found.args:
            return
        if found.op in ("acos", "asin"):
            self._check_arc(found)
        elif found.op == "geodesic":
            self._check_geodesic(found)
        elif found.op == "sqrt":
            self._check_sine(node, found.args[0], guards.differentiable(self.ctx, found) and self.around.traced(node))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power) and self.ctx.const(node.right) == 0.5:
            self._check_sine(node, node.left, guards.uses_autodiff(self.ctx) and self.around.traced(node))

    def _check_arc(self, found: OpCall) -> None:
        """acos(c): NaN once rounding pushes |c| past 1; its derivative is infinite at ±1."""
        name, operand = found.op, found.args[0]
        fact = self.ctx.values.of(operand)
        if strictly_inside(fact):
            return
        if closed(fact):
            if guards.differentiable(self.ctx, found) and self.around.traced(found.node):
                self._report(
                    found.node,
                    operand,
                    f"{name} of {CLOSED}: its gradient is infinite at ±1 (NaN in training); {STRICT_CLAMP}",
                    gradient=True,
                )
            return
        kind = cosine(self.ctx, operand, fact)
        if kind is not None:
            self._report(
                found.node,
                operand,
                f"{name} of {kind} without clamping: rounding pushes it past ±1 (NaN) and the gradient is "
                f"infinite at ±1; {STRICT_CLAMP}",
            )

    def _check_geodesic(self, found: OpCall) -> None:
        """A geodesic distance through acos of a cosine clamped to `clamping` (by default exactly 1)."""
        clamping = found.keywords.get("clamping")
        if clamping is not None and self.ctx.values.of(clamping).hi < 1:
            return
        if guards.differentiable(self.ctx, found) and self.around.traced(found.node):
            self.report_gradient(
                found.node,
                "geodesic distance through acos of a cosine clamped to [-1, 1] (clamping=1 by default): its "
                "gradient is infinite for equal or opposite rotations (NaN in training); pass clamping=1 - eps",
            )

    def _check_sine(self, node: cst.CSTNode, operand: cst.BaseExpression, traced: bool) -> None:
        """sqrt(1 - c**2): NaN when |c| rounds past 1, infinite gradient at |c| = 1."""
        clamped_at_zero = False
        for step in self.ctx.origins(operand):
            fact = self.ctx.values.of(step)
            if fact.nonzero:
                return
            if guards.is_variable(step):
                continue
            found = self.ctx.call(step)
            if found is not None and found.op in ("clamp", "maximum", "relu") and found.args and not clamped_at_zero:
                # clamp(1 - c**2, 0): no NaN any more, but still an infinite gradient at 0
                if not traced:
                    return
                operand, clamped_at_zero = found.args[0], True
                step = self.ctx.peel(operand)
            self._check_one_minus_square(node, step, traced, clamped_at_zero)
            return

    def _check_one_minus_square(
        self, node: cst.CSTNode, expr: cst.BaseExpression, traced: bool, clamped_at_zero: bool
    ) -> None:
        expr = self.ctx.peel(expr)
        if not (
            guards.is_binary(expr, cst.Subtract)
            and guards.const_is(self.ctx, expr.left, 1)
            and squares.is_square(self.ctx, expr.right)
        ):
            return
        base = squares.square_base(self.ctx, expr.right)
        if base is None:  # square() without an operand: nothing to judge
            return
        fact = self.ctx.values.of(base)
        if strictly_inside(fact) or ((closed(fact) or clamped_at_zero) and not traced):
            return  # without gradients, a clamp to [-1, 1] (or of 1 - c², at 0) is enough
        kind = CLOSED if closed(fact) else cosine(self.ctx, base, fact)
        if kind is not None:
            self._report(
                node,
                base,
                f"sqrt(1 - c²) of {kind}: NaN when rounding makes |c| > 1 and an infinite gradient at |c| = 1; "
                "clamp c strictly inside (-1, 1) or 1 - c² to a positive minimum first",
            )

    def _report(self, node: cst.CSTNode, operand: cst.BaseExpression, message: str, gradient: bool = False) -> None:
        if not self.around.checked(operand, "one"):
            (self.report_gradient if gradient else self.report)(node, message)


def strictly_inside(fact: Fact) -> bool:
    return -1 < fact.lo and fact.hi < 1


def closed(fact: Fact) -> bool:
    """Clamped to exactly [-1, 1] (or one side exactly)."""
    return fact.kind == "clamp" and fact.lo >= -1 and fact.hi <= 1 and (fact.lo == -1 or fact.hi == 1)


def cosine(ctx: Context, expr: cst.BaseExpression, fact: Fact) -> str | None:
    """Why a value is a cosine that rounding can push past ±1: its construction, or else its name."""
    if fact.rounding is not None:
        return fact.rounding.text
    for step in ctx.origins(expr, depth=2):
        name = guards.identifier(step)
        said = named(name, ()) if name is not None else None
        if said is not None and said.rounding is not None:
            return said.rounding.text
        if not guards.is_variable(step):
            return None
    return None


RULES = [UnclampedAcos]
