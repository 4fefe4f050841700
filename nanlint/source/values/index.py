"""The module index: what the whole file says, for questions the traversal cannot answer in order.

Built once per file on the first question that needs it (one read-only walk, a few percent of a
parse): every name's binding at its use (a Dataflow of its own, so functions defined later are
seen too), the functions and methods by name, their parameters, return values and call sites, and
the values each function compares with a constant (`if n == 0`, `where(r > eps, ...)`,
`tf.cond(normalizer == 0, ...)`), which tell a rule that its author handles that value's 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeGuard

import libcst as cst

from nanlint.source.dataflow import Dataflow, binding_key
from nanlint.source.names import dotted
from nanlint.source.traversal import Dispatcher, children

_COMPARISONS = (cst.LessThan, cst.GreaterThan, cst.LessThanEqual, cst.GreaterThanEqual, cst.Equal, cst.NotEqual)
# Calls that test a value numerically: `allclose(x, 0)`, `isclose(n, 0)`, `x.any()`, `torch.all(x == 0)`.
_NUMERIC_TESTS = frozenset({"allclose", "isclose", "any", "all", "count_nonzero", "nonzero", "isfinite", "isnan"})


# In-place methods that leave their receiver holding the result: `x.clamp_(min=eps)`, `x.masked_fill_(m, v)`.
_IN_PLACE = frozenset(
    {"clamp_", "clip_", "clamp_min_", "clamp_max_", "masked_fill_", "relu_", "abs_", "nan_to_num_", "add_", "mul_"}
)
_BRANCH_ENDS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


class JoiningDataflow(Dataflow):
    """The Dataflow, plus: after an if/else a name holds either branch's value (a synthetic IfExp that the
    value analysis joins), a branch that returns or raises does not reach the code after it, and in-place
    updates rebind their target (`x.clamp_(min=eps)`, `x[x < eps] = eps`)."""

    def __init__(self) -> None:
        super().__init__()
        self._branches: list[tuple[cst.If, dict, list]] = []  # (if, names before it, names after each branch)
        self.elements: set[int] = set()  # ids of the synthetic `call[i]` that unpacking binds

    def _names(self) -> dict:
        return self.scopes[-1].names

    def visit_If(self, node: cst.If) -> None:
        self._branches.append((node, dict(self._names()), []))

    def leave_Else(self, node: cst.Else) -> None:
        if self._branches and self._branches[-1][0].orelse is node:
            self._end_branch(node.body)

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if self._branches and self._branches[-1][0].body is node:
            self._end_branch(node)

    def leave_SimpleStatementSuite(self, node) -> None:
        if self._branches and self._branches[-1][0].body is node:
            self._end_branch(node)

    def _end_branch(self, body) -> None:
        _, before, ends = self._branches[-1]
        returns = bool(body.body) and _ends_flow(body.body[-1])
        ends.append(None if returns else dict(self._names()))
        self._names().clear()
        self._names().update(before)

    def leave_If(self, node: cst.If) -> None:
        if not self._branches or self._branches[-1][0] is not node:
            return
        _, before, ends = self._branches.pop()
        if node.orelse is None or isinstance(node.orelse, cst.If):
            ends.append(dict(self._names()))  # the fall-through, or the result of the elif chain
        reached = [e for e in ends if e is not None]
        names = self._names()
        if not reached:
            return
        merged = dict(reached[0])
        for other in reached[1:]:
            for key in set(merged) | set(other):
                a, b = merged.get(key, before.get(key)), other.get(key, before.get(key))
                if a is not b:
                    merged[key] = _either(node.test, a, b)
        names.clear()
        names.update(merged)

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in _IN_PLACE:
            key = binding_key(call.func.value)
            if key is not None:
                self._store(key, call)

    def leave_Assign(self, node: cst.Assign) -> None:
        super().leave_Assign(node)
        for target in node.targets:
            pair = target.target
            if isinstance(pair, (cst.Tuple, cst.List)) and isinstance(node.value, (cst.Tuple, cst.List)):
                if len(pair.elements) == len(node.value.elements):  # a, b = x, y
                    for name, value in zip(pair.elements, node.value.elements):
                        if not isinstance(value, cst.StarredElement):
                            self._bind(name.value, value.value)
            elif isinstance(pair, (cst.Tuple, cst.List)) and isinstance(node.value, cst.Call):
                self._bind_elements(pair, node.value)
        for target in node.targets:
            subscript = target.target
            if isinstance(subscript, cst.Subscript):  # x[x < eps] = eps: x is now either
                key = binding_key(subscript.value)
                if key is not None:
                    old = self.lookup(key) or subscript.value
                    self._store(key, _either(_index_of(subscript), node.value, old))

    def _bind_elements(self, pair: cst.Tuple | cst.List, call: cst.Call) -> None:
        """`mean, var = moments(x)`: each name holds its element of the call, a synthetic `call[i]`."""
        if any(isinstance(e, cst.StarredElement) for e in pair.elements):
            return
        for position, element in enumerate(pair.elements):
            index = cst.Index(cst.Integer(str(position)))
            synthetic = cst.Subscript(value=call, slice=[cst.SubscriptElement(index)])
            self.elements.add(id(synthetic))
            self._bind(element.value, synthetic)


def _either(test: cst.BaseExpression, a, b):
    if a is None or b is None:
        return None
    return cst.IfExp(test=test, body=a, orelse=b)


def _index_of(subscript: cst.Subscript) -> cst.BaseExpression:
    element = subscript.slice[0].slice if subscript.slice else None
    return element.value if isinstance(element, cst.Index) else cst.Name("True")


def _ends_flow(statement: cst.CSTNode) -> bool:
    if isinstance(statement, cst.SimpleStatementLine):
        return any(isinstance(s, _BRANCH_ENDS) for s in statement.body)
    return isinstance(statement, _BRANCH_ENDS)


@dataclass
class Function:
    """A function or method of the file, with what a summary needs."""

    node: cst.FunctionDef | cst.Lambda
    name: str
    owner: str | None  # the class of a method
    parameters: list[str]
    defaults: dict[str, cst.BaseExpression]
    returns: list[cst.BaseExpression] = field(default_factory=list)
    calls: list[cst.Call] = field(default_factory=list)  # call sites in this file
    compared: set[str] = field(default_factory=set)  # variables compared with 0 (or an eps) somewhere in it
    compared_to_one: set[str] = field(default_factory=set)  # ... with ±1 (`abs(c) < 1`)
    compared_nodes: list = field(default_factory=list)  # the Name/Attribute nodes compared with 0
    yields: bool = False
    aliases: set[str] | None = None

    @property
    def method(self) -> bool:
        return self.owner is not None and bool(self.parameters) and self.parameters[0] in ("self", "cls")

    def bound_parameters(self, call: cst.Call) -> dict[str, cst.BaseExpression]:
        """The call's arguments by parameter name (self excluded for methods); `*args` and `**kw` end the match."""
        names = self.parameters[1:] if self.method else self.parameters
        bound: dict[str, cst.BaseExpression] = {}
        position = 0
        for arg in call.args:
            if arg.star:
                break
            if arg.keyword is not None:
                if arg.keyword.value in names:
                    bound[arg.keyword.value] = arg.value
            elif position < len(names):
                bound[names[position]] = arg.value
                position += 1
        return bound


