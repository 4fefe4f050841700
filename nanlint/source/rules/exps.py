"""NAN109: exp whose argument is unbounded above, where its overflow breaks a result that is finite.

- a log-scale value (`logvar`, `log_std`, ...; a name the option lists) learned by a differentiable
  model, not clamped before exp, where gradients flow (not in no_grad sampling code or a logged `.item()`);
- any exp clamped only *after* it (`exp(x).clamp(max=...)`) where gradients flow: the author expects it
  to overflow, and the clamp comes too late for the gradient;
- a sigmoid written by hand, `1 / (1 + exp(-x))` or `exp(x) / (1 + exp(x))`, whose true value is
  in [0, 1]: exp overflows, inf / inf is NaN and the gradient is inf * 0;
- an inverse softplus `log(exp(y) - 1)`: exp(y) overflows for y > ~88 where the result is about y;
- exp of data rescaled by its own statistics (`exp(eta * (y - y.mean()) / y.std())`, softmax-style weights of
  acquisition values or rewards): its range is the data's, unbounded, unless the result is tested for inf;
- exp(x) beside exp(-x) of the same x (a hand-written cosh, sinh or tanh): one of the two overflows for any
  large |x|.

The argument's fact decides whether it is bounded above (a clamp with a max, tanh, a shifted
max...). `math.exp` raises OverflowError instead of returning inf and is left alone; so is a
naive softmax or softplus, which NAN101 and NAN103 report.
"""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.exponents import additive_terms
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall
from nanlint.source.traversal import iter_nodes
from nanlint.source.values.fact import INF

_OVERFLOW = 80.0  # exp(88.7) overflows float32
HAND_SIGMOID = (
    "sigmoid written with exp: exp overflows to inf for large |x| (float32: beyond ~88), which makes "
    "inf / inf = NaN or an inf * 0 = NaN gradient; use sigmoid(x) (expit in NumPy/SciPy)"
)
HAND_HYPERBOLIC = (
    "exp(x) and exp(-x) of the same x (a cosh, sinh or tanh written with exp): one of them overflows to inf "
    "for |x| > ~88 (float32), and inf - inf or inf / inf is NaN; use cosh/sinh/tanh, or a log-space form "
    "(log(cosh(x)) = x + softplus(-2x) - log(2))"
)
_STATISTICS = frozenset({"mean", "std", "var", "variance"})
_INF_TESTS = frozenset({"isinf", "is_inf", "isposinf"})  # `isfinite`/`isnan` are ops of their own
INVERSE_SOFTPLUS = (
    "log(exp(y) - 1) overflows: exp(y) is inf for y > ~88 (float32) where the result is about y; "
    "compute it as y + log(-expm1(-y))"
)


