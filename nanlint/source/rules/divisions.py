"""NAN105: a division whose denominator can be 0.

The denominator's fact says whether and why it can be 0. Ordinary input reaching 0 (a count of a
selection, a masked or segment sum, a relu sum, a distance, a clamp at 0) is enough; a value that
is 0 only for degenerate input (a norm, std, variance, range or sum of squares of an arbitrary
tensor) counts when the division normalises that very tensor -- `x / norm(x)`, `(x - mean(x)) /
std(x)`, `(x - min) / (max - min)` -- where the degenerate input gives 0 / 0. A name alone counts
for probabilities (`p / probs`); a sum of values of any sign only with the `plain-sums` option.
"""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source import guards
from nanlint.source.names import dotted
from nanlint.source.rule import Context, PendingFix
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import BUILT, DEGENERATE, NAMED, Fact, Reason, variables_of
from nanlint.source.values.evidence import is_mean_name

_COUNT_ADVICE = "divide by the count clamped to at least 1 (max(n, 1))"
_ADVICE = {
    "norm": "clamp the norm (norm.clamp(min=eps)) or use a normalize function, which has its own eps",
    "count": _COUNT_ADVICE,
    "nonzero-count": _COUNT_ADVICE,
    "bound": "divide by max(d, 1), or handle d == 0 (a schedule of no steps) before dividing",
    "parameter": "keep it positive: train a raw value and divide by softplus(raw) + eps (or exp(raw)), or clamp it",
}
_DEFAULT_ADVICE = "add an eps (x / (d + eps)) or clamp it (d.clamp(min=eps))"
# Summaries of a tensor that are 0 only when it is degenerate (all 0, or constant).
_SUMMARIES = frozenset({"norm", "std", "var", "variance", "range", "sum", "plain-sum", "square-sum", "max", "mean"})


class UnguardedDivision(guards.SurroundedRule):
    """NAN105: `x / d` where d can be 0 (see the module docstring for when)."""

    code = "NAN105"
    triggers = ("/", "div", "reciprocal")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.reported: set[int] = set()  # numerators of reported divisions: `a / n(x) / n(y)` is one finding

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is None:
            return
        if found.op == "div":
            denominator = found.arg(1, "other", "y", "x2")
            if denominator is not None and "where" not in found.keywords:  # np.divide(a, b, where=b != 0)
                self._check(node, found.args[0] if found.args else None, denominator, enclose=False)
        elif found.op == "reciprocal" and found.args:
            self._check(node, None, found.args[0], enclose=False)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            self._check(node, node.left, node.right, enclose=True)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.DivideAssign):
            self._check(node.value, node.target, node.value, enclose=False)

    def _check(
        self,
        division: cst.CSTNode,
        numerator: cst.BaseExpression | None,
        denominator: cst.BaseExpression,
        enclose: bool,
    ) -> None:
        if id(division) in self.reported or self.around.in_scalar_call():
            return  # math.log((1 - p) / p): Python numbers raise ZeroDivisionError, no inf or NaN
        reason = zero_denominator(self.ctx, numerator, denominator, self.option("plain-sums"))
        if reason is None or self.around.checked(denominator) or self.around.in_select() is not None:
            return  # inside a where() the hazard is its gradient: NAN110's
        if numerator is not None and self.around.checked(numerator):
            return  # `if S == 0: ... else: S / log(N)`: the numerator's 0 is the denominator's, handled
        if self._replaced_after(division, denominator):
            return
        eps = self.option("fix-eps")
        fix = PendingFix(
            "unsafe",
            f"add {guards.number(eps)} to the denominator",
            ((denominator, guards.plus_eps(self.ctx, denominator, eps, enclose)),),
        )
        advice = _ADVICE.get(reason.kind, _DEFAULT_ADVICE)
        self.report(division, f"division by {reason.text}: inf or NaN there; {advice}", fix)
        inner = numerator
        while guards.is_binary(inner, cst.Divide):
            self.reported.add(id(inner))
            inner = inner.left

    def _replaced_after(self, division: cst.CSTNode, denominator: cst.BaseExpression) -> bool:
        """`r = w / g` ... `where(g > 0, r, 1)`: the quotient is replaced where the denominator is 0 (its value, that is;
        a gradient through it would still be NaN, which NAN110 judges where it can see it)."""
        index = self.ctx.values.index
        result = index.assigned_to.get(id(division))
        function = index.by_node.get(id(self.around.functions[-1])) if self.around.functions else None
        denominators = variables_of(self.ctx, denominator)
        if function is None or not denominators & function.compared:
            return False
        for node in iter_nodes(function.node):
            if result is not None and isinstance(node, cst.Call) and self.ctx.op(node) == "where":
                if any(isinstance(a.value, cst.Name) and a.value.value == result for a in node.args[1:]):
                    return True
            if isinstance(node, cst.Call) and _branches_on(self.ctx, node, denominators):
                return True  # tf.cond(n == 0, lambda: zeros, lambda: weights): the author replaces what n made
        return False


