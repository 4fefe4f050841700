"""Reading files: encodings, NUL bytes, size caps, notebooks and their magics."""

from __future__ import annotations

import json

import pytest

from nanlint.source import documents
from nanlint.source.documents import DocumentError, cell_lines, read_document
from tests.helpers import lint


def notebook(*cells: str | tuple[str, str]) -> bytes:
    def cell(spec):
        kind, text = spec if isinstance(spec, tuple) else ("code", spec)
        return {
            "cell_type": kind,
            "metadata": {},
            "source": text.splitlines(keepends=True),
            **({"outputs": [], "execution_count": None} if kind == "code" else {}),
        }

    return json.dumps(
        {"cells": [cell(c) for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1
    ).encode()


def test_pep263_encoding_is_honoured():
    data = "# -*- coding: latin-1 -*-\nname = 'café'\n".encode("latin-1")
    assert "café" in read_document("a.py", data).text


def test_bom_is_dropped():
    assert read_document("a.py", b"\xef\xbb\xbfx = 1\n").text == "x = 1\n"


@pytest.mark.parametrize(
    "data,message",
    [
        (b"x = 1\x00\n", "file contains NUL bytes; not Python source"),
        (b"x = '\xff'\n", "cannot decode as utf-8: invalid byte at offset 5"),
    ],
)
def test_unreadable_bytes(data, message):
    with pytest.raises(DocumentError) as error:
        read_document("a.py", data)
    assert error.value.message == message


def test_huge_files_are_refused(monkeypatch):
    monkeypatch.setattr(documents, "MAX_BYTES", 10)
    with pytest.raises(DocumentError, match="larger than"):
        read_document("a.py", b"x = 1\n" * 10)


def test_magics_become_blank_lines():
    assert cell_lines("%matplotlib inline\nx = 1\n!ls\nfiles = !ls\nobj?\ny = 2") == ["", "x = 1", "", "", "", "y = 2"]


def test_non_python_cell_magics_blank_the_cell_and_timing_magics_keep_it():
    assert cell_lines("%%bash\necho hi") == ["", ""]
    assert cell_lines("%%time\nx = 1") == ["", "x = 1"]


def test_notebook_maps_lines_back_to_cells():
    data = notebook(("markdown", "# Title"), "import numpy as np\n", "%time y = 1\nbad = x == np.nan\n")
    doc = read_document("nb.ipynb", data)
    assert doc.locate(1) == (2, 1) and doc.locate(3) == (3, 2)


def test_notebook_findings_report_cell_and_line(tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes(notebook("import numpy as np\n", "%time y = 1\nbad = x == np.nan\n"))
    from nanlint.config import Settings
    from nanlint.source.engine import CheckOptions, check_paths

    result = check_paths([path], Settings(root=tmp_path), CheckOptions(use_cache=False))
    [finding] = result.findings
    assert (finding.code, finding.location.cell, finding.location.line, finding.location.column) == ("NAN112", 2, 2, 7)


def test_a_broken_cell_is_reported_and_the_other_cells_are_still_linted():
    data = notebook("import numpy as np\n", "def broken(:\n", "bad = x == np.nan\n").decode()
    from nanlint.config import Settings
    from nanlint.source.engine import lint_document

    findings = lint_document(read_document("nb.ipynb", data.encode()), Settings())
    assert [(f.code, f.location.cell, f.location.line) for f in findings] == [("NAN900", 2, 1), ("NAN112", 3, 1)]


@pytest.mark.parametrize("data", [b"{not json", b'{"cells": 3}', b"[]", b"\xff\xfe"])
def test_broken_notebooks_are_nan900(data):
    with pytest.raises(DocumentError, match="not a readable Jupyter notebook"):
        read_document("nb.ipynb", data)


def test_syntax_errors_are_nan900_with_position():
    assert lint("x = (1,\ny = 2\n") == [("NAN900", 1, 5, "syntax error: '(' was never closed")]


def test_a_magic_continued_with_a_backslash_blanks_its_continuation_lines():
    """Colab's `!pip install -q -U \\` + the packages on the next line: IPython joins them."""
    cell = "!pip install -q -U \\\n    torch \\\n    numpy\nimport torch\nx = 1 + \\\n    2\n%env A=\\\nB\nfiles = !ls \\\n  -la\ny = 3"
    assert cell_lines(cell) == ["", "", "", "import torch", "x = 1 + \\", "    2", "", "", "", "", "y = 3"]


def test_a_colab_notebook_with_continued_shell_lines_is_linted_not_nan900():
    data = notebook(
        "!pip install -q -U \\\n    diffusers \\\n    transformers\n",
        "import numpy as np\nbad = x == np.nan\n",
    )
    from nanlint.config import Settings
    from nanlint.source.engine import lint_document

    findings = lint_document(read_document("colab.ipynb", data), Settings())
    assert [(f.code, f.location.cell, f.location.line) for f in findings] == [("NAN112", 2, 2)]