class UnboundedExp(guards.SurroundedRule):
    """NAN109: exp(0.5 * logvar), exp(x).clamp(max=...), 1 / (1 + exp(-x)), log(exp(y) - 1)."""

    code = "NAN109"
    triggers = ("exp",)
    overrides = ("NAN113",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.clamped_after: set[int] = set()
        self.written: set[int] = set()  # exps already reported as part of a hand-written formula

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            exp = self._hand_sigmoid(node)
            if exp is not None:
                self.written.add(id(exp.node))
                self.report(node, HAND_SIGMOID, covers=(exp.node,))
        elif isinstance(node.operator, (cst.Add, cst.Subtract)):
            pair = self._hand_hyperbolic(node)
            if pair and not all(id(e.node) in self.written for e in pair):  # (a - b) / (a + b): once
                self.written.update(id(e.node) for e in pair)
                self.report(node, HAND_HYPERBOLIC, covers=tuple(e.node for e in pair))

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is None or not found.args:
            return
        if found.op in ("clamp", "minimum"):
            from nanlint.source.values import clamp_bounds

            operand, _, upper = clamp_bounds(found) if found.op == "clamp" else (found.args[0], None, found.args[-1])
            cap = self.ctx.values.of(upper) if upper is not None else None
            if cap is not None and cap.hi > 100 and self.ctx.op(operand) == "exp":  # a cap against overflow
                self.clamped_after.add(id(operand))
        elif found.op == "log":
            exp = self._inverse_softplus(found)
            if exp is not None:
                self.written.add(id(exp.node))
                self.report(node, INVERSE_SOFTPLUS, covers=(exp.node,))
        elif found.op == "exp" and id(node) not in self.written and not guards.python_scalar_op(found):
            self._check(found)

    def _check(self, found: OpCall) -> None:
        argument = found.args[0]
        if bounded(self.ctx, argument):
            return
        variable = scaled_variable(self.ctx, argument)
        name = guards.identifier(variable) or ""
        log_scale = guards.differentiable(self.ctx, found) and guards.names_match(
            name, tuple(self.option("log-scale-names"))
        )
        if id(found.node) in self.clamped_after or log_scale:
            self._check_log_scale(found, variable, name, log_scale)
            return
        data = rescaled_data(self.ctx, argument)
        if data is not None and not self._tested_for_inf(found):  # the data's own range: in any code
            self.report(
                found.node,
                f"exp of {data} rescaled by its own mean or standard deviation: its range is the data's, "
                f"so exp overflows to inf for large values (float32: beyond ~88) and the weights become "
                f"inf / inf = NaN; subtract the max before exp (exp(z - z.max())) or use softmax",
            )

    def _check_log_scale(self, found: OpCall, variable: cst.BaseExpression, name: str, log_scale: bool) -> None:
        """A learned log-scale value: training drives it up, so only where gradients flow (not in no_grad
        sampling code or a logged `.item()`)."""
        if not self.around.traced(found.node):
            return
        if log_scale and self.ctx.values.of(variable).kind == "parameter":
            return  # a state-independent log-std (PPO's nn.Parameter): steps move it slowly; an input cannot
        if id(found.node) in self.clamped_after:
            shown = name if name and guards.is_variable(variable) else "x"
            self.report(
                found.node,
                f"clamping exp({shown}) afterwards is too late: exp has already overflowed to inf and its "
                f"gradient is NaN; clamp {shown} before exp",
            )
        elif log_scale:
            self.report(
                found.node,
                f"exp of the log-scale value {name} without clamping it first: it overflows to "
                f"inf for large values; clamp {name} before exp (e.g. to [-20, 20])",
            )

    def _tested_for_inf(self, found: OpCall) -> bool:
        """The result is tested for inf or finiteness in its function (`while isinf(w).any(): ...`)."""
        index = self.ctx.values.index
        name = index.assigned_to.get(id(found.node))
        function = index.function_at(found.node)
        if name is None or function is None:
            return False
        for node in iter_nodes(function.node):
            if isinstance(node, cst.Call) and node.args and dotted(node.args[0].value) == name:
                op = self.ctx.op(node)
                if op in ("isfinite", "isnan") or guards.identifier(node.func) in _INF_TESTS:
                    return True
        return False

    def _hand_hyperbolic(self, node: cst.BinaryOperation) -> list[OpCall]:
        """exp(x) +- exp(-x) (also through names): both exps, when x is unbounded on either side."""
        exps = [self.ctx.call(_settled(self.ctx, side)) for side in (node.left, node.right)]
        if any(e is None or e.op != "exp" or not e.args or guards.python_scalar_op(e) for e in exps):
            return []
        a, b = (e.args[0] for e in exps if e is not None)
        if _negated(a) == _negated(b) or not _same(self.ctx, a, b) or bounded(self.ctx, a, both=True):
            return []
        return [e for e in exps if e is not None]

    def _hand_sigmoid(self, node: cst.BinaryOperation) -> OpCall | None:
        """c / (1 + exp(z)) or exp(z) / (1 + exp(z)) (also through names): the exp, when it can overflow."""
        denominator = _settled(self.ctx, node.right)
        terms = list(additive_terms(denominator)) if guards.is_binary(denominator, cst.Add) else []
        calls = [self.ctx.call(_settled(self.ctx, t)) for t in terms]
        exps = [e for e in calls if e is not None and e.op == "exp" and e.args]
        constants = [t for t in terms if self.ctx.const(t) is not None]
        if len(terms) != 2 or len(exps) != 1 or len(constants) != 1 or self.ctx.const(constants[0]) != 1:
            return None
        exp = exps[0]
        if guards.python_scalar_op(exp) or bounded(self.ctx, exp.args[0], both=True):
            return None
        numerator = _settled(self.ctx, node.left)
        if self.ctx.const(numerator) is not None:
            return exp
        top = self.ctx.call(numerator)
        same = top is not None and top.op == "exp" and top.args and _same(self.ctx, top.args[0], exp.args[0])
        return exp if same else None

    def _inverse_softplus(self, log: OpCall) -> OpCall | None:
        argument = _settled(self.ctx, log.args[0])
        if not guards.is_binary(argument, cst.Subtract):
            return None
        one = self.ctx.values.of(argument.right)
        if not (one.lo == one.hi and one.lo > 0) and self.ctx.op(argument.right) != "full":
            if not (isinstance(argument.right, cst.Call) and guards.identifier(argument.right.func) == "ones"):
                return None
        exp = self.ctx.call(_settled(self.ctx, argument.left))
        if exp is None or exp.op != "exp" or not exp.args or guards.python_scalar_op(exp):
            return None
        return None if bounded(self.ctx, exp.args[0]) else exp


def _negated(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus)


def rescaled_data(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """The variable an expression shifts or scales by its own statistics: `(y - y.mean()) / y.std()`,
    `eta * z` with `z = y - y.mean() / s` (names followed), or None."""
    statistics: set[str] = set()
    raw: set[str] = set()
    pending = [(expr, 0)]
    while pending:
        node, depth = pending.pop()
        node = ctx.peel(node)
        if isinstance(node, cst.BinaryOperation) and depth < 12:
            pending.extend(((node.left, depth + 1), (node.right, depth + 1)))
        elif isinstance(node, cst.UnaryOperation):
            pending.append((node.expression, depth + 1))
        elif ctx.values.of(node).kind in _STATISTICS:
            statistics |= ctx.values.of(node).bases
        elif guards.is_variable(node):
            origin = ctx.dataflow.value_of(node)
            raw.add(dotted(node) or "")
            if origin is not None and depth < 12:
                pending.append((origin, depth + 3))
    both = sorted(statistics & raw - {""})
    return both[0] if both else None


def bounded(ctx: Context, expr: cst.BaseExpression, both: bool = False) -> bool:
    """exp of it cannot overflow: bounded above (and, for `both`, below too: a sigmoid's exp(-x)), or an affine
    rescaling of bounded values by constants (`lo + (hi - lo) * (tanh(x) + 1) / 2` with LOG_STD_MIN/MAX)."""
    fact = ctx.values.of(expr)
    if fact.hi < _OVERFLOW and (not both or fact.lo > -_OVERFLOW):
        return True
    return _affine_of_bounded(ctx, expr)


def _affine_of_bounded(ctx: Context, expr: cst.BaseExpression, depth: int = 3) -> bool:
    """Every leaf of its arithmetic is a constant (a literal or an UPPER_CASE name) or a bounded value, one at least
    bounded rather than constant."""
    for step in ctx.origins(expr):
        if guards.is_variable(step):
            continue
        leaves = list(_leaves(step))
        kinds = [_leaf_kind(ctx, leaf, depth) for leaf in leaves]
        return None not in kinds and "bounded" in kinds
    return False


def _leaves(expr: cst.BaseExpression):
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation) and not isinstance(node.operator, cst.Power):
            stack.extend((node.right, node.left))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
        else:
            yield node


def _leaf_kind(ctx: Context, leaf: cst.BaseExpression, depth: int) -> str | None:
    if ctx.const(leaf) is not None or (guards.is_variable(leaf) and (guards.identifier(leaf) or "").isupper()):
        return "constant"
    fact = ctx.values.of(leaf)
    if fact.hi < INF and fact.lo > -INF:
        return "bounded"
    if depth > 0 and guards.is_variable(leaf) and _affine_of_bounded(ctx, leaf, depth - 1):
        return "bounded"
    return None


def _settled(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    last = expr
    for step in ctx.origins(expr, depth=2):
        last = step
        if not guards.is_variable(step):
            return step
    return last


def _same(ctx: Context, a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    """exp(x) over 1 + exp(x), also exp(-x) with -x: the same exponent source (signs aside)."""
    for expr in (a, b):
        while isinstance(expr, cst.UnaryOperation):
            expr = expr.expression
    return guards.bare(ctx, _unsigned(a)) == guards.bare(ctx, _unsigned(b))


def _unsigned(expr: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        expr = expr.expression
    return expr


def scaled_variable(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    """The variable under constant scalings and indexing: `0.5 * logvar`, `-log_std`, `x[:, 1] / 2` -> the name."""
    for _ in range(8):
        expr = ctx.peel(expr)
        found = ctx.call(expr)
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
        elif found is not None and found.op in ("mul", "div") and len(found.args) == 2:
            if ctx.const(found.args[1]) is None:
                return expr
            expr = found.args[0]
        else:
            return expr
    return expr


__all__ = ["dotted"]

RULES = [UnboundedExp]
