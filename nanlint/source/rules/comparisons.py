"""Comparisons that cannot work with NaN."""

from __future__ import annotations

import math

import libcst as cst

from nanlint.source.rule import Rule

_ALWAYS = {cst.Equal: "always False", cst.NotEqual: "always True", cst.Is: "only true for that very object",
           cst.IsNot: "only false for that very object"}


class NanComparison(Rule):
    """NAN112: `x == nan` is always False (and `!=` always True); use isnan."""

    code = "NAN112"
    triggers = ("nan", "NaN", "NAN")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            verdict = _ALWAYS.get(type(target.operator))
            if verdict and (self._is_nan(left) or self._is_nan(target.comparator)):
                self.report(node, f"comparison with NaN is {verdict}; use isnan() to test for NaN")
                return
            left = target.comparator

    def _is_nan(self, expr: cst.BaseExpression) -> bool:
        value = self.ctx.const(expr)
        return value is not None and math.isnan(value)


RULES = [NanComparison]
