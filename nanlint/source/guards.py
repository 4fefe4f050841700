"""What surrounds a hazard, and the small syntactic helpers the stability rules share.

The value of an expression -- can it be 0, is it bounded, why -- is nanlint.source.values
(`ctx.values.of(expr)`); which op a call computes and where a name comes from are the Context's
(`ctx.call`, `ctx.origins`). This module answers the rest:

- `Surroundings`: is the value checked by an enclosing where(), repaired by nan_to_num(), compared
  with a constant anywhere in its function (`if n == 0: return`, `tf.cond(n == 0, ...)` -- the
  author handles its 0), and can gradients flow here (not in no_grad code, optimizers, `.item()`)?
- syntax: `is_binary`, `identifier`, `bare`, `is_eps`, `plus_eps`, `number`, ... in semantic terms.
"""

from __future__ import annotations

import functools
import re
from typing import ClassVar, TypeGuard

import libcst as cst

from nanlint.source import ops
from nanlint.source.names import dotted
from nanlint.source.rule import Context, OpCall, Rule
from nanlint.source.traversal import iter_nodes
from nanlint.source.values import select_parts, variables_of
from nanlint.source.values.evidence import EPS_NAME
from nanlint.source.values.index import reports_only, tested

COMPARISONS = (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual, cst.Equal, cst.NotEqual)

# --- frameworks --------------------------------------------------------------------------------------


def differentiable(ctx: Context, found: OpCall | None) -> bool:
    """Is this op traced for gradients? A function by its namespace; a method when the file uses such a framework."""
    if found is not None and found.qualified is not None:
        return ops.differentiable(found.qualified)
    return uses_autodiff(ctx)


def uses_autodiff(ctx: Context) -> bool:
    return any(ops.differentiable(target) for target in ctx.names.aliases.values())


def python_scalar_op(found: OpCall | None) -> bool:
    """`math.log`, `math.exp`: Python floats, which raise (ValueError, OverflowError) rather than give inf/NaN."""
    return found is not None and (found.qualified or "").startswith("math.")


# --- syntax ---------------------------------------------------------------------------------------------


def guards_name(func: cst.BaseExpression) -> str | None:
    return identifier(func)


