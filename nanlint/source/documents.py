"""Turning files into Python source: .py/.pyi as they are, notebooks as their code cells.

A notebook's code cells are joined into one module (so dataflow crosses cells) with a
map from module lines back to (cell, line in cell). IPython magics and shell escapes
become blank lines, which keeps every other line where it was; a magic continued with a
backslash (`!pip install -q -U \\` + the packages on the next line, as in Colab) blanks its
continuation lines too, as IPython joins them.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass

MAX_BYTES = 4_000_000  # larger files are generated code: NAN900 instead of minutes of parsing

# Cell magics whose body is still Python.
_PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun", "%%debug")
_LINE_MAGIC = re.compile(r"^\s*(?:[%!]|\?|[\w.]+\?\??\s*$|[\w\s,]+=\s*[%!])")


class DocumentError(Exception):
    """The file cannot be read as Python; becomes a NAN900 finding."""

    def __init__(self, message: str, line: int = 1, column: int = 1, cell: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column, self.cell = message, line, column, cell


@dataclass
class Document:
    path: str  # as reported
    text: str  # the Python source that is parsed
    cells: list[tuple[int, int]] | None = None  # per module line (0-based index): (cell, line in cell)
    newline: str = "\n"

    @property
    def is_notebook(self) -> bool:
        return self.cells is not None

    def locate(self, line: int) -> tuple[int | None, int]:
        """(cell, line) as reported for a 1-based module line."""
        if self.cells is None:
            return None, line
        index = min(max(line - 1, 0), len(self.cells) - 1)
        return self.cells[index] if self.cells else (None, line)


def decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise DocumentError(f"file is larger than {MAX_BYTES // 1_000_000} MB; skipped as generated code")
    if b"\x00" in data:
        raise DocumentError("file contains NUL bytes; not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "unknown encoding" in str(exc):
            raise DocumentError(f"cannot read: {exc}") from None
        encoding = "utf-8"  # undecodable first lines: let decode() say where
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DocumentError(f"cannot decode as {exc.encoding}: invalid byte at offset {exc.start}", line) from None
    return text[1:] if text.startswith("\ufeff") else text


def newline_of(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def python_document(path: str, data: bytes) -> Document:
    text = decode(data)
    return Document(path, text, newline=newline_of(text))


def notebook_document(path: str, data: bytes) -> Document:
    if len(data) > MAX_BYTES:
        raise DocumentError(f"notebook is larger than {MAX_BYTES // 1_000_000} MB; skipped")
    try:
        notebook = json.loads(data.decode("utf-8"))
        cells = notebook["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DocumentError(f"not a readable Jupyter notebook: {exc}") from None
    lines: list[str] = []
    cell_map: list[tuple[int, int]] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for line_number, line in enumerate(cell_lines(text), start=1):
            lines.append(line)
            cell_map.append((number, line_number))
    return Document(path, "".join(f"{line}\n" for line in lines), cells=cell_map)


def cell_lines(text: str) -> list[str]:
    """The lines of one code cell with magics blanked (a non-Python cell magic blanks the cell)."""
    lines = text.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        if not lines[0].lstrip().startswith(_PYTHON_CELL_MAGICS):
            return [""] * len(lines)
        lines = ["", *lines[1:]]
    blanked = []
    continued = False
    for line in lines:
        magic = continued or bool(_LINE_MAGIC.match(line))
        blanked.append("" if magic else line)
        continued = magic and line.endswith("\\")
    return blanked


def read_document(path: str, data: bytes) -> Document:
    if path.endswith(".ipynb"):
        return notebook_document(path, data)
    return python_document(path, data)
