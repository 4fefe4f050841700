"""NAN106: a sqrt (or a norm) at 0 where gradients flow, and a sqrt of a square that rounding makes negative.

sqrt's derivative is infinite at 0, so where a sum of squares, a variance, a distance or a value
clamped at 0 reaches 0 the gradient is inf and then NaN. The argument's fact says whether it can:
ordinary input (a clamp at 0, a relu, a segment sum) or degenerate input (a zero vector, a constant)
of a sum of squares, variance or norm. Evidence from use counts too: a guard applied *after* the root
(`sqrt(v) + eps`, `where(r == 0, 1, r)`, `r[r < eps] = eps`) shows 0 is expected, and comes too late.
Norms count where their derivative at 0 is NaN (JAX, TensorFlow, sqrt-based norm modules; PyTorch's
norms define it as 0). A squared distance expanded as |a|² + |b|² - 2ab can come out negative: NaN
even without gradients, and an eps added to it does not help.
"""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source import guards, ops
from nanlint.source.rule import OpCall
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import BUILT, DEGENERATE, Fact

_HALF_POWERS = {0.5: "sqrt", -0.5: "rsqrt"}
# Values that are 0 only for degenerate input, and sqrt of them: the classic sqrt-at-0 hazards.
_SQUARE_KINDS = frozenset(
    {"square-sum", "square-terms", "var", "variance", "std", "norm", "distance", "range", "square-complement"}
)
ADVICE = "add the eps inside the sqrt (sqrt(v + eps)) or use a norm function"


class SqrtAtZero(guards.SurroundedRule):
    """NAN106: sqrt(sum(x**2)), sqrt(var), sqrt(x.clamp(0)), rsqrt(mean(x**2)), jnp.linalg.norm(a - b)."""

    code = "NAN106"
    triggers = ("sqrt", "**", "pow", "norm", "Norm")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.guarded_after: set[int] = set()  # roots whose result gets an eps or clamp: sqrt(v) + eps

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add):
            for result, other in ((node.left, node.right), (node.right, node.left)):
                if guards.is_eps(self.ctx, other):
                    self.guarded_after.add(id(_unwrapped(self.ctx, result)))
        elif isinstance(node.operator, cst.Power):
            root = _half_power(self.ctx.const(node.right))
            if root is not None:
                self._check(node, root, node.left, self._framework_values(node.left), elementwise=False)

    def visit_Call(self, node: cst.Call) -> None:
        found = self.ctx.call(node)
        if found is None:
            self._named_root(node)
            return
        if not found.args:
            return
        if found.op in ("clamp", "maximum"):
            if self.ctx.values.of(node).nonzero:  # clamp(sqrt(v), min=eps): guarded after the root
                for operand in found.args:
                    self.guarded_after.add(id(_unwrapped(self.ctx, operand)))
        elif found.op in ("sqrt", "rsqrt"):
            self._check(node, found.op, found.args[0], guards.differentiable(self.ctx, found))
        elif found.op == "pow":
            root = _half_power(self.ctx.const(found.arg(1, "exponent")))
            if root is not None:
                self._check(node, root, found.args[0], guards.differentiable(self.ctx, found))
        elif found.op == "norm" and nan_gradient_norm(found):
            self._check_norm(found)

    def _named_root(self, node: cst.Call) -> None:
        """A helper nanlint cannot see whose name says inverse square root (`inv_sqrt_2x2(covs)`, `rsqrt_fn(var)`),
        of a value whose own name says variance, covariance or norm: weaker evidence than a visible rsqrt, so
        only both names together, in differentiable code, with no eps anywhere in the argument."""
        name = _called(node.func)
        if name is None or not _INVERSE_ROOT.search(name.lower()) or not node.args or node.args[0].keyword:
            return
        operand = node.args[0].value
        what = self._named_square(operand)
        if what is None or not guards.uses_autodiff(self.ctx) or not self.around.traced(node):
            return
        if self._resolvable(node) or self.around.checked(operand) or self._has_eps(operand):
            return
        self.report(
            node,
            f"{name}() of {what}, with no eps inside: by its name an inverse square root, inf at 0 (a degenerate "
            f"batch, constant input); add the eps inside ({name}(v + eps))",
        )

    def _named_square(self, operand: cst.BaseExpression) -> str | None:
        """'a variance' / 'a covariance' / 'a norm' when the operand, or the call it was assigned from, is named so."""
        for origin in self.ctx.values.origins(operand, depth=2):
            name = _called(origin.func) if isinstance(origin, cst.Call) else _called(origin)
            match = _SQUARE_NAME.search(name.lower()) if name else None
            if match is not None:
                return _SQUARE_WHAT[match.group(1)[:3]]
        return None

    def _resolvable(self, node: cst.Call) -> bool:
        """A function of this file or of the run's other files: its own body decides, not its name."""
        if self.ctx.values.index.callee(node) is not None:
            return True
        return self.ctx.project is not None and self.ctx.project.resolves(node, self.ctx.names)

    def _has_eps(self, operand: cst.BaseExpression) -> bool:
        for origin in self.ctx.values.origins(operand, depth=2):
            for inner in iter_nodes(origin):
                if isinstance(inner, cst.BinaryOperation) and isinstance(inner.operator, cst.Add):
                    if guards.is_eps(self.ctx, inner.left) or guards.is_eps(self.ctx, inner.right):
                        return True
        return False

    def _framework_values(self, operand: cst.BaseExpression) -> bool:
        """`sum(d**2) ** 0.5`: differentiable when its values come from a differentiable framework."""
        for inner in iter_nodes(operand):
            found = self.ctx.call(inner) if isinstance(inner, cst.Call) else None
            if found is not None and found.qualified is not None:
                return guards.differentiable(self.ctx, found)
        return guards.uses_autodiff(self.ctx)

    def _check(
        self, node: cst.CSTNode, root: str, operand: cst.BaseExpression, differentiable: bool, elementwise: bool = True
    ) -> None:
        fact = self.ctx.values.of(operand)
        if fact.negative is not None and fact.negative.kind == "variance-cancellation":
            return  # NAN107 reports it where E[x²] - E[x]² is computed: one hazard, one finding
        if fact.negative is not None and not self.around.checked(operand):
            self.report(
                node,
                f"{root} of {fact.negative.text}: NaN there, and an eps added to it does not help; clamp it at "
                f"0 first (maximum(v, 0)), or compute it as a sum of squared differences",
            )
            return
        if not differentiable or not self.around.traced(node):
            return  # NumPy, math, no_grad code: sqrt(0) is a fine 0 when no gradient is taken
        why = self._zero(node, fact, elementwise)
        if why is None or self.around.checked(operand):
            return
        if "eps" in why:  # W @ (x**2 + eps): the eps is inside the weighting
            self.report_gradient(
                node,
                f"{root} of {why}: where a weight is 0 the argument is 0 and the gradient infinite (NaN in training); "
                "add the eps after the weighting, inside the root",
            )
        elif root == "rsqrt":
            self.report(node, f"rsqrt of {why} with no eps inside is inf at 0; add the eps inside (rsqrt(v + eps))")
        elif id(node) in self.guarded_after:
            self.report_gradient(
                node,
                f"sqrt of {why} with the eps outside: sqrt(v) + eps (or a clamp after it) keeps the value finite, "
                f"but the gradient of sqrt is still infinite at 0 (NaN in training); {ADVICE}",
            )
        else:
            self.report_gradient(
                node, f"sqrt of {why} with no eps inside: its gradient is infinite at 0 (NaN in training); {ADVICE}"
            )

    def _zero(self, node: cst.CSTNode, fact: Fact, elementwise: bool = True) -> str | None:
        """What the argument is, when it can be 0."""
        reason = fact.can_be_zero()
        if reason is None:
            return None
        if reason.level >= BUILT or (reason.level >= DEGENERATE and reason.kind in _SQUARE_KINDS):
            if reason.kind == "constant":
                return None
            if fact.kind == "square-terms" and not elementwise:
                return None  # `(a**2 + b**2) ** 0.5` of plain names is as often scalar arithmetic: reductions only
            return _described(fact)
        return None

    def _check_norm(self, found: OpCall) -> None:
        """jnp.linalg.norm(a - b), tf.norm(x) guarded after: NaN gradients where the vector is 0."""
        if not self.around.traced(found.node) or not guards.differentiable(self.ctx, found):
            return
        operand = self.ctx.values.of(found.args[0])
        after = id(found.node) in self.guarded_after or self._compared_result(found.node)
        difference = operand.zero is not None and operand.zero.kind == "difference"
        built = operand.can_be_zero(BUILT) is not None
        if not (after or difference or built) or self.around.checked(found.args[0]):
            return
        what = "a difference (a distance between points that can be equal)" if difference else "a vector that can be 0"
        note = "; guarding the norm afterwards comes too late" if after else ""
        self.report_gradient(
            found.node,
            f"norm of {what}: its gradient is NaN at 0 in this framework{note}; compute sqrt(sum(x**2) + eps) "
            f"instead, or guard its input (the double where)",
        )

    def _compared_result(self, node: cst.CSTNode) -> bool:
        """`r = norm(x)` ... `where(r == 0, 1, r)` / `r[r < eps] = eps`: the result's 0 is handled after the fact."""
        index = self.ctx.values.index
        target = index.assigned_to.get(id(node))
        function = index.function_at(node)
        return target is not None and function is not None and target in index.compared_aliases(function)


