"""NAN103 naive logsumexp / softplus / logaddexp, and NAN113 log(1 + x) / exp(x) - 1 (use log1p / expm1)."""

from __future__ import annotations

import libcst as cst

from nanlint.source import guards, ops
from nanlint.source.exponents import (
    additive_terms,
    capped,
    exp_calls,
    exponent,
    is_constant,
    normaliser,
    op_call,
    pure_exp,
    settled,
)
from nanlint.source.rule import Context, OpCall, PendingFix, Rule
from nanlint.source.spelling import (
    atom,
    axis_arguments_only,
    call_code,
    fix_function,
    is_natural_log,
    namespace,
    reduction_arguments,
    reduction_axis,
)

NAIVE_LOGSUMEXP = (
    "naive logsumexp: exp overflows to inf for large inputs (and the log of a sum that underflowed "
    "to 0 is -inf); use logsumexp"
)
NAIVE_SOFTPLUS = (
    "naive softplus: exp(x) overflows to inf for x > ~88 in float32 and the gradient is inf / inf = "
    "NaN; use softplus(x)"
)
NAIVE_LOGADDEXP = "naive logaddexp: exp overflows to inf for large inputs; use logaddexp(a, b)"


def naive_exp(ctx: Context, expr: cst.BaseExpression) -> tuple[OpCall, bool] | None:
    """(exp call, written here) when expr is an exp that can overflow (directly or through names), in a softplus
    (`log1p(exp(x))`, `log(1 + exp(x))`): a subtracted value nanlint cannot see is no max there."""
    written = pure_exp(ctx, expr)
    return written if written is not None and not capped(ctx, exponent(written[0]), trusting=False) else None


class NaiveLogSumExp(Rule):
    """NAN103: log(sum(exp(x))), log(1 + exp(x)), log1p(exp(x)), log(exp(a) + exp(b)) -- inline or through names."""

    code = "NAN103"
    quiet_in_tests = True
    triggers = ("exp",)
    overrides = ("NAN104", "NAN105", "NAN109", "NAN113")

    def visit_Call(self, node: cst.Call) -> None:
        found = op_call(self.ctx, node)
        if found is None or found.op not in ("log", "log1p") or not found.args:
            return
        argument = found.args[0]
        if found.op == "log1p":
            written = naive_exp(self.ctx, argument)
            if written is not None:
                self._softplus(found, written)
            return
        step = settled(self.ctx, argument)
        if step is None:
            return
        inline = step is argument
        if guards.is_binary(step, cst.Add) and self._terms(found, step, inline):
            return
        self._reduction(found, step, inline)

    # --- log(exp(a) + exp(b)), log(1 + exp(x)) ------------------------------------------------------------------

    def _terms(self, log: OpCall, expr: cst.BinaryOperation, inline: bool) -> bool:
        """Report a sum written out of exps and constants; False when expr is no such sum."""
        terms = list(additive_terms(expr))
        written = [pure_exp(self.ctx, t) for t in terms]
        if not any(written) or not all(w is not None or is_constant(self.ctx, t) for w, t in zip(written, terms)):
            return False
        exps = [w for w in written if w is not None]
        constants = [t for w, t in zip(written, terms) if w is None]
        softplus = len(exps) == 1 and len(constants) == 1 and guards.const_is(self.ctx, constants[0], 1)
        if all(capped(self.ctx, exponent(e), trusting=not softplus) for e, _ in exps):
            return True
        inline = inline and all(here for _, here in exps)
        if softplus:
            self._softplus(log, (exps[0][0], inline))
        elif len(exps) == 2 and not constants:
            self.report(
                log.node,
                NAIVE_LOGADDEXP,
                self._logaddexp_fix(log, [e for e, _ in exps], inline),
                covers=tuple(e.node for e, _ in exps),
            )
        else:
            self.report(log.node, NAIVE_LOGSUMEXP, covers=tuple(e.node for e, _ in exps))
        return True

    def _softplus(self, log: OpCall, written: tuple[OpCall, bool]) -> None:
        exp, inline = written
        fix = None
        if log.op == "log1p" or is_natural_log(log):
            operand = guards.bare(self.ctx, exponent(exp))
            space = namespace(self.ctx, exp)
            softplus, logaddexp = fix_function(self.ctx, space, "softplus"), fix_function(self.ctx, space, "logaddexp")
            code = (
                f"{softplus.spelled}({operand})"
                if softplus
                else f"{logaddexp.spelled}(0, {operand})"
                if logaddexp
                else None
            )
            if code is not None:
                fix = PendingFix("safe" if inline else "unsafe", f"use {code.split('(')[0]}", ((log.node, code),))
        self.report(log.node, NAIVE_SOFTPLUS, fix, covers=(exp.node,))

    def _logaddexp_fix(self, log: OpCall, exps: list[OpCall], inline: bool) -> PendingFix | None:
        if not is_natural_log(log):
            return None
        function = fix_function(self.ctx, namespace(self.ctx, exps[0]), "logaddexp")
        if function is None:
            return None
        operands = ", ".join(guards.bare(self.ctx, exponent(e)) for e in exps)
        return PendingFix(
            "safe" if inline else "unsafe", f"use {function.spelled}", ((log.node, f"{function.spelled}({operands})"),)
        )

    # --- log(sum(exp(x))) -------------------------------------------------------------------------------------------

    def _reduction(self, log: OpCall, step: cst.BaseExpression, inline: bool) -> None:
        total = normaliser(self.ctx, step)
        if total is None or total.reduction is None:
            found = op_call(self.ctx, step)
            if found is not None and found.op == "mean" and found.args:  # log(mean(exp(x))): logsumexp - log(n)
                exps = exp_calls(self.ctx, found.args[0])
                if exps and not all(capped(self.ctx, exponent(e)) for e in exps):
                    self.report(log.node, NAIVE_LOGSUMEXP, covers=tuple(e.node for e in exps))
            return
        if all(capped(self.ctx, exponent(e)) for e in total.exps):
            return
        fix = self._logsumexp_fix(log, total.reduction, total.exps[0], inline) if total.plain else None
        self.report(log.node, NAIVE_LOGSUMEXP, fix, covers=(total.reduction.node, *(e.node for e in total.exps)))

    def _logsumexp_fix(self, log: OpCall, reduction: OpCall, exp: OpCall, inline: bool) -> PendingFix | None:
        if (
            not is_natural_log(log)
            or reduction.op != "sum"
            or not axis_arguments_only(reduction)
            or reduction.qualified in ("builtins.sum", "math.fsum")
        ):
            return None
        has_axis = reduction_axis(reduction)[0] is not None
        rest = reduction_arguments(reduction)
        if reduction.method and exp.method:  # x.exp().sum(-1) -> x.logsumexp(-1)
            method = ops.FIX_METHODS["logsumexp"]
            if method in ops.NEEDS_AXIS and not has_axis:
                return None
            code, name = call_code(self.ctx, None, exponent(exp), rest, method=method), f".{method}()"
        else:
            space = namespace(self.ctx, exp if reduction.method else reduction)
            function = fix_function(self.ctx, space, "logsumexp")
            if function is None or (function.qualified in ops.NEEDS_AXIS and not has_axis):
                return None
            code, name = call_code(self.ctx, function.spelled, exponent(exp), rest), function.spelled
        return PendingFix("safe" if inline else "unsafe", f"use {name}", ((log.node, code),))


