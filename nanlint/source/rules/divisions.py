"""NAN105: a division whose denominator can be 0.

The denominator's fact says whether and why it can be 0. Ordinary input reaching 0 (a count of a
selection, a masked or segment sum, a relu sum, a distance, a clamp at 0) is enough; a value that
is 0 only for degenerate input (a norm, std, variance, range or sum of squares of an arbitrary
tensor) counts when the division normalises that very tensor -- `x / norm(x)`, `(x - mean(x)) /
std(x)`, `(x - min) / (max - min)` -- where the degenerate input gives 0 / 0. A name alone counts
for probabilities (`p / probs`); a sum of values of any sign only with the `plain-sums` option.

A norm written as a sqrt (`x / sqrt(sum(x**2))`) is one hazard with two faces, the quotient's inf and the
sqrt's infinite gradient at 0: this finding names both, puts the eps inside the sqrt, and subsumes NAN106 at a
sqrt whose value only feeds denominators (used elsewhere too, `log(n)`, the sqrt keeps its own finding).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import libcst as cst

from nanlint.source import guards
from nanlint.source.fix_eps import retune_eps_fixes
from nanlint.source.names import dotted
from nanlint.source.rule import Context, PendingFix
from nanlint.source.rules.roots import nan_gradient_norm
from nanlint.source.training_facts import ModuleFacts
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
    overrides = ("NAN106",)

    uses = (*guards.SurroundedRule.uses, ModuleFacts)  # the module's precision, for the eps of fixes

    def leave_Module(self, node: cst.Module) -> None:
        retune_eps_fixes(self.ctx, self.code, self.option("fix-eps"))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.reported: set[int] = set()  # numerators of reported divisions: `a / n(x) / n(y)` is one finding

    def visit_Call(self, node: cst.Call) -> None:
        self._visit_division(node)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self._visit_division(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._visit_division(node)

    def _visit_division(self, node: cst.CSTNode) -> None:
        parts = _division_parts(self.ctx, node)
        if parts is not None:
            division, numerator, denominator, enclose = parts
            self._check(division, numerator, denominator, enclose)

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
        divided = _divided_roots(self.ctx, denominator)
        roots = [(r, a) for r, a in divided if self.ctx.values.of(r).zero == reason]
        if roots:  # x / sqrt(sum(x**2)): the eps inside the sqrt keeps the quotient and the sqrt's gradient finite
            replacements = tuple((arg, guards.plus_eps(self.ctx, arg, eps, False)) for _, arg in roots)
            fix = PendingFix("unsafe", f"add {guards.number(eps)} inside the sqrt", replacements)
            gradient = _GRADIENT if any(_traced(self.ctx, root) for root, _ in roots) else ""
            message = f"division by {reason.text}: inf or NaN there{gradient}; {_ROOT_ADVICE}"
            self.report(division, message, fix, covers=self._only_divided(root for root, _ in roots))
        elif self._nan_gradient_norm(denominator):  # x / tf.norm(x): an eps after the norm leaves its NaN gradient
            self.report(division, f"division by {reason.text}: inf or NaN there; {_NAN_NORM_ADVICE}")
        else:
            fix = PendingFix(
                "unsafe",
                f"add {guards.number(eps)} to the denominator",
                ((denominator, guards.plus_eps(self.ctx, denominator, eps, enclose)),),
            )
            advice = _ADVICE.get(reason.kind, _DEFAULT_ADVICE)
            inside = {id(node) for node in iter_nodes(division)}  # x / (sqrt(s) * mask.sum()): subsumes NAN106's
            if any(id(root) in inside and _traced(self.ctx, root) for root, _ in divided):
                advice += f"; the sqrt in it has an infinite gradient at 0 too: {_ROOT_ADVICE}"
            self.report(division, f"division by {reason.text}: inf or NaN there; {advice}", fix)
        inner = numerator
        while guards.is_binary(inner, cst.Divide):
            self.reported.add(id(inner))
            inner = inner.left

    def _nan_gradient_norm(self, denominator: cst.BaseExpression) -> bool:
        """The denominator is a norm whose gradient is NaN at 0 in its framework, in differentiated code."""
        for step in self.ctx.origins(denominator, depth=2):
            found = self.ctx.call(step)
            if found is not None and found.op == "norm" and nan_gradient_norm(found):
                return guards.differentiable(self.ctx, found) and self.around.traced(found.node)
        return False

    def _only_divided(self, roots: Iterable[cst.BaseExpression]) -> tuple[cst.BaseExpression, ...]:
        """The roots whose every use is in a denominator (`n = sqrt(s)` ... `x / n`, `y / n`): NAN106's finding there
        is this one's. A use elsewhere (`log(n)`, returned) leaves the sqrt its own."""
        scope = self.around.functions[-1] if self.around.functions else self.ctx.module
        index = self.ctx.values.index
        denominators: set[int] = set()
        for node in iter_nodes(scope):
            parts = _division_parts(self.ctx, node)
            if parts is not None:
                denominators |= _carried(self.ctx, parts[2])
        kept = []
        for root in roots:
            uses = [id(u) for u in iter_nodes(scope) if isinstance(u, cst.Name) and index.value_of(u) is root]
            if all(use in denominators for use in uses or [id(root)]):
                kept.append(root)
        return tuple(kept)

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


