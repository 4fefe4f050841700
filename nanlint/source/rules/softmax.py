"""NAN101: a naive softmax, exp(x) / sum(exp(x)) without the max subtracted."""

from __future__ import annotations

import math

import libcst as cst

from nanlint.source import guards, ops
from nanlint.source.dataflow import binding_key
from nanlint.source.exponents import Normaliser, capped, exp_calls, exponent, normaliser, op_call
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall, PendingFix, Rule
from nanlint.source.spelling import atom, fix_function, minuend, namespace, reduction_axis
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import select_parts

# --- NAN101 ---------------------------------------------------------------------------------------------------

NAIVE_SOFTMAX = (
    "naive softmax: exp overflows to inf for large inputs and inf / inf is NaN; "
    "subtract the max before exp or use softmax()"
)


INFINITE_FILL = (
    "filled with +inf before a softmax: exp(inf) / sum is inf / inf = NaN (and the max subtracted is inf too) "
    "in every row it touches; mask with -inf, or better the dtype's lowest value (finfo(dtype).min)"
)


class NaiveSoftmax(Rule):
    """NAN101: exp(x) / sum(exp(x)) -- function, method, across statements, segment sums -- without the max."""

    code = "NAN101"
    quiet_in_tests = True
    triggers = ("exp", "inf")
    overrides = ("NAN105", "NAN109")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.inplace: dict[str, tuple[cst.BaseExpression | None, OpCall]] = {}
        self.loops: list[dict[str, cst.BaseExpression]] = []  # comprehension variable -> what it iterates over

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comprehension(node)

    def leave_ListComp(self, node: cst.ListComp) -> None:
        self.loops.pop()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comprehension(node)

    def leave_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self.loops.pop()

    def _enter_comprehension(self, node: cst.ListComp | cst.GeneratorExp) -> None:
        """`[e / total for e in exps]`: e is an element of exps."""
        loop: cst.CompFor | None = node.for_in
        targets: dict[str, cst.BaseExpression] = {}
        while loop is not None:
            if isinstance(loop.target, cst.Name):
                targets[loop.target.value] = loop.iter
            loop = loop.inner_for_in
        self.loops.append(targets)

    def _element(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        if isinstance(expr, cst.Name) and self.ctx.dataflow.value_of(expr) is None:
            for targets in reversed(self.loops):
                if expr.value in targets:
                    return targets[expr.value]
        return expr

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.left, node.right)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.DivideAssign):
            self._check(node, node.target, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        found = op_call(self.ctx, node)
        if found is not None and found.op in ("div", "safe_div") and len(found.args) >= 2:
            self._check(node, found.args[0], found.args[1])
        elif found is not None and found.op in ("masked_fill", "where"):
            self._infinite_fill(found)

    def _infinite_fill(self, found: OpCall) -> None:
        """`scores.masked_fill(mask, -float("-inf"))` before a softmax: +inf - +inf (the max) and inf / inf are NaN."""
        parts = select_parts(found)
        if parts is None:
            return
        if found.op == "masked_fill":
            filled, values = found.args[0], found.args[2:3]
        else:
            filled, values = None, parts[1]
        if not any(self.ctx.const(v) == math.inf for v in values):
            return
        target = filled if filled is not None else next(v for v in values if self.ctx.const(v) != math.inf)
        if _softmaxed_later(self.ctx, found.node, target):
            self.report(found.node, INFINITE_FILL)

    def visit_Expr(self, node: cst.Expr) -> None:
        """Remember `d.index_add_(0, idx, e)`: a statement summing into d."""
        found = op_call(self.ctx, node.value)
        if found is not None and found.op == "segment_sum" and found.method:
            key = binding_key(found.args[0])
            if key is not None and self.ctx.dataflow.value_of(found.args[0]) is not None:
                self.inplace[key] = (self.ctx.dataflow.value_of(found.args[0]), found)

    def _check(self, division: cst.CSTNode, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> None:
        exps = exp_calls(self.ctx, self._element(numerator))
        if not exps or all(capped(self.ctx, exponent(e)) or guards.python_scalar_op(e) for e in exps):
            return  # math.exp raises OverflowError rather than returning inf
        total = normaliser(self.ctx, denominator, self.inplace)
        if total is None or (total.reduction is None and len(total.exps) == 1):
            return  # exp(x) / (1 + exp(x)) is a sigmoid written by hand: NAN109's
        direct = op_call(self.ctx, numerator)
        plain = total.plain and direct is not None and direct.op == "exp" and isinstance(division, cst.BaseExpression)
        fix = self._fix(division, exps, total, plain)
        covers = tuple(e.node for e in (*exps, *total.exps)) + ((total.reduction.node,) if total.reduction else ())
        self.report(division, NAIVE_SOFTMAX, fix, covers)

    def _fix(self, division: cst.CSTNode, exps: list[OpCall], total: Normaliser, plain: bool) -> PendingFix | None:
        reduction = total.reduction
        if reduction is None or reduction.op != "sum" or reduction.qualified in ("builtins.sum", "math.fsum"):
            return None
        everything = list({id(e.node): e for e in (*exps, *total.exps)}.values())
        if len({guards.bare(self.ctx, exponent(e)) for e in everything}) != 1:
            return None
        axis, keepdims = reduction_axis(reduction)
        if axis is not None and not keepdims:
            return None  # the division broadcasts the sum in some other way; do not guess
        first = exps[0]
        if plain and axis is not None and not isinstance(axis, (cst.Tuple, cst.List)):
            fix = self._framework_softmax(division, first, axis)
            if fix is not None:
                return fix
        return self._subtract_max(everything, axis, "safe" if plain else "unsafe")

    def _framework_softmax(self, division: cst.CSTNode, exp: OpCall, axis: cst.BaseExpression) -> PendingFix | None:
        axis_code = self.ctx.code_of(axis)
        if exp.method:
            keyword, name = ops.axis_keywords(None)[0], ops.FIX_METHODS["softmax"]
            code = f"{atom(self.ctx, exponent(exp))}.{name}({keyword}={axis_code})"
            name = f".{name}()"
        else:
            function = fix_function(self.ctx, namespace(self.ctx, exp), "softmax")
            if function is None:
                return None
            keyword, name = ops.axis_keywords(function.qualified)[0], function.spelled
            code = f"{name}({guards.bare(self.ctx, exponent(exp))}, {keyword}={axis_code})"
        return PendingFix("safe", f"use {name}", ((division, code),))

    def _subtract_max(
        self, exps: list[OpCall], axis: cst.BaseExpression | None, applicability: str
    ) -> PendingFix | None:
        replacements = []
        for exp in exps:
            operand = exponent(exp)
            maximum = self._max_code(exp, operand, axis)
            if maximum is None:
                return None
            shifted_code = f"{minuend(self.ctx, operand)} - {maximum}"
            enclose = exp.method and not operand.lpar  # a receiver's own parentheses stay around the edit
            replacements.append((operand, f"({shifted_code})" if enclose else shifted_code))
        note = "" if applicability == "safe" else " (changes the exp values wherever else they are used)"
        return PendingFix(applicability, f"subtract the max before exp{note}", tuple(replacements))

    def _max_code(self, exp: OpCall, operand: cst.BaseExpression, axis: cst.BaseExpression | None) -> str | None:
        if exp.method:
            keywords, head = ops.axis_keywords(None), f"{atom(self.ctx, operand)}.{ops.FIX_METHODS['max']}"
            prefix = ""
        else:
            function = fix_function(self.ctx, namespace(self.ctx, exp), "max")
            if function is None:
                return None
            keywords, head = ops.axis_keywords(function.qualified), function.spelled
            prefix = guards.bare(self.ctx, operand) + (", " if axis is not None else "")
        if axis is None:
            return f"{head}({prefix})"
        return f"{head}({prefix}{keywords[0]}={self.ctx.code_of(axis)}, {keywords[1]}=True)"


def _softmaxed_later(ctx: Context, fill: cst.Call, target: cst.BaseExpression) -> bool:
    """Does a softmax in the same function take the filled tensor (or what the fill is assigned to)?"""
    function = ctx.values.index.function_at(fill)
    names = {dotted(target)} if isinstance(target, (cst.Name, cst.Attribute)) else set()
    assigned = ctx.values.index.assigned_to.get(id(fill))
    names |= {assigned} if assigned else set()
    names.discard(None)
    if function is None or not names:
        return False
    for node in iter_nodes(function.node):
        found = ctx.call(node) if isinstance(node, cst.Call) else None
        if found is not None and found.op in ("softmax", "log_softmax") and found.args:
            if dotted(ctx.peel(found.args[0])) in names:
                return True
    return False


RULES = [NaiveSoftmax]
