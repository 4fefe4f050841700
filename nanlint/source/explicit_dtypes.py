"""The dtype an expression is explicitly given, where the code says so.

Mixed-precision code upcasts before its dangerous steps: `scores = scores.float()`,
`tf.cast(q, tf.float32)`, `hidden.to(dtype=torch.float32)`, `torch.ones(n, dtype=torch.float32)`.
A constant that overflows float16 or an eps that underflows it is harmless in a tensor that is
float32 by construction. `explicit_dtype` follows an expression back through names, casts,
creations with a `dtype=`, and the operations that keep their input's dtype (arithmetic,
matmul, reductions, indexing, reshapes) to the dtype written in the code, or None when no
dtype is written on the way.

`PrecisionScope` is a tracker the rules using this helper register: it remembers tuple
assignments (`q, k = q.float(), k.float()`, which the shared dataflow forgets), and the code that
only runs when a dtype test says the data is not float16 (`if x.dtype == torch.float16: ...
else: <here>`, `65500 if half else 1e30`).
"""

from __future__ import annotations

import libcst as cst

from nanlint.source.rule import Context
from nanlint.source.training_facts import dtype_literal
from nanlint.source.traversal import iter_nodes

# Methods that convert to a fixed dtype.
_CAST_METHODS = {"float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16"}
# Methods and ops whose result has the dtype of their (first) tensor input.
_KEEPING_OPS = frozenset(
    {
        "layout",
        "dot",
        "sum",
        "mean",
        "max",
        "min",
        "maximum",
        "minimum",
        "clamp",
        "abs",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "softmax",
        "log_softmax",
        "sigmoid",
        "tanh",
        "relu",
        "norm",
        "std",
        "var",
        "square",
        "pow",
        "gather",
        "segment_sum",
        "mul",
        "div",
        "where",
        "masked_fill",
    }
)
_KEEPING_METHODS = frozenset({"transpose", "permute", "t", "pad", "cumsum", "flip", "roll", "repeat", "tile"})
_WIDTH = {"float16": 16, "bfloat16": 16, "float32": 32, "float64": 64}


