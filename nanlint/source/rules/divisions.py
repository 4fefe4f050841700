"""NAN105: division by a sum, norm, std/var or count that can be 0."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import PendingFix, Rule

_ADVICE = {
    guards.NORM: "clamp the norm (norm.clamp(min=eps)) or use a normalize function, which has its own eps",
    guards.COUNT: "divide by the count clamped to at least 1 (max(n, 1))",
    guards.NONZERO_COUNT: "divide by the count clamped to at least 1 (max(n, 1))",
}


class UnguardedDivision(Rule):
    """NAN105: `x / d` where d is a sum, norm, std, var or count without an eps or clamp."""

    code = "NAN105"
    triggers = ("/", "div", "reciprocal")
    uses = (guards.Surroundings,)
    options = {
        # also flag `x / x.sum()` of values not known to be masked or relu'd (off: normalising positive
        # weights is everywhere and rarely all-zero)
        "plain-sums": False,
        "fix-eps": 1e-8,
    }

    @property
    def around(self) -> guards.Surroundings:
        return self.ctx.tracker(guards.Surroundings)

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is None:
            return
        if found.op == "div":
            denominator = found.arg(1, "other", "y", "x2")
            if denominator is not None and "where" not in found.keywords:  # np.divide(a, b, where=b != 0)
                self._check(node, denominator, enclose=False)
        elif found.op == "reciprocal" and found.args:
            self._check(node, found.args[0], enclose=False)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.right, enclose=True)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.DivideAssign):
            self._check(node.value, node.value, enclose=False)

    def _check(self, division: cst.CSTNode, denominator: cst.BaseExpression, enclose: bool) -> None:
        reason = guards.denominator_reason(self.ctx, denominator, self.option("plain-sums"))
        if reason is None or self.around.checked(denominator):
            return
        eps = self.option("fix-eps")
        fix = PendingFix("unsafe", f"add {guards.number(eps)} to the denominator",
                         ((denominator, guards.plus_eps(self.ctx, denominator, eps, enclose)),))
        advice = _ADVICE.get(reason, "add an eps (x / (d + eps)) or clamp it (d.clamp(min=eps))")
        self.report(division, f"division by {reason}: inf or NaN there; {advice}", fix)


RULES = [UnguardedDivision]