_ROOT_ADVICE = "add the eps inside the sqrt (sqrt(v + eps))"


_GRADIENT = ", and the sqrt's gradient is infinite at 0 (NaN in training)"
_NAN_NORM_ADVICE = (
    "this norm's own gradient is NaN at 0, so an eps added after it comes too late: compute sqrt(sum(x**2) + eps) "
    "or use a normalize function, which has its own eps"
)


def _traced(ctx: Context, root: cst.BaseExpression) -> bool:
    """A sqrt of a differentiable framework (not np.sqrt, math.sqrt); `v ** 0.5` when the file uses one."""
    return guards.differentiable(ctx, ctx.call(root)) if isinstance(root, cst.Call) else guards.uses_autodiff(ctx)


def _division_parts(
    ctx: Context, node: cst.CSTNode
) -> tuple[cst.CSTNode, cst.BaseExpression | None, cst.BaseExpression, bool] | None:
    """(division, numerator, denominator, enclose) of `a / b`, `a /= b`, `div(a, b)`, `reciprocal(b)`; `enclose`:
    the denominator needs parentheses once an eps is added to it."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        return node, node.left, node.right, True
    if isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.DivideAssign):
        return node.value, node.target, node.value, False
    found = ctx.call(node) if isinstance(node, cst.Call) else None
    if found is None:
        return None
    if found.op == "div":
        denominator = found.arg(1, "other", "y", "x2")
        if denominator is not None and "where" not in found.keywords:  # np.divide(a, b, where=b != 0)
            return node, found.args[0] if found.args else None, denominator, False
    elif found.op == "reciprocal" and found.args:
        return node, None, found.args[0], False
    return None


def _divided_roots(
    ctx: Context, denominator: cst.BaseExpression
) -> list[tuple[cst.BaseExpression, cst.BaseExpression]]:
    """The square roots a denominator is made of, through names (`n = sqrt(s)` ... `x / n.unsqueeze(-1)`) and
    products (`dot / (sqrt(a) * sqrt(b))`), whose argument can be 0: (root, argument) pairs."""
    found: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
    pending, seen = [(denominator, 0)], set()
    while pending:
        expr, depth = pending.pop()
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        argument = _root_argument(ctx, expr)
        if argument is not None:
            if ctx.values.of(argument).can_be_zero(DEGENERATE) is not None:
                found.append((expr, argument))
            continue
        if isinstance(expr, (cst.Name, cst.Attribute)) and depth < 3:
            held = ctx.values.index.value_of(expr)
            if held is not None:
                pending.append((held, depth + 1))
        if guards.is_binary(expr, cst.Multiply) or isinstance(expr, cst.Attribute):
            pending.extend((child, depth) for child in _operands(expr))
        elif isinstance(expr, cst.Call) and (found_call := ctx.call(expr)) is not None and found_call.args:
            if found_call.op in ("layout", "cast", "float", "mul"):
                pending.extend((child, depth) for child in found_call.args[: 2 if found_call.op == "mul" else 1])
    return found


def _carried(ctx: Context, denominator: cst.BaseExpression) -> set[int]:
    """Ids of the nodes a denominator is made of: its own, and those of the values its names hold (one step)."""
    found = {id(n) for n in iter_nodes(denominator)}
    for name in iter_nodes(denominator):
        held = ctx.values.index.value_of(name) if isinstance(name, (cst.Name, cst.Attribute)) else None
        if held is not None:
            found |= {id(n) for n in iter_nodes(held)}
    return found


def _operands(expr: cst.BaseExpression) -> tuple[cst.BaseExpression, ...]:
    if isinstance(expr, cst.BinaryOperation):
        return (expr.left, expr.right)
    return (expr.value,) if isinstance(expr, cst.Attribute) else ()


def _root_argument(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """v in `sqrt(v)`, `v.sqrt()`, `v ** 0.5`, `pow(v, 0.5)`."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Power):
        return expr.left if ctx.const(expr.right) == 0.5 else None
    found = ctx.call(expr) if isinstance(expr, cst.Call) else None
    if found is None or not found.args:
        return None
    if found.op == "sqrt" or (found.op == "pow" and ctx.const(found.arg(1, "exponent")) == 0.5):
        return found.args[0]
    return None


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
