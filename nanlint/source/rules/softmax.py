"""NAN101 naive softmax, NAN102 log of a softmax/sigmoid; the exponent reasoning they share with NAN103/NAN113.

The shared questions, asked in semantic ops through names and `self` attributes:

- `exp_calls`: which exp calls make up a value (`exp(x)`, `e * mask`, `e[idx]`, `where(m, e, 0)`);
- `normaliser`: is a value a sum of exps (`e.sum(-1, keepdim=True) + eps`, a segment sum, `exp(a) + exp(b)`)?
- `capped`: can the exp not overflow (its max or a logsumexp subtracted, clamped from above, bounded,
  `-abs(x)`, `-distance`)?

Fixes call the same framework's function (`ops.fix_functions`), spelled through the file's own imports.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import libcst as cst

from nanlint.source import guards, ops, squares
from nanlint.source.dataflow import binding_key
from nanlint.source.rule import Context, OpCall, PendingFix, Rule

# --- calls, namespaces, spellings ------------------------------------------------------------------------


def op_call(ctx: Context, expr: cst.BaseExpression | None) -> OpCall | None:
    """The op a call computes; a method called on `self`/`cls` is the class's own method, not a tensor op."""
    found = guards.call(ctx, expr)
    if (
        found is not None
        and found.method
        and isinstance(found.args[0], cst.Name)
        and found.args[0].value in ("self", "cls")
    ):
        return None
    return found


def namespace(ctx: Context, found: OpCall) -> str | None:
    """Where the op comes from: "numpy" for np.exp, "torch.nn" for a module instance, METHOD_NAMESPACE for x.exp()."""
    if found.qualified is not None:
        return found.qualified.rpartition(".")[0]
    if found.method:
        return ops.METHOD_NAMESPACE
    constructed = ctx.dataflow.value_of(found.node.func)
    qualified = ctx.qualify(constructed.func) if isinstance(constructed, cst.Call) else None
    return qualified.rpartition(".")[0] if qualified else None


def spell(ctx: Context, qualified: str) -> str | None:
    """How the file can name `qualified` through its imports, also under an alias such as tf.compat.v1."""
    spelled = ctx.spelling(qualified)
    for prefix, replacement in ops.CANONICAL_PREFIXES:
        if spelled is None and qualified.startswith(replacement):
            spelled = ctx.spelling(prefix + qualified[len(replacement) :])
    return spelled


@dataclass(frozen=True)
class Function:
    spelled: str  # as the file writes it: "F.log_softmax"
    qualified: str  # "torch.nn.functional.log_softmax"


def fix_function(ctx: Context, space: str | None, op: str) -> Function | None:
    """The first function computing `op` in the framework of `space` that the file can call."""
    for qualified in ops.fix_functions(space, op):
        spelled = spell(ctx, qualified)
        if spelled is not None:
            return Function(spelled, qualified)
    return None


def is_natural_log(found: OpCall) -> bool:
    """log(x), x.log() -- not log2/log10 nor math.log(x, base)."""
    if found.method:
        return found.node.func.attr.value == "log" and len(found.args) == 1 and not found.keywords
    return (found.qualified or "").endswith(".log") and len(found.args) == 1 and not found.keywords


# --- source of operands ------------------------------------------------------------------------------------

_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)
_ARITHMETIC = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.MatrixMultiply,
    cst.Power,
)


def atom(ctx: Context, node: cst.BaseExpression) -> str:
    """Source of node usable as a receiver or after a unary minus: parenthesised unless it is an atom."""
    text = ctx.code_of(node)
    return text if isinstance(node, _ATOMS) or node.lpar else f"({text})"


def minuend(ctx: Context, node: cst.BaseExpression) -> str:
    """Source of node usable as the left side of `-`."""
    text = ctx.code_of(node)
    arithmetic = guards.is_binary(node, *_ARITHMETIC) or (
        isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not)
    )
    return text if isinstance(node, _ATOMS) or arithmetic or node.lpar else f"({text})"


def exponent(found: OpCall) -> cst.BaseExpression:
    """x of exp(x) / x.exp()."""
    return found.args[0]