class Index:
    """Read with `Index.of(module)`; answers by node identity."""

    def __init__(self, module: cst.Module) -> None:
        self.dataflow = JoiningDataflow()
        self.assigned_to: dict[int, str] = {}  # id of an assigned value -> the dotted name it is assigned to
        self.functions: dict[str, Function] = {}  # module-level and nested functions by name (the last wins)
        self.methods: dict[tuple[str, str], Function] = {}  # (class, method) -> Function
        self.by_node: dict[int, Function] = {}
        self.parameter_of: dict[int, tuple[Function, str]] = {}  # Name node -> (its function, parameter)
        self.enclosing: dict[int, Function] = {}  # Call/Comparison node -> the function it is in
        self.selected: dict[int, tuple[cst.BaseExpression, bool]] = {}  # a where() branch -> (condition, taken if)
        self.alias_sites: list[tuple[cst.Name, str]] = []  # `self.softmax = x`: (the x read there, "self.softmax")
        # class-level fields annotated as Python numbers (`hidden_dim: int`, `prob: Optional[float] = None`, a
        # dataclass's or a flax module's settings): name -> "int"/"float", "" when some class declares it otherwise
        self.number_fields: dict[str, str] = {}
        collector = _Collector(self)  # a local: it refers back to the index (no cycle to outlive the file)
        dispatcher = Dispatcher()
        dispatcher.register(collector)
        dispatcher.register(self.dataflow)
        dispatcher.walk(module)
        self._link_calls(collector.calls)

    # --- questions ------------------------------------------------------------------------

    def value_of(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """What a name or self.attr held where it is used (None: unknown, or a parameter)."""
        if id(expr) in self.parameter_of:
            return None
        return self.dataflow.value_of(expr)

    def parameter(self, expr: cst.BaseExpression) -> tuple[Function, str] | None:
        """(function, parameter name) when expr is a use of a parameter not rebound before it."""
        found = self.parameter_of.get(id(expr))
        return found if found is not None and isinstance(expr, cst.Name) else None

    def function_at(self, node: cst.CSTNode) -> Function | None:
        return self.enclosing.get(id(node))

    def compared_aliases(self, function: Function) -> set[str]:
        """Compared variables and what they copy: `e = norms.clone()` ... `e < eps` compares norms too."""
        if function.aliases is None:
            found = set(function.compared)
            for node in function.compared_nodes:
                value = self.dataflow.value_of(node)
                for _ in range(4):
                    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and not value.args:
                        value = value.func.value  # x.clone(), x.detach(), x.float()
                    else:
                        break
                if isinstance(value, (cst.Name, cst.Attribute)):
                    name = dotted(value)
                    if name is not None:
                        found.add(name)
            function.aliases = found
        return function.aliases

    def callee(self, call: cst.Call, within: Function | None = None) -> Function | None:
        """The file's own function a call runs: `f(x)`, `self.f(x)`, `self.g(x)` after `self.g = f`."""
        func = call.func
        if isinstance(func, cst.Name) and func.value == "self":  # a module calling itself runs its forward
            owner = within.owner if within is not None else self._owner_of(call)
            if owner is None:
                return None
            return next((self.methods[(owner, m)] for m in _CALL_METHODS if (owner, m) in self.methods), None)
        for _ in range(3):
            if isinstance(func, cst.Name):
                bound = self.dataflow.value_of(func)
                if bound is None:
                    return self.functions.get(func.value)
                func = bound
            elif (
                isinstance(func, cst.Attribute)
                and isinstance(func.value, cst.Name)
                and func.value.value
                in (
                    "self",
                    "cls",
                )
            ):
                bound = self.dataflow.value_of(func)
                if bound is not None:
                    func = bound
                    continue
                owner = within.owner if within is not None else self._owner_of(call)
                return self.methods.get((owner, func.attr.value)) if owner else None
            elif isinstance(func, cst.Lambda):
                return self.by_node.get(id(func))
            else:
                return None
        return None

    def _owner_of(self, call: cst.Call) -> str | None:
        function = self.enclosing.get(id(call))
        return function.owner if function is not None else None

    def _link_calls(self, calls: list[tuple[cst.Call, Function | None]]) -> None:
        for call, within in calls:
            target = self.callee(call, within)
            if target is not None and not (isinstance(call.func, cst.Name) and call.func.value == "self"):
                target.calls.append(call)  # not `self(x)`: the framework calls forward too, with any input


# What `self(x)` runs: PyTorch's forward, Keras' call, any callable's __call__.
_CALL_METHODS = ("forward", "call", "__call__")


class _Collector:
    """Functions, parameters, returns, calls and compared variables, in one walk with the Dataflow."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.stack: list[Function] = []
        self.classes: list[str] = []
        self.calls: list[tuple[cst.Call, Function | None]] = []
        self.reporting = 0  # depth of `if`s that only report: their tests guard nothing

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        owner = self.classes[-1] if self.classes and not self._nested() else None
        function = _function(node, node.name.value, owner, node.params)
        if owner is not None:
            self.index.methods[(owner, function.name)] = function
        else:
            self.index.functions[function.name] = function
        self._enter(function)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        function = _function(node, "<lambda>", None, node.params)
        function.returns.append(node.body)
        self._enter(function)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self.stack.pop()

    def _enter(self, function: Function) -> None:
        self.index.by_node[id(function.node)] = function
        self.stack.append(function)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self.classes and not self.stack and isinstance(node.target, cst.Name):
            number = python_number(node.annotation.annotation)
            known = self.index.number_fields.get(node.target.value, number)
            self.index.number_fields[node.target.value] = number if known == number else ""

    def _nested(self) -> bool:
        """Inside a function (a def in a method is not a method of the class)."""
        return bool(self.stack)

    def visit_Return(self, node: cst.Return) -> None:
        if self.stack and node.value is not None:
            self.stack[-1].returns.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        if self.stack:
            self.stack[-1].yields = True

    def visit_Name(self, node: cst.Name) -> None:
        if not self.stack:
            return
        function = self.stack[-1]
        if node.value in function.parameters and node.value not in self._assigned(function):
            self.index.parameter_of[id(node)] = (function, node.value)

    def _assigned(self, function: Function) -> dict:
        """Names assigned so far in the function's own scope (the Dataflow's innermost function scope)."""
        functions = self.index.dataflow.functions
        return functions[-1].names if functions else {}

    def visit_Call(self, node: cst.Call) -> None:
        within = self.stack[-1] if self.stack else None
        self.calls.append((node, within))
        name = node.func.attr.value if isinstance(node.func, cst.Attribute) else getattr(node.func, "value", None)
        if name in ("where", "select") and len(node.args) == 3 and not any(a.keyword for a in node.args):
            condition = node.args[0].value
            self.index.selected[id(node.args[1].value)] = (condition, True)
            self.index.selected[id(node.args[2].value)] = (condition, False)
        if within is not None:
            self.index.enclosing[id(node)] = within
            if _numeric_test_call(node) and not self.reporting:
                self._compared(within, node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if self.stack and _numeric_comparison(node) and not self.reporting:
            self._compared(self.stack[-1], node)

    def _compared(self, function: Function, node: cst.Call | cst.Comparison) -> None:
        names, nodes = _tested_variables(node)
        point = _tested_point(node)
        if point == "zero":
            function.compared |= names
            function.compared_nodes.extend(nodes)
        elif point == "one":
            function.compared_to_one |= names

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, (cst.Name, cst.Attribute)):
            name = dotted(node.targets[0].target)
            if name is not None:
                self.index.assigned_to[id(node.value)] = name
                if isinstance(node.value, cst.Name):
                    self.index.alias_sites.append((node.value, name))

    def visit_If(self, node: cst.If) -> None:
        if reports_only(node):
            self.reporting += 1
        elif not self.reporting:
            self._truth_test(node.test)

    def leave_If(self, node: cst.If) -> None:
        if reports_only(node):
            self.reporting -= 1

    def visit_While(self, node: cst.While) -> None:
        self._truth_test(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._truth_test(node.test)

    def _truth_test(self, test: cst.BaseExpression) -> None:
        """`if n:` / `if not count:` test a number's truth, which is its being 0."""
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test = test.expression
        name = dotted(test) if isinstance(test, (cst.Name, cst.Attribute)) else None
        if self.stack and name is not None:
            self.stack[-1].compared.add(name)
            self.stack[-1].compared_nodes.append(test)


