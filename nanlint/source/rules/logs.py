"""NAN104: log of a value that can be exactly 0."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import PendingFix, Rule

_ADVICE = {
    guards.PROBABILITY: "clamp it first (log(p.clamp(min=eps))) or compute log-probabilities directly "
                        "(log_softmax, log_sigmoid)",
    guards.ONE_MINUS_PROBABILITY: "clamp it away from 0 or use a log-space form (log1p(-p), log_sigmoid(-x))",
    guards.COUNT: "clamp the count to at least 1",
    guards.NONZERO_COUNT: "clamp the count to at least 1",
}


class UnguardedLog(Rule):
    """NAN104: log(p) of a probability through a name, of 1 - p, of a masked product or sum, of a count."""

    code = "NAN104"
    triggers = ("log",)
    uses = (guards.Surroundings,)
    options = {
        # names taken for probabilities when their assignment says nothing else (`log(probs)` of a parameter)
        "probability-names": ["prob", "probs", "proba", "probas", "probability", "probabilities"],
        "fix-eps": 1e-8,
    }

    @property
    def around(self) -> guards.Surroundings:
        return self.ctx.tracker(guards.Surroundings)

    def visit_Call(self, node: cst.Call) -> None:
        found = guards.call(self.ctx, node)
        if found is not None and found.op == "log" and found.args:
            self._check(found)

    def _check(self, found) -> None:
        operand = found.args[0]
        # names alone say "probability" only for traced tensors, not for a config value under math.log
        names = tuple(self.option("probability-names")) if guards.differentiable(self.ctx, found) else ()
        reason = guards.zero_reason(self.ctx, operand, names)
        if reason is None or self.around.checked(operand):
            return
        eps = self.option("fix-eps")
        fix = PendingFix("unsafe", f"add {guards.number(eps)} inside the log",
                         ((operand, guards.plus_eps(self.ctx, operand, eps, enclose=found.method)),))
        advice = _ADVICE.get(reason, "add an eps or clamp it first (log(x + eps))")
        self.report(found.node, f"log of {reason}: -inf there, and NaN gradients; {advice}", fix)


RULES = [UnguardedLog]
