"""Real graphs load and run cleanly: a custom-domain op without an inferred shape, a library that prints,
an infinite input range, calibration data that does not fit (dimensions stored as -1: test_model.py)."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from nanlint.cli import main
from nanlint.config import GraphSettings, Settings
from nanlint.graph.driver import GraphOptions, analyze_models

F = TensorProto.FLOAT


def custom_then_softmax(tmp_path):
    """com.microsoft Inverse (which onnx's shape inference does not know) -> Softmax -> + 1 -> Log."""
    nodes = [
        helper.make_node("Inverse", ["x"], ["m"], domain="com.microsoft", name="inverse"),
        helper.make_node("Softmax", ["m"], ["p"], name="softmax", axis=-1),
        helper.make_node("Add", ["p", "one"], ["q"], name="add"),
        helper.make_node("Log", ["q"], ["y"], name="log"),
    ]
    graph = helper.make_graph(
        nodes,
        "custom",
        [helper.make_tensor_value_info("x", F, [2, 3, 3])],
        [helper.make_tensor_value_info("y", F, None)],
        [numpy_helper.from_array(np.ones((), np.float32), "one")],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    path = tmp_path / "custom.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=opsets).SerializeToString())
    return path


def analyse(path, **runtime):
    options = GraphOptions.from_cli(GraphSettings(), ("cpu",), (), (), **runtime)
    [result], errors = analyze_models([str(path)], Settings(select=("ALL",)), options)
    assert errors == []
    return result


def test_an_op_after_a_custom_op_keeps_what_it_knows(tmp_path):
    path = custom_then_softmax(tmp_path)
    static = analyse(path, samples=0)  # no shape for m: Softmax's bound is unknown, and so is everything after
    assert [(f.code, f.location.tensor) for f in static.findings] == [("NAN799", "m")]
    sampled = analyse(path)  # onnxruntime gives m its shape: the Softmax is in [0, 1] again, q in [1, 2]
    bounds = {row.tensor: row.bound for row in sampled.profile}
    assert bounds["p"] == (0.0, 1.0) and bounds["q"] == (1.0, 2.0)
    assert "NAN501" not in [f.code for f in sampled.findings]


def test_what_onnxruntime_prints_never_reaches_the_json(monkeypatch):
    original = onnxruntime.InferenceSession.__init__

    def announcing(self, *args, **kwargs):
        print("*************** EP Error ***************")  # as onnxruntime does when a provider falls back
        print("Falling back to ['CPUExecutionProvider'] and retrying.")
        original(self, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "__init__", announcing)
    result = CliRunner().invoke(main, ["graph", "fixtures/models/exp_overflow.onnx", "--format", "json"])
    assert json.loads(result.stdout)["summary"]["samples"] == 16
    assert "Falling back" in result.stderr


def test_an_infinite_input_range_is_sampled_inside_the_dtype():
    result = CliRunner().invoke(
        main,
        ["graph", "fixtures/models/exp_overflow.onnx", "--input-range", "x=0,inf", "--format", "json"],
    )
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["summary"]["samples"] == 16
    # x up to float32's max: x @ W and its exp are inf in float32 itself, and reach the output
    assert [(f["code"], f["tensor"], f["evidence"]) for f in data["findings"]] == [("NAN603", "z", "sampled")]


def test_calibration_data_that_does_not_fit_is_a_usage_error(tmp_path):
    data = tmp_path / "calib.npz"
    np.savez(data, x=np.zeros((3, 5), np.float32))  # the input is [2, 8]
    result = CliRunner().invoke(main, ["graph", "fixtures/models/exp_overflow.onnx", "--inputs", str(data)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"nanlint: error: {data}: array 'x' holds samples of shape [5], the model's input 'x' has shape [2, 8] "
        "(the first axis is the sample axis; give other dynamic dimensions with --input-shape)\n"
    )
