"""NAN107: variance as E[x^2] - E[x]^2."""

from __future__ import annotations

import libcst as cst

from nanlint.source import squares
from nanlint.source.rule import Rule


class CancellationVariance(Rule):
    """NAN107: mean(x**2) - mean(x)**2 in any spelling, also through names."""

    code = "NAN107"
    triggers = ("mean", "sum", "average")

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Subtract) and squares.variance_by_moments(self.ctx, node):
            self.report(
                node,
                "variance as E[x²] - E[x]² cancels catastrophically when the mean is large against "
                "the spread and can come out negative (NaN under a sqrt); compute it as "
                "mean((x - mean(x))**2) or with var()",
            )


RULES = [CancellationVariance]
