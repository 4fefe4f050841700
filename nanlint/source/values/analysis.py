"""The value analysis of one file: `ctx.values.of(expr)` is the Fact of an expression.

Lazy and memoised: only the expressions rules ask about are analysed, each once (per call
context). Names follow their binding at the use (the module index's dataflow), parameters take
the join of the arguments the file's own call sites pass (TOP when nothing calls them here),
calls to the file's own functions take the join of their return values with the parameters bound
to the call's arguments, and unknown values fall back to what their names say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import libcst as cst

from nanlint import options
from nanlint.source import ops
from nanlint.source.names import dotted
from nanlint.source.values import arithmetic, evidence, rotations
from nanlint.source.values.fact import (
    BUILT,
    DEGENERATE,
    INF,
    TOP,
    Fact,
    Reason,
    constant,
    informative,
    join,
)
from nanlint.source.values.index import Function, Index, python_number
from nanlint.source.values.selects import select_as_sum
from nanlint.source.values.transfer import TRANSFERS, element

MAX_CALL_DEPTH = 3
INFINITY = Fact(
    lo=INF, hi=INF, guarded=True, scalar=True, why="inf", infinite=Reason("an infinite constant", BUILT, "inf")
)
_SQUARES = frozenset({"square", "square-sum", "square-terms"})
# A helper named like a guard (`clamp_probs(p)`, `safe_div(a, b)`) is trusted: quiet rather than wrong.
_GUARD_HELPERS = ("clamp", "clip", "safe", "stable")
# A distribution's methods: log_prob(value) scores what sample() draws (torch, Pyro, NumPyro, TFP, distrax).
_SCORERS = frozenset({"log_prob", "_log_prob"})
_SAMPLERS = ("sample", "rsample", "_sample_n")
_SAME_VALUE = frozenset({"layout", "cast", "float"})  # a reshape or cast holds the same values
_CONSTANTS = {"pi": math.pi, "e": math.e}


@dataclass(frozen=True, eq=False)
class Env:
    """Inside a summarised call of `function`: its parameters are the call's arguments, read in `parent`."""

    function: Function | None
    bindings: dict
    parent: Env | None
    depth: int
    overrides: dict | None = None  # dotted name -> Fact, where a condition bounds it (a where() branch)


