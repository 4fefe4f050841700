"""NAN112: comparisons that cannot work with NaN."""

from __future__ import annotations

import math

import libcst as cst

from nanlint.source.rule import PendingFix, Rule

_ALWAYS = {
    cst.Equal: "always False",
    cst.NotEqual: "always True",
    cst.Is: "only true for that very object",
    cst.IsNot: "only false for that very object",
    cst.LessThan: "always False",
    cst.LessThanEqual: "always False",
    cst.GreaterThan: "always False",
    cst.GreaterThanEqual: "always False",
}
_NEGATED = (cst.NotEqual, cst.IsNot)
_FIXABLE = (cst.Equal, cst.Is, *_NEGATED)
# Where isnan() comes from when the NaN itself says nothing (float("nan"), a module constant): NumPy's
# takes scalars and arrays, math's only scalars.
_FALLBACK_NAMESPACES = ("numpy", "math")


class NanComparison(Rule):
    """NAN112: `x == nan` is always False (and `!=` always True); use isnan."""

    code = "NAN112"
    triggers = ("nan", "NaN", "NAN")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            verdict = _ALWAYS.get(type(target.operator))
            nan_side = left if self._is_nan(left) else target.comparator if self._is_nan(target.comparator) else None
            if verdict and nan_side is not None:
                self.report(
                    node, f"comparison with NaN is {verdict}; use isnan() to test for NaN", self._fix(node, nan_side)
                )
                return
            left = target.comparator

    def _is_nan(self, expr: cst.BaseExpression) -> bool:
        value = self.ctx.const(expr)
        return value is not None and math.isnan(value)

    def _fix(self, node: cst.Comparison, nan_side: cst.BaseExpression) -> PendingFix | None:
        """`x == nan` -> `isnan(x)`; `x != nan` -> `~isnan(x)` (`not math.isnan(x)` for math scalars)."""
        if len(node.comparisons) != 1 or not isinstance(node.comparisons[0].operator, _FIXABLE):
            return None  # chains and orderings: what was meant is not ours to guess
        operator = node.comparisons[0].operator
        other = node.comparisons[0].comparator if nan_side is node.left else node.left
        found = self._isnan(nan_side)
        if found is None:
            return None
        namespace, isnan = found
        tested = self.ctx.code_of(other.with_changes(lpar=[], rpar=[]) if getattr(other, "lpar", None) else other)
        if isinstance(other, (cst.IfExp, cst.Lambda, cst.NamedExpr)):
            tested = f"({tested})"
        text = f"{isnan}({tested})"
        if isinstance(operator, _NEGATED):
            text = f"not {text}" if namespace == "math" else f"~{text}"
        # `x is nan` may test any object (a string, None): isnan() would raise on it, so that fix is unsafe
        applicability = "unsafe" if isinstance(operator, (cst.Is, cst.IsNot)) else "safe"
        return PendingFix(applicability, f"use {isnan}()", ((node, text),))

    def _isnan(self, nan_side: cst.BaseExpression) -> tuple[str, str] | None:
        """(namespace, spelling) of isnan: the NaN's own namespace (np.nan -> np.isnan), else NumPy's or math's."""
        qualified = self.ctx.qualify(nan_side)
        namespaces = (qualified.rsplit(".", 1)[0],) if qualified and "." in qualified else _FALLBACK_NAMESPACES
        for namespace in namespaces:
            spelled = self.ctx.spelling(f"{namespace}.isnan")
            if spelled is not None:
                return namespace, spelled
        return None


RULES = [NanComparison]