def _function(node, name: str, owner: str | None, params: cst.Parameters) -> Function:
    listed = [*params.posonly_params, *params.params, *params.kwonly_params]
    names = [p.name.value for p in listed]
    defaults = {p.name.value: p.default for p in listed if p.default is not None}
    return Function(node, name, owner, names, defaults)


# Calls that only report (`warnings.warn(...)`, `logger.warning(...)`, `print(...)`): they change no value.
_REPORTS = frozenset({"warn", "warning", "info", "debug", "error", "exception", "critical", "print", "log_warning"})


def reports_only(node: cst.If) -> bool:
    """`if (x < 0).any(): warnings.warn(...)`: an `if` with no `else` whose body only reports; its test guards
    nothing, since the code after it runs with the same values either way."""
    if node.orelse is not None or not isinstance(node.body, cst.IndentedBlock):
        return False
    for statement in node.body.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            if isinstance(small, cst.Pass):
                continue
            if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
                return False
            func = small.value.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
            if name not in _REPORTS:
                return False
    return True


def python_number(annotation: cst.BaseExpression) -> str:
    """ "int" or "float" for an annotation of a Python number (`int`, `Optional[float]`, `float | None`), else ""."""
    found = _PYTHON_NUMBER.fullmatch(cst.Module([]).code_for_node(annotation))
    return next(group for group in found.groups() if group) if found else ""


