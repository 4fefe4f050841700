"""NAN304 (formerly NAN306): a parameter (or buffer) created from uninitialised memory and never filled.

`torch.empty(n)`, `torch.Tensor(n)` (sizes, not data), `x.new_empty(n)` and `np.empty(n)`
allocate without writing: the tensor holds whatever the allocator last left there, which can
be 1e38, inf or NaN. Made a parameter (`nn.Parameter`, `tf.Variable`, `register_parameter`) or
a buffer, it must be filled before use: by an initialiser (`nn.init.xavier_uniform_(w)`,
`w.data.normal_()`, `w.copy_(v)`, `w[...] = v`), by a class method that resets parameters
(`self.reset_parameters()`), or by a loop that initialises every parameter of the model.

Fills are matched by the attribute's name anywhere in the module (`_init_weights` filling
`module.U` fills every `self.U`), so one decision waits for the whole module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from nanlint.source import training_ops as table
from nanlint.source.rule import Rule, argument
from nanlint.source.training_facts import dtype_literal

# In-place methods that write every element.
_FILL_METHODS = frozenset(
    {
        "normal_",
        "uniform_",
        "zero_",
        "fill_",
        "copy_",
        "random_",
        "exponential_",
        "geometric_",
        "log_normal_",
        "cauchy_",
        "bernoulli_",
        "set_",
        "fill",  # numpy
        "assign",  # tf.Variable
    }
)
# A helper whose name says it fills what it is given: `glorot(w)`, `trunc_normal_(w)`, `self._reset(w)`.
_FILLING_NAME = re.compile(
    r"init|reset|fill|load|copy|normal|uniform|glorot|xavier|kaiming|orthogonal|zeros|ones|const"
)
# Packages whose functions are known ops: one of them fills a tensor only if it is an initialiser or a copy.
_FRAMEWORKS = table.FLOAT32_DEFAULT_ROOTS | {"numpy", "math", "builtins", "scipy"}
# A method of the class that initialises its parameters: `self.reset_parameters()`, `self.post_init()`.
_INITIALISING_METHOD = re.compile(r"reset|init")
_PARAMETER_ITERATORS = re.compile(r"\.(named_)?parameters\(|\.(named_)?modules\(|\.state_dict\(")


@dataclass
class _Creation:
    node: cst.Call  # the allocation
    name: str  # the parameter's name (`self.U` -> "U")
    owner: str | None  # the class it is created in
    spelled: str  # how the allocation reads, for the message


class UninitialisedParameter(Rule):
    code = "NAN304"
    triggers = ("empty", "Tensor(", "Tensor (", "new(")

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.creations: list[_Creation] = []
        self.filled: set[str] = set()
        self.initialising_classes: set[str] = set()
        self.every_parameter_filled = False
        self.classes: list[str] = []
        self.parameter_loops: set[str] = set()

    # --- scopes ---------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()

    def visit_For(self, node: cst.For) -> None:
        """`for p in model.parameters():` -- a fill of `p` initialises every parameter."""
        if _PARAMETER_ITERATORS.search(self.ctx.code_of(node.iter)):
            self.parameter_loops.update(_target_names(node.target))

    # --- creations --------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("register_parameter", "register_buffer"):
            name = argument(node, 0, "name")
            value = argument(node, 1, "param" if func.attr.value == "register_parameter" else "tensor")
            if isinstance(name, cst.SimpleString) and isinstance(name.evaluated_value, str) and value is not None:
                self._created(self._wrapped_allocation(value) or value, name.evaluated_value)
        self._fill_call(node, self.ctx.qualify(func))

    def leave_Assign(self, node: cst.Assign) -> None:
        value = node.value
        for target in node.targets:
            key = _key(target.target)
            if key is None:
                continue
            if isinstance(target.target, cst.Subscript):
                self._fill(target.target)
                continue
            wrapped = self._wrapped_allocation(value)
            if wrapped is not None:
                self._created(wrapped, key, value if isinstance(value, cst.Call) else None)
            elif isinstance(target.target, cst.Attribute):
                self._rebound(target.target)

    def _wrapped_allocation(self, value: cst.BaseExpression) -> cst.BaseExpression | None:
        """The argument of `nn.Parameter(...)` / `tf.Variable(...)` when `value` is one."""
        if isinstance(value, cst.Call) and self.ctx.qualify(value.func) in table.PARAMETERS and value.args:
            return value.args[0].value
        return None

    def _created(self, value: cst.BaseExpression, name: str, wrapper: cst.Call | None = None) -> None:
        allocation = self._allocation(value)
        if allocation is not None and not self._placeholder(allocation, wrapper):
            spelled = self.ctx.code_of(allocation.func).strip()
            self.creations.append(_Creation(allocation, name, self.classes[-1] if self.classes else None, spelled))

    def _placeholder(self, allocation: cst.Call, wrapper: cst.Call | None) -> bool:
        """Storage that is loaded, not trained: a frozen parameter (`requires_grad=False`), integer or boolean
        storage (quantised weights), an empty tensor, or an allocation on a device passed in by the caller
        (the meta-device / skip-init pattern of models built to be loaded from a checkpoint)."""
        if wrapper is not None and _is_false(argument(wrapper, 1, "requires_grad")):
            return True
        dtype = argument(allocation, None, "dtype")
        spelled = dtype is not None and (self.ctx.qualify(dtype) is not None or isinstance(dtype, cst.SimpleString))
        if spelled and dtype_literal(self.ctx, dtype) is None:
            return True  # torch.int8, "uint8": no float values, so no inf or NaN
        if any(self.ctx.const(a.value) == 0 for a in allocation.args if a.keyword is None and not a.star):
            return True
        device = argument(allocation, None, "device")
        return isinstance(device, (cst.Name, cst.Attribute)) or any(a.star == "**" for a in allocation.args)

    def _allocation(self, expr: cst.BaseExpression, depth: int = 4) -> cst.Call | None:
        """The uninitialised allocation `expr` is (through conversions: from_numpy, .float(), .to(device))."""
        for _ in range(depth):
            if isinstance(expr, cst.Name):
                resolved = self.ctx.resolve(expr)
                if resolved is expr or resolved is None:
                    return None
                expr = resolved
            if not isinstance(expr, cst.Call):
                return None
            qualified = self.ctx.qualify(expr.func)
            if qualified in table.UNINITIALISED or (qualified in table.UNINITIALISED_IF_SIZES and self._sizes(expr)):
                return expr
            func = expr.func
            if qualified in table.TENSOR_CONVERSIONS and expr.args:
                expr = expr.args[0].value
            elif isinstance(func, cst.Attribute) and qualified is None:
                method = func.attr.value
                if method in table.UNINITIALISED_METHODS or (method == "new" and self._sizes(expr)):
                    return expr
                if method not in table.KEEPING_METHODS:
                    return None  # `torch.empty(n).normal_()` fills it; other methods make a new tensor
                expr = func.value
            else:
                return None
        return None

    def _sizes(self, call: cst.Call) -> bool:
        """`torch.Tensor(n, m)` allocates; `torch.Tensor([1, 2])` or `torch.Tensor(array)` copies data."""
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        if not positional or any(a.star for a in call.args):
            return False
        if len(positional) > 1:
            return True
        return _integer_like(self.ctx, positional[0])

    # --- fills ----------------------------------------------------------------------------

    def _fill_call(self, node: cst.Call, qualified: str | None) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and qualified is None and func.attr.value in _FILL_METHODS:
            self._fill(func.value)
            return
        if isinstance(func, cst.Attribute) and qualified is None and _is_self(func.value):
            if self.classes and _INITIALISING_METHOD.search(func.attr.value) and func.attr.value != "__init__":
                self.initialising_classes.add(self.classes[-1])
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "out":
                self._fill(arg.value)
        if qualified is not None and not qualified.startswith(table.INITIALISER_NAMESPACES):
            if qualified in table.COPYING_FUNCTIONS and node.args:
                self._fill(node.args[0].value)
            if qualified.split(".", 1)[0] in _FRAMEWORKS:
                return  # torch.matmul(w, x) reads w; only initialisers and copies write it
            qualified = None  # the project's own helper, imported: `_initialize_affine_weight_gpu(self.w1, ...)`
        if qualified is not None or _FILLING_NAME.search(_callee_name(func).lower()):
            for arg in node.args:
                if arg.keyword is None:
                    self._fill(arg.value)

    def _fill(self, target: cst.BaseExpression) -> None:
        while isinstance(target, cst.Subscript) or (isinstance(target, cst.Attribute) and target.attr.value == "data"):
            target = target.value
        if isinstance(target, cst.Name) and target.value in self.parameter_loops:
            self.every_parameter_filled = True
        key = _key(target)
        if key is not None:
            self.filled.add(key)

    def _rebound(self, target: cst.Attribute) -> None:
        """`self.w.data = v` / `module.w = nn.Parameter(v)`: the name gets a value."""
        if target.attr.value == "data":
            self._fill(target)
            return
        self.filled.add(target.attr.value)

    # --- deciding ---------------------------------------------------------------------------

    def leave_Module(self, node: cst.Module) -> None:
        if self.every_parameter_filled:
            return
        for creation in self.creations:
            if creation.name in self.filled or creation.owner in self.initialising_classes:
                continue
            self.report(
                creation.node,
                f"parameter `{creation.name}` is allocated with {creation.spelled}(), which leaves whatever was "
                "in memory (possibly huge, inf or NaN), and is never filled; initialise it (nn.init.*_ on it, "
                "or allocate with randn/zeros)",
            )


def _key(target: cst.BaseExpression) -> str | None:
    """The name a parameter is known by: `self.U` / `module.U` -> "U", `w` -> "w"."""
    if isinstance(target, cst.Subscript):
        return _key(target.value)
    if isinstance(target, cst.Attribute):
        return target.attr.value
    if isinstance(target, cst.Name):
        return target.value
    return None


def _is_false(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _is_self(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"


def _callee_name(func: cst.BaseExpression) -> str:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def _target_names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for e in target.elements for n in _target_names(e.value)}
    return set()


_SIZE_NAME = re.compile(
    r"(^|_)(n|num|size|dim|dims|len|length|count|features|channels|hidden|tags|classes|units)($|_)"
    r"|^n(hid|in|inp|out|token|tags|class|classes|feat|layers?)$"
)


def _integer_like(ctx, expr: cst.BaseExpression) -> bool:
    """A size: an integer literal, arithmetic on sizes, len()/int(), `x.size(0)`, a name that reads as a count
    or a parameter annotated `int`."""
    if isinstance(expr, cst.Integer):
        return True
    if isinstance(expr, cst.BinaryOperation):
        return _integer_like(ctx, expr.left) or _integer_like(ctx, expr.right)
    if isinstance(expr, cst.Call):
        name = _callee_name(expr.func)
        return name in ("len", "int", "size", "numel") or name.endswith("_size")
    if isinstance(expr, cst.Subscript):
        return isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape"
    if isinstance(expr, cst.Name):
        value = ctx.const(expr)
        if value is not None:
            return value == int(value)
        return bool(_SIZE_NAME.search(expr.value.lower()))
    if isinstance(expr, cst.Attribute):
        return bool(_SIZE_NAME.search(expr.attr.value.lower()))
    return False


RULES = [UninitialisedParameter]