class Values:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self._index: Index | None = None
        self._memo: dict[tuple[int, int], tuple[cst.CSTNode, Env | None, Fact]] = {}
        self._active: set[tuple[int, int]] = set()
        self._parameters: dict[tuple[int, str], Fact] = {}
        self._aliases: dict[tuple[int, str] | None, list[str]] | None = None  # a parameter -> names it is kept as
        stems = ctx.options.get("NAN104", {}).get("probability-names") if ctx is not None else None
        self.probability_names = tuple(options.default("NAN104", "probability-names") if stems is None else stems)

    @property
    def index(self) -> Index:
        if self._index is None:
            self._index = Index(self.ctx.module)
        return self._index

    # --- the one question ------------------------------------------------------------------

    def of(self, expr: cst.BaseExpression | None, env: Env | None = None) -> Fact:
        if expr is None:
            return TOP
        key = (id(expr), id(env))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is expr:
            return hit[2]
        if key in self._active or len(self._active) > 200:
            return TOP
        self._active.add(key)
        try:
            fact = self._compute(expr, env)
        except RecursionError:
            fact = TOP
        finally:
            self._active.discard(key)
        self._memo[key] = (expr, env, fact)
        return fact

    def origins(self, expr: cst.BaseExpression | None, depth: int = 3):
        """The expression, then what its name held where it is used, and so on (the whole file's dataflow)."""
        seen: set[int] = set()
        while expr is not None and depth >= 0 and id(expr) not in seen:
            seen.add(id(expr))
            yield expr
            expr = self.index.value_of(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
            depth -= 1

    def refined(
        self, expr: cst.BaseExpression, condition: cst.BaseExpression, holds: bool, env: Env | None = None
    ) -> Fact:
        """The fact of expr where `condition` holds (or fails): `where(r > 0, r, 1)` -> r is > 0 there."""
        if isinstance(condition, cst.Name):  # pred = x > 0 ... where(pred, ...)
            test = self.index.value_of(condition)
            if isinstance(test, (cst.Comparison, cst.UnaryOperation, cst.Call)):
                condition = test
        bound = _bound_by(condition, holds, self._threshold)
        if bound is None:
            return self.of(expr, env)
        name, operator, value = bound
        if dotted(_peeled(expr)) != name:  # where(x >= 0.5, x, 1 - x): x is bounded inside the other branch too
            variable = self._variable_fact(name, condition, env)
            if variable is None:
                return self.of(expr, env)
            narrowed = self._narrowed(variable, operator, value)
            if narrowed is variable:
                return self.of(expr, env)
            return self.of(expr, Env(None, {}, env, env.depth if env else 0, {name: narrowed}))
        return self._narrowed(self.of(expr, env), operator, value)

    def _threshold(self, expr: cst.BaseExpression) -> float | None:
        """The number a test compares with: a literal, an eps name, or a constant through names (`t = -log(2)`)."""
        value = _number(expr)
        return value if value is not None else self.ctx.const(expr)

    def _variable_fact(self, name: str, condition: cst.BaseExpression, env: Env | None) -> Fact | None:
        for node in _walk(condition):
            if isinstance(node, (cst.Name, cst.Attribute)) and dotted(node) == name:
                return self.of(node, env)
        return None

    def _narrowed(self, fact: Fact, operator: str, value: float) -> Fact:
        if operator in (">", ">=") and value >= 0:
            return replace(
                fact,
                lo=max(fact.lo, value),
                zero=None if operator == ">" or value > 0 else fact.zero,
                guarded=operator == ">" or value > 0,
            )
        if operator == "!=" and value == 0:
            return replace(fact, zero=None, guarded=True)
        if operator == "==":
            return constant(value)
        if operator in ("<", "<=") and value <= 0:
            return replace(
                fact,
                hi=min(fact.hi, value),
                zero=None if operator == "<" or value < 0 else fact.zero,
                guarded=operator == "<" or value < 0,
            )
        if operator in ("<", "<="):
            return replace(fact, hi=min(fact.hi, value))
        if operator in (">", ">="):
            return replace(fact, lo=max(fact.lo, value))
        return fact

    # --- by kind of expression --------------------------------------------------------------

    def _compute(self, expr: cst.BaseExpression, env: Env | None) -> Fact:
        if isinstance(expr, (cst.Integer, cst.Float)):
            try:
                return constant(float(expr.evaluated_value), isinstance(expr, cst.Integer))
            except (ValueError, OverflowError):
                return TOP
        if isinstance(expr, cst.Name):
            return self._name(expr, env)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr, env)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, env)
        if isinstance(expr, cst.BinaryOperation):
            return self._binary(expr, env)
        if isinstance(expr, cst.UnaryOperation):
            return self._unary(expr, env)
        if isinstance(expr, cst.Call):
            return self._call(expr, env)
        if isinstance(expr, cst.IfExp):
            return join(self.refined(expr.body, expr.test, True, env), self.refined(expr.orelse, expr.test, False, env))
        if isinstance(expr, cst.Comparison):
            return evidence.MASK if not _identity_test(expr) else TOP
        if isinstance(expr, cst.BooleanOperation):
            return join(self.of(expr.left, env), self.of(expr.right, env))
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self._comprehension(expr, env)
        if isinstance(expr, cst.NamedExpr):
            return self.of(expr.value, env)
        if isinstance(expr, (cst.Tuple, cst.List)) and expr.elements:
            return join(*(self.of(e.value, env) for e in expr.elements if not isinstance(e, cst.StarredElement)))
        return TOP

    def _overridden(self, expr: cst.BaseExpression, env: Env | None) -> Fact | None:
        while env is not None:
            if env.overrides:
                name = dotted(expr)
                if name in env.overrides:
                    return env.overrides[name]
            env = env.parent if env.function is None else None
        return None

    def _name(self, expr: cst.Name, env: Env | None) -> Fact:
        overridden = self._overridden(expr, env)
        if overridden is not None:
            return overridden
        if env is not None and env.function is not None:
            found = self.index.parameter(expr)
            if found is not None and found[0] is env.function:
                argument = env.bindings.get(found[1])
                if isinstance(argument, Fact):  # an argument of a call in another module, already a fact there
                    return argument
                if argument is not None:
                    return self.of(argument, env.parent)
                default = env.function.defaults.get(found[1])
                return self.of(default, None) if default is not None else self._named(expr.value, TOP)
        qualified = self.ctx.qualify(expr)
        special = self._qualified_constant(qualified)
        if special is not None:
            return special
        bound = self.index.value_of(expr)
        if bound is not None:  # what it was assigned decides, even when unknown (`probs = model(x)`), but a mask
            return self._strongly_named(expr.value, self.of(bound, env))  # or an eps is one by its name
        found = self.index.parameter(expr)
        if found is not None and env is None:
            fact = self._aliased(expr, self._named(expr.value, self.parameter(*found)))
            return replace(fact, scalar=True) if _annotated_number(*found) else fact
        return self._named(expr.value, TOP)

    def _aliased(self, expr: cst.Name, fact: Fact) -> Fact:
        """A parameter nothing else describes, also stored as `self.softmax` or `cache.probs` (itself or a reshape
        of it): a probability, by that name (weak evidence, as a parameter's own name is)."""
        if informative(fact):
            return fact
        if self._aliases is None:
            self._aliases = {}
            for read, target in self.index.alias_sites:
                key = self._value_key(read)
                if key is not None:
                    self._aliases.setdefault(key, []).append(target)
        for target in self._aliases.get(self._value_key(expr), ()):
            said = evidence.named_probability(target.rsplit(".", 1)[-1], self.probability_names)
            if said is not None and target != expr.value:
                return said
        return fact

    def _value_key(self, expr: cst.BaseExpression, depth: int = 4) -> tuple[int, str] | None:
        """The parameter a name holds, seen through reshapes and casts (`x = x.view(b, t, -1)`), or None."""
        while depth > 0 and isinstance(expr, cst.Name):
            found = self.index.parameter(expr)
            if found is not None:
                return (id(found[0].node), found[1])
            bound = self.index.value_of(expr)
            call = self.ctx.call(bound) if isinstance(bound, cst.Call) else None
            if call is None or call.op not in _SAME_VALUE or not call.args:
                return None
            expr, depth = call.args[0], depth - 1
        return None

    def _named(self, name: str, fact: Fact) -> Fact:
        """The fact, or what the name says when nothing else is known."""
        if informative(fact) or fact.kind == SETTING:
            return fact
        said = evidence.named(name, self.probability_names)
        return said if said is not None else fact

    def _strongly_named(self, name: str, fact: Fact) -> Fact:
        if informative(fact) or fact.kind == SETTING:
            return fact
        said = evidence.named(name, ())
        return said if said is not None and said.kind in ("mask", "eps", "count") else fact

    def _qualified_constant(self, qualified: str | None) -> Fact | None:
        if qualified is None:
            return None
        special = ops.constant_op(qualified)
        if special == "inf":
            return INFINITY
        if special == "nan":
            return Fact(scalar=True, why="NaN")
        last = qualified.rsplit(".", 1)[-1]
        if last in _CONSTANTS and qualified.split(".", 1)[0] in ("math", "numpy", "torch", "jax", "cupy"):
            return constant(_CONSTANTS[last])
        return None

    def _attribute(self, expr: cst.Attribute, env: Env | None) -> Fact:
        overridden = self._overridden(expr, env)
        if overridden is not None:
            return overridden
        special = self._qualified_constant(self.ctx.qualify(expr))
        if special is not None:
            return special
        attr = expr.attr.value
        if attr in ("T", "mT", "data", "H") or (attr == "values" and isinstance(expr.value, cst.Call)):
            return self.of(expr.value, env)
        if attr in ("shape", "ndim", "size"):
            return Fact(lo=0, integer=True, scalar=True, why="a size")
        if attr in ("eps", "tiny", "smallest_normal", "resolution"):
            return evidence.EPS
        if attr in ("min", "max") and _is_limits(expr.value):
            return Fact(lo=-3.4e38, hi=-1e4, scalar=True) if attr == "min" else Fact(lo=1e4, hi=3.4e38, scalar=True)
        if isinstance(expr.value, cst.Name) and expr.value.value in ("self", "cls"):
            bound = self.index.value_of(expr)
            if bound is not None:
                return self._strongly_named(attr, self.of(bound, env))
            number = self.index.number_fields.get(attr)
            said = evidence.named(attr, ())
            if number and (said is None or said.kind != "eps"):  # an eps setting keeps saying it is > 0
                # `hidden_dim: int` of a dataclass or flax module: a setting, not data; no name evidence
                return Fact(scalar=True, integer=number == "int", why="a setting", kind=SETTING)
        return self._named(attr, TOP)

    def _subscript(self, expr: cst.Subscript, env: Env | None) -> Fact:
        position = _constant_position(expr)
        if position is not None and isinstance(expr.value, cst.Call):
            found = self.ctx.call(expr.value)
            if found is not None and found.op == "moments":
                return element(found, position)  # moments(x)[1], or `mean, var = moments(x)`
            if id(expr) in self.index.dataflow.elements:
                callee = self.index.callee(expr.value, env.function if env is not None else None)
                if callee is not None:  # `mean, log_std = self(x)`: the callee's returned tuples, element by element
                    return self.summary(callee, expr.value, env, position)
                return TOP  # `a, b = f(x)`: the results of other calls are not known one by one
        base = self.of(expr.value, env)
        if base.integer and base.scalar and base.why == "a size":
            return base
        if any(isinstance(e.slice, cst.Index) and self._is_mask_index(e.slice.value, env) for e in expr.slice):
            return replace(base, empty=Reason("a selection that can be empty", BUILT, "selection"))
        key = _string_key(expr)
        return self._named(key, base) if key is not None else base  # batch["sample_weight"]: a key names its value

    def _is_mask_index(self, index: cst.BaseExpression, env: Env | None) -> bool:
        if isinstance(index, cst.Comparison):
            return not _identity_test(index)
        fact = self.of(index, env)
        return fact.kind == "mask" and not fact.integer

    def _comprehension(self, expr, env: Env | None) -> Fact:
        element = self.of(expr.elt, env)
        loop, filtered = expr.for_in, False
        while loop is not None:
            filtered = filtered or bool(loop.ifs)
            loop = loop.inner_for_in
        if filtered:
            return replace(element, empty=Reason("a filtered selection that can be empty", BUILT, "selection"))
        return element

    def _unary(self, expr: cst.UnaryOperation, env: Env | None) -> Fact:
        inner = self.of(expr.expression, env)
        if isinstance(expr.operator, cst.Minus):
            return arithmetic.negate(inner)
        if isinstance(expr.operator, cst.Plus):
            return inner
        return evidence.MASK if inner.kind == "mask" else TOP  # ~mask, not x

    # --- arithmetic ---------------------------------------------------------------------------

    def _binary(self, expr: cst.BinaryOperation, env: Env | None) -> Fact:
        operator = expr.operator
        if isinstance(operator, cst.Power):
            exponent = self.of(expr.right, env)
            k = exponent.lo if arithmetic.is_constant(exponent) else None
            return arithmetic.power(self.of(expr.left, env), k, exponent)
        if rotations.rotation_cosine(expr, lambda part: self.of(part, env), self.ctx.const):
            return rotations.ROTATION_COSINE
        if isinstance(operator, cst.Add) and rotations.diagonal_entries(expr, self.ctx.const):
            return rotations.TRACE
        selected = select_as_sum(self.ctx, expr, lambda part: self.of(part, env))
        if selected is not None:  # a * [c] + b * [not c]: where(c, a, b)
            return selected
        left, right = self.of(expr.left, env), self.of(expr.right, env)
        if isinstance(operator, cst.Add):
            fact = self._cancellation(expr, arithmetic.add(left, right), env)
            if fact.guarded and "square" in (left.kind, right.kind) and fact.kind == "":
                return replace(fact, kind="square-eps")  # x**2 + eps: guarded here, but not once weighted
            if left.kind in _SQUARES and right.kind in _SQUARES and not fact.nonzero:
                level = max(DEGENERATE, fact.zero.level if fact.zero is not None else DEGENERATE)
                zero = Reason("a sum of squares, which is 0 for a zero vector", level, "square-terms")
                return replace(fact, lo=0, zero=zero, why="a sum of squares", kind="square-terms")
            return fact
        if isinstance(operator, cst.Subtract):
            return self._difference(expr, left, right, env)
        if isinstance(operator, cst.Multiply):
            if _same_code(self.ctx, expr.left, expr.right):  # x * x
                return arithmetic.power(left, 2)
            return arithmetic.multiply(left, right)
        if isinstance(operator, cst.Divide):
            return self._quotient(expr, left, right)
        if isinstance(operator, (cst.FloorDivide, cst.Modulo)):
            both = left.integer and right.integer
            setting = SETTING if left.kind == SETTING and right.scalar else ""  # hidden_dim // 2: still a setting
            lo = 0 if left.nonnegative and right.lo > 0 else -INF
            return Fact(lo=lo, integer=both, scalar=left.scalar, kind=setting, why="a setting" if setting else "")
        if isinstance(operator, (cst.BitAnd, cst.BitOr)) and (left.kind == "mask" or right.kind == "mask"):
            return evidence.MASK
        if isinstance(operator, cst.MatrixMultiply):
            from nanlint.source import squares
            from nanlint.source.values.transfer import NORMALISED_DOT

            if squares.normalised_dot(self.ctx, expr):
                return NORMALISED_DOT
            reason = left.zero if left.zero is not None and left.zero.level >= BUILT else right.zero
            return Fact(zero=reason if reason is not None and reason.level >= BUILT else None, why="a matrix product")
        return TOP

    def _difference(self, expr: cst.BinaryOperation, left: Fact, right: Fact, env: Env | None) -> Fact:
        if _same_code(self.ctx, expr.left, expr.right):
            return constant(0.0)
        fact = arithmetic.subtract(left, right)
        if left.kind == "max" and right.kind == "min" and left.bases and left.bases == right.bases:
            return replace(
                fact,
                lo=0,
                zero=Reason("max - min of one tensor, which is 0 when it is constant", DEGENERATE, "range"),
                why="max - min of one tensor",
                kind="range",
                bases=left.bases,
            )
        fact = self._cancellation(expr, fact, env)
        if fact.zero is None and arithmetic.is_constant(left) and left.lo > 0 and right.kind == "square":
            # c - x**2 (sin from cos, a unit vector's last component): 0 at the edge |x| = sqrt(c) of its domain
            edge = Reason("c - x², which is 0 at the edge of the domain of x", DEGENERATE, "square-complement")
            return replace(fact, zero=edge, why="c - x² (0 where x² reaches c)", kind="square-complement")
        if fact.zero is None and not arithmetic.is_constant(left) and not arithmetic.is_constant(right):
            if not left.guarded and self._entries_of_one_tensor(expr.left, expr.right):
                return replace(fact, zero=_EXTENT, why="an extent", kind="extent")
            fact = replace(
                fact, zero=Reason("a difference, which is 0 where the two are equal", DEGENERATE, "difference")
            )
        return fact

    def _entries_of_one_tensor(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        """`box[..., 3] - box[..., 1]` (also through names, joined branches and the centre-size form
        `(c + s / 2) - (c - s / 2)`): a box's far corner minus its near corner in the (x1, y1, x2, y2)
        layout -- an extent, 0 for a degenerate box. Differences of other entries (a schedule's
        `sigmas[i] - sigmas[i + 1]`) have no such evidence."""
        a, b = self._coordinates(left), self._coordinates(right)
        return bool(a and b) and any(i - j == 2 for base, i in a or () for other, j in b or () if base == other)

    def _coordinates(self, expr: cst.BaseExpression, depth: int = 0) -> set[tuple[str, int]] | None:
        """The (tensor, coordinate) entries an expression combines with constants, or None if it reads
        anything else; a coordinate is a literal index 0-3 on the last axis (`b[..., 2]`, `b[:, 2]`, `b[2]`)."""
        if depth > 6:
            return None
        if isinstance(expr, cst.Subscript):
            name, position = dotted(expr.value), _last_coordinate(expr)
            if name is None or position is None or self._python_sequence(expr.value):
                return None
            return {(name, position)}
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract, cst.Divide)):
            return self._union(expr.left, expr.right, depth)
        if isinstance(expr, cst.IfExp):  # branches joined by the index
            return self._union(expr.body, expr.orelse, depth)
        if isinstance(expr, (cst.Integer, cst.Float)):
            return set()
        if isinstance(expr, cst.Name) and depth < 4:
            origin = self.index.value_of(expr)
            return self._coordinates(origin, depth + 2) if origin is not None else None
        return None

    def component_of(self, expr: cst.BaseExpression) -> str | None:
        """The tensor of which `expr` is one entry along the last axis (`x[..., 2]`, `x[:, 1]`, `x[..., 2:]`, also
        through names), or None. Dividing that tensor by it (`p / p[..., 2:]`, a homogeneous coordinate; `v[:, 0]
        / v[:, 1]`, a sum packed with its count) is 0 / 0 or inf wherever real data makes the entry 0. A Python
        pair (`size[0] / size[1]`) has no leading axes and is not one."""
        for step in self.origins(expr):
            step = self.ctx.peel(step)
            if isinstance(step, cst.Subscript):
                name = dotted(step.value)
                if name is None or not _last_axis_entry(step) or self._python_sequence(step.value):
                    return None
                return name
            if not isinstance(step, (cst.Name, cst.Attribute)):
                return None
        return None

    def clipped_under(self, expr: cst.BaseExpression) -> str | None:
        """The variable `d` when `expr` is a tensor clipped into [0, d] (`clip(step - begin, 0, steps)`, also through
        names): a fraction of d, so dividing it by d is 0 / 0 where the setting d is 0 (no warmup, no transition)."""
        for step in self.origins(expr):
            found = self.ctx.call(step)
            if found is not None and found.op == "clamp" and not (found.qualified or "").startswith("builtins."):
                _, lower, upper = clamp_bounds(found)
                if lower is None or upper is None or self.ctx.const(lower) != 0:
                    return None
                peeled = self.ctx.peel(upper)
                return dotted(peeled) if isinstance(peeled, (cst.Name, cst.Attribute)) else None
            if not isinstance(step, (cst.Name, cst.Attribute)):
                return None
        return None

    def _python_sequence(self, expr: cst.BaseExpression) -> bool:
        """A list of values (a literal, a comprehension, a parameter annotated as one), not a tensor of
        coordinates: `lambda_list[2] - lambda_list[0]` of a scheduler's Lagrange weights."""
        if isinstance(self.index.value_of(expr), (cst.List, cst.ListComp, cst.Tuple)):
            return True
        found = self.index.parameter(expr)
        if found is None or not isinstance(found[0].node, cst.FunctionDef):
            return False
        for param in found[0].node.params.params:
            if param.name.value == found[1] and param.annotation is not None:
                text = cst.Module([]).code_for_node(param.annotation.annotation)
                return text.split("[", 1)[0].rsplit(".", 1)[-1] in _SEQUENCE_TYPES
        return False

    def _union(self, a: cst.BaseExpression, b: cst.BaseExpression, depth: int) -> set[tuple[str, int]] | None:
        parts = [self._coordinates(a, depth + 1), self._coordinates(b, depth + 1)]
        return None if parts[0] is None or parts[1] is None else parts[0] | parts[1]

    def _cancellation(self, expr: cst.BinaryOperation, fact: Fact, env: Env | None) -> Fact:
        """E[x^2] - E[x]^2 and |a|^2 + |b|^2 - 2ab: >= 0 in exact arithmetic, negative after rounding."""
        from nanlint.source import squares

        kind = squares.expanded_square_kind(self.ctx, expr)
        if kind is None:
            return fact
        return replace(
            fact,
            lo=0,
            zero=Reason(f"{kind}, which is 0 for equal points or constant input", DEGENERATE, "square-sum"),
            negative=Reason(
                f"{kind}, which rounding can make negative", BUILT, _CANCELLATION_KINDS.get(kind, "cancellation")
            ),
            why=kind,
            kind="square-sum",
        )

    def _quotient(self, expr: cst.BinaryOperation, left: Fact, right: Fact) -> Fact:
        from nanlint.source import squares
        from nanlint.source.values.transfer import NORMALISED_DOT

        if squares.normalised_dot(self.ctx, expr):
            return NORMALISED_DOT
        fact = arithmetic.divide(left, right)
        own = bool(right.bases) and (
            bool(variables_of(self.ctx, expr.left) & right.bases) or self._held_by(expr.left, expr.right, right.bases)
        )
        if own and right.kind in ("sum", "plain-sum", "masked", "count", "mean"):  # p / p.sum(): a distribution
            unit = left.nonnegative
            return replace(
                fact,
                lo=0 if unit else fact.lo,
                hi=1 if unit else fact.hi,
                zero=left.zero
                or Reason("a normalised distribution, whose entries can be 0", DEGENERATE, "probability"),
                why="a normalised distribution",
                kind="probability",
                distribution=unit,
            )
        if own and right.kind == "norm":  # x / norm(x): a unit vector, whose entries rounding puts past ±1
            return replace(
                fact,
                lo=-1,
                hi=1,
                rounding=Reason("a component of a normalised vector", BUILT, "cosine"),
                why="a normalised vector",
                kind="unit",
            )
        return fact

    def _held_by(self, value: cst.BaseExpression, expr: cst.BaseExpression, names: frozenset[str]) -> bool:
        """Does one of `names`, read in expr, hold `value`? (`x /= x.sum()` is `<x's value> / x.sum()`.)"""
        return any(
            isinstance(node, cst.Name) and node.value in names and self.index.value_of(node) is value
            for node in _walk(expr)
        )

    # --- calls ----------------------------------------------------------------------------------

    def _call(self, expr: cst.Call, env: Env | None) -> Fact:
        found = self.ctx.call(expr)
        if found is not None:
            function = TRANSFERS.get(found.op)
            fact = function(self, found, env) if function is not None else TOP
            if (found.qualified or "").startswith("math."):
                return replace(fact, scalar=True)  # math.* works on Python floats: it raises, never gives inf
            return fact
        callee = self.index.callee(expr, env.function if env is not None else None)
        if callee is not None:
            return self.summary(callee, expr, env)
        project = getattr(self.ctx, "project", None)
        if project is not None:
            imported = project.call_fact(self, expr, env)
            if imported is not None:
                return imported
        name = _called_name(expr.func)
        if name is not None and name.lower().startswith(_GUARD_HELPERS):
            return Fact(guarded=True, why="a guarded value")
        if name is not None and evidence.EPS_NAME.search(name.lower()):
            return evidence.EPS  # K.epsilon(), backend.epsilon()
        return TOP

    def summary(self, function: Function, call: cst.Call, env: Env | None, position: int | None = None) -> Fact:
        """The join of a function's return values (or of their `position`-th elements, when each is a tuple), its
        parameters bound to this call's arguments."""
        depth = env.depth + 1 if env is not None else 1
        if depth > MAX_CALL_DEPTH or not function.returns or function.yields:
            return TOP
        returned = function.returns if position is None else _elements(function.returns, position)
        if returned is None:
            return TOP
        bindings = function.bound_parameters(call)
        inner = Env(function, bindings, env, depth)
        fact = join(*(self.of(value, inner) for value in returned))
        if fact.bases & bindings.keys():  # norm(m) inside, with m the argument `grad`: a norm of grad
            bases = set(fact.bases - bindings.keys())
            for name in fact.bases & bindings.keys():
                bases |= variables_of(self.ctx, bindings[name])
            fact = replace(fact, bases=frozenset(bases))
        return fact

    def foreign_summary(self, function: Function, caller: Values, call: cst.Call, env: Env | None) -> Fact:
        """The summary of this file's `function` at a call in another file (`caller`'s): the call's
        arguments are facts computed there, and the result's bases are the caller's variables."""
        from nanlint.source.project import rebased

        depth = env.depth + 1 if env is not None else 1
        if depth > MAX_CALL_DEPTH or not function.returns:
            return TOP
        nodes = function.bound_parameters(call)
        bindings = {name: caller.of(node, env) for name, node in nodes.items()}
        inner = Env(function, bindings, None, depth)
        return rebased(join(*(self.of(value, inner) for value in function.returns)), caller, nodes)

    def parameter(self, function: Function, name: str) -> Fact:
        """A parameter of a function of this file: the join of what its call sites here pass (TOP if none)."""
        key = (id(function.node), name)
        if key in self._parameters:
            return self._parameters[key]
        self._parameters[key] = TOP  # a recursive call sees TOP
        facts = []
        for call in function.calls:
            argument = function.bound_parameters(call).get(name)
            if argument is None:
                default = function.defaults.get(name)
                facts.append(self.of(default) if default is not None else TOP)
            elif id(call) in self.index.selected:  # where(m > 0, f(m), ...): f's m is > 0
                condition, holds = self.index.selected[id(call)]
                facts.append(self.refined(argument, condition, holds))
            else:
                facts.append(self.of(argument))
        fact = join(*facts) if facts else self._sampled(function, name)
        self._parameters[key] = fact
        return fact

    def _sampled(self, function: Function, name: str) -> Fact:
        """The value a distribution's log_prob(value) scores is one its sample() draws: where sample() can
        return exactly 0 (a normalised ratio of samples that underflow), so can value."""
        if function.name not in _SCORERS or not function.method or function.parameters[1:2] != [name]:
            return TOP
        for sampler in _SAMPLERS:
            method = self.index.methods.get((function.owner or "", sampler))
            if method is None or not method.returns or method.yields:
                continue
            drawn = join(*(self.of(value, Env(method, {}, None, 1)) for value in method.returns))
            if drawn.nonzero:
                return drawn  # the draws are clipped away from 0 (at the dtype's tiny): so is what log_prob scores
            reason = drawn.can_be_zero(DEGENERATE)  # construction only: a name's say-so does not carry over
            if reason is None or (reason.level < BUILT and reason.kind != "probability"):
                return TOP  # exp underflow of a draw: only for degenerate parameters
            text = f"a value {sampler}() draws ({reason.text})"
            return replace(drawn, zero=Reason(text, reason.level, "sample"))
        return TOP


