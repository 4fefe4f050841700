"""One batched, read-only traversal of a libcst tree.

libcst's own `visit` rebuilds and re-validates every node (about half the cost of the
parse); this walk only reads fields, in source order, and dispatches each node to the
`visit_<Type>` / `leave_<Type>` handlers registered for its type (a dict lookup).
"""

from __future__ import annotations

import dataclasses
import typing
from collections import defaultdict
from collections.abc import Callable, Iterable

import libcst as cst

# Fields that only ever hold whitespace, comments or punctuation.
_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "comma",
        "semicolon",
        "dot",
        "colon",
        "whitespace_before",
        "whitespace_after",
        "whitespace_before_args",
        "whitespace_after_func",
        "whitespace_before_params",
        "whitespace_before_colon",
        "whitespace_after_arg",
        "whitespace_after_star",
        "whitespace_after_param",
        "whitespace_before_equal",
        "whitespace_after_equal",
        "whitespace_after_def",
        "whitespace_after_class",
        "whitespace_after_import",
        "whitespace_after_from",
        "whitespace_after_if",
        "whitespace_after_else",
        "whitespace_before_if",
        "whitespace_before_else",
        "whitespace_after_in",
        "whitespace_before_in",
        "whitespace_after_for",
        "whitespace_before_for",
        "whitespace_after_while",
        "whitespace_after_with",
        "whitespace_after_at",
        "whitespace_after_lambda",
        "whitespace_after_return",
        "whitespace_after_async",
        "whitespace_after_await",
        "whitespace_before_from",
        "whitespace_after_as",
        "whitespace_before_as",
        "whitespace_after_assert",
        "whitespace_after_del",
        "whitespace_after_raise",
        "whitespace_before_walrus",
        "whitespace_after_walrus",
        "whitespace_before_indicator",
        "whitespace_after_indicator",
        "whitespace_after_cases",
        "whitespace_after_match",
        "whitespace_after_case",
        "header",
        "footer",
        "leading_lines",
        "lines_after_decorators",
        "trailing_whitespace",
        "equal",
        "star",
        "asynchronous",
        "indent",
        "newline",
        "comment",
        "whitespace",
        "first_line",
        "empty_lines",
        "leading_whitespace",
    }
)

_child_fields: dict[type, tuple[str, ...]] = {}

Handler = Callable[[cst.CSTNode], None]


def child_fields(node_type: type) -> tuple[str, ...]:
    """The fields of a node type that can hold code, in source order (computed once per type)."""
    fields = _child_fields.get(node_type)
    if fields is None:
        fields = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if f.name not in _SKIPPED_FIELDS and not _holds_no_code(f.type)
        )
        _child_fields[node_type] = fields
    return fields


# Whitespace nodes hold only layout and comments; the names above skip most of the fields that hold them.
_LAYOUT_NODES = (cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment)


def _holds_no_code(annotation: object) -> bool:
    """A field declared as text (`Name.value`), a literal token, or whitespace: no node of code below it."""
    if annotation in (str, bool) or typing.get_origin(annotation) is typing.Literal:
        return True
    return isinstance(annotation, type) and issubclass(annotation, _LAYOUT_NODES)


def _node_types() -> frozenset[type]:
    """Every libcst node class: a set lookup on type() is far cheaper than isinstance on the CSTNode ABC."""
    found, pending = set(), [cst.CSTNode]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return frozenset(found)


_NODE_TYPES = _node_types()
_SEQUENCES = (list, tuple)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Direct children that can hold code, in source order."""
    found: list[cst.CSTNode] = []
    node_types = _NODE_TYPES
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind in node_types:
            found.append(value)
        elif kind in _SEQUENCES:
            found.extend(v for v in value if type(v) in node_types)
    return found


class Dispatcher:
    """Handlers by node type, built once from the objects that want to see nodes."""

    def __init__(self) -> None:
        self.enter: dict[type, list[Handler]] = defaultdict(list)
        self.leave: dict[type, list[Handler]] = defaultdict(list)

    def register(self, visitor: object) -> None:
        """Register every `visit_<Type>` / `leave_<Type>` method of `visitor`.

        Visits run in registration order, leaves in reverse (like nested scopes): trackers registered
        before the rules have seen a node before any rule visits it, and still hold it while the
        rules leave it."""
        for kind, node_type, attr in _handler_plan(type(visitor)):
            if kind == "visit":
                self.enter[node_type].append(getattr(visitor, attr))
            else:
                self.leave[node_type].insert(0, getattr(visitor, attr))

    def walk(self, root: cst.CSTNode) -> None:
        """Visit in source order. The stack holds nodes to enter, and (node,) tuples to leave -- pushed
        only for node types that have leave handlers, which are few. Children are pushed last first
        (the loop is `children` inlined: it runs for every node of every file)."""
        enter, leave = self.enter, self.leave
        node_types, reversed_fields = _NODE_TYPES, _reversed_child_fields
        stack: list = [root]
        pop, push = stack.pop, stack.append
        while stack:
            item = pop()
            kind = type(item)
            if kind is tuple:
                node = item[0]
                for handler in leave[type(node)]:
                    try:
                        handler(node)
                    except RecursionError:  # a rule's reasoning on a pathologically deep expression
                        continue
                continue
            handlers = enter.get(kind)
            if handlers:
                for handler in handlers:
                    try:
                        handler(item)
                    except RecursionError:
                        continue
            if kind in leave:
                push((item,))
            fields = reversed_fields.get(kind)
            if fields is None:
                fields = reversed_fields[kind] = tuple(reversed(child_fields(kind)))
            for name in fields:  # none for a leaf (`Name`, a number, an operator): most nodes
                value = getattr(item, name)
                if type(value) in node_types:
                    push(value)
                elif type(value) in _SEQUENCES:
                    for child in reversed(value):
                        if type(child) in node_types:
                            push(child)


_reversed_child_fields: dict[type, tuple[str, ...]] = {}


_plans: dict[type, list[tuple[str, type, str]]] = {}


def _handler_plan(visitor_type: type) -> list[tuple[str, type, str]]:
    """(kind, node type, method name) for each handler a class defines; computed once per class."""
    plan = _plans.get(visitor_type)
    if plan is None:
        plan = []
        for attr in dir(visitor_type):
            kind, _, type_name = attr.partition("_")
            node_type = getattr(cst, type_name, None) if kind in ("visit", "leave") else None
            if isinstance(node_type, type) and issubclass(node_type, cst.CSTNode):
                plan.append((kind, node_type, attr))
        _plans[visitor_type] = plan
    return plan


def iter_nodes(root: cst.CSTNode) -> Iterable[cst.CSTNode]:
    """Every node below root (root included), in source order."""
    node_types, reversed_fields = _NODE_TYPES, _reversed_child_fields
    stack = [root]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        yield node
        kind = type(node)
        fields = reversed_fields.get(kind)
        if fields is None:
            fields = reversed_fields[kind] = tuple(reversed(child_fields(kind)))
        for name in fields:
            value = getattr(node, name)
            if type(value) in node_types:
                push(value)
            elif type(value) in _SEQUENCES:
                for child in reversed(value):
                    if type(child) in node_types:
                        push(child)
