"""NAN104: log of a value that can be exactly 0 (log1p of one that can be -1; xlogy of a y that can be 0).

The argument's fact decides: ordinary input reaching 0 (a probability through a name, 1 - p, a
masked product or sum, a count, a relu output, a uniform sample, a normalised distribution) is
enough. Evidence from use counts too: `p * log(p)` (an entropy: 0 * -inf = NaN where p is 0) and
`log(v)` beside `log(1 - v)` (v is a probability). Names (`probs`) count in differentiable code
only, as do sums of probabilities (0 when every term underflows) and values kept under a probability's
name. A distribution's log_prob(value) scores what its sample() draws. `math.log` raises on 0 instead of
returning -inf, and is left alone.

Logits are log-probabilities, so logits that can be -inf (a where/masked_fill with -inf) are log(0) too:
flagged where they reach a `logits=` argument, or as log_softmax in a product (0 * -inf = NaN).
"""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source import guards
from nanlint.source.fix_eps import retune_eps_fixes
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall, PendingFix
from nanlint.source.training_facts import ModuleFacts
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import BUILT, DEGENERATE, NAMED, Fact, Reason, select_parts, variables_of
from nanlint.source.values.transfer import SQUARED_DISTANCE

PROBABILITY = "a probability that can be 0"
_ADVICE = {
    "probability": "clamp it first (log(p.clamp(min=eps))) or compute log-probabilities directly "
    "(log_softmax, log_sigmoid)",
    "complement": "clamp it away from 0 or use a log-space form (log1p(-p), log_sigmoid(-x))",
    "count": "clamp the count to at least 1",
    "nonzero-count": "clamp the count to at least 1",
    "tanh": "use its log-space form, log(1 - tanh(x)²) = 2 * (log(2) - x - softplus(-2x))",
    "sample": "clamp the samples to the dtype's tiny where they are drawn (clip(x, finfo(dtype).tiny, None))",
}
_DEFAULT_ADVICE = "add an eps or clamp it first (log(x + eps))"
_ENTROPY_ADVICE = "use xlogy(p, p) (0 where p is 0) or clamp p first"
_FINITE_MASK = "mask with the dtype's lowest finite value (finfo(dtype).min) instead"
_INFINITE_LOGITS = (
    "the log-probabilities computed from them are -inf there, so entropy, KL and soft-target cross-entropy "
    f"compute 0 * -inf = NaN (and a row that is -inf everywhere is NaN outright); {_FINITE_MASK}"
)
_WEIGHTED = (
    "(a - 1) * {log}(x): at a = 1 and x on the edge of its support the product is 0 * -inf = NaN, where its "
    "true value is 0 (a density's x^(a-1) term); use {xlogy}(a - 1, x), which is 0 there"
)
_SAMPLERS = frozenset({"sample", "rsample", "sample_n"})
_LOG_OPS = frozenset({"log", "log1p", "xlogy", "xlog1py"})


