"""NAN105: division by a sum, norm, std/var or count that can be 0."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards, squares
from nanlint.source.rule import Context, OpCall, PendingFix

# Why a denominator can be exactly 0 (in the message; the reasons shared with NAN104 are in guards).
NORM = "a norm, which is 0 for a zero vector"
STD = "a standard deviation, which is 0 for constant input"
VARIANCE = "a variance, which is 0 for constant input"
SEGMENT_SUM = "a segment sum, which is 0 for an empty segment"
SUM = "a sum that can be 0"

_ADVICE = {
    NORM: "clamp the norm (norm.clamp(min=eps)) or use a normalize function, which has its own eps",
    guards.COUNT: "divide by the count clamped to at least 1 (max(n, 1))",
    guards.NONZERO_COUNT: "divide by the count clamped to at least 1 (max(n, 1))",
}


class UnguardedDivision(guards.SurroundedRule):
    """NAN105: `x / d` where d is a sum, norm, std, var or count without an eps or clamp."""

    code = "NAN105"
    triggers = ("/", "div", "reciprocal")

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
        reason = denominator_reason(self.ctx, denominator, self.option("plain-sums"))
        if reason is None or self.around.checked(denominator):
            return
        eps = self.option("fix-eps")
        fix = PendingFix(
            "unsafe",
            f"add {guards.number(eps)} to the denominator",
            ((denominator, guards.plus_eps(self.ctx, denominator, eps, enclose)),),
        )
        advice = _ADVICE.get(reason, "add an eps (x / (d + eps)) or clamp it (d.clamp(min=eps))")
        self.report(division, f"division by {reason}: inf or NaN there; {advice}", fix)


# --- why a denominator can be 0 -----------------------------------------------------------------------

_POSITIVE_SUMMANDS = frozenset({"exp", "softmax", "sigmoid", "softplus"})


@guards.no_reentry(None)
def denominator_reason(ctx: Context, expr: cst.BaseExpression, plain_sums: bool = False) -> str | None:
    """Why a denominator can be exactly 0 (a norm, std/var, count, masked sum); None when guarded or unknown.

    A sum counts when its terms can all be 0 (a mask, a masked product, relu outputs), or with
    `plain_sums` any sum not known to be positive.
    """
    for step in guards.definitions(ctx, expr):
        if guards.positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if guards.is_variable(step):
            continue
        found = guards.call(ctx, step)
        if found is not None:
            return _call_denominator_reason(ctx, found, plain_sums)
        if guards.is_binary(step, cst.Multiply):
            return denominator_reason(ctx, step.left, plain_sums) or denominator_reason(ctx, step.right, plain_sums)
        if guards.is_binary(step, cst.Power) and ctx.const(step.right) not in (None, 0):
            return denominator_reason(ctx, step.left, plain_sums)
        return None
    return None


def _call_denominator_reason(ctx: Context, found: OpCall, plain_sums: bool) -> str | None:
    if found.op == "norm":
        return NORM
    if found.op in ("std", "var"):
        return STD if found.op == "std" else VARIANCE
    if found.op == "count":
        return guards.count_reason(ctx, found)
    if found.op in ("sqrt", "pow") and found.args:
        inner = found.args[0]
        kind = squares.square_sum_kind(ctx, inner, elementwise=False)
        if kind is not None:
            return STD if kind == squares.VARIANCE_UNDER_SQRT else NORM
        return denominator_reason(ctx, inner, plain_sums)
    if found.op not in ("sum", "mean", "segment_sum") or not found.args:
        return None
    selection = guards.reduced_selection(ctx, found)
    if selection is not None or found.op == "mean":
        return selection
    if found.op == "segment_sum":
        return SEGMENT_SUM
    if guards.op(ctx, guards.peel(ctx, found.args[0])) == "relu":
        return SUM
    if not plain_sums or found.qualified in _PYTHON_SUMS or _positive_terms(ctx, found.args[0]):
        return None  # builtin sum() is mostly config arithmetic: sum(ratios), sum(block_counts)
    return SUM


_PYTHON_SUMS = frozenset({"builtins.sum", "math.fsum"})


def _positive_terms(ctx: Context, expr: cst.BaseExpression) -> bool:
    """Summands that cannot all be 0: exp(...), softmax, `x + eps`, a clamp at eps, ones."""
    for step in guards.definitions(ctx, expr, depth=2):
        if guards.guarded(ctx, step) or guards.op(ctx, step) in _POSITIVE_SUMMANDS:
            return True
        if isinstance(step, cst.Call) and guards.identifier(step.func) in ("ones", "ones_like"):
            return True
        if not guards.is_variable(step):
            return False
    return False


RULES = [UnguardedDivision]
