"""Fix machinery: edits, rounds, encodings, newlines, notebooks, atomic writes, --diff, --add-noqa, baselines.

The machinery is tested with a small probe rule (it rewrites `x == nan` comparisons); each
real rule's fixes are tested with the rule.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import textwrap

import libcst as cst
import pytest
from click.testing import CliRunner

from nanlint.cli import main
from nanlint.config import Settings
from nanlint.findings import Edit
from nanlint.source import engine
from nanlint.source.engine import fix_content
from nanlint.source.fixes import apply_edits, select_fixes, write_atomic
from nanlint.source.rule import PendingFix, Rule


class ProbeFix(Rule):
    """Rewrites `a == b` where b is nan into `isnan(a)`; `!=` gets an unsafe fix."""

    code = "NAN112"
    triggers = ("nan",)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        [target] = node.comparisons
        if isinstance(target.comparator, cst.Attribute) and target.comparator.attr.value == "nan":
            safe = isinstance(target.operator, cst.Equal)
            text = f"{'' if safe else '~'}np.isnan({self.ctx.code_of(node.left)})"
            fix = PendingFix("safe" if safe else "unsafe", "use isnan", ((node, text),))
            self.report(node, "probe", fix)


@pytest.fixture
def probe(monkeypatch):
    monkeypatch.setattr(engine, "ALL_RULES", [ProbeFix])


SETTINGS = Settings(select=("NAN112",))
SOURCE = "import numpy as np\na = x == np.nan\nb = y != np.nan\n"


def test_apply_edits_handles_several_lines_and_insertions():
    text = "ab\ncd\nef\n"
    edits = [Edit(1, 2, 2, 2, "X"), Edit(3, 3, 3, 3, "!"), Edit(3, 1, 3, 1, "^")]
    assert apply_edits(text, edits) == "aXd\n^ef!\n"


def test_overlapping_fixes_wait_for_the_next_round(probe):
    from nanlint.source.engine import lint_text

    findings = lint_text(SOURCE, settings=SETTINGS)
    assert len(select_fixes(findings, unsafe=True)) == 2
    clash = findings[:1] * 2
    assert len(select_fixes(clash, unsafe=True)) == 1


def test_safe_fixes_only_unless_unsafe(probe):
    safe = fix_content("a.py", SOURCE.encode(), SETTINGS)
    assert safe.text == "import numpy as np\na = np.isnan(x)\nb = y != np.nan\n"
    assert [f.location.line for f in safe.fixed] == [2] and [f.location.line for f in safe.remaining] == [3]
    both = fix_content("a.py", SOURCE.encode(), SETTINGS, unsafe=True)
    assert both.text == "import numpy as np\na = np.isnan(x)\nb = ~np.isnan(y)\n" and both.remaining == []


def test_encoding_bom_and_crlf_are_preserved(probe):
    data = b"\xef\xbb\xbf# -*- coding: utf-8 -*-\r\nimport numpy as np\r\nname = '\xc3\xa9'; a = x == np.nan\r\n"
    fixed = fix_content("a.py", data, SETTINGS).data
    assert fixed == data.replace(b"x == np.nan", b"np.isnan(x)")
    latin = "# -*- coding: latin-1 -*-\nimport numpy as np\ns = 'é'; a = x == np.nan\n".encode("latin-1")
    assert fix_content("a.py", latin, SETTINGS).data == latin.replace(b"x == np.nan", b"np.isnan(x)")


def notebook_bytes(cells: list[str], indent: int = 1) -> bytes:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": c.splitlines(keepends=True),
            }
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(nb, indent=indent, ensure_ascii=False) + "\n").encode()


def test_notebook_fixes_edit_the_cells_and_keep_the_layout(probe):
    before = notebook_bytes(["import numpy as np\n", "%matplotlib inline\n# é\na = x == np.nan\n"])
    after = notebook_bytes(["import numpy as np\n", "%matplotlib inline\n# é\na = np.isnan(x)\n"])
    assert fix_content("nb.ipynb", before, SETTINGS).data == after


def test_write_atomic_keeps_the_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("old\n")
    path.chmod(0o751)
    write_atomic(path, b"new\n")
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]


def test_cli_fix_writes_only_files_that_change(probe, tmp_path):
    (tmp_path / "bad.py").write_text(SOURCE)
    (tmp_path / "clean.py").write_text("x = 1\n")
    clean_before = (tmp_path / "clean.py").stat().st_mtime_ns
    result = CliRunner().invoke(
        main, ["check", str(tmp_path), "--fix", "--select", "NAN112", "--no-cache", "--show-fixes"]
    )
    assert (tmp_path / "bad.py").read_text() == "import numpy as np\na = np.isnan(x)\nb = y != np.nan\n"
    assert (tmp_path / "clean.py").stat().st_mtime_ns == clean_before
    assert result.exit_code == 1
    assert result.output == (
        f"{tmp_path / 'bad.py'}:3:5: NAN112 error probe\n"
        "Fixed 1 finding.\n"
        "Found 1 finding (1 error).\n"
        "(1 hidden fix can be enabled with the `--unsafe-fixes` option.)\n"
        "Fixed 1 finding:\n"
        f"- {tmp_path / 'bad.py'}:\n"
        "    1 \u00d7 NAN112 (nan-comparison)\n"
    )


def test_cli_diff_writes_nothing(probe, tmp_path):
    (tmp_path / "bad.py").write_text(SOURCE)
    result = CliRunner().invoke(
        main, ["check", str(tmp_path / "bad.py"), "--diff", "--select", "NAN112", "--no-cache", "--unsafe-fixes"]
    )
    assert (tmp_path / "bad.py").read_text() == SOURCE
    assert result.exit_code == 1
    path = str(tmp_path / "bad.py")
    assert result.stdout == textwrap.dedent(f"""\
        --- a/{path}
        +++ b/{path}
        @@ -1,3 +1,3 @@
         import numpy as np
        -a = x == np.nan
        -b = y != np.nan
        +a = np.isnan(x)
        +b = ~np.isnan(y)
        """)


def test_cli_fix_on_stdin_prints_the_fixed_source(probe):
    result = CliRunner().invoke(main, ["check", "-", "--fix", "--select", "NAN112"], input=SOURCE)
    assert result.stdout == "import numpy as np\na = np.isnan(x)\nb = y != np.nan\n"


def test_add_noqa_then_clean_and_merges_with_existing(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("import numpy as np\na = x == np.nan   \nb = x == np.nan  # nanlint: ignore[NAN104]\n")
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(path), "--add-noqa", "--select", "NAN112", "--no-cache"])
    assert result.output == "Added 2 suppressions.\n"
    assert path.read_text() == (
        "import numpy as np\na = x == np.nan  # nanlint: ignore[NAN112]\n"
        "b = x == np.nan  # nanlint: ignore[NAN104, NAN112]\n"
    )
    assert runner.invoke(main, ["check", str(path), "--select", "NAN112", "--no-cache"]).exit_code == 0


def test_baseline_reports_only_new_findings(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("import numpy as np\na = x == np.nan\n")
    base = tmp_path / "baseline.json"
    runner = CliRunner()
    args = ["check", str(path), "--select", "NAN112", "--no-cache"]
    assert runner.invoke(main, [*args, "--write-baseline", str(base)]).exit_code == 0
    entries = json.loads(base.read_text())["findings"]
    assert [(e["code"], e["line"], e["count"]) for e in entries] == [("NAN112", "a = x == np.nan", 1)]
    # moved down by new lines and joined by a new hazard: only the new one is reported
    path.write_text("import numpy as np\n\n\na = x == np.nan\nc = z == np.nan\n")
    result = runner.invoke(main, [*args, "--baseline", str(base), "--format", "json"])
    assert result.exit_code == 1
    assert [(f["line"], f["column"]) for f in json.loads(result.stdout)] == [(5, 5)]


def test_a_broken_baseline_is_a_usage_error(tmp_path):
    base = tmp_path / "baseline.json"
    base.write_text("[1, 2]")
    (tmp_path / "a.py").write_text("x = 1\n")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "a.py"), "--baseline", str(base)])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "not a nanlint baseline" in result.output


SIGTERM_SCRIPT = """
import os, sys, time
from pathlib import Path
import nanlint.source.fixes as fixes
real_fdopen = os.fdopen
def slow_fdopen(fd, mode):
    fh = real_fdopen(fd, mode)
    real_write = fh.write
    def write(data):
        real_write(data[: len(data) // 2]); fh.flush(); print("half", flush=True); time.sleep(30)
        return real_write(data[len(data) // 2:])
    fh.write = write
    return fh
fixes.os.fdopen = slow_fdopen
from nanlint.cli import exit_on_sigterm
exit_on_sigterm()
fixes.write_atomic(Path(sys.argv[1]), b"new content\\n" * 1000)
"""


def test_sigterm_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("old content\n")
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "half\n"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert path.read_text() == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]
