"""The Python API: nanlint.check_source and nanlint.check_model report what the command line reports,
read the same configuration, accept in-memory models, and `import nanlint` stays cheap."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

import nanlint
from nanlint import api, cli
from nanlint.findings import Edit, Fix, GraphLocation, Severity, SourceLocation

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "fixtures" / "models"

NAIVE_SOFTMAX = "import numpy as np\n\n\ndef softmax(x):\n    return np.exp(x) / np.exp(x).sum()\n"
SOFTMAX_MESSAGE = (
    "naive softmax: exp overflows to inf for large inputs and inf / inf is NaN; "
    "subtract the max before exp or use softmax()"
)
EXP_MESSAGE = (
    "Exp input can reach 16, beyond ln(65504) = 11.09 for float16: the result overflows to inf; "
    "subtract the max or clamp the input first"
)


def scaled_exp(scale: float = 16.0) -> onnx.ModelProto:
    """y = exp(scale * x): overflows float16 once scale * max(x) > ln(65504) = 11.09."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    k = helper.make_tensor("k", TensorProto.FLOAT, [], [scale])
    nodes = [
        helper.make_node("Mul", ["x", "k"], ["s"], name="scale"),
        helper.make_node("Exp", ["s"], ["y"], name="exp"),
    ]
    graph = helper.make_graph(nodes, "scaled_exp", [x], [y], [k])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# --- check_source ------------------------------------------------------------------------------


def test_check_source_reports_the_finding_the_cli_reports(tmp_path):
    (finding,) = nanlint.check_source(NAIVE_SOFTMAX, path="softmax.py")
    assert finding.code == "NAN101" and finding.name == "naive-softmax"
    assert finding.severity is Severity.error
    assert finding.message == SOFTMAX_MESSAGE
    assert finding.location == SourceLocation("softmax.py", 5, 12, 5, 39)
    assert finding.fix == Fix(
        "safe",
        "subtract the max before exp",
        (Edit(5, 19, 5, 20, "x - np.max(x)"), Edit(5, 31, 5, 32, "x - np.max(x)")),
    )
    source = tmp_path / "softmax.py"
    source.write_text(NAIVE_SOFTMAX)
    result = CliRunner().invoke(cli.main, ["check", str(source), "--format", "json", "--no-cache"])
    (reported,) = json.loads(result.stdout)
    assert (reported["line"], reported["column"], reported["end_line"], reported["end_column"]) == (5, 12, 5, 39)


def test_check_source_without_a_path_uses_the_defaults():
    (finding,) = nanlint.check_source(NAIVE_SOFTMAX)
    assert finding.location.path == "<string>.py"


def test_check_source_safe_look_alike_is_silent():
    stable = NAIVE_SOFTMAX.replace("np.exp(x) / np.exp(x).sum()", "np.exp(x - x.max()) / np.exp(x - x.max()).sum()")
    assert nanlint.check_source(stable, path="softmax.py") == []


def test_check_source_select_and_ignore_replace_the_selection():
    source = NAIVE_SOFTMAX + "\n\ndef is_missing(v):\n    return v == np.nan\n"
    assert [f.code for f in nanlint.check_source(source, path="m.py")] == ["NAN101", "NAN112"]
    assert [f.code for f in nanlint.check_source(source, path="m.py", select="NAN112")] == ["NAN112"]
    assert [f.code for f in nanlint.check_source(source, path="m.py", select=["NAN1"], ignore=["NAN101"])] == ["NAN112"]
    with pytest.raises(ValueError, match="'NAN1O1' matches no rule code"):
        nanlint.check_source(source, select="NAN1O1")


def test_check_source_reads_the_configuration_nearest_to_its_path(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nanlint]\nseverity = { NAN101 = "info" }\n\n[tool.nanlint.per-file-ignores]\n"legacy/*" = ["NAN1"]\n'
    )
    (tmp_path / "pkg").mkdir()
    (finding,) = nanlint.check_source(NAIVE_SOFTMAX, path=tmp_path / "pkg" / "model.py")
    assert finding.severity is Severity.info
    assert nanlint.check_source(NAIVE_SOFTMAX, path=tmp_path / "legacy" / "old.py") == []
    # Without a path there is no "nearest": the defaults.
    assert nanlint.check_source(NAIVE_SOFTMAX)[0].severity is Severity.error