def _branches_on(ctx: Context, call: cst.Call, names: set[str]) -> bool:
    """A graph-mode conditional (`tf.cond`, `jax.lax.cond`) whose predicate compares one of `names`."""
    if ctx.op(call) != "cond" or not call.args:
        return False
    predicate = call.args[0].value
    return isinstance(predicate, cst.Comparison) and bool(variables_of(ctx, predicate) & names)


def zero_denominator(
    ctx: Context, numerator: cst.BaseExpression | None, denominator: cst.BaseExpression, plain_sums: bool = False
) -> Reason | None:
    """Why dividing by `denominator` can divide by 0, or None."""
    fact = ctx.values.of(denominator)
    top = numerator is not None and ctx.values.of(numerator)
    if fact.scalar and top and top.scalar:
        return None  # Python numbers raise ZeroDivisionError: no inf, no NaN
    reason = _constructed(ctx, numerator, denominator, fact, plain_sums)
    if reason is None and numerator is not None and not fact.nonzero:
        reason = _own_entry(ctx, numerator, denominator, fact) or _fraction_of_bound(ctx, numerator, denominator)
    return reason


_OWN_ENTRY = Reason(
    "an entry of the tensor it divides (a homogeneous coordinate, a count packed beside its sum), which real data "
    "can make 0",
    DEGENERATE,
    "entry",
)


def _own_entry(
    ctx: Context, numerator: cst.BaseExpression, denominator: cst.BaseExpression, fact: Fact
) -> Reason | None:
    """`p / p[..., 2:]`, `v[:, 0] / v[:, 1]`: a tensor divided by one of its own entries along the last axis."""
    if fact.scalar or ctx.const(numerator) is not None:
        return None
    base = ctx.values.component_of(denominator)
    return _OWN_ENTRY if base is not None and base in variables_of(ctx, numerator) else None


_FRACTION = Reason(
    "the bound its numerator is clipped to (clip(x, 0, d) / d), 0 / 0 when that setting is 0",
    DEGENERATE,
    "bound",
)


