"""NAN104: log of a value that can be exactly 0."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Context, OpCall, PendingFix

# Why a log's argument can be exactly 0 (in the message; the reasons shared with NAN105 are in guards).
PROBABILITY = "a probability that can be 0"
ONE_MINUS_PROBABILITY = "1 - p, which is 0 when the probability p reaches 1"
MASKED = "a product with a mask or one-hot, which is 0 where it is masked out"
RELU = "a relu output, which is 0 for negative inputs"

_ADVICE = {
    PROBABILITY: "clamp it first (log(p.clamp(min=eps))) or compute log-probabilities directly "
    "(log_softmax, log_sigmoid)",
    ONE_MINUS_PROBABILITY: "clamp it away from 0 or use a log-space form (log1p(-p), log_sigmoid(-x))",
    guards.COUNT: "clamp the count to at least 1",
    guards.NONZERO_COUNT: "clamp the count to at least 1",
}


class UnguardedLog(guards.SurroundedRule):
    """NAN104: log(p) of a probability through a name, of 1 - p, of a masked product or sum, of a count."""

    code = "NAN104"
    triggers = ("log",)

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is not None and found.op == "log" and found.args:
            self._check(found)

    def _check(self, found) -> None:
        operand = found.args[0]
        # names alone say "probability" only for traced tensors, not for a config value under math.log
        names = tuple(self.option("probability-names")) if guards.differentiable(self.ctx, found) else ()
        reason = zero_reason(self.ctx, operand, names)
        if reason is None or self.around.checked(operand):
            return
        eps = self.option("fix-eps")
        fix = PendingFix(
            "unsafe",
            f"add {guards.number(eps)} inside the log",
            ((operand, guards.plus_eps(self.ctx, operand, eps, enclose=found.method)),),
        )
        advice = _ADVICE.get(reason, "add an eps or clamp it first (log(x + eps))")
        self.report(found.node, f"log of {reason}: -inf there, and NaN gradients; {advice}", fix)


# --- why a log's argument can be 0 --------------------------------------------------------------------


@guards.no_reentry(False)
def is_probability(
    ctx: Context, expr: cst.BaseExpression | None, inline: bool, names: tuple[str, ...] | list[str] = ()
) -> bool:
    """A softmax/sigmoid output (through a name; also inline when `inline`), or a name matching `names`."""
    named = False
    for index, step in enumerate(guards.definitions(ctx, expr)):
        if guards.positive_guard(ctx, step) or ctx.const(step) is not None:
            return False
        if guards.is_variable(step):
            named = named or guards.names_match(guards.identifier(step) or "", names)
            continue
        found = guards.op(ctx, step)
        return found in ("softmax", "sigmoid") and (inline or index > 0)
    return named  # a name like `probs` decides only when nothing says where its value comes from


@guards.no_reentry(None)
def zero_reason(
    ctx: Context,
    expr: cst.BaseExpression,
    probability_names: tuple[str, ...] | list[str] = (),
) -> str | None:
    """Why the argument of a log can be exactly 0, or None when it is guarded or unknown.

    A softmax/sigmoid written inline (`log(softmax(x))`, `log(1 - sigmoid(x))`) is left to NAN102;
    names matching `probability_names` count as probabilities when their value's origin is unknown.
    """
    named = False
    for index, step in enumerate(guards.definitions(ctx, expr)):
        if guards.positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if guards.is_variable(step):
            named = named or guards.names_match(guards.identifier(step) or "", probability_names)
            continue
        found = guards.call(ctx, step)
        if found is not None:
            return _call_zero_reason(ctx, found, through_name=index > 0)
        if guards.is_binary(step, cst.Subtract) and guards.const_is(ctx, step.left, 1):
            probability = is_probability(ctx, step.right, inline=index > 0, names=probability_names)
            return ONE_MINUS_PROBABILITY if probability else None
        return _binary_zero_reason(ctx, step, probability_names)
    # A name like `probs` decides only when nothing says where its value comes from (a parameter).
    return PROBABILITY if named else None


def _call_zero_reason(ctx: Context, found: OpCall, through_name: bool) -> str | None:
    if found.op in ("softmax", "sigmoid"):
        return PROBABILITY if through_name else None
    if found.op == "relu":
        return RELU
    if found.op == "one_hot":
        return MASKED
    if found.op == "count":
        return guards.count_reason(ctx, found)
    if found.op == "mul" and any(guards.is_mask(ctx, a) for a in found.args):
        return MASKED
    return guards.reduced_selection(ctx, found)


def _binary_zero_reason(ctx: Context, expr: cst.BaseExpression, names: tuple[str, ...] | list[str]) -> str | None:
    if guards.is_binary(expr, cst.Multiply):
        if guards.is_mask(ctx, expr.left) or guards.is_mask(ctx, expr.right):
            return MASKED
        return zero_reason(ctx, expr.left, names) or zero_reason(ctx, expr.right, names)
    if guards.is_binary(expr, cst.Divide):
        return zero_reason(ctx, expr.left, names)
    return None


RULES = [UnguardedLog]