class UnguardedLog(guards.SurroundedRule):
    """NAN104: log(p) where p can be 0 (see the module docstring)."""

    code = "NAN104"
    triggers = ("log",)

    uses = (*guards.SurroundedRule.uses, ModuleFacts)  # the module's precision, for the eps of fixes

    def leave_Module(self, node: cst.Module) -> None:
        retune_eps_fixes(self.ctx, self.code, self.option("fix-eps"))

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.entropy: set[int] = set()  # log calls multiplied by their own argument: p * log(p)
        self.complements: dict[int, set[str]] = {}  # per function: v of every log(1 - v)
        self.cross_entropy: set[int] = set()  # log calls weighted by a target: y_true * log(y_pred)
        self.log_softmax_seen = False  # products are checked for -inf log-probabilities only after one
        self.sampled: set[int] = set()  # calls whose result is only sampled from: D(logits=x).sample()
        self.ordered: set[int] = set()  # logs whose result only picks an index: argmax(z - log(-log(u)))
        self.weighted: set[int] = (
            set()
        )  # logs weighted by a coefficient that is 0 at a parameter's value: (a - 1) * log(x)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Multiply):
            for factor, other in ((node.left, node.right), (node.right, node.left)):
                found = self.ctx.call(_unnegated(factor))
                if found is None or found.op not in ("log", "log1p") or not found.args:
                    continue
                if found.op == "log" and _weighs_by_probability(self.ctx, other, found.args[0]):
                    self.entropy.add(id(found.node))
                elif found.op == "log" and _weighs_by_target(self.ctx, other):
                    self.cross_entropy.add(id(found.node))
                elif _vanishing_coefficient(self.ctx, other):
                    self.weighted.add(id(found.node))

    def leave_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self.log_softmax_seen and isinstance(node.operator, cst.Multiply):  # its operands visited by now
            self._infinite_log_probabilities(node)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in _SAMPLERS:
            self.sampled.add(id(node.func.value))  # D(logits=x).sample(): visited before D(...) itself
        ordered = _ordering_input(self.ctx, node)
        if ordered is not None:
            self.ordered |= _ordered_logs(self.ctx, ordered)  # visited before the logs inside
        self._infinite_logits(node)
        found = self.ctx.call(node)
        if found is not None and found.op == "log_softmax":
            self.log_softmax_seen = True
        if found is None or found.op not in _LOG_OPS or not found.args or guards.python_scalar_op(found):
            return
        if id(node) in self.ordered:
            return  # argmax(logits - log(-log(u))): an infinity only orders, and an index has no gradient
        operand = found.args[1] if found.op in ("xlogy", "xlog1py") else found.args[0]
        if found.op in ("xlogy", "xlog1py") and len(found.args) < 2:
            return
        if _left_to_nan102(self.ctx, operand) or _indicator(self.ctx, operand):
            return
        reason = self._reason(found, operand)
        if reason is None and id(node) in self.weighted and not self._bounded_away(found, operand):
            if not self.around.checked(operand):
                self.report(node, _WEIGHTED.format(log=found.op, xlogy="xlogy" if found.op == "log" else "xlog1py"))
            return
        if reason is None or self.around.checked(operand):
            return
        if reason.kind == "entropy":
            self.report(node, f"log of {reason.text} in p * log(p): 0 * -inf = NaN there; {_ENTROPY_ADVICE}")
            return
        eps = self.option("fix-eps")
        fix: PendingFix | None = PendingFix(
            "unsafe",
            f"add {guards.number(eps)} inside the log",
            ((operand, guards.plus_eps(self.ctx, operand, eps, enclose=found.method)),),
        )
        if found.op in ("log1p", "xlog1py") or reason.kind == "sample":
            fix = None  # the eps would go into 1 + x (not the operand's own spelling), or the clamp belongs in sample()
        advice = _ADVICE.get(reason.kind, _DEFAULT_ADVICE)
        what = f"log of {reason.text}"
        if found.op in ("log1p", "xlog1py"):
            what = f"{found.op} of a value that reaches -1 ({reason.text})"
        self.report(node, f"{what}: -inf there, and NaN gradients; {advice}", fix)

    def _bounded_away(self, found: OpCall, operand: cst.BaseExpression) -> bool:
        """The log's argument cannot reach its pole: log of a value > 0, log1p of one > -1, or a constant."""
        fact = self.ctx.values.of(operand)
        if self.ctx.const(operand) is not None:
            return True
        return fact.lo > -1 if found.op == "log1p" else fact.nonzero

    def _infinite_logits(self, node: cst.Call) -> None:
        """`Categorical(logits=where(mask, z, -inf))`: logits are log-probabilities, and -inf ones are log(0)."""
        for arg in node.args:
            if arg.keyword is None or arg.keyword.value != "logits":
                continue
            infinite = self.ctx.values.of(arg.value).infinite
            if infinite is not None and not self._only_sampled(node):
                self.report(arg.value, f"logits that can be -inf ({infinite.text}): {_INFINITE_LOGITS}")

    def _only_sampled(self, node: cst.Call) -> bool:
        """A distribution only drawn from (top-k filtered logits, then .sample()): sampling never forms 0 * -inf."""
        if id(node) in self.sampled:
            return True
        index = self.ctx.values.index
        name = index.assigned_to.get(id(node))
        function = index.function_at(node)
        if name is None or function is None or "." in name:
            return False
        uses = [n for n in iter_nodes(function.node) if isinstance(n, cst.Name) and n.value == name]
        drawn = [
            n
            for n in iter_nodes(function.node)
            if isinstance(n, cst.Attribute) and n.attr.value in _SAMPLERS and dotted(n.value) == name
        ]
        return bool(drawn) and len(uses) == len(drawn) + 1  # the assignment, and draws

    def _infinite_log_probabilities(self, node: cst.BinaryOperation) -> None:
        """`probs * log_softmax(where(mask, z, -inf))`: 0 * -inf = NaN at every masked entry."""
        for factor in (node.left, node.right):
            factor = _unnegated(factor)
            if not any(self.ctx.op(step) == "log_softmax" for step in self.ctx.values.origins(factor, depth=2)):
                continue  # only log_softmax turns -inf logits into -inf log-probabilities
            fact = self.ctx.values.of(factor)
            if fact.infinite is not None and fact.kind == "log-probability":
                self.report(
                    node,
                    f"log-probabilities that can be -inf ({fact.infinite.text} in the logits) in a product: "
                    f"where the other factor is 0 (a probability, a target weight) 0 * -inf = NaN; {_FINITE_MASK}",
                )
                return

    def _reason(self, found: OpCall, operand: cst.BaseExpression) -> Reason | None:
        fact = self.ctx.values.of(operand)
        if found.op in ("log1p", "xlog1py"):
            minus_one = fact.minus_one
            if minus_one is None or fact.lo > -1:
                return None
            return Reason(minus_one.text, minus_one.level, minus_one.kind) if minus_one.level >= BUILT else None
        reason = fact.can_be_zero()
        if reason is not None and (reason.level >= BUILT or _degenerate_input(fact, reason)):
            return _plain(reason)
        if fact.nonzero:
            return None
        if reason is not None and reason.level >= NAMED and self._differentiated(found):
            if reason.kind in ("probability", "complement", "probability-sum", "sample"):
                return _plain(reason)
        if id(found.node) in self.entropy:
            return Reason(PROBABILITY, BUILT, "entropy")
        if (
            id(found.node) in self.cross_entropy
            and _predicted(operand, fact)
            and not _eps_upstream(self.ctx, operand)
            and self._differentiated(found)
        ):
            return Reason(f"{PROBABILITY} (a cross-entropy's prediction, weighted by a target)", BUILT, "probability")
        if self._complemented(found, operand):
            return Reason(f"{PROBABILITY} (its complement 1 - p is taken too)", BUILT, "probability")
        return None

    def _differentiated(self, found: OpCall) -> bool:
        """Weak (named) evidence counts only where gradients flow: not in no_grad code, optimizers, metrics or
        samplers, where log(0) = -inf is an ordinary value (a token never drawn)."""
        return guards.differentiable(self.ctx, found) and self.around.traced(found.node)

    def _complemented(self, found: OpCall, operand: cst.BaseExpression) -> bool:
        """log(v) beside log(1 - v) in the same function, or log(where(c, v, 1 - v)): v is a probability."""
        if _both_sides(self.ctx, operand):
            return True
        name = dotted(operand) if guards.is_variable(operand) else None
        function = self.ctx.values.index.function_at(found.node)
        if function is None or name is None:
            return False
        key = id(function.node)
        if key not in self.complements:
            self.complements[key] = _complemented_variables(self.ctx, function.node)
        return name in self.complements[key]


