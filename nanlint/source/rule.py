"""The rule API: a Rule is a small visitor class; Context answers its semantic questions.

A rule declares its code, the substrings that must occur in a file for it to run
(`triggers`, a pre-filter before parsing) and the codes it subsumes
(`overrides`: one hazard, one finding). Handlers are `visit_<Node>` / `leave_<Node>`
methods, as in libcst, called from the one batched traversal.

The questions, one way each:
- which op is this call: `ctx.call(expr)` (an OpCall: op, arguments) or just `ctx.op(expr)`;
- where does this name come from: `ctx.origins(expr)` (the expression, then what its name was
  assigned from, and so on; conversions and reshapes seen through) or `ctx.resolve(expr)`;
- what can this value be: `ctx.values.of(expr)` (a Fact: bounds, can it be 0, why; see
  nanlint.source.values);
- what number is this: `ctx.const(expr)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import libcst as cst

from nanlint import options
from nanlint.source import ops
from nanlint.source.dataflow import Dataflow
from nanlint.source.names import Names, dotted


@dataclass(frozen=True)
class OpCall:
    """A call seen as a semantic op; for method forms (`x.exp()`) the receiver is args[0]."""

    op: str
    node: cst.Call
    args: tuple[cst.BaseExpression, ...]
    keywords: dict[str, cst.BaseExpression]
    method: bool
    qualified: str | None = None

    def arg(self, index: int, *keywords: str) -> cst.BaseExpression | None:
        """Positional argument `index` (receiver included for methods) or the first keyword given."""
        for name in keywords:
            if name in self.keywords:
                return self.keywords[name]
        return self.args[index] if index < len(self.args) else None


@dataclass
class PendingFix:
    applicability: str  # "safe" | "unsafe"
    message: str
    replacements: tuple[tuple[cst.CSTNode, str], ...]


@dataclass
class Report:
    code: str
    node: cst.CSTNode
    message: str
    fix: PendingFix | None = None
    covers: tuple[cst.CSTNode, ...] = ()


@dataclass
class Context:
    """Per-file state shared by all rules during the traversal."""

    module: cst.Module
    names: Names = field(default_factory=Names)
    dataflow: Dataflow = field(default_factory=Dataflow)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: list[Report] = field(default_factory=list)
    shared: dict[type, Any] = field(default_factory=dict)  # per-file trackers, keyed by class (see tracker)
    _calls: dict[int, tuple[cst.Call, OpCall | None]] = field(default_factory=dict, repr=False)
    _values: Any = field(default=None, repr=False)
    _is_test_module: bool | None = field(default=None, repr=False)
    project: Any = None  # nanlint.source.project.View: the other files of the run, seen from this one

    @property
    def testing(self) -> bool:
        """A test module (it imports a test framework): its arithmetic runs on the fixed values of its cases."""
        if self._is_test_module is None:
            self._is_test_module = any(_testing(target) for target in self.names.aliases.values())
        return self._is_test_module

    @property
    def values(self):
        """The file's value analysis (nanlint.source.values.Values), created on the first question."""
        if self._values is None:
            from nanlint.source.values import Values

            self._values = Values(self)
        return self._values

    def release(self) -> None:
        """Drop the per-file state that refers back to this context (trackers, the value analysis), so
        that reference counting frees the file's tree at once instead of the cyclic collector."""
        self.shared.clear()
        self._values = None

    def tracker(self, kind: type):
        """The file's shared instance of a tracker class that an enabled rule `uses`."""
        return self.shared[kind]

    # --- reporting ------------------------------------------------------------------

    def report(
        self,
        code: str,
        node: cst.CSTNode,
        message: str,
        fix: PendingFix | None = None,
        covers: tuple[cst.CSTNode, ...] = (),
    ) -> None:
        self.reports.append(Report(code, node, message, fix, covers))

    def code_of(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    # --- names and ops ----------------------------------------------------------------

    def qualify(self, expr: cst.BaseExpression) -> str | None:
        qualified = self.names.qualify(expr)
        return None if qualified is None else ops.canonical(qualified)

    def call(self, expr: cst.BaseExpression | None) -> OpCall | None:
        """The semantic op computed by a call expression, or None (memoised: many rules ask per call)."""
        if not isinstance(expr, cst.Call):
            return None
        known = self._calls.get(id(expr))
        if known is not None and known[0] is expr:
            return known[1]
        found = self._call(expr)
        self._calls[id(expr)] = (expr, found)
        return found

    def _call(self, expr: cst.Call) -> OpCall | None:
        positional = tuple(a.value for a in expr.args if a.keyword is None and not a.star)
        keywords = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
        operand = next((keywords[k] for k in ops.OPERAND_KEYWORDS if k in keywords), None)
        if not positional and operand is not None:  # torch.sum(input=x, dim=1): the operand by its keyword
            positional = (operand,)
        qualified = self.qualify(expr.func)
        op = ops.function_op(qualified) or ops.helper_op(qualified)
        if op is not None:
            return OpCall(op, expr, positional, keywords, method=False, qualified=qualified)
        func = expr.func
        if qualified is not None and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            # `import aerosandbox.numpy as np`: a module imported under NumPy's name speaks NumPy's API
            namespace = ops.NAMESPACE_NAMES.get(func.value.value)
            alias = f"{namespace}.{func.attr.value}" if namespace else None
            op = ops.function_op(alias)
            if op is not None:
                return OpCall(op, expr, positional, keywords, method=False, qualified=alias)
        # A module instance first: `self.softmax = nn.Softmax(-1)` makes `self.softmax(x)` a softmax of x,
        # not a method call on `self`; `nn.CosineSimilarity(dim=1)(a, b)` is one too.
        constructed = func if isinstance(func, cst.Call) else self.dataflow.value_of(func)
        if isinstance(constructed, cst.Call):
            op = ops.module_class_op(self.qualify(constructed.func))
            if op is not None:
                return OpCall(op, expr, positional, keywords, method=False)
        if not isinstance(func, cst.Attribute) or self.names.is_module_alias(func.value) or _is_self(func.value):
            return None
        namespace = self._local_namespace(func.value)
        if namespace is not None:  # `jnp = _infer_backend(x)` ... `jnp.sqrt(v)`
            qualified = f"{namespace}.{func.attr.value}"
            op = ops.function_op(qualified)
            if op is not None:
                return OpCall(op, expr, positional, keywords, method=False, qualified=qualified)
        if func.attr.value in ops.METHODS:
            return OpCall(ops.METHODS[func.attr.value], expr, (func.value, *positional), keywords, method=True)
        return None

    def _local_namespace(self, receiver: cst.BaseExpression) -> str | None:
        """The module a local name conventionally holds (`xp`, `jnp`, `np`), when no import binds it."""
        if not isinstance(receiver, cst.Name) or receiver.value not in ops.NAMESPACE_NAMES:
            return None
        passed = self._namespace_parameter(receiver)
        if passed is not None:
            return passed
        bound = self.dataflow.value_of(receiver)
        if bound is not None and not isinstance(bound, (cst.Call, cst.Name, cst.Attribute, cst.IfExp)):
            return None
        return ops.NAMESPACE_NAMES[receiver.value]

    def _namespace_parameter(self, receiver: cst.Name) -> str | None:
        """The namespace a framework passes as a parameter: `F` of a gluon block's `hybrid_forward(self, F, x)`."""
        if not any(name == receiver.value for _, name in ops.NAMESPACE_PARAMETERS) or not any(
            target.split(".", 1)[0] in ops.NAMESPACE_PARAMETER_ROOTS for target in self.names.aliases.values()
        ):
            return None  # the file imports no such framework: no index needed
        found = self.values.index.parameter(receiver)
        if found is None or found[0].owner is None:
            return None
        function, name = found
        passed = ops.NAMESPACE_PARAMETERS.get((function.name, name))
        if passed is None:
            return None
        base_prefix, namespace = passed
        for statement in self.module.body:
            if isinstance(statement, cst.ClassDef) and statement.name.value == function.owner:
                bases = (self.qualify(b.value) or "" for b in statement.bases)
                return namespace if any(base.startswith(base_prefix) for base in bases) else None
        return None

    def op(self, expr: cst.BaseExpression | None) -> str | None:
        found = self.call(expr)
        return found.op if found else None

    def resolve(self, expr: cst.BaseExpression | None, depth: int = 4) -> cst.BaseExpression | None:
        """Follow names and self.attrs to the expression last assigned to them."""
        while depth > 0 and expr is not None:
            value = self.dataflow.value_of(expr)
            if value is None:
                return expr
            expr, depth = value, depth - 1
        return expr

    def origins(self, expr: cst.BaseExpression | None, depth: int = 4) -> Iterator[cst.BaseExpression]:
        """Where a value comes from: the expression, then what its name was assigned from, and so on
        (most recent assignment first), each seen through conversions and reshapes (`m.float()`)."""
        seen: set[int] = set()
        while expr is not None and depth >= 0:
            expr = self.peel(expr)
            if id(expr) in seen:
                return
            seen.add(id(expr))
            yield expr
            expr = self.dataflow.value_of(expr)
            depth -= 1

    def peel(self, expr: cst.BaseExpression) -> cst.BaseExpression:
        """See through dtype conversions and reshapes: `mask.float()`, `x.view(-1)`, `tf.cast(m, tf.float32)`."""
        for _ in range(8):
            found = self.call(expr)
            if found is None or found.op not in _TRANSPARENT or not found.args:
                return expr
            expr = found.args[0]
        return expr

    def spelling(self, qualified: str) -> str | None:
        """How this file can spell a qualified name through its imports (`F.log_softmax`), if it can.

        Aliases are compared in canonical form too, so `import tensorflow.compat.v1 as tf` spells
        "tensorflow.nn.log_softmax" as `tf.nn.log_softmax`."""
        best = None
        for local, target in self.names.aliases.items():
            for prefix in dict.fromkeys((target, ops.canonical(target + ".")[:-1])):
                if qualified == prefix or qualified.startswith(prefix + "."):
                    candidate = local + qualified[len(prefix) :]
                    if best is None or len(candidate) < len(best):
                        best = candidate
        return best

    # --- constants --------------------------------------------------------------------

    def const(self, expr: cst.BaseExpression | None, depth: int = 4) -> float | None:
        """The numeric value of a constant expression (through module constants), else None."""
        if expr is None or depth <= 0:
            return None
        if isinstance(expr, (cst.Integer, cst.Float)):
            return float(expr.evaluated_value)
        if isinstance(expr, cst.UnaryOperation):
            value = self.const(expr.expression, depth)
            if value is None:
                return None
            if isinstance(expr.operator, cst.Minus):
                return -value
            return value if isinstance(expr.operator, cst.Plus) else None
        if isinstance(expr, cst.BinaryOperation):
            # Walk a left-leaning chain (`1 + 1 + ... + 1`) in a loop: long generated sums must not recurse.
            spine = []
            while isinstance(expr, cst.BinaryOperation):
                spine.append(expr)
                expr = expr.left
            value = self.const(expr, depth)
            for operation in reversed(spine):
                if value is None:
                    return None
                value = _fold(operation.operator, value, self.const(operation.right, depth))
            return value
        if isinstance(expr, (cst.Name, cst.Attribute)):
            special = ops.constant_op(self.qualify(expr))
            if special is not None:
                return math.inf if special == "inf" else math.nan
            held = self.dataflow.value_of(expr)
            if held is None and self.project is not None:
                return self.project.constant(expr, self.names)  # `from .consts import NEG_INF`
            return self.const(held, depth - 1)
        called = self.call(expr)
        if called is not None and called.op == "float" and len(called.args) == 1:
            text = called.args[0]
            if isinstance(text, cst.SimpleString):
                try:
                    return float(text.evaluated_value)
                except (ValueError, TypeError):
                    return None
            return self.const(text, depth)
        return None


_TRANSPARENT = frozenset({"cast", "layout"})
# Modules only tests import: test frameworks, and any package's `testing`/`test_util` helpers
# (numpy.testing, torch.testing, absl.testing, keras.src.testing, tensorflow's test_util).
_TEST_FRAMEWORKS = frozenset({"pytest", "unittest", "hypothesis", "absltest", "parameterized"})
_TEST_HELPERS = frozenset({"testing", "testing_utils", "test_util", "test_utils"})


def _testing(target: str) -> bool:
    parts = target.split(".")
    return parts[0] in _TEST_FRAMEWORKS or any(part in _TEST_HELPERS for part in parts)


def argument(node: cst.Call, position: int | None, keyword: str | None) -> cst.BaseExpression | None:
    """A call's argument given by `keyword`, else the positional one at `position` (None: keyword only)."""
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a.value for a in node.args if a.keyword is None and not a.star]
    return positional[position] if position is not None and position < len(positional) else None


