"""What a name or `self.attribute` was last assigned from, filled in source order.

Cheap and intra-module: each function has its own table of names; a class has one
table of `self.x` bindings shared by its methods (so `__init__` informs `forward`);
the module table holds constants and module-level code. A name's value is its most
recent assignment before the use, so `p = p.clamp(min=eps)` guards later uses of p
while `log(p)` on the right-hand side still sees the old value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import libcst as cst


class Scope:
    def __init__(self, kind: str) -> None:
        self.kind = kind  # "module" | "class" | "function"
        self.names: dict[str, cst.BaseExpression | None] = {}


def binding_key(target: cst.BaseExpression) -> str | None:
    """`x` -> "x", `self.x` -> "self.x"; None for targets that are not tracked."""
    kind = type(target)  # not isinstance: on libcst's ABCs it is slow when it fails, and it runs per name
    if kind is cst.Name:
        return cast(cst.Name, target).value
    if kind is cst.Attribute:
        attribute = cast(cst.Attribute, target)
        receiver = attribute.value
        if type(receiver) is cst.Name and cast(cst.Name, receiver).value in ("self", "cls"):
            return f"self.{attribute.attr.value}"
    return None


class Dataflow:
    """Registered with the traversal; answers `value_of` for rules."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = [Scope("module")]
        self.classes: list[Scope] = []
        self.functions: list[Scope] = []  # the function scopes among `scopes` (every use looks up the innermost)
        # For a name inside an assigned value: what it was bound to when the assignment ran, so that
        # `p = p * mask` ... `log(p)` resolves the inner `p` to the earlier value, not to itself.
        self.value_at: dict[int, tuple[cst.CSTNode, cst.BaseExpression | None]] = {}

    # --- traversal hooks ----------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = Scope("function")
        self.scopes.append(scope)
        self.functions.append(scope)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()
        self.functions.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        scope = Scope("class")
        self.scopes.append(scope)
        self.classes.append(scope)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.pop()
        self.classes.pop()

    def leave_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def leave_AugAssign(self, node: cst.AugAssign) -> None:
        # `p += eps` becomes `p = <old p> + eps`, so guards through += are seen.
        key = binding_key(node.target)
        if key is None:
            return
        old = self.lookup(key) or node.target
        operator = _AUG_TO_BINARY.get(type(node.operator))
        value = cst.BinaryOperation(left=old, operator=operator(), right=node.value) if operator else None
        self._store(key, value)

    def leave_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._forget(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._forget(node.asname.name)

    # --- queries ------------------------------------------------------------------

    def lookup(self, key: str) -> cst.BaseExpression | None:
        """The innermost function's binding, else the class's (`self.x`) or the module's (a name)."""
        if self.functions:
            names = self.functions[-1].names
            if key in names:
                return names[key]
        if key.startswith("self."):
            return self.classes[-1].names.get(key) if self.classes else None
        return self.scopes[0].names.get(key)

    def value_of(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """What a name or self.attr held where it is used: for a use inside an assigned value, its binding
        when that assignment ran; otherwise the latest assignment so far. None when unknown."""
        snapshot = self.value_at.get(id(expr))
        if snapshot is not None and snapshot[0] is expr:
            return snapshot[1]
        key = binding_key(expr)
        return None if key is None else self.lookup(key)

    # Every use is snapshotted as the traversal meets it (before any later rebinding): cheaper than
    # walking each assigned value a second time.
    def visit_Name(self, node: cst.Name) -> None:
        key = node.value  # lookup() inlined for a plain name (never "self.x"): this runs for every Name
        functions = self.functions
        if functions and key in functions[-1].names:
            self.value_at[id(node)] = (node, functions[-1].names[key])
        else:
            self.value_at[id(node)] = (node, self.scopes[0].names.get(key))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        key = binding_key(node)
        if key is not None:
            self.value_at[id(node)] = (node, self.lookup(key))

    @property
    def in_function(self) -> bool:
        return bool(self.functions)

    # --- internals ----------------------------------------------------------------

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._forget(element.value)
            return
        key = binding_key(target)
        if key is not None:
            self._store(key, value)

    def _store(self, key: str, value: cst.BaseExpression | None) -> None:
        if key.startswith("self.") and self.classes:
            table = self.classes[-1].names
            if _is_none(value) and table.get(key) is not None:
                return  # `self.w = Parameter(...) if used else None`: arithmetic on the attribute is on the value
            table[key] = value
        else:
            self.scopes[-1].names[key] = value

    def _forget(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._forget(element.value)
            return
        key = binding_key(target)
        if key is not None:
            self._store(key, None)


def _is_none(value: cst.BaseExpression | None) -> bool:
    return isinstance(value, cst.Name) and value.value == "None"


_AUG_TO_BINARY: dict[type[cst.BaseAugOp], Callable[[], cst.BaseBinaryOp]] = {
    cst.AddAssign: cst.Add,
    cst.SubtractAssign: cst.Subtract,
    cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide,
    cst.PowerAssign: cst.Power,
    cst.FloorDivideAssign: cst.FloorDivide,
}
