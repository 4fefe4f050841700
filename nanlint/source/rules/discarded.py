"""NAN111: a clamp/clip/maximum/nan_to_num whose result is thrown away."""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source import guards
from nanlint.source.rule import Rule

_GUARDS = frozenset({"clamp", "maximum", "minimum", "nan_to_num"})
# A size or shape is not a numeric bound: `boxes.clip(image_size)` is a geometry object clipping itself in place.
_SIZE_NAME = re.compile(r"(?:^|_)(?:shape|size|sizes|hw|wh|extent)$")
# Context managers of tests that expect the block to raise: its calls are made for their exception.
_EXPECTS_RAISE = frozenset({"raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"})


class DiscardedGuard(Rule):
    """NAN111: `x.clamp(min=0)` as a statement guards nothing; `x.clamp_(min=0)` / `out=x` do."""

    code = "NAN111"
    triggers = ("clamp", "clip", "max", "min", "nan_to_num")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.raising = 0  # depth of `with pytest.raises(...)` / `with self.assertRaises(...)` blocks

    def visit_With(self, node: cst.With) -> None:
        self.raising += _expects_raise(node)

    def leave_With(self, node: cst.With) -> None:
        self.raising -= _expects_raise(node)

    def visit_Expr(self, node: cst.Expr) -> None:
        if self.raising:
            return  # `with pytest.raises(ValueError): maximum(x, y)`: called for its exception, not its value
        found = self.ctx.call(node.value)
        if found is None or found.op not in _GUARDS or self._in_place(found) or self._clipped_to_a_size(found):
            return
        name = guards.identifier(found.node.func) or found.op
        self.report(
            found.node,
            f"the result of {name}() is discarded, so nothing is guarded; assign it (x = ...) or use the in-place form",
        )

    @staticmethod
    def _clipped_to_a_size(found) -> bool:
        """`boxes.clip(image_size)`, `boxes.clip((h, w))`: not a tensor's clamp (whose bounds are numbers) but an
        object's own method, which usually works in place."""
        if not found.method:
            return False
        for arg in found.node.args:
            value = arg.value
            name = guards.identifier(value)
            if isinstance(value, cst.Tuple) or (name is not None and _SIZE_NAME.search(name.lower())):
                return True
        return False

    @staticmethod
    def _in_place(found) -> bool:
        """`x.clamp_()`, `out=x`, `inplace=True`, NumPy's positional out: clip(a, lo, hi, out), maximum(a, b, out)."""
        if (guards.identifier(found.node.func) or "").endswith("_") or "out" in found.keywords:
            return True
        inplace = found.keywords.get("inplace")
        if isinstance(inplace, cst.Name) and inplace.value == "True":
            return True
        positional_out = 4 if found.op == "clamp" else 3
        return not found.method and len(found.args) >= positional_out


def _expects_raise(node: cst.With) -> bool:
    return any(
        isinstance(item.item, cst.Call) and guards.identifier(item.item.func) in _EXPECTS_RAISE for item in node.items
    )


RULES = [DiscardedGuard]
