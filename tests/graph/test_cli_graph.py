"""`nanlint graph` end to end: exact JSON on a fixture, exit codes, one-line errors, --list-targets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint.cli import main
from tests.graph.checks_support import FIXTURES


def invoke(*args, cwd: Path | None = None):
    """`nanlint graph ARGS` with the static pass alone (sampling is tested in test_runtime.py)."""
    static = [] if "--list-targets" in args else ["--samples", "0"]
    return CliRunner().invoke(main, ["graph", *map(str, args), *static], env={"NO_COLOR": "1"})


def test_list_targets():
    result = invoke("--list-targets")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "cpu",
        "coreml-fp16",
        "cuda-bf16",
        "cuda-fp16",
        "directml-fp16",
        "openvino-gpu-fp16",
        "tensorrt-fp16",
        "tensorrt-fp16-ln-fp32",
        "webgpu-fp16",
    ]
    assert lines[0] == "cpu                    onnxruntime CPU provider: the model's own dtypes"


def test_unreadable_model_is_a_nan900_finding_governed_like_any_other(tmp_path):
    """DESIGN.md, exit codes: a model that exists but cannot be parsed is a finding, not exit 2."""
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(b"\x08\x07\x12\x03abc\xff\xff")
    assert (invoke(bad, "--exit-zero").exit_code, invoke(bad, "--ignore", "NAN900").exit_code) == (0, 0)
    result = invoke(bad, "--format", "json", "--target", "cuda-fp16")
    assert (result.exit_code, result.stderr) == (1, "")
    data = json.loads(result.stdout)
    assert data["model"] == str(bad) and data["targets"] == ["cuda-fp16"]
    assert data["findings"] == [
        {
            "code": "NAN900",
            "name": "parse-error",
            "message": "cannot read model: not an ONNX model (protobuf parsing failed)",
            "severity": "error",
            "target": "cuda-fp16",
            "node": None,
            "op_type": None,
            "tensor": None,
            "evidence": "static",
            "bound": None,
            "observed": None,
            "cascade": [],
            "source": None,
        }
    ]


def test_missing_model(tmp_path):
    result = invoke(tmp_path / "nope.onnx")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nanlint: error: ")
    assert "NAN900 error cannot read model" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--target", "tpu"],
            "unknown target 'tpu' (known: cpu, coreml-fp16, cuda-bf16, cuda-fp16, directml-fp16, "
            "openvino-gpu-fp16, tensorrt-fp16, tensorrt-fp16-ln-fp32, webgpu-fp16; or a path to a "
            "profile file)",
        ),
        (["--input-range", "x=1"], "--input-range 'x=1': expected NAME=LO,HI (e.g. pixels=0,1)"),
        (
            ["--input-shape", "x=a"],
            "--input-shape 'x=a': expected NAME=D0,D1,... with whole numbers >= 0 (e.g. input=1,3,224,224)",
        ),
    ],
)
def test_bad_options_exit_2_with_one_line(args, message):
    result = invoke(FIXTURES / "log_of_relu.onnx", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"nanlint: error: {message}\n")


def test_bad_profile_file(tmp_path):
    profile = tmp_path / "mine.json"
    profile.write_text('{"name": "mine", "description": "d", "float": "float8"}')
    result = invoke(FIXTURES / "log_of_relu.onnx", "--target", profile)
    assert result.exit_code == 2
    assert (
        result.stderr == f"nanlint: error: target profile {profile}: 'float' must be one of float16, bfloat16, "
        "float32, float64, model, got 'float8'\n"
    )


def test_no_model_given():
    result = invoke()
    assert (result.exit_code, result.stderr) == (
        2,
        "nanlint: error: no model given (usage: nanlint graph MODEL.onnx ...)\n",
    )


ROOT = FIXTURES.parents[1]
NAIVE_JSON = {
    "model": "fixtures/models/naive_softmax.onnx",
    "targets": ["cuda-fp16"],
    "findings": [
        {
            "code": "NAN505",
            "name": "naive-softmax-subgraph",
            "message": "softmax spelled Exp -> ReduceSum -> Div without subtracting the max: exp(16) overflows float16 "
            "(ln of its max is 11.09), giving inf/inf = NaN; use Softmax; 1 tensor downstream exceeds the range with "
            "it ('s')",
            "severity": "warning",
            "target": "cuda-fp16",
            "node": "exp",
            "op_type": "Exp",
            "tensor": "e",
            "evidence": "static",
            "bound": [1.1253517584464134e-07, 8886111.0],
            "observed": None,
            "cascade": ["s"],
            "source": None,
        }
    ],
    "summary": {
        "findings": 1,
        "by_severity": {"error": 0, "warning": 1, "info": 0},
        "by_code": {"NAN505": 1},
        "tensors_analysed": 7,
        "unsupported_ops": [],
        "targets": ["cuda-fp16"],
    },
}


def test_exact_json(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("fixtures/models/naive_softmax.onnx", "--target", "cuda-fp16", "--format", "json")
    assert (result.exit_code, result.stderr) == (1, "")
    assert json.loads(result.stdout) == NAIVE_JSON
    assert result.stdout == json.dumps(NAIVE_JSON, indent=2) + "\n"


def test_text_and_exit_codes(monkeypatch):
    monkeypatch.chdir(ROOT)
    model = "fixtures/models/naive_softmax.onnx"
    result = invoke(model, "--target", "cuda-fp16")
    assert (result.exit_code, result.stdout) == (
        1,
        (
            "fixtures/models/naive_softmax.onnx:exp (Exp) NAN505 warning softmax spelled Exp -> ReduceSum -> Div without "
            "subtracting the max: exp(16) overflows float16 (ln of its max is 11.09), giving inf/inf = NaN; use Softmax; "
            "1 tensor downstream exceeds the range with it ('s') [static, cuda-fp16]\nFound 1 finding (1 warning).\n"
        ),
    )
    assert invoke(model, "--target", "cuda-fp16", "--exit-zero").exit_code == 0
    assert invoke(model, "--target", "cuda-fp16", "--fail-on", "error").exit_code == 0
    clean = invoke(model, "--target", "cpu")
    assert (clean.exit_code, clean.stdout) == (0, "All checks passed!\n")
    ignored = invoke(model, "--target", "cuda-fp16", "--ignore", "NAN505")
    assert (ignored.exit_code, ignored.stdout) == (0, "All checks passed!\n")


def test_several_models_give_an_array(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke(
        "fixtures/models/naive_softmax.onnx",
        "fixtures/models/softmax_op.onnx",
        "--target",
        "cuda-fp16",
        "--format",
        "json",
    )
    data = json.loads(result.stdout)
    assert [d["model"] for d in data] == ["fixtures/models/naive_softmax.onnx", "fixtures/models/softmax_op.onnx"]
    assert [len(d["findings"]) for d in data] == [1, 0]
    assert result.exit_code == 1


def test_config_targets_and_ranges(tmp_path, monkeypatch):
    shutil.copy(FIXTURES / "exp_overflow.onnx", tmp_path / "model.onnx")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nanlint.graph]\ntargets = ["coreml-fp16"]\ninput-ranges = {x = [-0.5, 0.5]}\n'
    )
    monkeypatch.chdir(tmp_path)
    assert invoke("model.onnx").exit_code == 0  # logits up to 8 with x in [-0.5, 0.5]
    result = invoke("model.onnx", "--input-range", "x=-1,1", "--format", "json")
    data = json.loads(result.stdout)
    assert data["targets"] == ["coreml-fp16"] and [f["code"] for f in data["findings"]] == ["NAN504"]


def test_user_profile_on_the_command_line(tmp_path, monkeypatch):
    profile = tmp_path / "npu.json"
    profile.write_text(
        '{"name": "npu", "description": "an NPU that computes LayerNorm in float16", "float": "float16"}'
    )
    monkeypatch.chdir(ROOT)
    result = invoke(
        "fixtures/models/layernorm_eps12.onnx", "--target", profile, "--target", "cuda-fp16", "--format", "json"
    )
    data = json.loads(result.stdout)
    assert data["targets"] == ["npu", "cuda-fp16"]
    assert [(f["code"], f["target"], f["node"]) for f in data["findings"]] == [("NAN702", "npu", "ln")]


def test_real_process_bad_model_one_line(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00" * 10)
    command = [sys.executable, "-m", "nanlint", "graph", "--samples", "0"]
    done = subprocess.run([*command, str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert (done.returncode, done.stderr) == (1, "")  # a model that exists but cannot be read: NAN900
    assert "NAN900 error cannot read model" in done.stdout
    missing = subprocess.run([*command, str(tmp_path / "missing.onnx")], capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
