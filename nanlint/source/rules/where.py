"""NAN110: where() whose untaken branch is NaN or infinite for the values the condition excludes.

where(c, f(x), y) computes f(x) everywhere; where c fails, f's value is dropped but its gradient is
not: an infinite derivative there (log, sqrt, acos, a division at 0, an overflowing exp) times the
0 that where() passes back is NaN. A branch is unsafe where its op's input is what the condition
tests (`where(x > 0, log(x), 0)`, `where(x > 0, x, expm1(x))`), where its input can be 0 anyway
(a division by a norm), or where it calls one of the file's functions on a tested value. A masked
max (`max(x, where=m)`) subtracted before exp caps only the selected elements: exp of the others
overflows. The fix is the double where: f(where(c, x, safe_x)).
"""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Context, OpCall
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import DEGENERATE, select_parts, variables_of
from nanlint.source.values.index import Function

# Ops whose derivative is infinite (or whose value is NaN) somewhere, by the name the message uses.
_UNSAFE = {"log": "log", "sqrt": "sqrt", "rsqrt": "rsqrt", "acos": "acos", "asin": "asin", "reciprocal": "reciprocal"}
_OVERFLOWING = {"exp": "exp", "expm1": "expm1"}
_GUARDS = frozenset({"where", "masked_fill", "clamp", "maximum", "nan_to_num"})
# Ops whose only bad points are 0 (and below, for roots and logs): acos and asin also break at ±1.
_SINGULAR_AT_ZERO = frozenset({"log", "sqrt", "rsqrt", "reciprocal", "division", "power"})
MASKED_MAX = (
    "exp of x minus a max taken only where `where` holds: the excluded elements are not capped, exp overflows "
    "there and its inf turns the gradient NaN; take exp of where(mask, x, initial) - max instead"
)


def message(what: str, select: str) -> str:
    return (
        f"{what} in a {select}() branch guarded only by the condition: it is still computed where the condition "
        "fails, and its infinite gradient there becomes NaN (0 * inf); guard its input too (the double where: "
        "f(where(cond, x, safe_x)))"
    )


class WhereGradientNan(guards.SurroundedRule):
    """NAN110: `where(x > 0, log(x), 0)`; the double where `where(x > 0, log(where(x > 0, x, 1)), 0)` is the fix."""

    code = "NAN110"
    triggers = ("where", "masked_fill", "select", "switch")
    overrides = ("NAN104", "NAN105", "NAN106", "NAN108", "NAN109")

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is None or not guards.differentiable(self.ctx, found) or not self.around.traced(node):
            return  # NumPy's where has no gradients: the unused branch's inf is simply dropped
        if found.op == "exp" and found.args and _masked_max_subtracted(self.ctx, found.args[0]):
            self.report_gradient(node, MASKED_MAX)
            return
        if found.op not in ("where", "masked_fill"):
            return
        parts = select_parts(found)
        if parts is None:
            return
        condition, branches = parts
        compared = compared_variables(self.ctx, condition)
        for position, branch in enumerate(branches):
            taken_when = position == 0 or found.op == "masked_fill"
            self._branch(found, condition, branch, taken_when, compared)

    def _branch(
        self, found: OpCall, condition: cst.BaseExpression, branch: cst.BaseExpression, holds: bool, compared: set
    ) -> None:
        for inner in iter_nodes(branch):
            unsafe = self._unsafe(inner)
            if unsafe is not None:
                what, operand = unsafe
                if self._hazard(what, operand, condition, holds, compared):
                    self.report_gradient(inner, message(what, found.op))
            elif isinstance(inner, cst.Call) and compared:
                callee = self.ctx.values.index.callee(inner)
                if callee is not None and _unsafe_on(self.ctx, callee, inner, compared):
                    self.report_gradient(
                        found.node,
                        message(f"a call of {callee.name}, which divides or takes a root of its argument,", found.op),
                    )

    def _hazard(self, what: str, operand, condition, holds: bool, compared: set) -> bool:
        if self._safe_input(operand):
            return False
        if what in _OVERFLOWING.values():  # exp: dangerous where the excluded values are large
            excluded = self.ctx.values.refined(operand, condition, not holds)
            return bool(compared & variables_of(self.ctx, operand)) and excluded.hi >= 80
        if compared & variables_of(self.ctx, operand):
            return not self._clear_where_excluded(what, operand, condition, holds)
        return self.ctx.values.of(operand).can_be_zero(DEGENERATE) is not None

    def _clear_where_excluded(self, what: str, operand, condition, holds: bool) -> bool:
        """Where the branch is not taken, is its input away from the op's singular point? `log(-expm1(x))` taken
        for x >= t computes -expm1(x) > 0.5 for the excluded x < t = -log 2: two formulas of one value (log1mexp),
        each used where it is accurate, with no infinite derivative on either side."""
        if what not in _SINGULAR_AT_ZERO:
            return False
        excluded = self.ctx.values.refined(operand, condition, not holds)
        return excluded.lo > 0 or (what == "division" and excluded.nonzero)

    def _unsafe(self, node: cst.CSTNode) -> tuple[str, cst.BaseExpression] | None:
        """(what, input) of an op with an infinite derivative or a NaN value somewhere."""
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Divide):
                return "division", node.right
            if isinstance(node.operator, cst.Power) and _infinite_slope_at_zero(self.ctx.const(node.right)):
                return "power", node.left
            return None
        found = self.ctx.call(node) if isinstance(node, cst.Call) else None
        if found is None or not found.args:
            return None
        if found.op in _UNSAFE:
            return _UNSAFE[found.op], found.args[0]
        if found.op in _OVERFLOWING and not guards.python_scalar_op(found):
            return _OVERFLOWING[found.op], found.args[0]
        if found.op == "div" and len(found.args) >= 2:
            return "division", found.args[1]
        if found.op == "pow" and len(found.args) >= 2 and _infinite_slope_at_zero(self.ctx.const(found.args[1])):
            return "power", found.args[0]
        return None

    def _safe_input(self, operand: cst.BaseExpression) -> bool:
        """Constant, guarded (+ eps, a clamp at eps), or itself selected (the double where)."""
        if self.ctx.const(operand) is not None or self.ctx.values.of(operand).nonzero:
            return True
        if any(self.ctx.op(step) in ("where", "masked_fill") for step in self.ctx.origins(operand)):
            return True
        return any(self.ctx.op(inner) in _GUARDS for inner in iter_nodes(operand) if isinstance(inner, cst.Call))