def _fraction_of_bound(ctx: Context, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> Reason | None:
    """`clip(step - begin, 0, steps) / steps`: a schedule's progress, NaN for a schedule of 0 steps."""
    peeled = ctx.peel(denominator)
    name = dotted(peeled) if isinstance(peeled, (cst.Name, cst.Attribute)) else None
    return _FRACTION if name is not None and ctx.values.clipped_under(numerator) == name else None


def _constructed(
    ctx: Context, numerator: cst.BaseExpression | None, denominator: cst.BaseExpression, fact: Fact, plain_sums: bool
) -> Reason | None:
    """Why the denominator's construction can make it 0 here, or None."""
    reason = fact.can_be_zero()
    if reason is None:
        return None
    if reason.kind == "plain-sum":
        return reason if plain_sums else None
    if reason.level >= BUILT:
        return reason
    if numerator is None:
        return None
    if reason.level >= DEGENERATE and reason.kind in _SUMMARIES | {"difference", "square-sum"}:
        return reason if normalises(ctx, numerator, fact) else None
    if reason.level >= NAMED and reason.kind == "probability" and ctx.const(numerator) is None:
        return reason  # p / q of probabilities (not 1 / update_prob, a setting)
    if reason.level == NAMED and reason.kind == "complement" and ctx.const(numerator) is None:
        return (
            reason  # x / (1 - p), p a probability by its name: 1 is an ordinary value (all the mass, a drop rate of 1)
        )
    if reason.kind == "parameter":
        return reason  # x / self.scale: a trained scale with no positivity transform (exp, softplus) can reach 0
    if reason.level >= NAMED and reason.kind == "count" and not isinstance(ctx.peel(denominator), cst.Attribute):
        return reason  # loss / num_valid_tokens: 0 when the batch is all padding (not `self.num_tokens`, a setting)
    if reason.kind == "weight-sum" and normalises(ctx, numerator, fact):
        return reason  # w / w.mean() of sample weights: 0 / 0 for a batch whose weights are all 0
    if reason.kind in _SPREADS and centred(ctx, numerator) and statistic_attribute(ctx, denominator):
        return reason  # (x - stats.mean) / stats.std: a running statistic, 0 while the data is constant
    return None


_SPREADS = frozenset({"std", "var", "variance"})
# Owners whose attributes are settings, not statistics of data: `cfg.std`, `self.vae.config.latents_std`.
_SETTINGS = frozenset({"config", "cfg", "conf", "args", "opt", "opts", "hparams", "params", "settings", "options"})
# Statistics of a dataset's pixels, fixed before training (`pixel_std`, `image_std`): constants, never 0.
_DATASET_CONSTANT = re.compile(r"_?(?:pixel|image|img|rgb|imagenet|dataset)_")


def statistic_attribute(ctx: Context, denominator: cst.BaseExpression) -> bool:
    """The std is read off another object (`stats.std`, `self.obs_rms.std`, `stats["std"]`): a statistic it
    keeps of the data, or the module's own running statistic (`self.running_std`).

    A parameter `std`, the module's own `self.std` (a buffer of constants, mostly) and a config value are
    settings; a name alone does not make them a statistic of data."""
    last = _source(ctx, denominator)
    found = ctx.call(last)
    if found is not None and found.op in ("sqrt", "cast", "layout", "float") and found.args:
        return statistic_attribute(ctx, found.args[0])  # sqrt(stats.var), stats.std.float()
    if isinstance(last, cst.Attribute):
        owner, name = last.value, last.attr.value
    elif isinstance(last, cst.Subscript):
        owner, name = last.value, _string_key(last) or ""
    else:
        return False
    if not name or _DATASET_CONSTANT.match(name.lower()):
        return False
    parts = (dotted(owner) or "").split(".")
    if not parts[0] or any(part.lower().strip("_") in _SETTINGS for part in parts):
        return False
    return parts not in (["self"], ["cls"]) or _RUNNING.match(name.lower()) is not None


def _source(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    """What a name finally holds, through conversions and unpacking (`m, s = rms.mean, rms.std`)."""
    for _ in range(5):
        expr = ctx.peel(expr)
        bound = ctx.values.index.value_of(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
        if bound is None:
            break
        expr = bound
    return expr


# Statistics a module keeps of the data it has seen: running_var, moving_std, ema_sigma.
_RUNNING = re.compile(r"_?(?:running|moving|ema)_")


def _string_key(expr: cst.Subscript) -> str | None:
    element = expr.slice[0].slice if len(expr.slice) == 1 else None
    key = element.value if isinstance(element, cst.Index) else None
    value = key.evaluated_value if isinstance(key, cst.SimpleString) else None
    return value if isinstance(value, str) else None


def normalises(ctx: Context, numerator: cst.BaseExpression, fact: Fact) -> bool:
    """The numerator is the tensor the denominator summarises: x / norm(x), (x - m) / std(x), w / w.sum()."""
    if fact.bases and variables_of(ctx, numerator) & fact.bases:
        return True
    return fact.kind in ("std", "var", "variance", "range") and centred(ctx, numerator)


def centred(ctx: Context, numerator: cst.BaseExpression) -> bool:
    """`x - mean(x)`, `x - stats.mean`, `x - x.min()`: a value with its location removed (through names)."""
    for step in ctx.origins(numerator):
        if guards.is_binary(step, cst.Subtract):
            subtrahend = ctx.values.of(step.right)
            peeled = ctx.peel(step.right)
            key = _string_key(peeled) if isinstance(peeled, cst.Subscript) else None
            name = key or guards.identifier(peeled)  # stats["mean"], stats.mean
            return (
                subtrahend.kind in ("mean", "min")
                or (name is not None and is_mean_name(name))
                or _mean_call(ctx, step.right)
            )
        if not guards.is_variable(step):
            return False
    return False


def _mean_call(ctx: Context, expr: cst.BaseExpression) -> bool:
    for step in ctx.origins(expr):
        found = ctx.call(step)
        if found is not None:
            return found.op in ("mean", "min")
        if isinstance(step, cst.Subscript):
            return _mean_call(ctx, step.value)
        if not guards.is_variable(step):
            return False
    return False


RULES = [UnguardedDivision]
