"""A grammar newer than the interpreter's: Python's parser stays the guard for every statement it knows,
libcst decides the newer ones (see nanlint/source/syntax.py). The same findings on 3.10 to 3.14."""

from __future__ import annotations

import pytest

from nanlint.source.documents import Document, DocumentError
from nanlint.source.engine import lint_text, parse
from nanlint.source.syntax import check_syntax, logical_lines

HAZARD = "y = x == np.nan\n"
HEAD = "import numpy as np\n"


def found(source: str) -> list[tuple[str, int]]:
    return [(f.code, f.location.line) for f in lint_text(source)]


@pytest.mark.parametrize(
    "newer",
    [
        "type Vector = list[float]\n",
        "type Pair[T] = tuple[T, T]\n",
        "type Table[K, V = int] = dict[\n    K,\n    V,\n]\n",
        "def first[T](items: list[T]) -> T:\n    return items[0]\n",
        "async def fetch[T](x: T) -> T:\n    return x\n",
        "def identity[T](x: T) -> T: return x\n",
        "class Box[T]:\n    item: T\n",
        "@decorator\nclass Stack[*Ts, **P](Base):\n    pass\n",
        "names = {'a': 1}\nprint(f\"{names['a']} and {names[\"a\"]}\")\n",
        "try:\n    pass\nexcept ValueError, TypeError:\n    pass\n",
        "greeting = t'hello {name}'\n",
    ],
)
def test_newer_syntax_is_linted_not_nan900(newer):
    assert found(HEAD + newer + HAZARD) == [("NAN112", newer.count("\n") + 2)]


def test_newer_syntax_inside_a_function_keeps_the_body_checked():
    source = HEAD + "def loss[T](x: T) -> T:\n    type Alias = int\n    return x == np.nan\n"
    assert found(source) == [("NAN112", 4)]


def test_a_file_no_rule_wants_with_newer_syntax_is_still_not_nan900():
    assert lint_text("type Vector = list[float]\n") == []


def test_an_ordinary_syntax_error_elsewhere_is_reported_where_it_is():
    source = "type Vector = list[float]\nx = 1\ndef broken(:\n    pass\n"
    assert [(f.code, f.location.line, f.message) for f in lint_text(source)] == [
        ("NAN900", 3, "syntax error: invalid syntax")
    ]


def test_a_file_without_newer_syntax_keeps_python_s_message():
    assert [(f.code, f.location.line, f.message) for f in lint_text("x = (1,\ny = 2\n")] == [
        ("NAN900", 1, "syntax error: '(' was never closed")
    ]


def test_libcst_judges_a_statement_of_the_newer_grammar():
    [finding] = lint_text("type Vector = = list[float]\n")
    assert (finding.code, finding.location.line) == ("NAN900", 1)


@pytest.mark.parametrize(
    "hostile",
    [
        "x = " + "(" * 300 + ")" * 300 + "\n",  # Python refuses it (and libcst would crash on deeper ones)
        "x = " + "-" * 5000 + "1\n",  # Python's recursion limit
    ],
)
def test_python_still_guards_the_rest_of_a_file_with_newer_syntax(hostile):
    """The newer statement is set aside for Python's check, not the whole file."""
    assert [f.code for f in lint_text(HEAD + "type Vector = list[float]\n" + hostile + HAZARD)] == ["NAN900"]


def test_a_newer_statement_is_checked_lexically_before_libcst_sees_it():
    deep = "type Deep = " + "list[" * 300 + "int" + "]" * 300 + "\n"
    [finding] = lint_text(HEAD + deep + HAZARD)
    assert (finding.code, finding.location.line, finding.message) == (
        "NAN900",
        2,
        "syntax error: too many nested parentheses",
    )


def test_which_parser_decides():
    """Python's tree when it parses the file; None (libcst decides) when newer statements were set aside."""
    plain = Document(path="m.py", text="x = 1\n")
    newer = Document(path="m.py", text="type X = int\nx = 1\n")
    assert check_syntax(plain) is not None
    if check_syntax(newer) is not None:  # an interpreter of 3.12 or later reads it itself
        pytest.skip("this interpreter knows the 3.12 grammar")
    module, tree = parse(newer)
    assert tree is None and module.code == newer.text
    with pytest.raises(DocumentError, match="invalid syntax"):
        check_syntax(Document(path="m.py", text="type X = int\ndef f(:\n    pass\n"))


def test_logical_lines_span_brackets_and_stop_where_the_tokenizer_does():
    lines = logical_lines("a = [\n  1,\n]\nb = 2\nc = (\n")
    assert [(s.first, s.last, s.tokens[0].string) for s in lines] == [(1, 3, "a"), (4, 4, "b")]
