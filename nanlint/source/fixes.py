"""Changing users' files: fixes, added suppressions, and the atomic write that carries them.

Edits are applied to the file's own content -- a .py file's text in its own encoding and
newline style, or a notebook's cell sources (edits of notebook findings are in cell
lines); the engine (`engine.fix_content`) lints again after each round, until no applicable fix
remains. A file is written only when its content changed, through a temporary file renamed into place.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nanlint.findings import Edit, Finding, Fix
from nanlint.source.documents import decode

MAX_ROUNDS = 10  # each round re-lints; fixes that keep producing fixes stop here
SUPPRESSION = re.compile(r"#\s*nanlint:\s*ignore\[([^\]]*)\]")


@dataclass
class FixOutcome:
    data: bytes
    fixed: list[Finding] = field(default_factory=list)  # findings whose fixes were applied, all rounds
    remaining: list[Finding] = field(default_factory=list)  # findings after the last round

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def applicable_fix(finding: Finding, unsafe: bool) -> Fix | None:
    """The finding's fix, if it has one that `unsafe` allows applying."""
    if finding.fix is not None and (finding.fix.applicability == "safe" or unsafe):
        return finding.fix
    return None


# --- edits on text ---------------------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    """Offset of the start of each 1-based line (index 0 unused)."""
    starts = [0, 0]
    starts.extend(match.end() for match in re.finditer("\n", text))
    return starts


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits (1-based, end exclusive), the last first so offsets hold."""
    starts = _line_starts(text)

    def offset(line: int, column: int) -> int:
        return starts[min(line, len(starts) - 1)] + column - 1

    spans = sorted(
        ((offset(e.line, e.column), offset(e.end_line, e.end_column), e.content) for e in edits),
        key=lambda span: (span[0], span[1]),
        reverse=True,
    )
    for start, end, content in spans:
        text = text[:start] + content + text[end:]
    return text


def select_fixes(findings: list[Finding], unsafe: bool) -> list[Finding]:
    """The applicable fixes whose edits overlap no fix chosen before them."""
    chosen: list[Finding] = []
    taken: list[tuple[tuple, tuple]] = []
    for finding in findings:
        fix = applicable_fix(finding, unsafe)
        if fix is None:
            continue
        cell = finding.source_location.cell or 0
        spans = [((cell, e.line, e.column), (cell, e.end_line, e.end_column)) for e in fix.edits]
        if any((a < d and c < b) or a == b == c == d for a, b in spans for c, d in taken):
            continue
        chosen.append(finding)
        taken.extend(spans)
    return chosen


# --- edits on a file's content -----------------------------------------------------------------


def edit_content(path: str, data: bytes, edits: list[tuple[int | None, Edit]]) -> bytes:
    """Apply (cell, edit) pairs to a .py file's bytes or a notebook's cells."""
    if path.endswith(".ipynb"):
        return _edit_notebook(data, edits)
    text = decode(data)
    encoding = _encoding_of(data)
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    return bom + apply_edits(text, [edit for _, edit in edits]).encode(encoding)


def _encoding_of(data: bytes) -> str:
    import io
    import tokenize

    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0].replace("utf-8-sig", "utf-8")
    except SyntaxError:
        return "utf-8"


def _edit_notebook(data: bytes, edits: list[tuple[int | None, Edit]]) -> bytes:
    text = data.decode("utf-8")
    notebook = json.loads(text)
    by_cell: dict[int, list[Edit]] = {}
    for cell, edit in edits:
        by_cell.setdefault(cell or 0, []).append(edit)
    for number, cell_edits in by_cell.items():
        cell = notebook["cells"][number - 1]
        source = cell.get("source", "")
        joined = "".join(source) if isinstance(source, list) else source
        changed = apply_edits(joined, cell_edits)
        cell["source"] = changed.splitlines(keepends=True) if isinstance(source, list) else changed
    return _dump_like(notebook, text).encode("utf-8")


def _dump_like(notebook: dict, original: str) -> str:
    """Serialise with the original's indentation, non-ASCII handling and final newline."""
    second = original.split("\n", 2)[1] if original.count("\n") >= 1 else ""
    indent = len(second) - len(second.lstrip(" ")) or None
    ascii_only = bool(re.search(r"\\u[0-9a-fA-F]{4}", original))
    dumped = json.dumps(notebook, indent=indent, ensure_ascii=ascii_only)
    return dumped + ("\n" if original.endswith("\n") else "")


# --- suppressing -------------------------------------------------------------------------------


def suppression_edits(path: str, data: bytes, findings: list[Finding]) -> list[tuple[int | None, Edit]]:
    """Edits adding `# nanlint: ignore[CODES]` at the end of each finding's line (merged with one already there)."""
    lines = lines_by_cell(path, data)
    wanted: dict[tuple[int | None, int], set[str]] = {}
    for finding in findings:
        loc = finding.source_location
        wanted.setdefault((loc.cell, loc.line), set()).add(finding.code)
    edits = []
    for (cell, line), codes in sorted(wanted.items(), key=lambda item: (item[0][0] or 0, item[0][1])):
        text = lines.get(cell, [])[line - 1] if line <= len(lines.get(cell, [])) else ""
        existing = SUPPRESSION.search(text)
        if existing:
            merged = sorted(codes | {c.strip().upper() for c in existing.group(1).split(",") if c.strip()})
            column, end = existing.start() + 1, existing.end() + 1
            edits.append((cell, Edit(line, column, line, end, f"# nanlint: ignore[{', '.join(merged)}]")))
        else:  # replace trailing whitespace, if any, by the comment
            content_end, end = len(text.rstrip()) + 1, len(text) + 1
            edits.append((cell, Edit(line, content_end, line, end, f"  # nanlint: ignore[{', '.join(sorted(codes))}]")))
    return edits


def lines_by_cell(path: str, data: bytes) -> dict[int | None, list[str]]:
    if not path.endswith(".ipynb"):
        return {None: decode(data).splitlines()}
    cells = json.loads(data.decode("utf-8"))["cells"]
    return {
        number: ("".join(c["source"]) if isinstance(c.get("source"), list) else c.get("source", "")).splitlines()
        for number, c in enumerate(cells, start=1)
    }


# --- writing ------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path's content: temporary file in the same directory, fsync, rename; the mode is kept."""
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".nanlint-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def unified_diff(display: str, before: bytes, after: bytes) -> str:
    old = before.decode("utf-8", errors="replace").splitlines(keepends=True)
    new = after.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, fromfile=f"a/{display}", tofile=f"b/{display}"))
