"""NAN109: exp of a log-scale value (logvar, log_std, ...) that is not clamped first."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from nanlint.source import guards
from nanlint.source.names import dotted
from nanlint.source.rule import Context, Rule


class UnboundedExp(Rule):
    """NAN109: exp(0.5 * logvar), log_std.exp(), exp(logvar).clamp(max=...) without a clamp before exp."""

    code = "NAN109"
    triggers = ("exp",)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.clamped_after: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is None or not found.args:
            return
        if found.op in ("clamp", "minimum"):
            operand = guards.clamp_bounds(found)[0] if found.op == "clamp" else found.args[0]
            if guards.op(self.ctx, operand) == "exp":
                self.clamped_after.add(id(operand))
        elif found.op == "exp" and guards.differentiable(self.ctx, found):
            self._check(found)  # a learned log-scale parameter is what runs away; NumPy code learns nothing

    def _check(self, found) -> None:
        variable = scaled_variable(self.ctx, found.args[0])
        name = guards.identifier(variable)
        if name is None or not guards.names_match(name, tuple(self.option("log-scale-names"))):
            return
        if bounded_above(self.ctx, variable):
            return
        if id(found.node) in self.clamped_after:
            self.report(
                found.node,
                f"clamping exp({name}) afterwards is too late: exp has already overflowed to "
                f"inf and its gradient is NaN; clamp {name} before exp",
            )
        else:
            self.report(
                found.node,
                f"exp of the log-scale value {name} without clamping it first: it overflows to "
                f"inf for large values; clamp {name} before exp (e.g. to [-20, 20])",
            )


# --- bounded log-scale values (exp overflow) -----------------------------------------------------------------

_BOUNDING = frozenset({"tanh", "sigmoid", "minimum", "softsign"})


@guards.no_reentry(False)
def bounded_above(ctx: Context, expr: cst.BaseExpression | None, depth: int = 3) -> bool:
    """Is the value capped from above (a clamp with a max, minimum, tanh, sigmoid, a constant), here or earlier?

    An affine rescaling of a capped value is capped (`lo + (hi - lo) * (tanh(x) + 1) / 2`); so is a name
    re-assigned from its own old value, which the dataflow cannot see (quiet rather than wrong).
    """
    name = None
    for step in guards.definitions(ctx, expr):
        if ctx.const(step) is not None:
            return True
        if guards.is_variable(step):
            name = dotted(step)
            continue
        return any(_capped_leaf(ctx, leaf, name, depth) for leaf in _arithmetic_leaves(step))
    return False


def _arithmetic_leaves(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation):
            stack.extend((node.right, node.left))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
        else:
            yield node


def _capped_leaf(ctx: Context, leaf: cst.BaseExpression, name: str | None, depth: int) -> bool:
    leaf = guards.peel(ctx, leaf)
    if guards.is_variable(leaf):
        if ctx.const(leaf) is not None:
            return False
        return dotted(leaf) == name or (depth > 0 and bounded_above(ctx, leaf, depth - 1))
    found = guards.call(ctx, leaf)
    return found is not None and (
        found.op in _BOUNDING or (found.op == "clamp" and guards.clamp_bounds(found)[2] is not None)
    )


def scaled_variable(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    """The variable under constant scalings and indexing: `0.5 * logvar`, `-log_std`, `x[:, 1] / 2` -> the name."""
    for _ in range(8):
        expr = guards.peel(ctx, expr)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
            expr = expr.expression
        elif guards.is_binary(expr, cst.Multiply, cst.Divide):
            if ctx.const(expr.right) is not None:
                expr = expr.left
            elif ctx.const(expr.left) is not None and isinstance(expr.operator, cst.Multiply):
                expr = expr.right
            else:
                return expr
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        elif (
            guards.op(ctx, expr) in ("mul", "div")
            and len(guards.call(ctx, expr).args) == 2
            and ctx.const(guards.call(ctx, expr).args[1]) is not None
        ):
            expr = guards.call(ctx, expr).args[0]
        else:
            return expr
    return expr


RULES = [UnboundedExp]