def _degenerate_input(fact: Fact, reason: Reason) -> bool:
    """A sum of squares (energy, a power spectrum) is 0 on silent or blank input: ordinary data, unlike the
    all-equal input that zeroes a variance. A squared error (the mse of a PSNR) is 0 only for a perfect
    match, where -inf is the intended answer."""
    return reason.level >= DEGENERATE and reason.kind == "square-sum" and fact.why != SQUARED_DISTANCE


# Reductions that return where the maximum is, not a value: -inf and inf only order their input.
_ORDERINGS = frozenset({"argmax", "argmin", "argsort"})


def _ordering_input(ctx: Context, node: cst.Call) -> cst.BaseExpression | None:
    """x of `argmax(x)` or of `x.argmax()`."""
    func = node.func
    if guards.identifier(func) not in _ORDERINGS:
        return None
    if isinstance(func, cst.Attribute) and not ctx.names.is_module_alias(func.value):
        return func.value
    return node.args[0].value if node.args else None


def _ordered_logs(ctx: Context, expr: cst.BaseExpression, depth: int = 8) -> set[int]:
    """The log calls whose value reaches expr only through signs, sums, differences and logs (order-keeping or
    order-reversing steps that carry an infinity through as an infinity, never a NaN): the Gumbel-max trick."""
    if depth <= 0:
        return set()
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return _ordered_logs(ctx, expr.expression, depth - 1)
    if guards.is_binary(expr, cst.Add, cst.Subtract):
        return _ordered_logs(ctx, expr.left, depth - 1) | _ordered_logs(ctx, expr.right, depth - 1)
    found = ctx.call(expr)
    if found is not None and found.op == "log" and found.args:
        return {id(found.node)} | _ordered_logs(ctx, found.args[0], depth - 1)
    return set()