def test_check_source_config_as_a_file_or_a_table(tmp_path):
    config = tmp_path / "nanlint.toml"
    config.write_text('ignore = ["NAN101"]\n')
    assert nanlint.check_source(NAIVE_SOFTMAX, path="m.py", config=config) == []
    assert nanlint.check_source(NAIVE_SOFTMAX, path="m.py", config=str(config)) == []
    (finding,) = nanlint.check_source(NAIVE_SOFTMAX, path="m.py", config={"severity": {"NAN1": "warning"}})
    assert finding.severity is Severity.warning
    with pytest.raises(nanlint.CheckError, match=r"<config>: unknown key 'selekt'"):
        nanlint.check_source(NAIVE_SOFTMAX, config={"selekt": ["NAN1"]})


def test_check_source_parse_error_is_nan900():
    (finding,) = nanlint.check_source("def f(:\n    pass\n", path="broken.py")
    assert finding.code == "NAN900"
    assert (finding.location.path, finding.location.line) == ("broken.py", 1)
    assert finding.message.startswith("syntax error")


def test_check_source_honours_a_coding_cookie():
    source = "# -*- coding: latin-1 -*-\nimport numpy as np\nlabel = 'é'\ny = np.exp(x) / np.exp(x).sum()\n"
    (finding,) = nanlint.check_source(source, path="latin.py")
    assert (finding.code, finding.location.line, finding.location.column) == ("NAN101", 4, 5)


def test_check_source_reads_notebook_json():
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# softmax\n"]},
            {"cell_type": "code", "source": ["import numpy as np\n", "p = np.exp(z) / np.exp(z).sum()\n"]},
        ],
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
    }
    (finding,) = nanlint.check_source(json.dumps(notebook), path="explore.ipynb")
    assert finding.code == "NAN101"
    assert (finding.location.cell, finding.location.line, finding.location.column) == (2, 2, 5)


# --- check_model -------------------------------------------------------------------------------


def test_check_model_from_a_path():
    result = nanlint.check_model(MODELS / "exp_overflow.onnx", target="cuda-fp16", samples=0)
    assert result.model == str(MODELS / "exp_overflow.onnx")
    assert [(f.code, f.location.node, f.location.target) for f in result.findings] == [("NAN504", "exp", "cuda-fp16")]


def test_check_model_in_memory_with_input_ranges():
    model = scaled_exp()
    result = nanlint.check_model(model, target="cuda-fp16", input_ranges={"x": (0, 1)}, samples=0)
    (finding,) = result.findings
    assert finding.code == "NAN504" and finding.severity is Severity.warning
    assert finding.message == EXP_MESSAGE
    assert finding.location == GraphLocation("<in-memory model>", "cuda-fp16", "exp", "Exp", "y")
    assert finding.evidence.kind == "static" and finding.evidence.bound == (1.0, 8886111.0)  # its own tensor, exp(x)
    assert result.model == "<in-memory model>"
    # The safe look-alike: a range that keeps 16 * x below ln(65504).
    assert nanlint.check_model(model, target="cuda-fp16", input_ranges={"x": (0, 0.5)}, samples=0).findings == []
    # float32 on the CPU has room for exp(16).
    assert nanlint.check_model(model, target="cpu", input_ranges={"x": (0, 1)}, samples=0).findings == []


def test_check_model_samples_confirm_the_hazard():
    result = nanlint.check_model(scaled_exp(), target="cuda-fp16", input_ranges={"*": (0, 1)}, samples=4)
    (finding,) = result.findings
    assert (finding.code, finding.severity, finding.evidence.kind) == ("NAN504", Severity.error, "sampled")
    assert result.summary["samples"] == 4


def test_check_model_accepts_bytes_and_exporter_results():
    class Program:  # what torch.onnx.export(..., dynamo=True) returns carries the proto as `model_proto`
        model_proto = scaled_exp()

    for model in (scaled_exp().SerializeToString(), Program()):
        (finding,) = nanlint.check_model(model, target="cuda-fp16", input_ranges={"x": (0, 1)}, samples=0).findings
        assert (finding.code, finding.location.model) == ("NAN504", "<in-memory model>")
    with pytest.raises(TypeError, match=r"check_model takes a path, an onnx\.ModelProto, its bytes or an ONNXProgram"):
        nanlint.check_model(42)


def test_check_model_uses_the_configured_graph_settings(tmp_path):
    (tmp_path / "nanlint.toml").write_text(
        '[graph]\ntargets = ["cuda-fp16"]\ninput-ranges = { x = [0.0, 1.0] }\nsamples = 0\n'
    )
    onnx.save(scaled_exp(), tmp_path / "model.onnx")
    (finding,) = nanlint.check_model(tmp_path / "model.onnx").findings
    assert (finding.code, finding.location.target, finding.evidence.kind) == ("NAN504", "cuda-fp16", "static")
    assert nanlint.check_model(tmp_path / "model.onnx", input_ranges={"x": (0, 0.5)}).findings == []
    assert nanlint.check_model(tmp_path / "model.onnx", ignore="NAN504").findings == []