# --- NAN113 ---------------------------------------------------------------------------------------------------------

LOG_ONE_PLUS = "log(1 + x) loses precision for small x; use log1p(x)"
EXP_MINUS_ONE = "exp(x) - 1 loses precision for small x; use expm1(x)"


class Log1pExpm1(Rule):
    """NAN113: log(1 + x) -> log1p(x), exp(x) - 1 -> expm1(x); log(1 + exp(x)) is NAN103's."""

    code = "NAN113"
    triggers = ("log", "exp")

    def visit_Call(self, node: cst.Call) -> None:
        found = op_call(self.ctx, node)
        if found is None or found.op != "log" or not found.args or not is_natural_log(found):
            return
        argument = found.args[0]
        if not guards.is_binary(argument, cst.Add):
            return
        for one, operand in ((argument.left, argument.right), (argument.right, argument.left)):
            if guards.const_is(self.ctx, one, 1) and self.ctx.const(operand) is None:
                if naive_exp(self.ctx, operand) is None:  # log(1 + exp(x)) is a naive softplus (NAN103)
                    self.report(node, LOG_ONE_PLUS, self._fix(found, operand, "log1p"))
                return

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        candidates: tuple[cst.BaseExpression, ...]
        if isinstance(node.operator, cst.Subtract) and guards.const_is(self.ctx, node.right, 1):
            candidates = (node.left,)
        elif isinstance(node.operator, cst.Add):
            candidates = tuple(
                b for a, b in ((node.left, node.right), (node.right, node.left)) if guards.const_is(self.ctx, a, -1)
            )
        else:
            return
        for candidate in candidates:
            found = op_call(self.ctx, candidate)
            if found is not None and found.op == "exp" and found.args and self.ctx.const(exponent(found)) is None:
                self.report(node, EXP_MINUS_ONE, self._fix(found, exponent(found), "expm1", node))
                return

    def _fix(
        self, found: OpCall, operand: cst.BaseExpression, op: str, target: cst.CSTNode | None = None
    ) -> PendingFix | None:
        """found(...) (or the whole `target`) -> op(operand) in found's framework, as a method for methods."""
        if found.method:
            method = ops.FIX_METHODS[op]
            code, name = f"{atom(self.ctx, operand)}.{method}()", f".{method}()"
        else:
            function = fix_function(self.ctx, namespace(self.ctx, found), op)
            if function is None:
                return None
            code, name = f"{function.spelled}({guards.bare(self.ctx, operand)})", function.spelled
        return PendingFix("safe", f"use {name}", ((target or found.node, code),))


RULES = [NaiveLogSumExp, Log1pExpm1]
