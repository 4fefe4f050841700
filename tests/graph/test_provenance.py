"""Graph findings at the Python line: what torch's and TensorFlow's exporters record, which frame is the
user's, where that file is here, and how each output format shows it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import helper

from nanlint.cli import main
from nanlint.findings import PythonSource
from nanlint.graph.provenance import Frame, SourceMap, local_file, module_path, node_source, recorded_frames

REPO = Path(__file__).resolve().parents[2]
TORCH = REPO / "fixtures" / "models" / "torch"
MODULES = "fixtures/models/torch/modules.py"


def source_line(number: int) -> str:
    return (REPO / MODULES).read_text(encoding="utf-8").splitlines()[number - 1]


def graph(*args: str) -> CliRunner:
    result = CliRunner().invoke(main, ["graph", *args, "--target", "cuda-fp16", "-q"])
    assert result.exit_code == 1, result.stderr
    return result


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A checkout elsewhere than where the model was exported: the recorded paths do not exist as such."""
    root = tmp_path / "checkout"
    (root / "fixtures" / "models" / "torch").mkdir(parents=True)
    shutil.copy(REPO / MODULES, root / MODULES)
    monkeypatch.chdir(root)
    return root


TRANSFORMER = str(TORCH / "tiny_transformer.onnx")


def test_json_names_the_line_that_built_each_node(project):
    findings = json.loads(graph(TRANSFORMER, "--source-root", ".", "--format", "json").stdout)["findings"]
    sources = {(f["code"], f["node"] or f["tensor"]): f["source"] for f in findings}
    assert sources == {
        ("NAN701", "val_36"): {"path": MODULES, "line": 26, "module": "attention"},  # the constant's reader
        ("NAN601", "node_MatMul_47"): {"path": MODULES, "line": 41, "module": "ffn.down"},
    }
    assert "masked_fill(blocked, torch.finfo(torch.float32).min)" in source_line(26)
    (mask,) = (f for f in findings if f["code"] == "NAN701")
    assert mask["cascade"] == ["masked_fill"]  # the filled scores overflow because of the constant: one finding
    assert "self.down(" in source_line(41)  # the caller's line, not torch's linear.py


def test_text_shows_path_and_line(project):
    lines = graph(TRANSFORMER, "--source-root", ".").stdout.splitlines()
    assert lines[1] == (
        f"{TRANSFORMER}:node_MatMul_47 (MatMul) NAN601 error "
        "tensor 'val_49' can reach 6.41e+05, 9.78x float16's max 65504, where it overflows to inf (samples reach "
        "[-5.37e+04, 1.46e+05]); 2 tensors downstream exceed the range with it ('linear_3', 'add_127') [sampled, cuda-fp16] "
        f"at {MODULES}:41 (ffn.down)"
    )


def test_github_annotations_are_on_the_python_line(project):
    lines = graph(TRANSFORMER, "--source-root", ".", "--format", "github").stdout.splitlines()
    assert lines[1] == (
        f"::error file={MODULES},line=41,title=nanlint (NAN601)::{TRANSFORMER}:node_MatMul_47 (MatMul): "
        "tensor 'val_49' can reach 6.41e+05, 9.78x float16's max 65504, where it overflows to inf (samples reach "
        "[-5.37e+04, 1.46e+05]); 2 tensors downstream exceed the range with it ('linear_3', 'add_127') [sampled, cuda-fp16] (in ffn.down)"
    )


def test_sarif_results_are_on_the_python_line_with_the_node_related(project):
    log = json.loads(graph(TRANSFORMER, "--source-root", ".", "--format", "sarif").stdout)
    result = log["runs"][0]["results"][1]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": MODULES, "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 41},
    }
    related = result["relatedLocations"][0]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == Path(TRANSFORMER).as_uri()
    assert related["message"] == {"text": "node_MatMul_47 (MatMul) in the model"}
    assert result["properties"]["source"] == {"path": MODULES, "line": 41, "module": "ffn.down"}


def exported_elsewhere(tmp_path: Path) -> str:
    """The transformer as if exported on another machine, from /home/ana/proj."""
    model = onnx.load(TRANSFORMER)
    for made in model.graph.node:
        for prop in made.metadata_props:
            prop.value = re.sub(r'File "[^"]*/fixtures/models/torch/', 'File "/home/ana/proj/', prop.value)
    path = tmp_path / "exported.onnx"
    onnx.save(model, str(path))
    return str(path)


def test_without_the_file_here_the_recorded_path_is_shown_and_findings_stay_on_the_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = exported_elsewhere(tmp_path)
    findings = json.loads(graph(model, "--format", "json").stdout)["findings"]
    assert findings[1]["source"] == {"path": "/home/ana/proj/modules.py", "line": 41, "module": "ffn.down"}
    lines = graph(model, "--format", "github").stdout.splitlines()
    assert lines[1].startswith(f"::error file={model},title=nanlint (NAN601)::")
    assert lines[1].endswith(" at /home/ana/proj/modules.py:41 (ffn.down)")


def test_a_source_root_finds_the_file_by_the_tail_of_its_path(tmp_path, monkeypatch):
    model = exported_elsewhere(tmp_path)
    (tmp_path / "repo" / "proj").mkdir(parents=True)
    shutil.copy(REPO / MODULES, tmp_path / "repo" / "proj" / "modules.py")
    monkeypatch.chdir(tmp_path / "repo")
    findings = json.loads(graph(model, "--source-root", ".", "--format", "json").stdout)["findings"]
    assert findings[1]["source"] == {"path": "proj/modules.py", "line": 41, "module": "ffn.down"}


