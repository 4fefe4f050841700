"""NAN110: where(cond, f(x), y) with f unsafe at some x, guarded only by cond: NaN gradients."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Context
from nanlint.source.traversal import iter_nodes

# Ops whose derivative is infinite (or whose value is NaN) somewhere, by the name the message uses.
_UNSAFE = {"log": "log", "sqrt": "sqrt", "rsqrt": "rsqrt", "acos": "acos", "asin": "asin", "reciprocal": "reciprocal"}


class WhereGradientNan(guards.SurroundedRule):
    """NAN110: `where(x > 0, log(x), 0)`; the double where `where(x > 0, log(where(x > 0, x, 1)), 0)` is the fix."""

    code = "NAN110"
    triggers = ("where", "masked_fill", "select", "switch")
    overrides = ("NAN104", "NAN105", "NAN106", "NAN108")

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is None or found.op not in ("where", "masked_fill"):
            return
        parts = guards.select_parts(found)
        if parts is None or not guards.differentiable(self.ctx, found) or not self.around.traced(node):
            return  # NumPy's where has no gradients: the unused branch's inf is simply dropped
        condition, branches = parts
        compared = compared_variables(self.ctx, condition)
        if not compared:
            return
        for branch in branches:
            for inner in iter_nodes(branch):
                unsafe = self._unsafe(inner)
                if (
                    unsafe is not None
                    and compared & guards.variables(self.ctx, unsafe[1])
                    and not self._safe_input(unsafe[1])
                ):
                    self.report(
                        inner,
                        f"{unsafe[0]} in a {found.op}() branch guarded only by the condition: it is "
                        "still computed where the condition fails, and its infinite gradient there "
                        "becomes NaN (0 * inf); guard its input too (the double where: "
                        "f(where(cond, x, safe_x)))",
                    )

    def _unsafe(self, node: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
        """(what, input) of an op with an infinite derivative or a NaN value somewhere."""
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Divide):
                return "division", node.right
            if isinstance(node.operator, cst.Power) and _infinite_slope_at_zero(self.ctx.const(node.right)):
                return "power", node.left
            return None
        found = guards.call(self.ctx, node) if isinstance(node, cst.Call) else None
        if found is None or not found.args:
            return None
        if found.op in _UNSAFE:
            return _UNSAFE[found.op], found.args[0]
        if found.op == "div" and len(found.args) >= 2:
            return "division", found.args[1]
        if found.op == "pow" and len(found.args) >= 2 and _infinite_slope_at_zero(self.ctx.const(found.args[1])):
            return "power", found.args[0]
        return None

    def _safe_input(self, operand: cst.BaseExpression) -> bool:
        """Constant, guarded (+ eps, a clamp at eps), or itself selected (the double where)."""
        if self.ctx.const(operand) is not None or guards.guarded(self.ctx, operand):
            return True
        if any(guards.op(self.ctx, step) in ("where", "masked_fill") for step in guards.definitions(self.ctx, operand)):
            return True
        return any(
            guards.op(self.ctx, inner) in ("where", "masked_fill", "clamp", "maximum")
            for inner in iter_nodes(operand)
            if isinstance(inner, cst.Call)
        )


def _infinite_slope_at_zero(exponent: float | None) -> bool:
    """x**0.5, x**-1 (x**2.4 and x**2 have finite slopes at 0)."""
    return exponent is not None and exponent < 1 and exponent != 0 and (exponent < 0 or not exponent.is_integer())


def compared_variables(ctx: Context, condition: cst.BaseExpression) -> set[str]:
    """Variables a condition compares with a constant: `x > 0`, `n != 0`, `norm > eps`, `ok` after `ok = n > 0`."""
    tested = [condition] + [
        value
        for name in iter_nodes(condition)
        if isinstance(name, cst.Name)
        for value in [ctx.dataflow.value_of(name)]
        if isinstance(value, cst.BaseExpression)
    ]
    found: set[str] = set()
    for expr in tested:
        for node in iter_nodes(expr):
            if not isinstance(node, cst.Comparison):
                continue
            sides = [node.left, *(c.comparator for c in node.comparisons)]
            if any(guards.is_eps(ctx, side) or ctx.const(side) is not None for side in sides):
                for side in sides:
                    if ctx.const(side) is None:
                        found |= guards.variables(ctx, side)
    return found


RULES = [WhereGradientNan]
