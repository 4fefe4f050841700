"""Positions of reported nodes, without generating the code of the whole file.

libcst's PositionProvider regenerates the entire module (and rebuilds it in a visit) to
number every node: several parses' worth of work for a file that reports one line. Python's
own AST, which the syntax check builds anyway, already knows where each statement starts.
So only the statements that hold a reported node are regenerated, alone, and their
positions are shifted to where the AST says they start; inside a class or function the
descent continues to the innermost statement. Anything unexpected falls back to libcst.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import cast

import libcst as cst
from libcst._position import CodePosition, CodeRange
from libcst.metadata import MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import PositionProvidingCodegenState

from nanlint.source.traversal import iter_nodes

_CONTAINERS = (cst.ClassDef, cst.FunctionDef)


class _Misaligned(Exception):
    """libcst's and Python's statements do not pair up as expected."""


def resolve(module: cst.Module, tree: ast.Module | None, nodes: list[cst.CSTNode]) -> Mapping[cst.CSTNode, CodeRange]:
    """CodeRange per node (libcst's PositionProvider semantics) for `nodes` and what they contain."""
    if tree is not None:
        try:
            wanted = {id(n) for n in nodes}
            found: dict[cst.CSTNode, CodeRange] = {}
            _statements(module, module.body, tree.body, [], wanted, found)
            if all(n in found for n in nodes):
                return found
        except (_Misaligned, AttributeError, IndexError, KeyError):
            pass
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def _first_line(statement: ast.stmt) -> int:
    decorators = getattr(statement, "decorator_list", ())
    return min([statement.lineno, *(d.lineno for d in decorators)])


def _pairs(statements, python: list[ast.stmt]):
    """(libcst statement, the Python statements it holds): `a = 1; b = 2` is one line, two statements."""
    index = 0
    for statement in statements:
        count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        held = python[index : index + count]
        if len(held) != count:
            raise _Misaligned
        yield statement, held
        index += count
    if index != len(python):
        raise _Misaligned


def _statements(module, statements, python, indents: list[str], wanted: set[int], found: dict) -> None:
    for statement, held in _pairs(statements, python):
        inside = {id(n) for n in iter_nodes(statement)} & wanted
        if not inside:
            continue
        body = statement.body if isinstance(statement, _CONTAINERS) else None
        if isinstance(body, cst.IndentedBlock) and inside <= {id(n) for s in body.body for n in iter_nodes(s)}:
            indent = body.indent if body.indent is not None else module.default_indent
            _statements(module, body.body, held[0].body, [*indents, indent], wanted, found)
            continue
        found.update(_generate(module, statement, indents, _first_line(held[0])))


def _generate(
    module: cst.Module,
    statement: cst.SimpleStatementLine | cst.BaseCompoundStatement,
    indents: list[str],
    first_line: int,
) -> dict[cst.CSTNode, CodeRange]:
    """Positions from generating one statement at its indentation, moved to start at `first_line`."""
    provider = PositionProvider()
    state = PositionProvidingCodegenState(
        default_indent=module.default_indent, default_newline=module.default_newline, provider=provider
    )
    state.indent_tokens.extend(indents)
    statement._codegen(state)
    shift = first_line - 1 - len(statement.leading_lines)  # decorators follow the leading lines
    # Code generation records plain CodeRanges (lazy values come only from metadata resolution).
    computed = cast("dict[cst.CSTNode, CodeRange]", provider._computed)
    return {
        node: CodeRange(
            CodePosition(r.start.line + shift, r.start.column), CodePosition(r.end.line + shift, r.end.column)
        )
        for node, r in computed.items()
    }