# Callee names that say inverse square root, and operand names that say a variance-like quantity.
_INVERSE_ROOT = re.compile(r"(?:^|_)(?:inv_?sqrt|rsqrt|inverse_sqrt|invsqrt)(?:_|\d|$)")
_SQUARE_NAME = re.compile(r"(?:^|_)(cov|covs|covariance|covariances|var|vars|variance|variances)(?:_|\d|$)")
_SQUARE_WHAT = {"cov": "a covariance", "var": "a variance"}


def _called(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def _half_power(exponent: float | None) -> str | None:
    """ "sqrt" for x ** 0.5, "rsqrt" for x ** -0.5."""
    return _HALF_POWERS.get(exponent) if exponent is not None else None


def _described(fact: Fact) -> str:
    return fact.why if fact.why and not fact.why.startswith(("a sum that", "the constant")) else "a value that can be 0"


def _unwrapped(ctx, expr: cst.BaseExpression) -> cst.BaseExpression:
    """The root under indexing and conversions: `var.sqrt()[batch]` -> `var.sqrt()`."""
    for _ in range(4):
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        else:
            peeled = ctx.peel(expr)
            if peeled is expr:
                break
            expr = peeled
    return expr


def nan_gradient_norm(found: OpCall) -> bool:
    """A norm whose gradient at the zero vector is NaN (tf.norm, jnp.linalg.norm): no eps after it helps."""
    if found.qualified is None and not found.method:  # a norm module (`o3.Norm`): a sqrt of a sum of squares
        return True
    return found.qualified in ops.NAN_GRADIENT_NORMS


RULES = [SqrtAtZero]