_PYTHON_NUMBER = re.compile(r"(int|float)(?:\s*\|\s*None)?|(?:typing\.)?Optional\[(int|float)\]")


def tested(node: cst.CSTNode) -> tuple[str | None, set[str]]:
    """(the bad point a numeric test is about, the variables it reads); (None, set()) for other tests."""
    if isinstance(node, cst.Comparison) and _numeric_comparison(node):
        return _tested_point(node), _tested_variables(node)[0]
    reduced = _reduced_test(node)
    if reduced is not None and tested(reduced)[0] is not None:
        return tested(reduced)  # `assert (w > 0).all().item()`, `torch.all(n != 0)`: the comparison inside
    if isinstance(node, cst.Call) and _numeric_test_call(node):
        return _tested_point(node), _tested_variables(node)[0]
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return tested(node.expression)
    if isinstance(node, (cst.Name, cst.Attribute)):
        name = dotted(node)
        return ("zero", {name}) if name else (None, set())
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _ARITHMETIC):
        return "zero", _tested_variables(node)[0]  # `if tp + fp:` -- the truth of a number is its being nonzero
    if _zero_among(node):
        return "zero", _tested_variables(node.comparisons[0].comparator)[0]  # `if 0 in (a, b): return`
    return None, set()


_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply)


