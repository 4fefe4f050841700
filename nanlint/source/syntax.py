"""Python's own parser as the cheap guard before libcst, and who decides where their grammars differ.

libcst's native parser can crash the process (very deep nesting) or take minutes on hostile
input, so Python's `compile(..., PyCF_ONLY_AST)` reads every file first and a file it rejects
is NAN900 -- but the interpreter's grammar may be older than the file's. libcst parses the
newest grammar (3.12's `type X = ...` and `def f[T]()`, its f-strings, 3.14's t-strings and
unparenthesised `except A, B:`), and pre-commit builds hooks with whatever interpreter it runs
under. So where the two disagree:

- a statement written in a grammar newer than the interpreter's (recognised by its tokens, or
  by Python's f-string error message, see NEWER_GRAMMAR) is set aside for Python's check --
  replaced by `pass`, or by a header of the old grammar when it opens a block (`if 1:`,
  `def _():` under decorators, `except BaseException:`) -- after a lexical check of its own
  (bracket depth within Python's limit, a bounded length), and libcst decides whether it is
  valid;
- Python's parser stays the judge of every other statement, so hostile input elsewhere in the
  file is still refused before libcst sees it, and an ordinary syntax error keeps Python's message.

`check_syntax` returns Python's tree, or None when statements had to be set aside (positions
then come from libcst alone).
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass

from nanlint.source.documents import Document, DocumentError

MAX_NESTING = 200  # Python's own limit on nested brackets ("too many nested parentheses")
MAX_TOKENS = 5_000  # a statement set aside for libcst alone: far beyond any real alias or header
MAX_ROUNDS = 100  # statements recognised only by Python's error message, one per round

Tokens = list[tokenize.TokenInfo]


@dataclass(frozen=True)
class Statement:
    """One logical line: its first and last physical lines (1-based) and its significant tokens."""

    first: int
    last: int
    tokens: Tokens

    @property
    def opens_block(self) -> bool:
        return self.tokens[-1].string == ":"


def _starts(tokens: Tokens, *words: str) -> bool:
    return [t.string for t in tokens[: len(words)]] == list(words)


def _type_alias(tokens: Tokens) -> bool:
    """PEP 695 (3.12): `type X = ...`, `type X[T] = ...`."""
    return (
        len(tokens) >= 3
        and _starts(tokens, "type")
        and tokens[1].type == tokenize.NAME
        and tokens[2].string in ("=", "[")
    )


def _generic_definition(tokens: Tokens) -> bool:
    """PEP 695 (3.12): `def f[T](...)`, `async def f[T]`, `class C[T]`."""
    start = 1 if _starts(tokens, "async") else 0
    words = tokens[start : start + 3]
    return (
        len(words) == 3
        and words[0].string in ("def", "class")
        and words[1].type == tokenize.NAME
        and words[2].string == "["
    )


def _plain_definition(tokens: Tokens) -> str:
    """`def _():` or `class _:` (after the same keywords): still a definition, so decorators above it stay valid."""
    keywords = " ".join(t.string for t in tokens[: 2 if _starts(tokens, "async") else 1])
    return f"{keywords} _():" if keywords.endswith("def") else f"{keywords} _:"


def _unparenthesised_except(tokens: Tokens) -> bool:
    """PEP 758 (3.14): `except A, B:` without parentheses."""
    if not _starts(tokens, "except"):
        return False
    depth = 0
    for token in tokens[1:]:
        depth += token.string in "([{" and token.type == tokenize.OP
        depth -= token.string in ")]}" and token.type == tokenize.OP
        if depth == 0 and token.string in (",", "as"):
            return token.string == ","
    return False


def _template_string(tokens: Tokens) -> bool:
    """PEP 750 (3.14): t-strings, which an older tokenizer reads as a name touching a string."""
    return any(
        name.type == tokenize.NAME
        and name.string.lower() in ("t", "tr", "rt")
        and string.type == tokenize.STRING
        and name.end == string.start
        for name, string in itertools.pairwise(tokens)
    )


@dataclass(frozen=True)
class Newer:
    since: str
    what: str
    statement: Callable[[Tokens], bool] | None = None  # recognised by its tokens
    message: str | None = None  # recognised by the start of Python's error message (inside the statement)
    stand_in: Callable[[Tokens], str] | None = None  # the old-grammar header set in its place (else `if 1:`)


NEWER_GRAMMAR = (
    Newer("3.12", "type alias statement", statement=_type_alias),
    Newer("3.12", "type parameters", statement=_generic_definition, stand_in=_plain_definition),
    Newer("3.12", "f-string grammar (PEP 701)", message="f-string"),
    Newer(
        "3.14",
        "except without parentheses",
        statement=_unparenthesised_except,
        stand_in=lambda tokens: "except BaseException:",
    ),
    Newer("3.14", "template string", statement=_template_string),
)


def check_syntax(document: Document) -> ast.Module | None:
    """Python's tree of the document, or None when statements of a newer grammar were set aside
    (libcst then decides). Raises DocumentError when the document is not acceptable."""
    flags = ast.PyCF_ONLY_AST | (ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if document.is_notebook else 0)
    try:
        return _compile(document.text, document.path, flags)
    except SyntaxError as exc:
        first = exc
    _guard_newer_grammar(document, flags, first)
    return None


def _compile(text: str, path: str, flags: int) -> ast.Module:
    try:
        return compile(text, path, "exec", flags, dont_inherit=True)
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise DocumentError(f"cannot parse: {type(exc).__name__}: {exc}") from None


def _error(exc: SyntaxError) -> DocumentError:
    return DocumentError(f"syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1)


def _guard_newer_grammar(document: Document, flags: int, first: SyntaxError) -> None:
    """Return when Python's parser accepts the document once its newer-grammar statements are set
    aside; otherwise raise the error Python still finds (its first one when nothing was newer)."""
    statements = logical_lines(document.text)
    lines = re.split(r"(?<=\n)|(?<=\r)(?!\n)", document.text)  # as Python counts lines (not at \f or \v)
    pending = [s for s in statements if _newer_by_tokens(s)] + _newer_at(statements, first)
    done: set[int] = set()
    error = first
    for _ in range(MAX_ROUNDS):
        pending = [s for s in pending if s.first not in done]
        if not pending:
            break
        for statement in pending:
            _set_aside(lines, statement)
            done.add(statement.first)
        try:
            _compile("".join(lines), document.path, flags)
            return
        except SyntaxError as exc:
            error = exc
        pending = _newer_at(statements, error)
    raise _error(error)


def _newer_by_tokens(statement: Statement) -> bool:
    return _recognised(statement) is not None


def _recognised(statement: Statement) -> Newer | None:
    return next((n for n in NEWER_GRAMMAR if n.statement is not None and n.statement(statement.tokens)), None)


def _newer_at(statements: list[Statement], error: SyntaxError) -> list[Statement]:
    """The statement holding a syntax error, when the error is one a newer grammar lifted."""
    if not any(newer.message and str(error.msg).startswith(newer.message) for newer in NEWER_GRAMMAR):
        return []
    return [s for s in statements if s.first <= (error.lineno or 0) <= s.last]


def _set_aside(lines: list[str], statement: Statement) -> None:
    """Blank a statement for Python's check (`if 1:` when it opens a block), after checking it lexically."""
    depth = deepest = 0
    for token in statement.tokens:
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise DocumentError("syntax error: too many nested parentheses", statement.first)
    if len(statement.tokens) > MAX_TOKENS:
        raise DocumentError(f"cannot parse: a statement of more than {MAX_TOKENS} tokens", statement.first)
    head = lines[statement.first - 1]
    indent = head[: len(head) - len(head.lstrip())]
    ending = head[len(head.rstrip("\r\n")) :]
    newer = _recognised(statement)
    if newer is not None and newer.stand_in is not None:
        stand_in = newer.stand_in(statement.tokens) + ("" if statement.opens_block else " pass")
    else:
        stand_in = "if 1:" if statement.opens_block else "pass"
    lines[statement.first - 1] = f"{indent}{stand_in}{ending}"
    for number in range(statement.first, statement.last):
        line = lines[number]
        lines[number] = line[len(line.rstrip("\r\n")) :]


_LAYOUT = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER)


def logical_lines(text: str) -> list[Statement]:
    """The logical lines of a text by Python's tokenizer (which knows no grammar), up to where it fails."""
    statements: list[Statement] = []
    current: Tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE:
                if current:
                    statements.append(Statement(current[0].start[0], token.start[0], current))
                current = []
            elif token.type not in _LAYOUT:
                current.append(token)
    except (tokenize.TokenError, SyntaxError):
        return statements  # the statements before the tokenizer gave up (where Python will report)
    if current:
        statements.append(Statement(current[0].start[0], current[-1].end[0], current))
    return statements
