"""Shared reasoning of the guard rules: can this value be 0, is it guarded, is it a probability.

The numerical-stability rules (NAN104-NAN111) ask the same few questions about an
expression and about what its names were assigned from:

- `guarded`: is it bounded away from 0 by construction (`+ eps`, a clamp or maximum with a
  positive lower bound, a where() guard, nan_to_num), here or on an earlier line?
- `zero_reason` / `denominator_reason`: why it can be exactly 0 (a probability, `1 - p`, a
  product with a mask, a masked sum, a count of a possibly empty selection, a norm, a std);
- `square_sum_kind`: is it a sum of squares, a squared distance or a variance (sqrt at 0)?
- `cosine_kind` / `unit_clamp`: is it a cosine, and is it clamped strictly inside [-1, 1]?

Everything is asked in semantic ops (nanlint.source.ops), never in one framework's names.
Answers follow names back through the dataflow a few steps (`definitions`), most recent
assignment first, and the first step that decides wins: `p = p.clamp(min=eps)` guards every
later `log(p)`.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Iterator

import libcst as cst

from nanlint.source import ops
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall
from nanlint.source.traversal import children, iter_nodes

# Why a value can be exactly 0 (the rules put these in their messages).
PROBABILITY = "a probability that can be 0"
ONE_MINUS_PROBABILITY = "1 - p, which is 0 when the probability p reaches 1"
MASKED = "a product with a mask or one-hot, which is 0 where it is masked out"
MASKED_SUM = "a masked sum, which is 0 when everything is masked out"
COUNT = "a count of a possibly empty selection"
NONZERO_COUNT = "a count of nonzeros, which can be 0"
RELU = "a relu output, which is 0 for negative inputs"
NORM = "a norm, which is 0 for a zero vector"
STD = "a standard deviation, which is 0 for constant input"
VARIANCE = "a variance, which is 0 for constant input"
SEGMENT_SUM = "a segment sum, which is 0 for an empty segment"
SUM = "a sum that can be 0"

# What a sqrt's argument is (NAN106).
SUM_OF_SQUARES = "a sum of squares"
SQUARED_DISTANCE = "a squared distance"
VARIANCE_UNDER_SQRT = "a variance"

# --- ops ------------------------------------------------------------------------------------------


def call(ctx: Context, expr: cst.BaseExpression | None) -> OpCall | None:
    """ctx.call (memoised per file by the Context)."""
    return ctx.call(expr)


def op(ctx: Context, expr: cst.BaseExpression | None) -> str | None:
    found = call(ctx, expr)
    return found.op if found else None


def differentiable(ctx: Context, found: OpCall | None) -> bool:
    """Is this op traced for gradients? A function by its namespace; a method when the file uses such a framework."""
    if found is not None and found.qualified is not None:
        return ops.differentiable(found.qualified)
    return uses_autodiff(ctx)


def uses_autodiff(ctx: Context) -> bool:
    return any(ops.differentiable(target) for target in ctx.names.aliases.values())


# --- small syntactic helpers ----------------------------------------------------------------------

_TRANSPARENT = frozenset({"cast", "layout"})
_EPS_NAME = re.compile(r"(?:^|_)(?:eps|epsilon|tiny|smooth|smoothing|jitter)\d*(?:_|$)")
_MASK_NAME = re.compile(r"masks?\d*$|one_?hot")
_GUARD_HELPER = re.compile(r"(?:^|_)(?:clamp|clip|safe|stable)")
_COSINE_NAME = re.compile(r"(?:^|_)cos(?:ine)?(?:_|\d|$)|^cos(?:ine)?(?:theta|sim|_?angle)")
COMPARISONS = (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual, cst.Equal, cst.NotEqual)


def identifier(expr: cst.BaseExpression | None) -> str | None:
    """The last name of `x`, `self.x`, `a.b.x`."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


def is_binary(expr: cst.BaseExpression | None, *operators: type) -> bool:
    return isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, operators)


def is_variable(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, (cst.Name, cst.Attribute))


def const_is(ctx: Context, expr: cst.BaseExpression | None, value: float) -> bool:
    return ctx.const(expr) == value


def bare(ctx: Context, node: cst.CSTNode) -> str:
    """The source of a node without its own outer parentheses (its position excludes them too)."""
    if getattr(node, "lpar", None):
        node = node.with_changes(lpar=[], rpar=[])
    return ctx.code_of(node)