def test_check_model_errors_are_one_line_check_errors(tmp_path):
    with pytest.raises(nanlint.CheckError, match=r"^missing\.onnx: no such file$"):
        nanlint.check_model("missing.onnx", samples=0)
    with pytest.raises(nanlint.CheckError, match=r"^input_ranges names no input of the model: z \(inputs: x\)$"):
        nanlint.check_model(scaled_exp(), input_ranges={"z": (0, 1)}, samples=0)
    with pytest.raises(nanlint.CheckError, match=r"expected lo <= hi"):
        nanlint.check_model(scaled_exp(), input_ranges={"x": (1, 0)}, samples=0)
    with pytest.raises(nanlint.CheckError, match=r"unknown target 'cuda-fp61'"):
        nanlint.check_model(scaled_exp(), target="cuda-fp61", samples=0)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    # A file that exists but is no model is one NAN900 finding, as on the command line and in check_source.
    (finding,) = nanlint.check_model(broken, samples=0).findings
    assert (finding.code, finding.location.model) == ("NAN900", str(broken))
    assert finding.message.startswith("cannot read model: not an ONNX model")


def test_check_model_without_the_graph_extra_names_the_install(monkeypatch):
    real = api.importlib.util.find_spec
    monkeypatch.setattr(api.importlib.util, "find_spec", lambda name: None if name == "onnxruntime" else real(name))
    with pytest.raises(ImportError) as raised:
        nanlint.check_model(MODELS / "exp_overflow.onnx")
    assert str(raised.value) == (
        "nanlint.check_model needs onnxruntime: pip install 'nanlint[graph]' (or 'nanlint[graph-gpu]' for onnxruntime-gpu)"
    )


def test_check_model_straight_from_the_torch_exporter():
    torch = pytest.importorskip("torch")

    class Scaled(torch.nn.Module):
        def forward(self, x):
            return torch.exp(16 * x)

    buffer = io.BytesIO()
    torch.onnx.export(Scaled(), (torch.rand(2, 3),), buffer, input_names=["x"], dynamo=False)
    result = nanlint.check_model(onnx.load_from_string(buffer.getvalue()), target="cuda-fp16", samples=0)
    assert [f.code for f in result.findings] == ["NAN504"]


def test_check_model_takes_what_the_dynamo_exporter_returns():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")  # the dynamo exporter needs it

    class Scaled(torch.nn.Module):
        def forward(self, x):
            return torch.exp(16 * x)

    program = torch.onnx.export(Scaled(), (torch.rand(2, 3),), dynamo=True)
    result = nanlint.check_model(program, target="cuda-fp16", input_ranges={"*": (0, 1)}, samples=4)
    assert [(f.code, f.evidence.kind) for f in result.findings] == [("NAN504", "sampled")]


# --- import cost ---------------------------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import json, sys
    import nanlint
    stages = {"import": sorted(sys.modules)}
    nanlint.check_source("y = 1\\n")
    stages["check_source"] = sorted(sys.modules)
    nanlint.check_model(sys.argv[1], samples=0)
    stages["check_model"] = sorted(sys.modules)
    print(json.dumps({k: sorted({m.partition(".")[0] for m in v}) for k, v in stages.items()}))
    """
)


def test_import_nanlint_is_cheap_and_each_function_imports_its_pass():
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(MODELS / "exp_overflow.onnx")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    stages = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = {"libcst", "onnx", "onnxruntime", "numpy", "click"}
    assert not heavy & set(stages["import"])
    assert "libcst" in stages["check_source"] and not {"onnx", "numpy", "click"} & set(stages["check_source"])
    assert {"onnx", "numpy"} <= set(stages["check_model"])


def test_the_api_names_are_attributes_of_the_package():
    assert {"check_source", "check_model", "CheckError", "Finding", "Severity"} <= set(dir(nanlint))
    with pytest.raises(AttributeError, match="has no attribute 'check_sauce'"):
        nanlint.check_sauce  # noqa: B018


# --- README -------------------------------------------------------------------------------------


def test_readme_example_is_the_example_test_in_tests():
    """README's pytest example is tests/test_api_example.py, which pytest runs like any other test."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "tests" / "test_api_example.py").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert example in blocks
