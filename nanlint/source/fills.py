"""Uninitialised memory made a parameter, and whether the file ever fills it.

`nn.Parameter(torch.empty(n, m))` and `nn.Parameter(torch.Tensor(n, m))` hold whatever the allocator
left in that memory: zeros often, but also 1e38 or NaN. Modules write the values afterwards
(`nn.init.xavier_uniform_(self.w)`, `self.w.data.uniform_(-s, s)`, a `reset_parameters` that does,
a loop over `self.parameters()`, `self.apply(init)`); a parameter that nothing in the file can have
written is trained from garbage.
"""

from __future__ import annotations

import re

import libcst as cst

from nanlint.source.names import dotted
from nanlint.source.traversal import iter_nodes

# Allocations whose contents are the memory's previous contents.
ALLOCATIONS = frozenset(
    {
        "torch.empty",
        "torch.Tensor",
        "torch.FloatTensor",
        "torch.DoubleTensor",
        "torch.HalfTensor",
        "torch.cuda.FloatTensor",
        "torch.cuda.HalfTensor",
    }
)
# Calls that may write every parameter of a module at once, and iterations that may.
_BULK = frozenset({"apply", "load_state_dict"})
_EVERY = frozenset({"parameters", "named_parameters", "modules", "named_modules", "children"})
_SIZE_NAME = re.compile(r"(^|_)(n|num|size|dim|dims|len|count|width|depth|heads|features|tags|classes)(_|$|s$)", re.I)
_WRAPPERS = frozenset({"data", "weight", "bias"})


def allocates_garbage(ctx, made: cst.BaseExpression) -> bool:
    """`torch.empty(...)`, or `torch.Tensor(sizes...)` (not `torch.Tensor(data)`)."""
    if not isinstance(made, cst.Call):
        return False
    qualified = ctx.qualify(made.func)
    if qualified not in ALLOCATIONS:
        return False
    positional = [a for a in made.args if a.keyword is None]
    if qualified == "torch.empty":
        return bool(positional)
    if not positional:
        return False
    if len(positional) > 1 or positional[0].star:
        return True
    return _size_like(ctx, positional[0].value)


def _size_like(ctx, arg: cst.BaseExpression) -> bool:
    """One argument of torch.Tensor: a size (an int) rather than data (a list, an array)."""
    if isinstance(arg, cst.Integer):
        return True
    if isinstance(arg, cst.BinaryOperation):
        return _size_like(ctx, arg.left) or _size_like(ctx, arg.right)
    if isinstance(arg, cst.Call):
        return ctx.qualify(arg.func) in ("builtins.int", "builtins.len")
    if isinstance(arg, (cst.Name, cst.Attribute)):
        if ctx.values.of(arg).integer:
            return True
        name = dotted(arg)
        return name is not None and _SIZE_NAME.search(name.rsplit(".", 1)[-1]) is not None
    return False


def written_names(ctx, module: cst.Module) -> set[str] | None:
    """Dotted names (and their last parts) the file may write values into; None when a bulk initialiser
    (`self.apply(init)`, a loop over `parameters()`) may write every parameter."""
    written: set[str] = set()
    for node in iter_nodes(module):
        if isinstance(node, (cst.For, cst.CompFor)) and _iterates_every(node.iter):
            return None  # for p in self.parameters(): init(p)
        if isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in _BULK:
                return None
            if isinstance(func, cst.Attribute) and func.attr.value.endswith("_"):
                written.add(_written(func.value))  # self.w.data.uniform_(...), self.w.copy_(...)
            if _may_write(ctx, node):  # nn.init.normal_(self.w), init_weights(self.w), a helper we cannot see
                written.update(_written(arg.value) for arg in node.args)
        elif isinstance(node, (cst.Assign, cst.AugAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                if isinstance(target, cst.Subscript):  # self.w[...] = values
                    written.add(_written(target.value))
                elif isinstance(target, cst.Attribute) and target.attr.value == "data":  # self.w.data = values
                    written.add(_written(target.value))
    written.discard("")
    return written | {name.rsplit(".", 1)[-1] for name in written}


def _iterates_every(expr: cst.BaseExpression) -> bool:
    for node in iter_nodes(expr):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _EVERY:
            return True
    return False


def _may_write(ctx, node: cst.Call) -> bool:
    """Not a computation nanlint knows (matmul, einsum, linear): those read their arguments."""
    found = ctx.call(node)
    if found is None:
        return True
    name = found.qualified or ""
    return name.startswith("torch.nn.init") or name.endswith("_")


def _written(expr: cst.BaseExpression) -> str:
    while isinstance(expr, cst.Attribute) and expr.attr.value == "data":
        expr = expr.value
    return dotted(expr) or ""


def filled(target: str, written: set[str] | None) -> bool:
    """Can the file have written the parameter bound to `target` (`self.w`)?"""
    if written is None:
        return True
    return target in written or target.rsplit(".", 1)[-1] in written