def test_torchscript_names_give_the_module(tmp_path):
    cnn = str(TORCH / "tiny_cnn.onnx")
    findings = json.loads(graph(cnn, "--input-range", "images=0,255", "--format", "json").stdout)["findings"]
    assert [f["source"] for f in findings] == [{"path": None, "line": None, "module": "block.0"}]
    text = graph(cnn, "--input-range", "images=0,255").stdout.splitlines()[0]
    assert text.endswith("[sampled, cuda-fp16] in block.0")


# --- what each exporter records --------------------------------------------------------------------


def node(name: str = "n", doc: str = "", **metadata: str):
    made = helper.make_node("Relu", ["x"], ["y"], name=name, doc_string=doc or None)
    for key, value in metadata.items():
        made.metadata_props.add(key=key.replace("__", "."), value=value)
    return made


TRACE = (
    'File "/home/ana/proj/train.py", line 88, in forward\n    h = self.encoder(x)\n'
    'File "/home/ana/.venv/lib/python3.11/site-packages/transformers/models/bert/modeling_bert.py", line 412, '
    "in forward\n    attention_probs = nn.functional.softmax(attention_scores, dim=-1)\n"
    'File "/home/ana/.venv/lib/python3.11/site-packages/torch/nn/functional.py", line 2140, in softmax\n'
    "    ret = input.softmax(dim)"
)


def test_a_traceback_is_read_innermost_frame_first():
    frames = recorded_frames(node(pkg__torch__onnx__stack_trace=TRACE))
    assert [(Path(f.path).name, f.line) for f in frames] == [
        ("functional.py", 2140),
        ("modeling_bert.py", 412),
        ("train.py", 88),
    ]
    assert [f.package for f in frames] == ["torch", "transformers", None]


def test_the_frame_shown_is_the_first_outside_the_library_that_ran_the_op():
    frames = recorded_frames(node(pkg__torch__onnx__stack_trace=TRACE))
    assert SourceMap().choose(frames) == frames[1]  # the model library's line calling torch, not torch's own
    mine = [Frame("/home/ana/proj/model.py", 12), Frame("/usr/lib/python3.11/contextlib.py", 81)]
    assert SourceMap().choose(mine) == mine[0]
    assert SourceMap().choose([]) is None


def test_under_a_source_root_the_users_innermost_frame_wins(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "train.py").write_text("x = 1\n")
    frames = recorded_frames(node(pkg__torch__onnx__stack_trace=TRACE))
    sources = SourceMap(str(tmp_path), cwd=str(tmp_path))
    assert sources.choose(frames) == frames[2]
    assert sources.display(frames[2].path) == "proj/train.py"  # the longest tail of the path found here
    assert sources.display(frames[1].path) == frames[1].path  # not found: as recorded


def test_torchscript_doc_strings_are_source_ranges():
    doc = (
        "/venv/lib/python3.11/site-packages/torch/nn/modules/linear.py(134): forward\n"
        "/venv/lib/python3.11/site-packages/torch/nn/modules/module.py(1768): _slow_forward\n"
        "/src/net.py(7): forward\n"
        "/venv/lib/python3.11/site-packages/torch/jit/_trace.py(131): wrapper\n"
        "/src/export.py(10): <module>\n"
    )
    source = node_source(node("/fc/Gemm", doc=doc), SourceMap(), producer="pytorch")
    assert source == PythonSource("/src/net.py", 7, "fc")


@pytest.mark.parametrize(
    ("made", "producer", "module"),
    [
        (
            node(pkg__torch__onnx__name_scopes="['', 'encoder', 'encoder.layer.0', 'softmax']"),
            "pytorch",
            "encoder.layer.0",
        ),
        (node(pkg__torch__onnx__name_scopes="['', 'add_9']"), "pytorch", None),
        (
            node(namespace=": m.Net/layers.0: m.Block/layers.0.norm: nn.LayerNorm/layer_norm: aten.layer_norm"),
            "",
            "layers.0.norm",
        ),
        (node("/encoder/layer.0/attention/Softmax"), "pytorch", "encoder.layer.0.attention"),
        (node("/block/block.0/Conv"), "pytorch", "block.0"),
        (node("/Softmax"), "pytorch", None),
        (node("StatefulPartitionedCall/sequential/dense/MatMul"), "tf2onnx", "sequential/dense"),
        (node("model/conv2d_1/BiasAdd"), "keras2onnx", "model/conv2d_1"),
        (node("gpu_0/conv1_1"), "", None),  # a name with a slash from an exporter that records no scopes
    ],
)
def test_module_paths(made, producer, module):
    assert module_path(made, producer) == module


def test_local_file_only_for_a_line_in_a_file_under_the_root(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "net.py").write_text("pass\n")
    inside = PythonSource(str(tmp_path / "src" / "net.py"), 1, None)
    assert local_file(inside, str(tmp_path)) == "src/net.py"
    assert local_file(inside, str(tmp_path / "src" / "elsewhere")) is None
    assert local_file(PythonSource(str(tmp_path / "missing.py"), 1, None), str(tmp_path)) is None
    assert local_file(PythonSource(None, None, "encoder"), str(tmp_path)) is None