def peel(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    """See through dtype conversions and reshapes: `mask.float()`, `x.view(-1)`, `tf.cast(m, tf.float32)`."""
    for _ in range(8):
        found = call(ctx, expr)
        if found is None or found.op not in _TRANSPARENT or not found.args:
            return expr
        expr = found.args[0]
    return expr


_active: set[tuple[str, int]] = set()


def _no_reentry(default):
    """A recursive question asked again about the same node answers `default` (unknown).

    Names are resolved to their latest assignment, so in `p = p * mask` the `p` on the right
    resolves to `p * mask` itself; without this, asking about it would never end.
    """
    def decorate(function):
        @functools.wraps(function)
        def ask(ctx, expr, *args, **kwargs):
            key = (function.__name__, id(expr))
            if key in _active or len(_active) > 64:
                return default
            _active.add(key)
            try:
                return function(ctx, expr, *args, **kwargs)
            finally:
                _active.discard(key)
        return ask
    return decorate


def definitions(ctx: Context, expr: cst.BaseExpression | None, depth: int = 4) -> Iterator[cst.BaseExpression]:
    """The expression (peeled), then what its name was assigned from, and so on, most recent first."""
    seen: set[int] = set()
    while expr is not None and depth >= 0:
        expr = peel(ctx, expr)
        if id(expr) in seen:
            return
        seen.add(id(expr))
        yield expr
        expr = ctx.dataflow.value_of(expr)
        depth -= 1


def variables(ctx: Context, expr: cst.CSTNode) -> set[str]:
    """The variables an expression reads, as whole dotted chains: `x`, `self.norm`, `x.shape` (not also `x`).

    Called functions are not variables, their receivers are (`x.norm()` reads `x`); module aliases
    and `self` are left out.
    """
    if isinstance(expr, (cst.Name, cst.Attribute)):
        name = dotted(expr)
        if name is not None:
            return set() if name in ("self", "cls") or ctx.names.is_module_alias(expr) else {name}
    found: set[str] = set()
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute):
            found |= variables(ctx, expr.func.value)
        for argument in expr.args:
            found |= variables(ctx, argument.value)
        return found
    if isinstance(expr, cst.Attribute):  # (a + b).T
        return variables(ctx, expr.value)
    for child in children(expr):
        found |= variables(ctx, child)
    return found


def condition_variables(ctx: Context, test: cst.BaseExpression) -> set[str]:
    """Variables a condition tests, also through a name it tests (`ok = n > 0` ... `if ok:`)."""
    found = variables(ctx, test)
    for name in [n for n in iter_nodes(test) if isinstance(n, cst.Name)]:
        value = ctx.dataflow.value_of(name)
        if isinstance(value, (cst.Comparison, cst.BooleanOperation, cst.UnaryOperation)):
            found |= variables(ctx, value)
    return found


def compared_variables(ctx: Context, condition: cst.BaseExpression) -> set[str]:
    """Variables a condition compares with a constant: `x > 0`, `n != 0`, `norm > eps`, `ok` after `ok = n > 0`."""
    tested = [condition] + [value for name in iter_nodes(condition) if isinstance(name, cst.Name)
                            for value in [ctx.dataflow.value_of(name)] if isinstance(value, cst.BaseExpression)]
    found: set[str] = set()
    for expr in tested:
        for node in iter_nodes(expr):
            if not isinstance(node, cst.Comparison):
                continue
            sides = [node.left, *(c.comparator for c in node.comparisons)]
            if any(is_eps(ctx, side) or ctx.const(side) is not None for side in sides):
                for side in sides:
                    if ctx.const(side) is None:
                        found |= variables(ctx, side)
    return found


def names_match(name: str, stems: tuple[str, ...] | list[str]) -> bool:
    """A stem occurs at a word boundary of the name: "log_std" matches `log_std`, `actor_log_std2`, `LOG_STD`."""
    return bool(stems) and _stems_pattern(tuple(stems)).search(name.lower().strip("_")) is not None


@functools.lru_cache(maxsize=32)
def _stems_pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(stem.lower()) for stem in stems)
    return re.compile(rf"(?:^|_)(?:{alternatives})(?:_|\d|$)")


# --- positive constants and guards ------------------------------------------------------------------


def is_eps(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """A positive constant: a literal > 0, a name like eps / EPSILON / self.eps, finfo(...).eps, K.epsilon()."""
    if expr is None:
        return False
    value = ctx.const(expr)
    if value is not None:
        return value > 0
    name = identifier(expr.func if isinstance(expr, cst.Call) else expr)
    if name is not None and _EPS_NAME.search(name.lower()):
        return True
    if isinstance(expr, cst.Call) and identifier(expr.func) in ("tensor", "constant", "array", "as_tensor") \
            and expr.args and expr.args[0].keyword is None:
        return is_eps(ctx, expr.args[0].value)  # torch.tensor(1e-8)
    return False


def clamp_bounds(found: OpCall) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None,
                                         cst.BaseExpression | None]:
    """(operand, lower, upper) of a clamp op in any spelling; a missing bound is None."""
    if found.qualified in ops.CLAMP_BOUNDS_FIRST:
        return found.arg(1), found.arg(0), found.arg(2)
    func = found.node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else (found.qualified or "").rsplit(".", 1)[-1]
    if name.startswith(("clamp_min", "clip_min")):
        return found.arg(0), found.arg(1, "min"), None
    if name.startswith("clamp_max"):
        return found.arg(0), None, found.arg(1, "max")
    lower = found.arg(1, "min", "a_min", "clip_value_min", "min_value", "x_min")
    upper = found.arg(2, "max", "a_max", "clip_value_max", "max_value", "x_max")
    return found.arg(0), _not_none(lower), _not_none(upper)