class PrecisionScope:
    """Tuple bindings per function, and the nodes that only run when the data is not float16."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.scopes: list[dict[str, cst.BaseExpression]] = [{}]
        self.not_half: set[int] = set()  # ids of nodes inside a branch where a dtype test excludes float16

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append({})

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def leave_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if not isinstance(value, (cst.Tuple, cst.List)):
            return
        for target in node.targets:
            names = target.target
            if isinstance(names, (cst.Tuple, cst.List)) and len(names.elements) == len(value.elements):
                for name, element in zip(names.elements, value.elements):
                    if isinstance(name.value, cst.Name) and not isinstance(element, cst.StarredElement):
                        self.scopes[-1][name.value.value] = element.value

    def lookup(self, name: str) -> cst.BaseExpression | None:
        return self.scopes[-1].get(name)

    def visit_If(self, node: cst.If) -> None:
        self._branches(node.test, node.body, node.orelse)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._branches(node.test, node.body, node.orelse)

    def _branches(self, test: cst.BaseExpression, body: cst.CSTNode, orelse: cst.CSTNode | None) -> None:
        half = self._tests_half(test)
        region = orelse if half is True else body if half is False else None
        if region is not None:
            self.not_half.update(id(n) for n in iter_nodes(region))

    def _tests_half(self, test: cst.BaseExpression) -> bool | None:
        """True: the test holds when the data is float16 (`x.dtype == torch.float16`, `dtype in (fp16, bf16)`);
        False: it holds only when it is not (`!= torch.float16`, `== torch.float32`); None: not a dtype test."""
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        target = test.comparisons[0]
        operator = target.operator
        named = [self._dtypes(test.left), self._dtypes(target.comparator)]
        dtypes = set().union(*named)
        if not dtypes:
            return None
        equal = isinstance(operator, (cst.Equal, cst.Is, cst.In))
        if isinstance(operator, (cst.NotEqual, cst.IsNot, cst.NotIn)):
            equal = False
        elif not equal:
            return None
        if "float16" in dtypes:
            return equal
        return False if equal and dtypes <= {"float32", "float64"} else None

    def _dtypes(self, expr: cst.BaseExpression) -> set[str]:
        if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
            return {d for e in expr.elements for d in self._dtypes(e.value)}
        found = None if isinstance(expr, cst.Integer) else dtype_literal(self.ctx, expr)
        return {found} if found else set()


def explicit_dtype(
    ctx: Context, dtype_of, expr: cst.BaseExpression | None, tuples: PrecisionScope | None = None, depth: int = 8
) -> str | None:
    """The dtype written for `expr` (see the module docstring); `dtype_of` reads a literal dtype expression."""
    if expr is None or depth <= 0:
        return None
    if isinstance(expr, (cst.Name, cst.Attribute)):
        resolved = ctx.resolve(expr)
        if (resolved is expr or resolved is None) and isinstance(expr, cst.Name) and tuples is not None:
            resolved = tuples.lookup(expr.value)
        if resolved is None or resolved is expr:
            return None
        return explicit_dtype(ctx, dtype_of, resolved, tuples, depth - 1)
    if isinstance(expr, cst.Subscript):
        return explicit_dtype(ctx, dtype_of, expr.value, tuples, depth - 1)
    if isinstance(expr, cst.UnaryOperation):
        return explicit_dtype(ctx, dtype_of, expr.expression, tuples, depth - 1)
    if isinstance(expr, cst.BinaryOperation):
        sides = [explicit_dtype(ctx, dtype_of, side, tuples, depth - 1) for side in (expr.left, expr.right)]
        scalar = [side is not None and _scalar_tensor(ctx, node) for side, node in zip(sides, (expr.left, expr.right))]
        if any(scalar) and not all(scalar):  # `attn / torch.tensor(d).sqrt()`: a 0-dim tensor does not promote
            return next(side for side, is_scalar in zip(sides, scalar) if not is_scalar)  # the tensor it meets
        return widest(sides)
    if isinstance(expr, cst.Call):
        return _call_dtype(ctx, dtype_of, expr, tuples, depth)
    return None


def _scalar_tensor(ctx: Context, expr: cst.BaseExpression, depth: int = 4) -> bool:
    """A PyTorch 0-dim tensor made of one Python number (`torch.tensor(k.shape[-1])`, its sqrt, `.to(float32)`).
    PyTorch's promotion lets a dimensioned tensor of the same kind keep its dtype against it (float16 / a float32
    0-dim tensor is float16), so its dtype says nothing of the result."""
    if depth <= 0:
        return False
    if isinstance(expr, cst.Name):
        resolved = ctx.resolve(expr)
        return resolved is not None and resolved is not expr and _scalar_tensor(ctx, resolved, depth - 1)
    func = expr.func if isinstance(expr, cst.Call) else None
    if isinstance(func, cst.Attribute) and func.attr.value in _SCALAR_KEEPING:
        if not ctx.names.is_module_alias(func.value):
            return _scalar_tensor(ctx, func.value, depth - 1)  # .to(torch.float32), .float(), .sqrt()
    if not isinstance(expr, cst.Call):
        return False
    call = ctx.call(expr)
    if call is None or not (call.qualified or "").startswith("torch") or not call.args:
        return False
    if call.op in ("tensor", "cast") and not call.method:
        return _python_number(call.args[0])
    if call.method or call.op in ("sqrt", "rsqrt", "cast"):
        receiver = expr.func.value if call.method and isinstance(expr.func, cst.Attribute) else call.args[0]
        return _scalar_tensor(ctx, receiver, depth - 1)
    return False


_SCALAR_KEEPING = frozenset({"to", "float", "double", "type", "sqrt", "rsqrt"})


def _python_number(expr: cst.BaseExpression) -> bool:
    """A literal, a shape entry (`k.shape[-1]`), a size (`k.size(-1)`) or a `len()`."""
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute):
        return expr.value.attr.value == "shape"
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        return expr.func.attr.value == "size" and bool(expr.args)
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "len"


def widest(dtypes) -> str | None:
    known = [d for d in dtypes if d in _WIDTH]
    return max(known, key=_WIDTH.__getitem__) if known else None


def at_least_float32(dtype: str | None) -> bool:
    return dtype in ("float32", "float64")


def _call_dtype(ctx: Context, dtype_of, node: cst.Call, tuples, depth: int) -> str | None:
    written = _dtype_argument(ctx, dtype_of, node, tuples, depth)
    if written is not None:
        return written
    func = node.func
    method = func.attr.value if isinstance(func, cst.Attribute) and not ctx.names.is_module_alias(func.value) else None
    if method in _CAST_METHODS and not node.args:
        return _CAST_METHODS[method]
    call = ctx.call(node)
    receiver = func.value if isinstance(func, cst.Attribute) and method is not None else None
    if method in ("to", "type", "astype", "type_as"):
        target = node.args[0].value if node.args and node.args[0].keyword is None else None
        given = _dtype_value(ctx, dtype_of, target, tuples, depth) if target is not None else None
        if method == "type_as" and target is not None:
            return explicit_dtype(ctx, dtype_of, target, tuples, depth - 1)
        return given if given is not None else explicit_dtype(ctx, dtype_of, receiver, tuples, depth - 1)
    if call is not None and call.op == "cast" and not call.method and len(call.args) > 1:
        return _dtype_value(ctx, dtype_of, call.args[1], tuples, depth)
    if method in _KEEPING_METHODS:
        return explicit_dtype(ctx, dtype_of, receiver, tuples, depth - 1)
    if call is not None and (call.op in _KEEPING_OPS or call.op == "cast") and call.args:
        return widest(explicit_dtype(ctx, dtype_of, arg, tuples, depth - 1) for arg in call.args[:2])
    if method is None and node.args and _is_padding(ctx, node):
        return explicit_dtype(ctx, dtype_of, node.args[0].value, tuples, depth - 1)
    return None


def _dtype_argument(ctx: Context, dtype_of, node: cst.Call, tuples, depth: int) -> str | None:
    """`dtype=` of a call (a creation, or a conversion written with a keyword)."""
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "dtype":
            return _dtype_value(ctx, dtype_of, arg.value, tuples, depth)
    return None


def _dtype_value(ctx: Context, dtype_of, expr: cst.BaseExpression, tuples, depth: int) -> str | None:
    """A dtype expression: a literal (`torch.float32`, `"float32"`) or another tensor's `x.dtype`."""
    literal = dtype_of(expr)
    if literal is not None:
        return literal
    if isinstance(expr, cst.Attribute) and expr.attr.value == "dtype":
        return explicit_dtype(ctx, dtype_of, expr.value, tuples, depth - 1)
    if isinstance(expr, cst.Name):
        resolved = ctx.resolve(expr)
        if resolved is not None and resolved is not expr:
            return _dtype_value(ctx, dtype_of, resolved, tuples, depth - 1)
    return None


def _is_padding(ctx: Context, node: cst.Call) -> bool:
    qualified = ctx.qualify(node.func) or ""
    return qualified.rsplit(".", 1)[-1] == "pad" and qualified.startswith(("torch", "jax", "numpy"))
