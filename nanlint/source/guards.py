"""Shared reasoning of the guard rules: can this value be 0, is it guarded, is it a mask or a selection.

The numerical-stability rules (NAN104-NAN111) ask the same few questions about an
expression and about what its names were assigned from:

- `guarded`: is it bounded away from 0 by construction (`+ eps`, a clamp or maximum with a
  positive lower bound, a where() guard, nan_to_num), here or on an earlier line?
- `is_mask` / `masked_product` / `reduced_selection` / `count_reason`: is it a 0/1 selection, a
  product with one, a masked sum, a count of a possibly empty selection (why it can be exactly 0)?
- `Surroundings`: is the value checked by an enclosing where() or an earlier test, can gradients flow?

A question only one rule asks lives with that rule (why a log's argument or a denominator can be
0: rules/logs.py, rules/divisions.py; cosines and the unit interval: rules/trig.py; bounded
log-scale values: rules/exps.py); sums of squares, variances and norms are nanlint.source.squares.

Everything is asked in semantic ops (nanlint.source.ops), never in one framework's names.
Answers follow names back through the dataflow a few steps (`definitions`), most recent
assignment first, and the first step that decides wins: `p = p.clamp(min=eps)` guards every
later `log(p)`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import libcst as cst

from nanlint.source import ops
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall, Rule
from nanlint.source.traversal import children, iter_nodes

# Why a value can be exactly 0 (the rules put these in their messages).
MASKED_SUM = "a masked sum, which is 0 when everything is masked out"
COUNT = "a count of a possibly empty selection"
NONZERO_COUNT = "a count of nonzeros, which can be 0"

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


def no_reentry(default):
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
    if (
        isinstance(expr, cst.Call)
        and identifier(expr.func) in ("tensor", "constant", "array", "as_tensor")
        and expr.args
        and expr.args[0].keyword is None
    ):
        return is_eps(ctx, expr.args[0].value)  # torch.tensor(1e-8)
    return False


def clamp_bounds(
    found: OpCall,
) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None, cst.BaseExpression | None]:
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


@no_reentry(False)
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
        for side in (condition.left, *(c.comparator for c in condition.comparisons))
    )


@no_reentry(False)
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


# --- masks and selections --------------------------------------------------------------------------


@no_reentry(False)
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


@no_reentry(False)
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


@no_reentry(False)
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


# --- where() and friends around a node ------------------------------------------------------------------------

SELECT_OPS = frozenset({"where", "masked_fill", "nan_to_num"})


def select_parts(found: OpCall) -> tuple[cst.BaseExpression, list[cst.BaseExpression]] | None:
    """(condition, selected values) of where(c, a, b) / masked_fill(a, c, v); None otherwise."""
    if found.op == "where":
        condition = found.arg(0, "condition", "cond", "pred")
        branches = [
            b for b in (found.arg(1, "x", "input", "on_true"), found.arg(2, "y", "other", "on_false")) if b is not None
        ]
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
    if (
        isinstance(node, _LOOSE)
        or is_binary(node, *_LOOSE_OPERATORS)
        or (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not))
    ):
        text = f"({text})"
    result = f"{text} + {number(eps)}"
    return f"({result})" if enclose and not getattr(node, "lpar", None) else result


class SurroundedRule(Rule):
    """A rule that judges a value by what encloses it: reads the file's Surroundings as `self.around`."""

    uses: tuple[type, ...] = (Surroundings,)

    @property
    def around(self) -> Surroundings:
        return self.ctx.tracker(Surroundings)
