"""NAN109: exp of a log-scale value (logvar, log_std, ...) that is not clamped first."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Rule


class UnboundedExp(Rule):
    """NAN109: exp(0.5 * logvar), log_std.exp(), exp(logvar).clamp(max=...) without a clamp before exp."""

    code = "NAN109"
    triggers = ("exp",)
    options = {
        # name stems (matched at word boundaries, any case) of log-scale values
        "log-scale-names": ["logvar", "log_var", "log_variance", "log_std", "logstd", "log_stddev", "log_sigma",
                            "logsigma", "log_scale", "logscale", "log_alpha", "logits_std", "log_precision"],
    }

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
        variable = guards.scaled_variable(self.ctx, found.args[0])
        name = guards.identifier(variable)
        if name is None or not guards.names_match(name, tuple(self.option("log-scale-names"))):
            return
        if guards.bounded_above(self.ctx, variable):
            return
        if id(found.node) in self.clamped_after:
            self.report(found.node, f"clamping exp({name}) afterwards is too late: exp has already overflowed to "
                                    f"inf and its gradient is NaN; clamp {name} before exp")
        else:
            self.report(found.node, f"exp of the log-scale value {name} without clamping it first: it overflows to "
                                    f"inf for large values; clamp {name} before exp (e.g. to [-20, 20])")


RULES = [UnboundedExp]
