"""NAN107: variance as E[x^2] - E[x]^2."""

from __future__ import annotations

import libcst as cst

from nanlint.source import squares
from nanlint.source.rule import Context, Rule

_CLAMPS = frozenset({"clamp", "maximum", "relu"})


class CancellationVariance(Rule):
    """NAN107: mean(x**2) - mean(x)**2 in any spelling, also through names; quiet when clamped at 0 on the spot."""

    code = "NAN107"
    triggers = ("mean", "sum", "average")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.clamped: set[int] = set()  # differences clamped at 0 where they are computed: (E[x²] - E[x]²).clamp(0)

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is not None and found.op in _CLAMPS and self.ctx.values.of(node).lo >= 0:
            self.clamped.update(id(a) for a in found.args)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if id(node) in self.clamped or not isinstance(node.operator, cst.Subtract):
            return
        if squares.variance_by_moments(self.ctx, node):
            self.report(
                node,
                "variance as E[x²] - E[x]² cancels catastrophically when the mean is large against "
                "the spread and can come out negative (NaN under a sqrt); compute it as "
                "mean((x - mean(x))**2) or with var()",
            )


RULES = [CancellationVariance]