def _weighs_by_probability(ctx: Context, coefficient: cst.BaseExpression, argument: cst.BaseExpression) -> bool:
    """`p * log(p)`, `p * log(p / q)` (the coefficient has the log's variable as a factor: it is 0 where the log is
    -inf) or `(1 - p) ** g * log(p)` (a focal loss: a complement makes p a probability). A shifted or transformed
    coefficient, `(x - 0.5) * log(x)` (Stirling's series) or `sign(p - 0.5) * log(...)`, says nothing of the sort."""
    variables = variables_of(ctx, argument)
    for factor in _factors(ctx, coefficient):
        while isinstance(factor, cst.Subscript):  # p[i] * log(p[i])
            factor = factor.value
        if guards.is_variable(factor) and variables_of(ctx, factor) & variables:
            return True
        complemented = _complement_of(ctx, factor)
        if complemented is not None and complemented in variables:
            return True
    return False


# Names of targets and labels: a log weighted by one is a cross-entropy, whose argument is a predicted probability.
_TARGET_NAME = re.compile(r"^(?:y|y_true|true|targets?|labels?|gt|ground_truth|truth)(?:_\w+)?$|_(?:targets?|labels?)$")


def _weighs_by_target(ctx: Context, coefficient: cst.BaseExpression) -> bool:
    """`y_true * log(y_pred)`, `-(target * torch.log(prob))`: a coefficient that is a target or label."""
    for factor in _factors(ctx, coefficient):
        while isinstance(factor, cst.Subscript):
            factor = factor.value
        name = guards.identifier(factor) if guards.is_variable(factor) else None
        if name is not None and _TARGET_NAME.search(name.lower()):
            return True
    return False


def _predicted(operand: cst.BaseExpression, fact: Fact) -> bool:
    """The log takes a value as it came (`log(y_pred)`, `pred[:, 1].log()`), unguarded: what a computed operand
    can be, its own facts say."""
    while isinstance(operand, cst.Subscript):
        operand = operand.value
    return guards.is_variable(operand) and not fact.guarded


def _eps_upstream(ctx: Context, expr: cst.BaseExpression, budget: int = 24) -> bool:
    """An eps added, or a clamp, anywhere in what the value was computed from in this file (`x = x + 1e-10`,
    then sums and scalings of x): the author guarded the prediction before the loss took its log."""
    pending: list[cst.BaseExpression] = [expr]
    seen: set[int] = set()
    while pending and budget > 0:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        budget -= 1
        if ctx.values.of(node).guarded or ctx.op(node) in ("clamp", "maximum"):
            return True
        origin = ctx.dataflow.value_of(node) if isinstance(node, (cst.Name, cst.Attribute)) else None
        if origin is not None:
            pending.append(origin)
        for child in node.children:
            if isinstance(child, cst.Arg):
                child = child.value
            if isinstance(child, cst.BaseExpression):
                pending.append(child)
    return False


