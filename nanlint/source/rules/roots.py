"""NAN106: sqrt of a sum of squares, squared distance or variance with no eps inside."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards, squares
from nanlint.source.traversal import iter_nodes

_HALF_POWERS = {0.5: "sqrt", -0.5: "rsqrt"}


class SqrtAtZero(guards.SurroundedRule):
    """NAN106: sqrt(sum(x**2)), sqrt(var), rsqrt(mean(x**2)) without an eps under the root, where gradients flow."""

    code = "NAN106"
    triggers = ("sqrt", "**", "pow")

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is None or not found.args:
            return
        if found.op in ("sqrt", "rsqrt"):
            self._check(node, found.op, found.args[0], guards.differentiable(self.ctx, found))
        elif found.op == "pow":
            root = _HALF_POWERS.get(self.ctx.const(found.arg(1, "exponent")))
            if root is not None:
                self._check(node, root, found.args[0], guards.differentiable(self.ctx, found))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power):
            root = _HALF_POWERS.get(self.ctx.const(node.right))
            if root is not None:  # `** 0.5` of plain names is as often scalar arithmetic: reductions only
                self._check(node, root, node.left, self._framework_values(node.left), elementwise=False)

    def _framework_values(self, operand: cst.BaseExpression) -> bool:
        """`sum(d**2) ** 0.5`: differentiable when its values come from a differentiable framework."""
        for inner in iter_nodes(operand):
            found = guards.call(self.ctx, inner) if isinstance(inner, cst.Call) else None
            if found is not None and found.qualified is not None:
                return guards.differentiable(self.ctx, found)
        return guards.uses_autodiff(self.ctx)

    def _check(
        self, node: cst.CSTNode, root: str, operand: cst.BaseExpression, differentiable: bool, elementwise: bool = True
    ) -> None:
        if not differentiable or not self.around.traced(node):
            return  # NumPy, math, no_grad code: sqrt(0) is a fine 0 when no gradient is taken
        kind = squares.square_sum_kind(self.ctx, operand, elementwise)
        if kind is None or self.around.checked(operand):
            return
        if root == "rsqrt":
            self.report(node, f"rsqrt of {kind} with no eps inside is inf at 0; add the eps inside (rsqrt(v + eps))")
        else:
            self.report(
                node,
                f"sqrt of {kind} with no eps inside: its gradient is infinite at 0 (NaN in training); "
                "add the eps inside the sqrt (sqrt(v + eps)) or use a norm function",
            )


RULES = [SqrtAtZero]