SETTING = "setting"  # a Python number configured, not computed from data: `self.hidden_dim` of `hidden_dim: int`


def _annotated_number(function: Function, name: str) -> bool:
    """A parameter annotated `int` or `float`: a Python number, whose division by 0 raises ZeroDivisionError."""
    if not isinstance(function.node, cst.FunctionDef):
        return False
    for param in function.node.params.params:
        if param.name.value == name and param.annotation is not None:
            return bool(python_number(param.annotation.annotation))
    return False


# --- helpers shared with the rules ---------------------------------------------------------------------


def clamp_bounds(found):
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


def _not_none(expr):
    return None if isinstance(expr, cst.Name) and expr.value == "None" else expr


def select_parts(found):
    """(condition, [taken, other]) of where(c, a, b) / select; (condition, [value]) of masked_fill(a, c, v)."""
    if found.op == "where":
        condition = found.arg(0, "condition", "cond", "pred")
        branches = [
            b for b in (found.arg(1, "x", "input", "on_true"), found.arg(2, "y", "other", "on_false")) if b is not None
        ]
        return (condition, branches) if condition is not None and len(branches) == 2 else None
    if found.op == "masked_fill" and len(found.args) >= 2:
        return found.args[1], [found.args[0]]
    return None


def variables_of(ctx, expr: cst.CSTNode) -> set[str]:
    """Dotted names an expression reads (receivers of methods, not called functions or module aliases)."""
    if isinstance(expr, (cst.Name, cst.Attribute)):
        name = dotted(expr)
        if name is not None:
            return set() if name in ("self", "cls") or ctx.names.is_module_alias(expr) else {name}
    if isinstance(expr, cst.Attribute):
        return variables_of(ctx, expr.value)
    found: set[str] = set()
    if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
        loop: cst.CompFor | None = expr.for_in  # what it iterates over; its own loop variables are not the caller's
        while loop is not None:
            found |= variables_of(ctx, loop.iter)
            loop = loop.inner_for_in
        return found
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute):
            found |= variables_of(ctx, expr.func.value)
        for arg in expr.args:
            found |= variables_of(ctx, arg.value)
        return found
    from nanlint.source.traversal import children

    for child in children(expr):
        found |= variables_of(ctx, child)
    return found