def _factors(ctx: Context, expr: cst.BaseExpression, depth: int = 6) -> list[cst.BaseExpression]:
    """The multiplicative factors of a product, through signs, powers (x ** g, pow(x, g)) and numerators."""
    expr = _unnegated(expr)
    if depth <= 0:
        return [expr]
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Multiply):
            return _factors(ctx, expr.left, depth - 1) + _factors(ctx, expr.right, depth - 1)
        if isinstance(expr.operator, (cst.Divide, cst.Power)):
            return _factors(ctx, expr.left, depth - 1)
    found = ctx.call(expr)
    if found is not None and found.op == "pow" and found.args:
        return _factors(ctx, found.args[0], depth - 1)
    return [expr]


def _vanishing_coefficient(ctx: Context, factor: cst.BaseExpression) -> bool:
    """`a - 1` (also `1 / k - 1`, through one name) of a non-constant a: 0 wherever the parameter a is 1, an
    ordinary value of a shape or concentration."""
    for step in ctx.origins(factor, depth=1):
        if guards.is_binary(step, cst.Subtract) and guards.const_is(ctx, step.right, 1):
            return ctx.const(step.left) is None and not ctx.values.of(step.left).scalar
    return False


def _plain(reason: Reason) -> Reason:
    """Probabilities read as such in the message; the complement names the probability."""
    if reason.kind == "probability":
        return Reason(PROBABILITY, reason.level, "probability")
    return reason


def _unnegated(expr: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        expr = expr.expression
    return expr


def _indicator(ctx: Context, operand: cst.BaseExpression) -> bool:
    """A comparison made a number (`(x == v).float()`): its log is 0 or -inf by design (an additive mask, the
    log-density of a point mass), and a comparison carries no gradient."""
    for step in ctx.origins(operand, depth=2):
        if isinstance(step, cst.Comparison):
            return True
        if not isinstance(step, (cst.Name, cst.Attribute)):
            return False
    return False


def _left_to_nan102(ctx: Context, operand: cst.BaseExpression) -> bool:
    """log(softmax(x)), log(sigmoid(x))[i], log(1 - sigmoid(x)) written inline: NAN102's, with its log-space fix."""
    if isinstance(operand, cst.Subscript):
        operand = operand.value
    if guards.is_binary(operand, cst.Subtract) and guards.const_is(ctx, operand.left, 1):
        return ctx.op(operand.right) == "sigmoid"
    return ctx.op(operand) in ("softmax", "sigmoid")


def _complement_of(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """v of `1 - v` (v a variable)."""
    if guards.is_binary(expr, cst.Subtract) and guards.const_is(ctx, expr.left, 1) and guards.is_variable(expr.right):
        return dotted(expr.right)
    return None


def _both_sides(ctx: Context, operand: cst.BaseExpression) -> bool:
    """where(c, v, 1 - v) (or an if-else of them), directly or through one name."""
    for step in ctx.values.origins(operand, depth=1):
        found = ctx.call(step)
        branches = select_parts(found)[1] if found is not None and select_parts(found) else []
        if isinstance(step, cst.IfExp):
            branches = [step.body, step.orelse]
        if len(branches) == 2:
            for value, other in (branches, branches[::-1]):
                if guards.is_variable(value) and _complement_of(ctx, other) == dotted(value):
                    return True
    return False


def _complemented_variables(ctx: Context, function: cst.CSTNode) -> set[str]:
    """v of every log(1 - v) in this function (the 1 - v written in the log or in the name it takes)."""
    found: set[str] = set()
    for node in iter_nodes(function):
        if not isinstance(node, cst.Call) or ctx.op(node) not in ("log", "log1p") or not node.args:
            continue
        for step in ctx.values.origins(node.args[0].value, depth=1):
            name = _complement_of(ctx, step)
            if name is not None:
                found.add(name)
    return found


RULES = [UnguardedLog]