# --- what a value is made of ----------------------------------------------------------------------------------


def _attribute_of_value(expr: cst.BaseExpression) -> bool:
    """`x.max(0).values`: an attribute of a computed value, not a variable."""
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, (cst.Call, cst.Subscript))


def settled(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """The first definition of expr that is not a plain variable (None when only an unknown variable remains)."""
    for step in guards.definitions(ctx, expr):
        if guards.is_variable(step) and not _attribute_of_value(step):
            continue
        return step
    return None


def exp_calls(ctx: Context, expr: cst.BaseExpression | None, depth: int = 6) -> list[OpCall]:
    """The exp calls whose values make up expr: exp(x), a name assigned one, e * mask, e[i], where(m, e, 0), ..."""
    step = settled(ctx, expr) if expr is not None and depth > 0 else None
    if step is None:
        return []
    if isinstance(step, cst.Subscript):
        return exp_calls(ctx, step.value, depth - 1)
    if isinstance(step, (cst.GeneratorExp, cst.ListComp)):
        return exp_calls(ctx, step.elt, depth - 1)
    if guards.is_binary(step, cst.Multiply):
        return exp_calls(ctx, step.left, depth - 1) + exp_calls(ctx, step.right, depth - 1)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return []
    if found.op == "exp":
        return [found]
    if found.op in ("gather", "masked_fill"):
        return exp_calls(ctx, found.args[0], depth - 1)
    if found.op == "mul":
        return [e for a in found.args for e in exp_calls(ctx, a, depth - 1)]
    if found.op == "where":
        parts = guards.select_parts(found)
        return [e for b in (parts[1] if parts else []) for e in exp_calls(ctx, b, depth - 1)]
    return []


def pure_exp(ctx: Context, expr: cst.BaseExpression) -> tuple[OpCall, bool] | None:
    """(the exp call, whether it is written right here) when expr is an exp (possibly through names)."""
    step = settled(ctx, expr)
    found = op_call(ctx, step)
    if found is None or found.op != "exp" or not found.args:
        return None
    return found, step is expr


@dataclass(frozen=True)
class Normaliser:
    """A sum of exps: `reduction` is the sum call (None for `exp(a) + exp(b)`)."""

    exps: tuple[OpCall, ...]
    reduction: OpCall | None
    plain: bool  # the expression is the sum call itself, summing an exp call written inside it


def segment_reduce(found: OpCall) -> str:
    """How a scatter/segment op reduces: "sum" unless a reduce string says otherwise."""
    reduce = found.keywords.get("reduce") or next((a for a in found.args if isinstance(a, cst.SimpleString)), None)
    if isinstance(reduce, cst.SimpleString):
        value = reduce.evaluated_value
        return value if isinstance(value, str) else "sum"
    return "sum"


def normaliser(
    ctx: Context, expr: cst.BaseExpression, inplace: dict | None = None, depth: int = 6
) -> Normaliser | None:
    """The sum of exps that expr is -- through names, `+ eps`, clamps, indexing, reshapes -- or None."""
    if depth <= 0:
        return None
    for step in guards.definitions(ctx, expr):
        if guards.is_variable(step) and not _attribute_of_value(step):
            recorded = _inplace_sum(ctx, step, inplace)
            if recorded is not None:
                return recorded
            continue
        found = _normaliser_of(ctx, step, inplace, depth)
        if found is not None and found.plain and step is not expr:
            found = replace(found, plain=False)
        return found
    return None


def _inplace_sum(ctx: Context, variable: cst.BaseExpression, inplace: dict | None) -> Normaliser | None:
    """`d = zeros(n); d.index_add_(0, idx, e)`: a statement that summed exps into the variable's current value."""
    key = binding_key(variable)
    if not inplace or key not in inplace:
        return None
    binding, found = inplace[key]
    if binding is not ctx.dataflow.value_of(variable):
        return None
    exps = tuple(e for a in (*found.args[1:], *found.keywords.values()) for e in exp_calls(ctx, a))
    return Normaliser(exps, found, plain=False) if exps else None


def _normaliser_of(ctx: Context, step: cst.BaseExpression, inplace: dict | None, depth: int) -> Normaliser | None:
    if isinstance(step, cst.Subscript):
        inner = normaliser(ctx, step.value, inplace, depth - 1)
        return replace(inner, plain=False) if inner else None
    if _attribute_of_value(step):
        return None
    if guards.is_binary(step, cst.Add):
        return _sum_of_terms(ctx, step, inplace, depth)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return None
    if found.op == "sum":
        exps = exp_calls(ctx, found.args[0])
        direct = op_call(ctx, found.args[0])
        plain = direct is not None and direct.op == "exp"
        return Normaliser(tuple(exps), found, plain) if exps else None
    if found.op == "segment_sum" and segment_reduce(found) == "sum":
        exps = tuple(e for a in (*found.args, *found.keywords.values()) for e in exp_calls(ctx, a))
        return Normaliser(exps, found, plain=False) if exps else None
    if found.op in ("clamp", "maximum", "gather"):  # an eps guard or an index does not prevent inf / inf
        for operand in found.args:
            inner = normaliser(ctx, operand, inplace, depth - 1)
            if inner is not None:
                return replace(inner, plain=False)
    return None


def _sum_of_terms(ctx: Context, expr: cst.BinaryOperation, inplace: dict | None, depth: int) -> Normaliser | None:
    """`s + eps` (a sum of exps plus a guard) or `exp(a) + exp(b) (+ c)` (a sum written out)."""
    terms = list(additive_terms(expr))
    sums = [normaliser(ctx, t, inplace, depth - 1) for t in terms]
    reduced = [s for s in sums if s is not None and s.reduction is not None]
    if len(reduced) == 1:  # an eps (or anything else) added to the sum does not prevent inf / inf
        return replace(reduced[0], plain=False)
    written = [pure_exp(ctx, t) for t in terms]
    if any(written) and all(w is not None or is_constant(ctx, t) for w, t in zip(written, terms)):
        return Normaliser(tuple(w[0] for w in written if w), None, plain=False)
    return None


def additive_terms(expr: cst.BaseExpression):
    if guards.is_binary(expr, cst.Add):
        yield from additive_terms(expr.left)
        yield from additive_terms(expr.right)
    else:
        yield expr


def is_constant(ctx: Context, expr: cst.BaseExpression) -> bool:
    return ctx.const(expr) is not None or guards.is_eps(ctx, expr)


# --- exponents -------------------------------------------------------------------------------------------------

# Ops whose output is bounded: exp of it cannot overflow.
_BOUNDED = frozenset({"tanh", "sigmoid", "softmax", "cos", "cosine_similarity"})
# Ops whose output is >= 0: exp of minus it cannot overflow.
_NONNEGATIVE = frozenset(
    {"abs", "relu", "sqrt", "square", "norm", "exp", "softplus", "sigmoid", "softmax", "count", "std", "var"}
)
_OVERFLOW = 80.0  # exp(88.7) overflows float32; constants below this are harmless exponents


def capped(ctx: Context, expr: cst.BaseExpression) -> bool:
    """Can exp(expr) not overflow? Its max (or a logsumexp) is subtracted, or it is capped from above or bounded.

    exp(-distance), exp(-abs(x)) cannot overflow either; they can underflow to 0 / 0 when every term is far
    away, which depends on the data and is left alone (a Gaussian kernel on a grid is fine).
    """
    return _safe_exponent(ctx, expr, depth=6)


def _safe_exponent(ctx: Context, expr: cst.BaseExpression, depth: int) -> bool:
    if depth <= 0:
        return False
    step = settled(ctx, expr)
    if step is None:
        return False
    value = ctx.const(step)
    if value is not None:
        return value < _OVERFLOW

    def safe(part: cst.BaseExpression) -> bool:
        """A capped value (not a mere constant: `2 * x` is not capped because 2 is)."""
        return ctx.const(part) is None and _safe_exponent(ctx, part, depth - 1)

    def scale(part: cst.BaseExpression) -> bool:
        """A positive constant or an unknown factor (a temperature)."""
        value = ctx.const(part)
        return value is None or value > 0

    if isinstance(step, cst.BinaryOperation):
        left, operator, right = step.left, step.operator, step.right
        if isinstance(operator, cst.Subtract):  # x - max(x), min(x) - x, (x - max) - c
            shift = ctx.const(left) is None and subtracts_max(ctx, right)  # 1 - x is no shift of the values
            return shift or _is_min(ctx, left) or safe(left)
        if isinstance(operator, cst.Add):
            return (safe(left) and is_constant(ctx, right)) or (safe(right) and is_constant(ctx, left))
        if isinstance(operator, cst.Multiply):  # a temperature or scale times a capped exponent
            return (
                (safe(left) and scale(right))
                or (safe(right) and scale(left))
                or _negative_times_nonnegative(ctx, left, right)
                or _negative_times_nonnegative(ctx, right, left)
            )
        if isinstance(operator, cst.Divide):
            return safe(left) and scale(right)
        return isinstance(operator, cst.MatrixMultiply) and squares.normalised_dot(ctx, step)
    if isinstance(step, cst.UnaryOperation) and isinstance(step.operator, cst.Minus):
        inner = settled(ctx, step.expression)
        if guards.is_binary(inner, cst.Subtract) and _is_min(ctx, inner.right):  # -(x - min(x))
            return True
        return inner is not None and _nonnegative(ctx, inner)
    if isinstance(step, cst.Subscript):
        return safe(step.value)
    found = op_call(ctx, step)
    if found is None or not found.args:
        return False
    if found.op in _BOUNDED or found.op in ("log_softmax", "log_sigmoid"):  # bounded, or <= 0
        return True
    if found.op == "clamp":
        return guards.clamp_bounds(found)[2] is not None
    if found.op == "minimum":
        return len(found.args) >= 2
    if found.op == "gather":
        return safe(found.args[0])
    if found.op == "where":
        parts = guards.select_parts(found)
        return parts is not None and all(safe(b) for b in parts[1])
    return found.op == "dot" and squares.normalised_dot(ctx, step)


def _negative_times_nonnegative(ctx: Context, factor: cst.BaseExpression, other: cst.BaseExpression) -> bool:
    """-0.5 * (x / sigma) ** 2: a Gaussian exponent."""
    value = ctx.const(factor)
    if value is None or value >= 0:
        return False
    step = settled(ctx, other)
    return step is not None and _nonnegative(ctx, step)


def _nonnegative(ctx: Context, expr: cst.BaseExpression, depth: int = 4) -> bool:
    if squares.is_square(ctx, expr):
        return True
    if guards.is_binary(expr, cst.Add, cst.Multiply, cst.Divide):
        return depth > 0 and all(
            _nonnegative(ctx, settled(ctx, side) or side, depth - 1) for side in (expr.left, expr.right)
        )
    value = ctx.const(expr)
    if value is not None:
        return value >= 0
    found = op_call(ctx, expr)
    return found is not None and found.op in _NONNEGATIVE


def subtracts_max(ctx: Context, expr: cst.BaseExpression, depth: int = 4) -> bool:
    """Is expr a maximum of the values (or their logsumexp)? `x.max(-1, keepdims=True)`, `.values`, `[0]`,
    `stop_gradient(...)`, a segment max gathered back; an unknown variable or call gets the benefit of the doubt."""
    if depth <= 0:
        return False
    last = None
    for step in guards.definitions(ctx, expr):
        if ctx.const(step) is not None:
            return False
        if isinstance(step, cst.Subscript) or _attribute_of_value(step):
            return subtracts_max(ctx, step.value, depth - 1)
        if guards.is_variable(step):
            last = step
            continue
        found = guards.call(ctx, step)
        if found is None:
            return isinstance(step, cst.Call)  # some helper of the project's own
        if found.op in ("max", "segment_max", "logsumexp"):
            return True
        if found.op == "maximum":
            return len(found.args) == 1  # builtins max(xs): a reduction
        if found.op == "segment_sum":
            return segment_reduce(found) in ("max", "amax")
        if found.op == "gather" and found.args:
            return subtracts_max(ctx, found.args[0], depth - 1)
        return False
    return last is not None and ctx.qualify(last) is None  # an argument or attribute we cannot see: trust it


def _is_min(ctx: Context, expr: cst.BaseExpression) -> bool:
    step = settled(ctx, expr)
    for _ in range(4):  # x.min(0).values, x.min(0)[0]; bounded: `x = x[0]` refers to itself
        if not (isinstance(step, cst.Subscript) or (step is not None and _attribute_of_value(step))):
            break
        step = settled(ctx, step.value)
    found = op_call(ctx, step)
    if found is None:
        return False
    if found.op == "minimum":
        return len(found.args) == 1
    return found.op == "min" or (found.op == "segment_sum" and segment_reduce(found) in ("min", "amin"))


# --- reductions ----------------------------------------------------------------------------------------------

_AXIS_KEYWORDS = frozenset({"axis", "dim", "keepdims", "keepdim"})


def reduction_axis(found: OpCall) -> tuple[cst.BaseExpression | None, bool]:
    """(axis, keepdims) of a sum; axis None for a full reduction."""
    axis = found.arg(1, "axis", "dim")
    if isinstance(axis, cst.Name) and axis.value == "None":
        axis = None
    keep = found.keywords.get("keepdims") or found.keywords.get("keepdim")
    if keep is None and len(found.args) > 2:
        keep = found.args[2]
    return axis, isinstance(keep, cst.Name) and keep.value == "True"


def axis_arguments_only(found: OpCall) -> bool:
    """The sum passes its operand positionally, then at most an axis, and only axis/keepdims keywords."""
    positional = len(found.args) - 1  # after the operand (the receiver of a method)
    first = found.node.args[0] if found.node.args else None
    operand_positional = found.method or (first is not None and first.keyword is None and not first.star)
    return operand_positional and positional <= 1 and set(found.keywords) <= _AXIS_KEYWORDS


def reduction_arguments(found: OpCall) -> list[cst.Arg]:
    """The arguments of a sum after its operand."""
    return list(found.node.args if found.method else found.node.args[1:])


def call_code(
    ctx: Context, function: str | None, first: cst.BaseExpression, rest: list[cst.Arg], method: str | None = None
) -> str:
    """`function(first, *rest)`, or `first.method(*rest)`, keeping the rest's own source."""
    if method is not None:
        head, args = f"{atom(ctx, first)}.{method}", rest
    else:
        head, args = function, [cst.Arg(first), *rest]
    parts = [ctx.code_of(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in args]
    return f"{head}({', '.join(parts)})"


# --- NAN101 ---------------------------------------------------------------------------------------------------

NAIVE_SOFTMAX = (
    "naive softmax: exp overflows to inf for large inputs and inf / inf is NaN; "
    "subtract the max before exp or use softmax()"
)


class NaiveSoftmax(Rule):
    """NAN101: exp(x) / sum(exp(x)) -- function, method, across statements, segment sums -- without the max."""

    code = "NAN101"
    triggers = ("exp",)
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
        loop, targets = node.for_in, {}
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

    def visit_Expr(self, node: cst.Expr) -> None:
        """Remember `d.index_add_(0, idx, e)`: a statement summing into d."""
        found = op_call(self.ctx, node.value)
        if found is not None and found.op == "segment_sum" and found.method:
            key = binding_key(found.args[0])
            if key is not None and self.ctx.dataflow.value_of(found.args[0]) is not None:
                self.inplace[key] = (self.ctx.dataflow.value_of(found.args[0]), found)

    def _check(self, division: cst.CSTNode, numerator: cst.BaseExpression, denominator: cst.BaseExpression) -> None:
        exps = exp_calls(self.ctx, self._element(numerator))
        if not exps or all(capped(self.ctx, exponent(e)) for e in exps):
            return
        total = normaliser(self.ctx, denominator, self.inplace)
        if total is None:
            return
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
        if function.qualified.rpartition(".")[0] != space and not set(inner.keywords) <= _AXIS_KEYWORDS:
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


RULES = [NaiveSoftmax, LogOfProbability]
