"""Each command imports only what it uses: `check` never loads onnx/onnxruntime/numpy, `graph` never
loads libcst or the source rules, and `graph` without the graph extra is a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nanlint import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Run a command in a fresh interpreter and print the top-level packages it imported.
PROBE = textwrap.dedent(
    """
    import json, sys
    from nanlint.cli import main
    try:
        main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
    print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules} | {
        name for name in sys.modules if name.startswith("nanlint.")})))
    """
)


def imported(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, check=False
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_check_imports_no_graph_dependency(tmp_path):
    source = tmp_path / "small.py"
    source.write_text("import numpy as np\n\ny = np.exp(x) / np.exp(x).sum()\n")
    modules = imported("check", str(source), "--no-cache")
    assert "libcst" in modules and "nanlint.source.engine" in modules  # the probe saw the real run
    assert not modules & {"onnx", "onnxruntime", "numpy", "ml_dtypes"}


def test_graph_imports_no_source_pass():
    modules = imported("graph", str(FIXTURES / "models" / "activation_overflow.onnx"), "--samples", "0")
    assert "onnx" in modules and "nanlint.graph.analysis" in modules
    assert "libcst" not in modules
    assert not {m for m in modules if m.startswith("nanlint.source")}


def test_version_imports_neither_pass():
    modules = imported("--version")
    assert not modules & {"libcst", "onnx", "onnxruntime", "numpy"}


def test_graph_without_the_extra_is_a_one_line_error(monkeypatch):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name))
    result = CliRunner().invoke(cli.main, ["graph", "model.onnx"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "nanlint: error: nanlint graph needs onnxruntime: pip install 'nanlint[graph]' "
        "(or 'nanlint[graph-gpu]' for onnxruntime-gpu)\n"
    )