def _not_none(expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
    return None if isinstance(expr, cst.Name) and expr.value == "None" else expr


@_no_reentry(False)
def positive_guard(ctx: Context, expr: cst.BaseExpression) -> bool:
    """Is this expression itself bounded away from 0 by construction?"""
    if is_binary(expr, cst.Add):
        return any(is_eps(ctx, side) or positive_guard(ctx, side) for side in (expr.left, expr.right))
    found = call(ctx, expr)
    if found is None:
        # a helper named like a guard (`clamp_probs(p)`, `safe_div(a, b)`): trusted, quiet rather than wrong
        return isinstance(expr, cst.Call) and _GUARD_HELPER.search((identifier(expr.func) or "").lower()) is not None
    if found.op == "clamp":
        return is_eps(ctx, clamp_bounds(found)[1])
    if found.op == "maximum":
        return any(is_eps(ctx, a) for a in found.args)
    if found.op == "max" and len(found.args) == 2:  # torch.max(x, eps); torch.max(x, 1) is a reduction
        value = ctx.const(found.args[1])
        return is_eps(ctx, found.args[1]) and (value is None or not value.is_integer())
    if found.op == "where":
        return _where_guard(ctx, found)
    return found.op in ("nan_to_num", "safe_div")


def _where_guard(ctx: Context, found: OpCall) -> bool:
    """where(x > 0, x, 1), where(m, x, eps): a branch is a positive constant, or the test is against 0."""
    parts = select_parts(found)
    if parts is None:
        return False
    condition, branches = parts
    if any(is_eps(ctx, b) for b in branches):
        return True
    return isinstance(condition, cst.Comparison) and any(
        const_is(ctx, side, 0) or is_eps(ctx, side)
        for side in (condition.left, *(c.comparator for c in condition.comparisons)))


@_no_reentry(False)
def guarded(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """Bounded away from 0 here or where its name was last assigned (`p = p.clamp(min=eps)`)."""
    for step in definitions(ctx, expr):
        if positive_guard(ctx, step):
            return True
        value = ctx.const(step)
        if value is not None:
            return value != 0
        if not is_variable(step):
            return False
    return False


# --- masks, selections, probabilities ----------------------------------------------------------------


@_no_reentry(False)
def is_mask(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """A 0/1 selection: a comparison, a one-hot, a name like `mask`/`attention_mask`, `~m`, `m1 & m2`, `1 - m`."""
    for step in definitions(ctx, expr):
        if isinstance(step, cst.Comparison):
            return all(isinstance(c.operator, COMPARISONS) for c in step.comparisons)
        name = identifier(step)
        if name is not None and _MASK_NAME.search(name.lower().strip("_")):
            return True
        if op(ctx, step) == "one_hot":
            return True
        if isinstance(step, cst.UnaryOperation) and isinstance(step.operator, (cst.BitInvert, cst.Not)):
            return is_mask(ctx, step.expression)
        if is_binary(step, cst.BitAnd, cst.BitOr):
            return is_mask(ctx, step.left) or is_mask(ctx, step.right)
        if is_binary(step, cst.Subtract) and const_is(ctx, step.left, 1):
            return is_mask(ctx, step.right)
        if is_binary(step, cst.Multiply):
            return is_mask(ctx, step.left) and is_mask(ctx, step.right)
        if not is_variable(step):
            return False
    return False


def _mask_index(ctx: Context, expr: cst.Subscript) -> bool:
    """`x[mask]`, `x[x > 0]`: boolean indexing, which can select nothing."""
    return any(isinstance(e.slice, cst.Index) and is_mask(ctx, e.slice.value) for e in expr.slice)


@_no_reentry(False)
def masked_product(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """`x * mask`, `p * one_hot`, `x.mul(mask)`, `x[mask]`, `x.masked_fill(m, 0)`: 0 wherever it is masked out."""
    for step in definitions(ctx, expr):
        if is_binary(step, cst.Multiply):
            return is_mask(ctx, step.left) or is_mask(ctx, step.right)
        if isinstance(step, cst.Subscript):
            return _mask_index(ctx, step)
        found = call(ctx, step)
        if found is not None and found.op == "mul":
            return any(is_mask(ctx, a) for a in found.args)
        if found is not None and found.op == "masked_fill" and len(found.args) >= 3:
            return const_is(ctx, found.args[2], 0)
        if not is_variable(step):
            return False
    return False


@_no_reentry(False)
def is_filtered(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """A selection that can be empty: `[x for x in xs if ...]`, `filter(...)`, `x[mask]`."""
    for step in definitions(ctx, expr):
        if isinstance(step, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return any(f.ifs for f in _comp_fors(step.for_in))
        if isinstance(step, cst.Call) and isinstance(step.func, cst.Name) and step.func.value == "filter":
            return True
        if isinstance(step, cst.Subscript):
            return _mask_index(ctx, step)
        if not is_variable(step):
            return False
    return False


def _comp_fors(node: cst.CompFor | None) -> Iterator[cst.CompFor]:
    while node is not None:
        yield node
        node = node.inner_for_in


def count_reason(ctx: Context, found: OpCall) -> str | None:
    """Why a count op can be 0: count_nonzero always can, len() when it counts a filtered selection."""
    if found.qualified == "builtins.len":
        return COUNT if is_filtered(ctx, found.arg(0)) else None
    return NONZERO_COUNT


def reduced_selection(ctx: Context, found: OpCall) -> str | None:
    """A sum or mean of a mask (a count) or of a masked product (a masked sum)."""
    if found.op not in ("sum", "mean", "segment_sum") or not found.args:
        return None
    operand = found.args[0]
    if is_mask(ctx, operand):
        return COUNT
    if masked_product(ctx, operand) or is_filtered(ctx, operand):
        return MASKED_SUM
    return None


@_no_reentry(False)
def is_probability(ctx: Context, expr: cst.BaseExpression | None, inline: bool,
                   names: tuple[str, ...] | list[str] = ()) -> bool:
    """A softmax/sigmoid output (through a name; also inline when `inline`), or a name matching `names`."""
    named = False
    for index, step in enumerate(definitions(ctx, expr)):
        if positive_guard(ctx, step) or ctx.const(step) is not None:
            return False
        if is_variable(step):
            named = named or names_match(identifier(step) or "", names)
            continue
        found = op(ctx, step)
        return found in ("softmax", "sigmoid") and (inline or index > 0)
    return named  # a name like `probs` decides only when nothing says where its value comes from


# --- why a log's argument can be 0 --------------------------------------------------------------------


@_no_reentry(None)
def zero_reason(ctx: Context, expr: cst.BaseExpression, probability_names: tuple[str, ...] | list[str] = (),
                ) -> str | None:
    """Why the argument of a log can be exactly 0, or None when it is guarded or unknown.

    A softmax/sigmoid written inline (`log(softmax(x))`, `log(1 - sigmoid(x))`) is left to NAN102;
    names matching `probability_names` count as probabilities when their value's origin is unknown.
    """
    named = False
    for index, step in enumerate(definitions(ctx, expr)):
        if positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if is_variable(step):
            named = named or names_match(identifier(step) or "", probability_names)
            continue
        found = call(ctx, step)
        if found is not None:
            return _call_zero_reason(ctx, found, through_name=index > 0)
        if is_binary(step, cst.Subtract) and const_is(ctx, step.left, 1):
            probability = is_probability(ctx, step.right, inline=index > 0, names=probability_names)
            return ONE_MINUS_PROBABILITY if probability else None
        return _binary_zero_reason(ctx, step, probability_names)
    # A name like `probs` decides only when nothing says where its value comes from (a parameter).
    return PROBABILITY if named else None


def _call_zero_reason(ctx: Context, found: OpCall, through_name: bool) -> str | None:
    if found.op in ("softmax", "sigmoid"):
        return PROBABILITY if through_name else None
    if found.op == "relu":
        return RELU
    if found.op == "one_hot":
        return MASKED
    if found.op == "count":
        return count_reason(ctx, found)
    if found.op == "mul" and any(is_mask(ctx, a) for a in found.args):
        return MASKED
    return reduced_selection(ctx, found)


def _binary_zero_reason(ctx: Context, expr: cst.BaseExpression, names: tuple[str, ...] | list[str]) -> str | None:
    if is_binary(expr, cst.Multiply):
        if is_mask(ctx, expr.left) or is_mask(ctx, expr.right):
            return MASKED
        return zero_reason(ctx, expr.left, names) or zero_reason(ctx, expr.right, names)
    if is_binary(expr, cst.Divide):
        return zero_reason(ctx, expr.left, names)
    return None


# --- why a denominator can be 0 -----------------------------------------------------------------------

_POSITIVE_SUMMANDS = frozenset({"exp", "softmax", "sigmoid", "softplus"})


@_no_reentry(None)
def denominator_reason(ctx: Context, expr: cst.BaseExpression, plain_sums: bool = False) -> str | None:
    """Why a denominator can be exactly 0 (a norm, std/var, count, masked sum); None when guarded or unknown.

    A sum counts when its terms can all be 0 (a mask, a masked product, relu outputs), or with
    `plain_sums` any sum not known to be positive.
    """
    for step in definitions(ctx, expr):
        if positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is not None:
            return _call_denominator_reason(ctx, found, plain_sums)
        if is_binary(step, cst.Multiply):
            return denominator_reason(ctx, step.left, plain_sums) or denominator_reason(ctx, step.right, plain_sums)
        if is_binary(step, cst.Power) and ctx.const(step.right) not in (None, 0):
            return denominator_reason(ctx, step.left, plain_sums)
        return None
    return None


def _call_denominator_reason(ctx: Context, found: OpCall, plain_sums: bool) -> str | None:
    if found.op == "norm":
        return NORM
    if found.op in ("std", "var"):
        return STD if found.op == "std" else VARIANCE
    if found.op == "count":
        return count_reason(ctx, found)
    if found.op in ("sqrt", "pow") and found.args:
        inner = found.args[0]
        kind = square_sum_kind(ctx, inner, elementwise=False)
        if kind is not None:
            return STD if kind == VARIANCE_UNDER_SQRT else NORM
        return denominator_reason(ctx, inner, plain_sums)
    if found.op not in ("sum", "mean", "segment_sum") or not found.args:
        return None
    selection = reduced_selection(ctx, found)
    if selection is not None or found.op == "mean":
        return selection
    if found.op == "segment_sum":
        return SEGMENT_SUM
    if op(ctx, peel(ctx, found.args[0])) == "relu":
        return SUM
    if not plain_sums or found.qualified in _PYTHON_SUMS or _positive_terms(ctx, found.args[0]):
        return None  # builtin sum() is mostly config arithmetic: sum(ratios), sum(block_counts)
    return SUM


_PYTHON_SUMS = frozenset({"builtins.sum", "math.fsum"})


def _positive_terms(ctx: Context, expr: cst.BaseExpression) -> bool:
    """Summands that cannot all be 0: exp(...), softmax, `x + eps`, a clamp at eps, ones."""
    for step in definitions(ctx, expr, depth=2):
        if guarded(ctx, step) or op(ctx, step) in _POSITIVE_SUMMANDS:
            return True
        if isinstance(step, cst.Call) and identifier(step.func) in ("ones", "ones_like"):
            return True
        if not is_variable(step):
            return False
    return False


# --- sums of squares (sqrt at 0) -----------------------------------------------------------------------


def is_square(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """x**2, x*x, square(x), pow(x, 2)."""
    if expr is None:
        return False
    expr = peel(ctx, expr)
    if is_binary(expr, cst.Power):
        return const_is(ctx, expr.right, 2)
    if is_binary(expr, cst.Multiply):
        return bare(ctx, expr.left) == bare(ctx, expr.right)
    found = call(ctx, expr)
    if found is None:
        return False
    return found.op == "square" or found.op == "pow" and const_is(ctx, found.arg(1, "exponent", "y", "x2"), 2)


def square_base(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    """x of x**2 / x*x / square(x) / pow(x, 2)."""
    expr = peel(ctx, expr)
    if isinstance(expr, cst.BinaryOperation):
        return expr.left
    found = call(ctx, expr)
    return found.args[0] if found and found.args else None


@_no_reentry(None)
def square_sum_kind(ctx: Context, expr: cst.BaseExpression | None, elementwise: bool = True) -> str | None:
    """SUM_OF_SQUARES, SQUARED_DISTANCE or VARIANCE_UNDER_SQRT when it has no eps, else None.

    `elementwise` also accepts sums of squared scalars (`dx**2 + dy**2`); without it only
    reductions count (`sum(d**2)`, `var(x)`), which is what `** 0.5` of plain names needs to be
    told apart from scalar arithmetic such as `(sigma**2 + sigma_data**2) ** 0.5`.
    """
    for step in definitions(ctx, expr):
        if positive_guard(ctx, step) or ctx.const(step) is not None:
            return None
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is not None:
            return _call_square_kind(ctx, found, elementwise)
        if is_binary(step, cst.Add, cst.Subtract):
            return _terms_kind(ctx, step, elementwise)
        return None
    return None


def _call_square_kind(ctx: Context, found: OpCall, elementwise: bool) -> str | None:
    if found.op == "var":
        return VARIANCE_UNDER_SQRT
    if found.op in ("sum", "mean") and found.args and is_square(ctx, found.args[0]):
        base = square_base(ctx, found.args[0])
        return SQUARED_DISTANCE if is_binary(peel(ctx, base), cst.Subtract) else SUM_OF_SQUARES
    if found.op in ("clamp", "relu", "abs", "maximum") and found.args:  # clamp(v, 0) still lets sqrt reach 0
        operand = clamp_bounds(found)[0] if found.op == "clamp" else found.args[0]
        return square_sum_kind(ctx, operand, elementwise)
    return None


def _terms_kind(ctx: Context, expr: cst.BinaryOperation, elementwise: bool) -> str | None:
    """E[x^2] - E[x]^2 (a variance); |a|^2 + |b|^2 - 2ab (a squared distance); x**2 + y**2 (a sum of squares).

    A difference of squares (`a**2 - b**2`, `b**2 - 4ac`) is none of these: it is not 0 only where
    everything is 0.
    """
    if isinstance(expr.operator, cst.Subtract) and variance_by_moments(ctx, expr):
        return VARIANCE_UNDER_SQRT
    squares, subtracted_products = 0, 0
    for negative, term in _signed_terms(expr):
        kind = _term_kind(ctx, term, elementwise)
        if kind is not None and negative or is_eps(ctx, term):
            return None
        if kind == SQUARED_DISTANCE:
            return kind
        if kind is not None:
            squares += 1
        elif negative and is_binary(peel(ctx, term), cst.Multiply, cst.MatrixMultiply):
            subtracted_products += 1
        else:
            return None
    if squares >= 2 and subtracted_products:
        return SQUARED_DISTANCE
    return SUM_OF_SQUARES if squares >= 2 and not subtracted_products else None


def _signed_terms(expr: cst.BaseExpression) -> Iterator[tuple[bool, cst.BaseExpression]]:
    """The terms of a sum with their signs, left to right (iterative: sums can be long)."""
    stack = [(False, expr)]
    while stack:
        negative, node = stack.pop()
        if is_binary(node, cst.Add, cst.Subtract):
            stack.append((negative != isinstance(node.operator, cst.Subtract), node.right))
            stack.append((negative, node.left))
        else:
            yield negative, node


def _term_kind(ctx: Context, term: cst.BaseExpression, elementwise: bool) -> str | None:
    while isinstance(term, cst.Subscript):  # (a ** 2).sum(1)[:, None]
        term = term.value
    if is_square(ctx, term):
        return SUM_OF_SQUARES if elementwise else None
    found = call(ctx, peel(ctx, term))
    return _call_square_kind(ctx, found, elementwise) if found is not None else None


# --- E[x^2] - E[x]^2 -------------------------------------------------------------------------------------


def variance_by_moments(ctx: Context, expr: cst.BinaryOperation) -> bool:
    """`mean(x**2) - mean(x)**2` in any spelling, the same x on both sides (through names)."""
    second = _mean_of_square(ctx, expr.left)
    first = _square_of_mean(ctx, expr.right)
    return second is not None and first is not None and bare(ctx, peel(ctx, second)) == bare(ctx, peel(ctx, first))


@_no_reentry(None)
def _mean_operand(ctx: Context, expr: cst.BaseExpression | None) -> cst.BaseExpression | None:
    """x of mean(x), or of sum(x) / n."""
    for step in definitions(ctx, expr, depth=2):
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is not None:
            return found.args[0] if found.op == "mean" and found.args else None
        if is_binary(step, cst.Divide):
            total = call(ctx, peel(ctx, step.left))
            return total.args[0] if total is not None and total.op == "sum" and total.args else None
        return None
    return None


def _mean_of_square(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    operand = _mean_operand(ctx, expr)
    return square_base(ctx, operand) if operand is not None and is_square(ctx, operand) else None


@_no_reentry(None)
def _square_of_mean(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression | None:
    for step in definitions(ctx, expr, depth=2):
        if is_square(ctx, step):
            return _mean_operand(ctx, square_base(ctx, step))
        if not is_variable(step):
            return None
    return None


# --- bounded log-scale values (exp overflow) -----------------------------------------------------------------

_BOUNDING = frozenset({"tanh", "sigmoid", "minimum", "softsign"})


@_no_reentry(False)
def bounded_above(ctx: Context, expr: cst.BaseExpression | None, depth: int = 3) -> bool:
    """Is the value capped from above (a clamp with a max, minimum, tanh, sigmoid, a constant), here or earlier?

    An affine rescaling of a capped value is capped (`lo + (hi - lo) * (tanh(x) + 1) / 2`); so is a name
    re-assigned from its own old value, which the dataflow cannot see (quiet rather than wrong).
    """
    name = None
    for step in definitions(ctx, expr):
        if ctx.const(step) is not None:
            return True
        if is_variable(step):
            name = dotted(step)
            continue
        return any(_capped_leaf(ctx, leaf, name, depth) for leaf in _arithmetic_leaves(step))
    return False


def _arithmetic_leaves(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation):
            stack.extend((node.right, node.left))
        elif isinstance(node, cst.UnaryOperation):
            stack.append(node.expression)
        else:
            yield node


def _capped_leaf(ctx: Context, leaf: cst.BaseExpression, name: str | None, depth: int) -> bool:
    leaf = peel(ctx, leaf)
    if is_variable(leaf):
        if ctx.const(leaf) is not None:
            return False
        return dotted(leaf) == name or depth > 0 and bounded_above(ctx, leaf, depth - 1)
    found = call(ctx, leaf)
    return found is not None and (found.op in _BOUNDING or found.op == "clamp" and clamp_bounds(found)[2] is not None)


def scaled_variable(ctx: Context, expr: cst.BaseExpression) -> cst.BaseExpression:
    """The variable under constant scalings and indexing: `0.5 * logvar`, `-log_std`, `x[:, 1] / 2` -> the name."""
    for _ in range(8):
        expr = peel(ctx, expr)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
            expr = expr.expression
        elif is_binary(expr, cst.Multiply, cst.Divide):
            if ctx.const(expr.right) is not None:
                expr = expr.left
            elif ctx.const(expr.left) is not None and isinstance(expr.operator, cst.Multiply):
                expr = expr.right
            else:
                return expr
        elif isinstance(expr, cst.Subscript):
            expr = expr.value
        elif op(ctx, expr) in ("mul", "div") and len(call(ctx, expr).args) == 2 \
                and ctx.const(call(ctx, expr).args[1]) is not None:
            expr = call(ctx, expr).args[0]
        else:
            return expr
    return expr


# --- cosines and the unit interval --------------------------------------------------------------------------

COSINE_SIMILARITY = "a cosine similarity"
NORMALISED_DOT = "a normalised dot product"
COSINE = "a cosine"


@_no_reentry(None)
def unit_clamp(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """"strict" if clamped strictly inside (-1, 1) (here or on an earlier line), "closed" if to [-1, 1]."""
    for step in definitions(ctx, expr):
        found = call(ctx, step)
        if found is not None and found.op == "clamp":
            _, lower, upper = clamp_bounds(found)
            low, high = _inside_unit(ctx, lower, -1), _inside_unit(ctx, upper, 1)
            if low is not None and high is not None:
                return "strict" if low and high else "closed"
            return None
        if not is_variable(step):
            return None
    return None


def _inside_unit(ctx: Context, bound: cst.BaseExpression | None, unit: int) -> bool | None:
    """True if the bound is strictly inside ±1, False if it is ±1 itself, None if beyond or unknown."""
    if bound is None:
        return None
    value = ctx.const(bound)
    if value is not None:
        return None if math.isnan(value) or abs(value) > 1 or value * unit < 0 else abs(value) < 1
    if isinstance(bound, cst.UnaryOperation) and isinstance(bound.operator, cst.Minus):  # -(1 - eps)
        return _inside_unit(ctx, bound.expression, -unit)
    if unit > 0 and is_binary(bound, cst.Subtract) and const_is(ctx, bound.left, 1):  # 1 - eps
        return True if is_eps(ctx, bound.right) else None
    if unit < 0 and is_binary(bound, cst.Add):  # -1 + eps, eps - 1 is a Subtract
        pair = (bound.left, bound.right)
        return True if any(const_is(ctx, a, -1) and is_eps(ctx, b) for a, b in (pair, pair[::-1])) else None
    if unit < 0 and is_binary(bound, cst.Subtract) and const_is(ctx, bound.right, 1) and is_eps(ctx, bound.left):
        return True
    return None


@_no_reentry(None)
def cosine_kind(ctx: Context, expr: cst.BaseExpression) -> str | None:
    """Why a value is a cosine that may round past ±1, or None."""
    for step in definitions(ctx, expr):
        if is_variable(step):
            if ctx.dataflow.value_of(step) is None and _COSINE_NAME.search((identifier(step) or "").lower()):
                return COSINE
            continue
        found = call(ctx, step)
        if found is not None and found.op in ("cosine_similarity", "cos"):
            return COSINE_SIMILARITY if found.op == "cosine_similarity" else COSINE
        return NORMALISED_DOT if normalised_dot(ctx, step) else None
    return None


def normalised_dot(ctx: Context, expr: cst.BaseExpression) -> bool:
    """dot(a, b) / (norm(a) * norm(b)); (a * b).sum(-1), a @ b, einsum(..., a, b) of normalised a and b."""
    if is_binary(expr, cst.Divide):
        return has_norm(ctx, expr.right) and _dot_operands(ctx, expr.left) is not None
    operands = _dot_operands(ctx, expr)
    return operands is not None and len(operands) >= 2 and all(_is_normalised(ctx, o) for o in operands[:2])


@_no_reentry(None)
def _dot_operands(ctx: Context, expr: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    expr = peel(ctx, expr)
    if is_binary(expr, cst.Divide) and has_norm(ctx, expr.right):  # dot(a, b) / norm(a) / norm(b)
        return _dot_operands(ctx, expr.left)
    if is_binary(expr, cst.MatrixMultiply, cst.Multiply):
        return [expr.left, expr.right]
    found = call(ctx, expr)
    if found is None:
        return None
    if found.op == "sum" and found.args:
        return _dot_operands(ctx, found.args[0])
    if found.op in ("dot", "mul"):
        return [a for a in found.args if not isinstance(a, (cst.SimpleString, cst.ConcatenatedString))]
    return None


@_no_reentry(False)
def _is_normalised(ctx: Context, expr: cst.BaseExpression) -> bool:
    """normalize(x), x / norm(x), through names, transposes and indexing."""
    for step in definitions(ctx, expr):
        if isinstance(step, cst.Attribute) and step.attr.value in ("T", "mT"):
            return _is_normalised(ctx, step.value)
        if isinstance(step, cst.Subscript):
            return _is_normalised(ctx, step.value)
        if is_variable(step):
            continue
        if op(ctx, step) == "normalize":
            return True
        if isinstance(step, cst.Call) and isinstance(step.func, cst.Attribute) \
                and step.func.attr.value in ("t", "transpose", "permute"):
            return _is_normalised(ctx, step.func.value)
        return is_binary(step, cst.Divide) and has_norm(ctx, step.right)
    return False


@_no_reentry(False)
def has_norm(ctx: Context, expr: cst.BaseExpression) -> bool:
    """A norm, a product of norms, or sqrt of a sum of squares (possibly clamped or with an eps)."""
    for step in definitions(ctx, expr):
        if is_binary(step, cst.Multiply, cst.Add):
            return has_norm(ctx, step.left) or has_norm(ctx, step.right)
        if is_variable(step):
            continue
        found = call(ctx, step)
        if found is None:
            return False
        if found.op in ("clamp", "maximum") and found.args:
            return has_norm(ctx, found.args[0])
        return found.op == "norm" or found.op == "sqrt" and bool(found.args) \
            and square_sum_kind(ctx, found.args[0]) in (SUM_OF_SQUARES, SQUARED_DISTANCE)
    return False


# --- where() and friends around a node ------------------------------------------------------------------------

SELECT_OPS = frozenset({"where", "masked_fill", "nan_to_num"})


def select_parts(found: OpCall) -> tuple[cst.BaseExpression, list[cst.BaseExpression]] | None:
    """(condition, selected values) of where(c, a, b) / masked_fill(a, c, v); None otherwise."""
    if found.op == "where":
        condition = found.arg(0, "condition", "cond", "pred")
        branches = [b for b in (found.arg(1, "x", "input", "on_true"), found.arg(2, "y", "other", "on_false"))
                    if b is not None]
        return (condition, branches) if condition is not None and len(branches) == 2 else None
    if found.op == "masked_fill" and len(found.args) >= 2:
        return found.args[1], [found.args[0]]
    return None


# Base classes whose methods are not differentiated: they run after or beside the backward pass.
_GRADIENT_FREE_BASES = ("Optimizer", "Constraint", "Metric", "Callback")
# Consumers that take a value out of the autodiff graph: `x.item()`, `float(x)`.
_GRAPH_EXITS = frozenset({"item", "tolist", "numpy"})


class Surroundings:
    """What encloses the visited node, for rules that judge a value's domain or its gradient.

    Checked values: an enclosing where()/masked_fill() whose condition tests a variable of the
    operand, an enclosing nan_to_num() (the bad values are selected away or repaired), or an
    if/while/assert/ternary test of that variable earlier in the same function (`if n == 0: return`
    ... `x / n`) -- flow-insensitive, quiet rather than wrong.

    Gradient-free code: `with torch.no_grad():`, `@torch.no_grad()`, methods of optimizer, constraint,
    metric and callback classes, and values taken out of the graph (`x.item()`, `float(x)`).

    A tracker: a rule lists it in `uses` and reads it as `self.ctx.tracker(Surroundings)`.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.selects: list[OpCall] = []
        self.tested: list[list[cst.BaseExpression]] = [[]]  # per function; read only when a hazard is found
        self.gradient_free: list[cst.CSTNode] = []  # the with/def/class nodes that open gradient-free code
        self.exits: set[int] = set()  # ids of nodes whose value leaves the graph

    # --- calls ---

    def enter_call(self, node: cst.Call, found: OpCall | None) -> None:
        if found is not None and found.op in SELECT_OPS:
            self.selects.append(found)
        func = node.func
        if isinstance(func, cst.Attribute) and (func.attr.value in _GRAPH_EXITS or id(node) in self.exits):
            self.exits.add(id(func.value))  # x.sqrt().cpu().item(): the exit reaches back through the chain
        elif isinstance(func, cst.Name) and self.ctx.qualify(func) in ("builtins.float", "builtins.int") and node.args:
            self.exits.add(id(node.args[0].value))

    def leave_call(self, node: cst.Call) -> None:
        if self.selects and self.selects[-1].node is node:
            self.selects.pop()

    # --- scopes ---

    def enter_function(self, node: cst.FunctionDef) -> None:
        self.tested.append([])
        if any(self._no_grad(d.decorator) for d in node.decorators):
            self.gradient_free.append(node)

    def leave_function(self, node: cst.FunctionDef) -> None:
        self.tested.pop()
        self.close(node)

    def enter_class(self, node: cst.ClassDef) -> None:
        if any((identifier(b.value) or "").endswith(_GRADIENT_FREE_BASES) for b in node.bases):
            self.gradient_free.append(node)

    def enter_with(self, node: cst.With) -> None:
        if any(self._no_grad(item.item) for item in node.items):
            self.gradient_free.append(node)

    def close(self, node: cst.CSTNode) -> None:
        if self.gradient_free and self.gradient_free[-1] is node:
            self.gradient_free.pop()

    def _no_grad(self, expr: cst.BaseExpression) -> bool:
        target = expr.func if isinstance(expr, cst.Call) else expr
        return ops.function_op(self.ctx.qualify(target)) == "no_grad"

    def test(self, condition: cst.BaseExpression) -> None:
        self.tested[-1].append(condition)

    # --- questions ---

    def checked(self, operand: cst.BaseExpression) -> bool:
        """Is the operand's bad value selected away, repaired, or tested for?"""
        names = variables(self.ctx, operand)
        if any(names & condition_variables(self.ctx, test) for test in self.tested[-1]):
            return True
        for found in self.selects:
            if found.op == "nan_to_num":
                return True
            parts = select_parts(found)
            if parts is not None and names & condition_variables(self.ctx, parts[0]):
                return True
        return False

    def traced(self, node: cst.CSTNode) -> bool:
        """Can gradients flow through this node? (Not in no_grad code, optimizers, or a value passed to .item().)"""
        return not self.gradient_free and id(node) not in self.exits

    # --- as a tracker: the traversal feeds it once per file for every rule that uses it ---

    def visit_Call(self, node: cst.Call) -> None:
        self.enter_call(node, self.ctx.call(node))

    def leave_Call(self, node: cst.Call) -> None:
        self.leave_call(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.enter_function(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.leave_function(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.enter_class(node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.close(node)

    def visit_With(self, node: cst.With) -> None:
        self.enter_with(node)

    def leave_With(self, node: cst.With) -> None:
        self.close(node)

    def visit_If(self, node: cst.If) -> None:
        self.test(node.test)

    def visit_While(self, node: cst.While) -> None:
        self.test(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self.test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.test(node.test)


# --- fixes ------------------------------------------------------------------------------------------------------

_LOOSE = (cst.IfExp, cst.Lambda, cst.Comparison, cst.BooleanOperation, cst.NamedExpr)
_LOOSE_OPERATORS = (cst.BitOr, cst.BitAnd, cst.BitXor, cst.LeftShift, cst.RightShift)


def number(value: float) -> str:
    """1e-08 -> "1e-8"."""
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(value))


def plus_eps(ctx: Context, node: cst.BaseExpression, eps: float, enclose: bool) -> str:
    """Source of `node + eps`; `enclose` puts it in parentheses (for a receiver or a divisor) unless node has its own."""
    text = bare(ctx, node)
    if isinstance(node, _LOOSE) or is_binary(node, *_LOOSE_OPERATORS) or (
            isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)):
        text = f"({text})"
    result = f"{text} + {number(eps)}"
    return f"({result})" if enclose and not getattr(node, "lpar", None) else result