def _zero_among(node: cst.CSTNode) -> TypeGuard[cst.Comparison]:
    """`0 in (a, b)` / `0 not in [a, b]`: a test of each listed value against 0."""
    return (
        isinstance(node, cst.Comparison)
        and len(node.comparisons) == 1
        and isinstance(node.comparisons[0].operator, (cst.In, cst.NotIn))
        and _number_value(node.left) == 0.0
        and isinstance(node.comparisons[0].comparator, (cst.Tuple, cst.List, cst.Set))
    )


_TRUTH_REDUCTIONS = frozenset({"all", "any", "item"})


def _reduced_test(node: cst.CSTNode) -> cst.BaseExpression | None:
    """The element-wise test a truth reduction reads: `(test).all()`, `.any()`, `.item()`, `all(test)`."""
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value in _TRUTH_REDUCTIONS and not node.args:
        return func.value
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
    if name in ("all", "any") and len(node.args) == 1 and not node.args[0].keyword:
        return node.args[0].value
    return None


def _tested_point(node: cst.Call | cst.Comparison) -> str | None:
    """Which bad point a test is about: "zero" (0 or an eps), "one" (±1), or None (another threshold)."""
    if isinstance(node, cst.Call):
        name = node.func.attr.value if isinstance(node.func, cst.Attribute) else getattr(node.func, "value", "")
        if name not in ("allclose", "isclose"):
            return "zero"  # x.any(), count_nonzero(x), isfinite(x)
        sides = [a.value for a in node.args[1:]]
    else:
        sides = [node.left, *(c.comparator for c in node.comparisons)]
    for side in sides:
        value = _number_value(side)
        if value == "eps" or (isinstance(value, float) and abs(value) < 1e-3):
            return "zero"
        if isinstance(value, float) and abs(abs(value) - 1) < 1e-3:
            return "one" if not _lower_bound(node) else "zero"  # `norm > 1.` proves norm > 0 too
        if isinstance(value, float) and value > 0 and _lower_bound(node):
            return "zero"  # `n >= 2`: n is not 0 there
    return None