_OPERATORS = {
    cst.GreaterThan: ">",
    cst.GreaterThanEqual: ">=",
    cst.LessThan: "<",
    cst.LessThanEqual: "<=",
    cst.Equal: "==",
    cst.NotEqual: "!=",
}
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
_MIRRORED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


def _bound_by(
    condition: cst.BaseExpression, holds: bool, number: Callable[[cst.BaseExpression], float | None] | None = None
) -> tuple[str, str, float] | None:
    """(variable, operator, constant) that the condition (or its failure) asserts: `r > 0`, `n != 0`, `x`."""
    read = number or _number
    if isinstance(condition, cst.UnaryOperation) and isinstance(condition.operator, cst.Not):
        return _bound_by(condition.expression, not holds, number)
    if isinstance(condition, (cst.Name, cst.Attribute)):  # where(n, x / n, 0): truthiness
        name = dotted(condition)
        return (name, "!=" if holds else "==", 0.0) if name else None
    if isinstance(condition, cst.Call) and isinstance(condition.func, cst.Attribute):
        method = condition.func.attr.value
        if method in ("gt", "ge", "lt", "le", "eq", "ne") and condition.args:
            relation = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}[method]
            value = read(condition.args[0].value)
            name = dotted(_peeled(condition.func.value))
            if value is not None and name is not None:
                return (name, relation if holds else _NEGATED[relation], value)
        return None
    if not isinstance(condition, cst.Comparison) or len(condition.comparisons) != 1:
        return None
    target = condition.comparisons[0]
    symbol = _OPERATORS.get(type(target.operator))
    if symbol is None:
        return None
    left, right = condition.left, target.comparator
    value = read(right)
    name = dotted(_peeled(left)) if isinstance(_peeled(left), (cst.Name, cst.Attribute)) else None
    if value is None or name is None:
        value, name = (
            read(left),
            dotted(_peeled(right)) if isinstance(_peeled(right), (cst.Name, cst.Attribute)) else None,
        )
        symbol = _MIRRORED[symbol]
    if value is None or name is None:
        return None
    return (name, symbol if holds else _NEGATED[symbol], value)


