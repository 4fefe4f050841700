"""NAN102: log of a softmax or sigmoid written inline (log_softmax / log_sigmoid compute it exactly)."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards, ops
from nanlint.source.exponents import op_call
from nanlint.source.rule import OpCall, PendingFix, Rule
from nanlint.source.spelling import AXIS_KEYWORDS, Function, atom, fix_function, is_natural_log, namespace

# --- NAN102 ---------------------------------------------------------------------------------------------------

LOG_SOFTMAX = (
    "log of softmax: -inf (and NaN gradients) when a probability underflows to 0, and imprecise "
    "before that; use log_softmax"
)
LOG_SIGMOID = "log of sigmoid: -inf when sigmoid(x) underflows to 0 for very negative x; use log_sigmoid(x)"
LOG_ONE_MINUS_SIGMOID = (
    "log(1 - sigmoid(x)): -inf when sigmoid(x) rounds to 1 (x > ~17 in float32); use log_sigmoid(-x)"
)


class LogOfProbability(Rule):
    """NAN102: log(softmax(x)), log(sigmoid(x)), log(1 - sigmoid(x)) written inline (through a name it is NAN104)."""

    code = "NAN102"
    triggers = ("softmax", "sigmoid", "Softmax", "Sigmoid", "expit")
    overrides = ("NAN104",)

    def visit_Call(self, node: cst.Call) -> None:
        found = op_call(self.ctx, node)
        if found is None or found.op != "log" or not found.args:
            return
        argument = found.args[0]
        probability, index = (argument.value, argument) if isinstance(argument, cst.Subscript) else (argument, None)
        inner = op_call(self.ctx, probability)
        if inner is not None and inner.op == "softmax":
            self.report(node, LOG_SOFTMAX, self._replace(found, inner, "log_softmax", index))
        elif inner is not None and inner.op == "sigmoid":
            self.report(node, LOG_SIGMOID, self._replace(found, inner, "log_sigmoid", index))
        elif index is None and guards.is_binary(argument, cst.Subtract) and guards.const_is(self.ctx, argument.left, 1):
            inner = op_call(self.ctx, argument.right)
            if inner is not None and inner.op == "sigmoid":
                self.report(node, LOG_ONE_MINUS_SIGMOID, self._negated_sigmoid(found, inner))

    def _replace(self, log: OpCall, inner: OpCall, op: str, index: cst.Subscript | None) -> PendingFix | None:
        """log(f(args)) -> f'(args), f' the log-space op of the same framework (and the same index after it)."""
        if not is_natural_log(log):
            return None
        replacement = self._log_space_call(inner, op)
        if replacement is None:
            return None
        name, code = replacement
        if index is not None:
            code += self.ctx.code_of(index.with_changes(lpar=[], rpar=[]))[len(self.ctx.code_of(index.value)) :]
        return PendingFix("safe", f"use {name}", ((log.node, code),))

    def _log_space_call(self, inner: OpCall, op: str) -> tuple[str, str] | None:
        """(name, source) of the log-space call computing log(inner)."""
        arguments = self.ctx.code_of(inner.node.with_changes(lpar=[], rpar=[]))[
            len(self.ctx.code_of(inner.node.func)) :
        ]
        if inner.method and op in ops.FIX_METHODS:  # x.softmax(-1) -> x.log_softmax(-1)
            method = ops.FIX_METHODS[op]
            return f".{method}()", f"{self.ctx.code_of(inner.args[0])}.{method}{arguments}"
        space = namespace(self.ctx, inner)
        function = fix_function(self.ctx, space, op)
        if function is None:
            return None
        if inner.method or inner.qualified is None:  # x.sigmoid(), or a module instance (its axis is in __init__)
            if len(inner.args) != 1 or inner.keywords:
                return None
            axis = self._constructor_axis(inner, function)
            return function.spelled, f"{function.spelled}({guards.bare(self.ctx, inner.args[-1])}{axis})"
        if function.qualified.rpartition(".")[0] != space and not set(inner.keywords) <= AXIS_KEYWORDS:
            return None  # another namespace's function: only the operand and the axis carry over
        return function.spelled, function.spelled + arguments

    def _constructor_axis(self, inner: OpCall, function: Function) -> str:
        """`, dim=-1` from `nn.Softmax(dim=-1)` / `layers.Softmax(axis=-1)`; "" when none is given."""
        constructed = self.ctx.dataflow.value_of(inner.node.func) if not inner.method else None
        if not isinstance(constructed, cst.Call):
            return ""
        for index, arg in enumerate(constructed.args):
            if (arg.keyword is None and index == 0) or (
                arg.keyword is not None and arg.keyword.value in ("dim", "axis")
            ):
                return f", {ops.axis_keywords(function.qualified)[0]}={self.ctx.code_of(arg.value)}"
        return ""

    def _negated_sigmoid(self, log: OpCall, inner: OpCall) -> PendingFix | None:
        if not is_natural_log(log) or len(inner.args) != 1 or inner.keywords:
            return None
        function = fix_function(self.ctx, namespace(self.ctx, inner), "log_sigmoid")
        if function is None:
            return None
        code = f"{function.spelled}(-{atom(self.ctx, inner.args[0])})"
        return PendingFix("safe", f"use {function.spelled}(-x)", ((log.node, code),))


RULES = [LogOfProbability]