def identifier(expr: cst.BaseExpression | None) -> str | None:
    """The last name of `x`, `self.x`, `a.b.x`."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


def is_binary(expr: cst.CSTNode | None, *operators: type) -> TypeGuard[cst.BinaryOperation]:
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


def names_match(name: str, stems: tuple[str, ...] | list[str]) -> bool:
    """A stem occurs at a word boundary of the name: "log_std" matches `log_std`, `actor_log_std2`, `LOG_STD`."""
    return bool(stems) and _stems_pattern(tuple(stems)).search(name.lower().strip("_")) is not None


@functools.lru_cache(maxsize=32)
def _stems_pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(stem.lower()) for stem in stems)
    return re.compile(rf"(?:^|_)(?:{alternatives})(?:_|\d|$)")


def is_eps(ctx: Context, expr: cst.BaseExpression | None) -> bool:
    """A positive constant: a literal > 0, a name like eps / EPSILON / self.eps, finfo(...).eps, K.epsilon()."""
    if expr is None:
        return False
    value = ctx.const(expr)
    if value is not None:
        return value > 0
    name = identifier(expr.func if isinstance(expr, cst.Call) else expr)
    if name is not None and EPS_NAME.search(name.lower()):
        return True
    if (
        isinstance(expr, cst.Call)
        and identifier(expr.func) in ("tensor", "constant", "array", "as_tensor")
        and expr.args
        and expr.args[0].keyword is None
    ):
        return is_eps(ctx, expr.args[0].value)  # torch.tensor(1e-8)
    return False


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


# --- where() and friends around a node ------------------------------------------------------------------------

SELECT_OPS = frozenset({"where", "masked_fill", "nan_to_num"})
# Base classes whose methods are not differentiated: they run after or beside the backward pass
# (schedulers compute learning rates or noise coefficients: constants to the model's gradient; samplers draw
# the next token of a generation or the indices of a batch, where no gradient is taken).
_GRADIENT_FREE_BASES = (
    "Optimizer",
    "Constraint",
    "Metric",
    "Callback",
    "Initializer",
    "Scheduler",
    "SchedulerMixin",
    "Sampler",
)
# Ops that hold the same values in another container or dtype: `torch.tensor(alpha)` is alpha.
_CONVERSIONS = frozenset({"tensor", "cast", "float", "layout"})
# Consumers that take a value out of the autodiff graph: `x.item()`, `float(x)`.
_GRAPH_EXITS = frozenset({"item", "tolist", "numpy"})


class Surroundings:
    """What encloses the visited node, for rules that judge a value's domain or its gradient.

    Checked values: an enclosing where()/masked_fill() whose condition tests a variable of the
    operand, an enclosing nan_to_num() (the bad values are selected away or repaired), or a
    comparison of that variable with a number anywhere in the same function (`if n == 0: return`,
    `ok = n > 0`, `tf.cond(n == 0, ...)`, `assert norm > eps`) -- the author handles its 0; quiet
    rather than wrong. Type and shape tests (`x is None`, `len(x.shape) == 1`) say nothing about values.

    Gradient-free code: `with torch.no_grad():`, `@torch.no_grad()`, methods of optimizer, constraint,
    metric and callback classes, and values taken out of the graph (`x.item()`, `float(x)`).

    A tracker: a rule lists it in `uses` and reads it as `self.ctx.tracker(Surroundings)`.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.selects: list[OpCall] = []
        self.functions: list[cst.FunctionDef] = []
        self.tested: list[dict[str, set[str]]] = [{"zero": set(), "one": set()}]  # per function, tests so far
        self.gradient_free: list[cst.CSTNode] = []  # the with/def/class nodes that open gradient-free code
        self.exits: set[int] = set()  # ids of nodes whose value leaves the graph
        self.scalar_calls: list[cst.Call] = []  # enclosing math.* calls: their arguments are Python numbers
        self._quiet_functions: set[int] | None = None  # functions this file calls only from gradient-free code
        self._assertions: dict[int, tuple[cst.FunctionDef, dict[str, set[str]]]] = {}  # per function, what it asserts
        self.reporting = 0  # depth of `if`s whose body only warns or logs: what they test stays as it was

    # --- calls ---

    def enter_call(self, node: cst.Call, found: OpCall | None) -> None:
        if found is not None and found.op in SELECT_OPS:
            self.selects.append(found)
        if (self.ctx.qualify(node.func) or "").startswith("math."):
            self.scalar_calls.append(node)
        func = node.func
        if isinstance(func, cst.Attribute) and (func.attr.value in _GRAPH_EXITS or id(node) in self.exits):
            self.exits.add(id(func.value))  # x.sqrt().cpu().item(): the exit reaches back through the chain
        elif isinstance(func, cst.Name) and self.ctx.qualify(func) in ("builtins.float", "builtins.int") and node.args:
            self.exits.add(id(node.args[0].value))

    def leave_call(self, node: cst.Call) -> None:
        if self.selects and self.selects[-1].node is node:
            self.selects.pop()
        if self.scalar_calls and self.scalar_calls[-1] is node:
            self.scalar_calls.pop()

    # --- scopes ---

    def enter_function(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)
        self.tested.append(self._inherited_tests(node))
        if any(self._no_grad(d.decorator) for d in node.decorators):
            self.gradient_free.append(node)

    def _inherited_tests(self, node: cst.FunctionDef) -> dict[str, set[str]]:
        """A nested function (a schedule's closure) reads its enclosing function's variables as they are after the
        tests made before its definition (`if steps <= 0: return constant` ... `def schedule(t): ... / steps`);
        its own parameters are other variables."""
        if len(self.tested) < 2:  # the module's level: nothing to inherit
            return {"zero": set(), "one": set()}
        own = {
            param.name.value for param in (*node.params.params, *node.params.kwonly_params, *node.params.posonly_params)
        }
        return {
            point: {name for name in names if name.split(".")[0] not in own} for point, names in self.tested[-1].items()
        }

    def leave_function(self, node: cst.FunctionDef) -> None:
        self.functions.pop()
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
        """A numeric test seen so far in this function: `n == 0`, `norm > eps`, `allclose(x, 0)`, `if n:`."""
        if self.reporting:
            return
        parts = [condition]
        while parts:
            part = parts.pop()
            if isinstance(part, cst.BooleanOperation):
                parts.extend((part.left, part.right))
                continue
            point, names = tested(part)
            if point is not None:
                self.tested[-1][point] |= names

    # --- questions ---

    def checked(self, operand: cst.BaseExpression, point: str = "zero") -> bool:
        """Is the operand's bad value (0, or ±1 for `point="one"`) selected away, repaired, or compared with in its
        function?"""
        names = variables_of(self.ctx, operand)
        tested = self.tested[-1].get(point, set())
        if names & tested or (tested and self._converted_from(operand) & tested):
            return True
        for found in self.selects:
            if found.op == "nan_to_num":
                return True
            parts = select_parts(found)
            if parts is not None and names & variables_of(self.ctx, parts[0]):
                return True
        return bool(names & self._asserted(point))

    def _asserted(self, point: str) -> set[str]:
        """The variables an `assert` anywhere in the current function tests at the bad point: the author declares
        the invariant, and input that breaks it raises there instead of spreading inf (`assert (w > 0).all()` after
        the division too). Read once per function, when a rule asks."""
        if not self.functions:
            return set()
        function = self.functions[-1]
        known = self._assertions.get(id(function))
        if known is None or known[0] is not function:
            found: dict[str, set[str]] = {"zero": set(), "one": set()}
            for node in iter_nodes(function.body):
                if isinstance(node, cst.Assert):
                    for part in _conjuncts(node.test):
                        at, names = tested(part)
                        if at is not None:
                            found[at] |= names
            known = self._assertions[id(function)] = (function, found)
        return known[1].get(point, set())

    def _converted_from(self, operand: cst.BaseExpression) -> set[str]:
        """The variables the operand's names are conversions of: `a = torch.tensor(alpha)` is alpha, as tested."""
        found: set[str] = set()
        for node in iter_nodes(operand):
            held = self.ctx.dataflow.value_of(node) if isinstance(node, cst.Name) else None
            if isinstance(held, cst.Call) and held.args and is_variable(held.args[0].value):
                if self.ctx.op(held) in _CONVERSIONS:  # of the variable itself, not of `x > 0` or `x * w`
                    found |= variables_of(self.ctx, held.args[0].value)
        return found

    def in_scalar_call(self) -> bool:
        """Inside the arguments of a math.* call: Python numbers, which raise rather than become inf or NaN."""
        return bool(self.scalar_calls)

    def in_select(self) -> OpCall | None:
        """The innermost enclosing where()/masked_fill(), if any."""
        for found in reversed(self.selects):
            if found.op in ("where", "masked_fill"):
                return found
        return None

    def traced(self, node: cst.CSTNode) -> bool:
        """Can gradients flow through this node? (Not in no_grad code, optimizers, tests, or a value passed to .item().)"""
        return not self.gradient_free and id(node) not in self.exits and not self.ctx.testing

    def gradient_reaches(self) -> bool:
        """False inside a function this file calls only from gradient-free code (an inference pipeline's helper).
        Asked only when a gradient finding is at hand, since it needs the file's value index."""
        if not self.functions:
            return True
        if self._quiet_functions is None:
            self._quiet_functions = called_without_gradients(self.ctx)
        return not any(id(f) in self._quiet_functions for f in self.functions)

    # --- as a tracker: the traversal feeds it once per file for every rule that uses it ---

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
        if reports_only(node):
            self.reporting += 1
        self.test(node.test)

    def leave_If(self, node: cst.If) -> None:
        if reports_only(node):
            self.reporting -= 1

    def visit_While(self, node: cst.While) -> None:
        self.test(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self.test(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.test(node.test)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.test(node)  # `ok = n > 0`, `tf.cond(n == 0, ...)`, `where(r > eps, ...)`: tested from here on

    def visit_Call(self, node: cst.Call) -> None:
        self.enter_call(node, self.ctx.call(node))
        if (isinstance(node.func, cst.Attribute) and node.func.attr.value in ("any", "all")) or (
            guards_name(node.func) in ("allclose", "isclose", "count_nonzero")
        ):
            self.test(node)


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


def _conjuncts(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """`a and b`: both hold after the assert."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return [*_conjuncts(test.left), *_conjuncts(test.right)]
    return [test]


# Entry points called by frameworks, not by the file: a call seen here is not all of their callers.
_IMPLICITLY_CALLED = frozenset({"forward", "call", "__call__", "training_step", "step", "apply", "update"})


def called_without_gradients(ctx: Context) -> set[int]:
    """The functions of the file that run only where no gradient is taken: every call of theirs in the file is in
    `with torch.no_grad():`, in a `@torch.no_grad()` function, or in another such function, and the file names
    them nowhere else (a function passed as a value has callers nanlint cannot see)."""
    index = ctx.values.index
    functions = [f for f in index.by_node.values() if isinstance(f.node, cst.FunctionDef)]
    quiet = {id(f.node) for f in functions if any(_is_no_grad(ctx, d.decorator) for d in f.node.decorators)}
    in_blocks = _calls_in_no_grad_blocks(ctx)
    mentions = _mentions(ctx.module)
    as_initialiser = _passed_as_initialiser(ctx.module)
    quiet |= {  # `kernel_init=norm_kernel_init_fn`, and named nowhere else: it runs once, when parameters are made
        id(f.node)
        for f in functions
        if as_initialiser.get(f.name, 0) and mentions[f.name] == as_initialiser[f.name] + 1
    }
    candidates = [
        f
        for f in functions
        if f.calls
        and not f.name.startswith("__")
        and f.name not in _IMPLICITLY_CALLED
        and mentions.get(f.name, 0) <= len(f.calls) + 1  # its definition and its calls: no other use
    ]
    changed = True
    while changed:
        changed = False
        for f in candidates:
            if id(f.node) not in quiet and all(id(c) in in_blocks or _encloser(index, c) in quiet for c in f.calls):
                quiet.add(id(f.node))
                changed = True
    return quiet


def _is_no_grad(ctx: Context, expr: cst.BaseExpression) -> bool:
    target = expr.func if isinstance(expr, cst.Call) else expr
    return ops.function_op(ctx.qualify(target)) == "no_grad"


def _calls_in_no_grad_blocks(ctx: Context) -> set[int]:
    found: set[int] = set()
    for node in iter_nodes(ctx.module):
        if isinstance(node, cst.With) and any(_is_no_grad(ctx, item.item) for item in node.items):
            found.update(id(inner) for inner in iter_nodes(node.body) if isinstance(inner, cst.Call))
    return found


# Keywords that take an initialiser: `kernel_init=`, `bias_init=`, `embedding_init=`, `initializer=`, `init_fn=`.
_INITIALISER_KEYWORD = re.compile(r"(?:^|_)init(?:ializer|ialiser|_fn)?$")


def _passed_as_initialiser(module: cst.Module) -> dict[str, int]:
    """How often each function name is passed as an initialiser keyword's value."""
    counts: dict[str, int] = {}
    for node in iter_nodes(module):
        if isinstance(node, cst.Arg) and node.keyword is not None and isinstance(node.value, cst.Name):
            if _INITIALISER_KEYWORD.search(node.keyword.value):
                counts[node.value.value] = counts.get(node.value.value, 0) + 1
    return counts


def _mentions(module: cst.Module) -> dict[str, int]:
    """How often each name is written in the file (as a name or an attribute)."""
    counts: dict[str, int] = {}
    for node in iter_nodes(module):
        if isinstance(node, cst.Name):
            counts[node.value] = counts.get(node.value, 0) + 1
    return counts


def _encloser(index, call: cst.Call) -> int | None:
    function = index.enclosing.get(id(call))
    return id(function.node) if function is not None else None


class SurroundedRule(Rule):
    """A rule that judges a value by what encloses it: reads the file's Surroundings as `self.around`."""

    uses: ClassVar[tuple[type, ...]] = (Surroundings,)
    quiet_in_tests = True

    @property
    def around(self) -> Surroundings:
        return self.ctx.tracker(Surroundings)

    def report_gradient(self, node: cst.CSTNode, message: str) -> None:
        """Report a hazard of the gradient alone (infinite or NaN only in the backward pass)."""
        if self.around.gradient_reaches():
            self.report(node, message)


__all__ = ["dotted"]