def _infinite_slope_at_zero(exponent: float | None) -> bool:
    """x**0.5, x**-1 (x**2.4 and x**2 have finite slopes at 0)."""
    return exponent is not None and exponent < 1 and exponent != 0 and (exponent < 0 or not exponent.is_integer())


def _unsafe_on(ctx: Context, function: Function, call: cst.Call, compared: set[str]) -> bool:
    """Does the file's function divide by (or take the root, log of) a value of a parameter the condition tests?"""
    tested = {
        name for name, argument in function.bound_parameters(call).items() if variables_of(ctx, argument) & compared
    }
    if not tested:
        return False
    index = ctx.values.index
    for node in iter_nodes(function.node):
        operand = None
        if guards.is_binary(node, cst.Divide):
            operand = node.right
        elif isinstance(node, cst.Call) and ctx.op(node) in _UNSAFE and node.args:
            operand = node.args[0].value
        if operand is not None and _reads_parameters(ctx, index, operand, tested):
            return True
    return False


def _reads_parameters(ctx: Context, index, operand: cst.BaseExpression, parameters: set[str], depth: int = 4) -> bool:
    """Does the operand's value depend on one of the parameters (through the function's names)?"""
    pending, seen = [operand], set()
    while pending and depth > 0:
        depth -= 1
        current = pending
        pending = []
        for expr in current:
            for node in iter_nodes(expr):
                if not isinstance(node, (cst.Name, cst.Attribute)) or id(node) in seen:
                    continue
                seen.add(id(node))
                found = index.parameter(node)
                if found is not None and found[1] in parameters:
                    return True
                bound = index.value_of(node)
                if bound is not None:
                    pending.append(bound)
    return False


def _masked_max_subtracted(ctx: Context, exponent: cst.BaseExpression) -> bool:
    """exp(x - max(x, where=m)): the max of the selected elements only (unless x's others are replaced first)."""
    for step in ctx.values.origins(exponent):
        if guards.is_binary(step, cst.Subtract):
            if _selected(ctx, step.left):
                return False  # exp(where(m, x, initial) - max(x, where=m)): the excluded elements are capped too
            for subtrahend in ctx.values.origins(ctx.peel(step.right)):
                found = ctx.call(ctx.peel(subtrahend))
                if found is not None and found.op == "max":
                    return "where" in found.keywords and not _none(found.keywords["where"])
                if found is not None and found.op == "layout" and found.args:  # stop_gradient(x_max)
                    return _masked_max_subtracted_max(ctx, found.args[0])
            return False
        if not guards.is_variable(step):
            return False
    return False


def _selected(ctx: Context, expr: cst.BaseExpression) -> bool:
    for step in ctx.values.origins(expr):
        if isinstance(step, cst.IfExp):
            return _selected(ctx, step.body) or _selected(ctx, step.orelse)
        if ctx.op(step) in ("where", "masked_fill"):
            return True
        if not guards.is_variable(step):
            return False
    return False


def _masked_max_subtracted_max(ctx: Context, expr: cst.BaseExpression) -> bool:
    for step in ctx.values.origins(expr):
        found = ctx.call(step)
        if found is not None:
            return found.op == "max" and "where" in found.keywords and not _none(found.keywords["where"])
    return False


def _none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


_NUMERIC_TESTS = frozenset({"allclose", "isclose"})


def compared_variables(ctx: Context, condition: cst.BaseExpression) -> set[str]:
    """Variables a condition compares with a constant: `x > 0`, `n != 0`, `norm > eps`, `ok` after `ok = n > 0`,
    `allclose(v, 0)`, `d.gt(eps)`."""
    tested = [condition] + [
        value
        for name in iter_nodes(condition)
        if isinstance(name, cst.Name)
        for value in [ctx.values.index.value_of(name)]
        if isinstance(value, cst.BaseExpression)
    ]
    found: set[str] = set()
    for expr in tested:
        for node in iter_nodes(expr):
            if isinstance(node, cst.Comparison):
                sides = [node.left, *(c.comparator for c in node.comparisons)]
            elif isinstance(node, cst.Call) and _comparing_call(node):
                sides = [a.value for a in node.args] + (
                    [node.func.value] if isinstance(node.func, cst.Attribute) else []
                )
            else:
                continue
            if any(guards.is_eps(ctx, side) or ctx.const(side) is not None for side in sides):
                for side in sides:
                    if ctx.const(side) is None and not guards.is_eps(ctx, side):
                        found |= variables_of(ctx, side)
    return found


def _comparing_call(node: cst.Call) -> bool:
    name = guards.identifier(node.func)
    if name in _NUMERIC_TESTS:
        return True
    return isinstance(node.func, cst.Attribute) and name in ("gt", "ge", "lt", "le", "eq", "ne")


RULES = [WhereGradientNan]
