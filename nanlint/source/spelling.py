"""How a fix spells what it writes: the op's framework, a function the file can call, operands' source.

Fixes call the same framework's function (`ops.fix_functions`), spelled through the file's own
imports (`F.log_softmax` where the file has `import torch.nn.functional as F`); reductions keep
their own axis arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from nanlint.source import guards, ops
from nanlint.source.rule import Context, OpCall

# --- calls, namespaces, spellings ------------------------------------------------------------------------


def namespace(ctx: Context, found: OpCall) -> str | None:
    """Where the op comes from: "numpy" for np.exp, "torch.nn" for a module instance, METHOD_NAMESPACE for x.exp()."""
    if found.qualified is not None:
        return found.qualified.rpartition(".")[0]
    if found.method:
        return ops.METHOD_NAMESPACE
    constructed = ctx.dataflow.value_of(found.node.func)
    qualified = ctx.qualify(constructed.func) if isinstance(constructed, cst.Call) else None
    return qualified.rpartition(".")[0] if qualified else None


def spell(ctx: Context, qualified: str) -> str | None:
    """How the file can name `qualified` through its imports, also under an alias such as tf.compat.v1."""
    spelled = ctx.spelling(qualified)
    for prefix, replacement in ops.CANONICAL_PREFIXES:
        if spelled is None and qualified.startswith(replacement):
            spelled = ctx.spelling(prefix + qualified[len(replacement) :])
    return spelled


@dataclass(frozen=True)
class Function:
    spelled: str  # as the file writes it: "F.log_softmax"
    qualified: str  # "torch.nn.functional.log_softmax"


def fix_function(ctx: Context, space: str | None, op: str) -> Function | None:
    """The first function computing `op` in the framework of `space` that the file can call."""
    for qualified in ops.fix_functions(space, op):
        spelled = spell(ctx, qualified)
        if spelled is not None:
            return Function(spelled, qualified)
    return None


def is_natural_log(found: OpCall) -> bool:
    """log(x), x.log() -- not log2/log10 nor math.log(x, base)."""
    func = found.node.func
    if found.method:  # a method call's func is always an Attribute
        return (
            isinstance(func, cst.Attribute) and func.attr.value == "log" and len(found.args) == 1 and not found.keywords
        )
    return (found.qualified or "").endswith(".log") and len(found.args) == 1 and not found.keywords


# --- source of operands ------------------------------------------------------------------------------------

_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)
_ARITHMETIC = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.MatrixMultiply,
    cst.Power,
)


def atom(ctx: Context, node: cst.BaseExpression) -> str:
    """Source of node usable as a receiver or after a unary minus: parenthesised unless it is an atom."""
    text = ctx.code_of(node)
    return text if isinstance(node, _ATOMS) or node.lpar else f"({text})"


def minuend(ctx: Context, node: cst.BaseExpression) -> str:
    """Source of node usable as the left side of `-`."""
    text = ctx.code_of(node)
    arithmetic = guards.is_binary(node, *_ARITHMETIC) or (
        isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not)
    )
    return text if isinstance(node, _ATOMS) or arithmetic or node.lpar else f"({text})"


# --- reductions: axis arguments ----------------------------------------------------------------------------------------------

AXIS_KEYWORDS = frozenset({"axis", "dim", "keepdims", "keepdim"})


def reduction_axis(found: OpCall) -> tuple[cst.BaseExpression | None, bool]:
    """(axis, keepdims) of a sum; axis None for a full reduction."""
    axis = found.arg(1, "axis", "dim")
    if isinstance(axis, cst.Name) and axis.value == "None":
        axis = None
    keep = found.keywords.get("keepdims") or found.keywords.get("keepdim")
    if keep is None and len(found.args) > 2:
        keep = found.args[2]
    return axis, isinstance(keep, cst.Name) and keep.value == "True"


def axis_arguments_only(found: OpCall) -> bool:
    """The sum passes its operand positionally, then at most an axis, and only axis/keepdims keywords."""
    positional = len(found.args) - 1  # after the operand (the receiver of a method)
    first = found.node.args[0] if found.node.args else None
    operand_positional = found.method or (first is not None and first.keyword is None and not first.star)
    return operand_positional and positional <= 1 and set(found.keywords) <= AXIS_KEYWORDS


def reduction_arguments(found: OpCall) -> list[cst.Arg]:
    """The arguments of a sum after its operand."""
    return list(found.node.args if found.method else found.node.args[1:])


def call_code(
    ctx: Context, function: str | None, first: cst.BaseExpression, rest: list[cst.Arg], method: str | None = None
) -> str:
    """`function(first, *rest)`, or `first.method(*rest)`, keeping the rest's own source."""
    head: str | None
    if method is not None:
        head, args = f"{atom(ctx, first)}.{method}", rest
    else:
        head, args = function, [cst.Arg(first), *rest]
    parts = [ctx.code_of(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in args]
    return f"{head}({', '.join(parts)})"
