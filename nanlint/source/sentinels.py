"""Sentinels: fill constants whose value only orders.

`x.masked_fill(~m, 1e8).min(-1)`, `argmin(where(used, full_like(c, 1e10), c))`, `where(done, s, -1e7) > best`:
the constant stands for "never the smallest" (or largest) and is only compared. Overflowed to ±inf in float16 it
orders the same way, so no NaN comes of it. A value reaches only order when every path from it ends in a
comparison, an order reduction (min, max, their arg-forms, sort, top-k) or the shape of a `*_like` maker, going
through selects, reshapes and casts, and through the names it is assigned to (all their reads in the function).
"""

from __future__ import annotations

import libcst as cst

from nanlint.source.rule import Context
from nanlint.source.traversal import children, iter_nodes

# Order reductions: their result is one of the values compared (or its index), never arithmetic on a sentinel.
_ORDER = frozenset(
    {
        "min",
        "max",
        "amin",
        "amax",
        "argmin",
        "argmax",
        "nanargmin",
        "nanargmax",
        "reduce_min",
        "reduce_max",
        "sort",
        "argsort",
        "topk",
        "top_k",
    }
)
# Ops that pass the same values on: selects (a branch of where), reshapes, casts.
_THROUGH = frozenset(
    {
        "where",
        "select",
        "full",
        "masked_fill",
        "flatten",
        "reshape",
        "view",
        "squeeze",
        "unsqueeze",
        "expand_dims",
        "transpose",
        "permute",
        "astype",
        "to",
        "contiguous",
    }
)
_SHAPE_ONLY = ("_like",)  # full_like(x, v), zeros_like(x): only x's shape and dtype
_MAX_NAMES = 6


def only_ordered(ctx: Context, parents: dict[int, cst.CSTNode], constant: cst.BaseExpression) -> bool:
    """Does every use of `constant`'s value end in a comparison or an order reduction? (`parents`: parent_map)"""
    return _ordered(ctx, constant, parents, set())


def parent_map(module: cst.Module) -> dict[int, cst.CSTNode]:
    """id(node) -> its parent, for the whole module."""
    found: dict[int, cst.CSTNode] = {}
    for node in iter_nodes(module):
        for child in children(node):
            found[id(child)] = node
    return found


def _ordered(ctx: Context, node: cst.CSTNode, parents: dict[int, cst.CSTNode], seen: set[str]) -> bool:
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
            return True
        if isinstance(parent, cst.UnaryOperation) or (isinstance(parent, cst.Subscript) and parent.value is node):
            node = parent  # -x and x[i] order as x does
            continue
        call, shape_only = _consumer(node, parent, parents)
        if call is not None:
            name = _called(call)
            if name in _ORDER or shape_only:
                return True
            if name in _THROUGH or name.endswith(_SHAPE_ONLY):  # full_like(x, v) is v
                node = call
                continue
            return False
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target = parent.targets[0].target
            return isinstance(target, cst.Name) and _reads_ordered(ctx, parent, target.value, parents, seen)
        return False


def _consumer(
    node: cst.CSTNode, parent: cst.CSTNode | None, parents: dict[int, cst.CSTNode]
) -> tuple[cst.Call | None, bool]:
    """(the call that consumes `node` as an argument or as its receiver, whether it reads only node's shape)."""
    if isinstance(parent, cst.Arg) and parent.value is node:
        call = parents.get(id(parent))
        if isinstance(call, cst.Call):
            first = bool(call.args) and call.args[0] is parent
            return call, first and _called(call).endswith(_SHAPE_ONLY)
    if isinstance(parent, cst.Attribute) and parent.value is node:
        call = parents.get(id(parent))
        if isinstance(call, cst.Call) and call.func is parent:
            return call, _called(call).endswith(_SHAPE_ONLY)
    return None, False


def _reads_ordered(
    ctx: Context, assign: cst.Assign, name: str, parents: dict[int, cst.CSTNode], seen: set[str]
) -> bool:
    """Every read of the assigned name in its function (or module) only orders."""
    if name in seen or len(seen) >= _MAX_NAMES:
        return name in seen  # a loop back to a name being checked adds no new use
    seen.add(name)
    scope: cst.CSTNode | None = parents.get(id(assign))
    while scope is not None and not isinstance(scope, (cst.FunctionDef, cst.Module)):
        scope = parents.get(id(scope))
    if scope is None:
        return False
    reads = [
        n
        for n in iter_nodes(scope)
        if isinstance(n, cst.Name) and n.value == name and not _assigned(n, parents) and not _attribute_name(n, parents)
    ]
    return bool(reads) and all(_ordered(ctx, read, parents, seen) for read in reads)


def _assigned(name: cst.Name, parents: dict[int, cst.CSTNode]) -> bool:
    return isinstance(parents.get(id(name)), cst.AssignTarget)


def _attribute_name(name: cst.Name, parents: dict[int, cst.CSTNode]) -> bool:
    parent = parents.get(id(name))
    return isinstance(parent, cst.Attribute) and parent.attr is name


def _called(call: cst.Call) -> str:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""