def _lower_bound(node: cst.CSTNode) -> bool:
    """`x > c` / `x >= c` (or `c < x`): the variable is bounded below by the constant."""
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return False
    operator = node.comparisons[0].operator
    constant_right = _number_value(node.comparisons[0].comparator) is not None
    if constant_right:
        return isinstance(operator, (cst.GreaterThan, cst.GreaterThanEqual))
    return isinstance(operator, (cst.LessThan, cst.LessThanEqual))


def _number_value(expr: cst.BaseExpression) -> float | str | None:
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            return float(expr.evaluated_value)
        except ValueError:
            return None
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _number_value(expr.expression)
        return -inner if isinstance(inner, float) else inner
    if isinstance(expr, cst.BinaryOperation):  # 1 - eps, -1 + 1e-7
        left, right = _number_value(expr.left), _number_value(expr.right)
        if isinstance(left, float) and abs(abs(left) - 1) < 1e-3 and right is not None:
            return left
        if isinstance(right, float) and abs(abs(right) - 1) < 1e-3 and left is not None:
            return right
        return None
    return "eps" if _numberish(expr) else None


def _numeric_comparison(node: cst.Comparison) -> bool:
    """A comparison of a value with a number: `n == 0`, `norm > eps`, `x.abs() < 1e-6` (not `x is None`)."""
    if not all(isinstance(c.operator, _COMPARISONS) for c in node.comparisons):
        return False
    sides = [node.left, *(c.comparator for c in node.comparisons)]
    return any(_numberish(side) for side in sides)


def _numberish(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _numberish(expr.expression)
    name = expr.attr.value if isinstance(expr, cst.Attribute) else expr.value if isinstance(expr, cst.Name) else ""
    lowered = name.lower()
    return lowered.startswith(("eps", "tiny", "tol")) or lowered.endswith(("eps", "epsilon", "tol")) or name.isupper()


def _numeric_test_call(node: cst.Call) -> bool:
    func = node.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
    return name in _NUMERIC_TESTS


# Tests of a value's type or shape, not of its numbers: `len(x.shape) == 1`, `x.ndim > 2`, `isinstance(x, T)`.
_SHAPE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "device", "size", "requires_grad", "is_cuda", "numel"})
_SHAPE_CALLS = frozenset({"len", "isinstance", "hasattr", "callable", "type", "is_tensor", "numel", "dim", "size"})


def _tested_variables(node: cst.CSTNode) -> tuple[set[str], list]:
    """Dotted names whose values a test reads (receivers of calls included, called functions, shapes not)."""
    found: set[str] = set()
    nodes: list = []
    stack = [node]
    while stack:
        inner = stack.pop()
        if isinstance(inner, cst.Attribute) and inner.attr.value in _SHAPE_ATTRIBUTES:
            continue
        if isinstance(inner, cst.Call):
            func = inner.func
            called = (
                func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
            )
            if called in _SHAPE_CALLS:
                continue
            stack.extend(a.value for a in inner.args)
            if isinstance(func, cst.Attribute):
                stack.append(func.value)
            continue
        if isinstance(inner, (cst.Name, cst.Attribute)):
            name = dotted(inner)
            if name is not None:
                if name not in ("self", "cls"):
                    found.add(name)
                    nodes.append(inner)
                continue
        stack.extend(children(inner))
    return found, nodes