def _is_self(expr: cst.BaseExpression) -> bool:
    """`self.exp(x)` calls the class's own method, not a tensor op of `self`."""
    return isinstance(expr, cst.Name) and expr.value in ("self", "cls")


def _fold(operator: cst.BaseBinaryOp, left: float | None, right: float | None) -> float | None:
    if left is None or right is None:
        return None
    try:
        if isinstance(operator, cst.Add):
            return left + right
        if isinstance(operator, cst.Subtract):
            return left - right
        if isinstance(operator, cst.Multiply):
            return left * right
        if isinstance(operator, cst.Divide):
            return left / right
        if isinstance(operator, cst.Power):
            return float(left**right)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    return None


class Rule:
    """Base class of source rules. Subclasses set `code` and define visit_/leave_ handlers."""

    code: ClassVar[str]
    triggers: ClassVar[tuple[str, ...]] = ()
    overrides: ClassVar[tuple[str, ...]] = ()
    # Trackers: classes built with the Context whose visit_/leave_ handlers follow the file once for
    # every rule that uses them (one instance per file, in ctx.shared[cls]; see Context.tracker).
    uses: ClassVar[tuple[type, ...]] = ()
    # Quiet in test modules: a hazard of values that the data brings (overflow, 0), which a test's fixed
    # cases do not (its reference formulas are often naive on purpose).
    quiet_in_tests: ClassVar[bool] = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def option(self, name: str) -> Any:
        return self.ctx.options.get(self.code, {}).get(name, options.default(self.code, name))

    def report(
        self, node: cst.CSTNode, message: str, fix: PendingFix | None = None, covers: tuple[cst.CSTNode, ...] = ()
    ) -> None:
        if self.quiet_in_tests and self.ctx.testing:
            return
        self.ctx.report(self.code, node, message, fix, covers)


__all__ = ["Context", "OpCall", "PendingFix", "Report", "Rule", "argument", "dotted"]