def _string_key(expr: cst.Subscript) -> str | None:
    """The key of `d["name"]`, which says what the value is as a variable's name would."""
    if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
        return None
    key = expr.slice[0].slice.value
    if isinstance(key, cst.SimpleString):
        value = key.evaluated_value
        return value if isinstance(value, str) and value.isidentifier() else None
    return None


def _walk(node: cst.CSTNode):
    from nanlint.source.traversal import iter_nodes

    return iter_nodes(node)


def _number(expr: cst.BaseExpression) -> float | None:
    if isinstance(expr, (cst.Integer, cst.Float)):
        return float(expr.evaluated_value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _number(expr.expression)
        return -inner if inner is not None else None
    name = expr.attr.value if isinstance(expr, cst.Attribute) else expr.value if isinstance(expr, cst.Name) else ""
    if name and evidence.EPS_NAME.search(name.lower()):
        return 1e-12  # a positive eps: `x > eps` bounds x away from 0
    return None


def _peeled(expr: cst.BaseExpression) -> cst.BaseExpression:
    """x of x[...], x.float(), x.detach() (the variable a test is about)."""
    for _ in range(4):
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        elif (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in ("float", "detach", "double", "abs", "squeeze")
        ):
            expr = expr.func.value
        else:
            break
    return expr


def _identity_test(expr: cst.Comparison) -> bool:
    """`x is None`, `k in d`: not a numeric mask."""
    return any(isinstance(c.operator, (cst.Is, cst.IsNot, cst.In, cst.NotIn)) for c in expr.comparisons)


def _same_code(ctx, a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    if type(a) is not type(b) or not isinstance(a, (cst.Name, cst.Attribute)):
        return False
    return dotted(a) == dotted(b) and dotted(a) is not None


def _is_limits(expr: cst.BaseExpression) -> bool:
    """finfo(...) or x.dtype: the owner of .min / .max limits."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "dtype":
        return True
    return isinstance(expr, cst.Call) and _called_name(expr.func) in ("finfo", "iinfo")


_SEQUENCE_TYPES = frozenset({"List", "list", "Sequence", "Tuple", "tuple"})
_EXTENT = Reason(
    "a box's extent (its far corner minus its near corner), which is 0 for a degenerate box",
    BUILT,
    "extent",
)

# E[x²] - E[x]² is NAN107's own hazard, reported where the difference is written.
_CANCELLATION_KINDS = {"E[x²] - E[x]²": "variance-cancellation"}


def _last_coordinate(expr: cst.Subscript) -> int | None:
    """i in `b[..., i]`, `b[:, i]` or `b[i]` for a literal 0 <= i <= 3 (every earlier index a full slice)."""
    *earlier, last = expr.slice
    if any(not isinstance(e.slice, cst.Slice) and not _is_ellipsis(e.slice) for e in earlier):
        return None
    if not isinstance(last.slice, cst.Index) or not isinstance(last.slice.value, cst.Integer):
        return None
    value = last.slice.value.value
    return int(value) if value.isdigit() and int(value) <= 3 else None


def _last_axis_entry(expr: cst.Subscript) -> bool:
    """`x[..., i]`, `x[:, i]` or `x[..., i:]` (a literal i, every earlier index a full slice): an entry of the last
    axis of a tensor with leading axes."""
    *earlier, last = expr.slice
    if not earlier or any(not _full_slice(e.slice) and not _is_ellipsis(e.slice) for e in earlier):
        return False
    if isinstance(last.slice, cst.Index):
        return isinstance(_literal_int(last.slice.value), int)
    entry = last.slice
    return (
        isinstance(entry, cst.Slice)
        and _literal_int(entry.lower) is not None
        and entry.step is None
        and (entry.upper is None or _literal_int(entry.upper) is not None)
    )


def _full_slice(index: cst.BaseSlice) -> bool:
    return isinstance(index, cst.Slice) and index.lower is None and index.upper is None and index.step is None


def _literal_int(expr: cst.BaseExpression | None) -> int | None:
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _literal_int(expr.expression)
        return -inner if inner is not None else None
    return int(expr.value) if isinstance(expr, cst.Integer) and expr.value.isdigit() else None


def _is_ellipsis(index: cst.BaseSlice) -> bool:
    return isinstance(index, cst.Index) and isinstance(index.value, cst.Ellipsis)


def _elements(returns: list[cst.BaseExpression], position: int) -> list[cst.BaseExpression] | None:
    """The `position`-th element of every returned tuple, or None if one return is not a plain tuple that long."""
    found = []
    for value in returns:
        if not isinstance(value, cst.Tuple) or len(value.elements) <= position:
            return None
        element = value.elements[position]
        if isinstance(element, cst.StarredElement):
            return None
        found.append(element.value)
    return found


def _constant_position(expr: cst.Subscript) -> int | None:
    """i in `x[i]` when it is one integer literal."""
    if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
        return None
    value = expr.slice[0].slice.value
    return int(value.value) if isinstance(value, cst.Integer) and value.value.isdigit() else None


def _called_name(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None
