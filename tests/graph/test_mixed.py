"""Block lists and mixed-precision models: blocked parts stay fp32, constants are not clamped, the rest is fp16."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from nanlint.findings import Evidence, Finding, GraphLocation, Severity
from nanlint.graph.mixed import block_list, fp16_tensors, write_mixed
from nanlint.graph.sampling import InputSpec, draw_feeds, run_samples


def model() -> onnx.ModelProto:
    """x -> Mul(big=1e6) -> Add(-1e6 shift) -> Relu -> Tanh; the product overflows fp16, the rest is small."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [4])
    y = helper.make_tensor_value_info("y", T.FLOAT, [4])
    inits = [
        numpy_helper.from_array(np.array([1e6] * 4, np.float32), "big"),
        numpy_helper.from_array(np.array([-1e6] * 4, np.float32), "shift"),
    ]
    nodes = [
        helper.make_node("Mul", ["x", "big"], ["scaled"], name="scale"),
        helper.make_node("Add", ["scaled", "shift"], ["centred"], name="centre"),
        helper.make_node("Relu", ["centred"], ["r"]),  # unnamed
        helper.make_node("Tanh", ["r"], ["y"], name="squash"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def finding(code: str, tensor: str, node: str | None, target: str = "cuda-fp16") -> Finding:
    return Finding(
        code,
        "x",
        "m",
        Severity.error,
        GraphLocation("m.onnx", target, node, None, tensor),
        evidence=Evidence("sampled"),
    )


FINDINGS = [
    finding("NAN701", "big", None),
    finding("NAN701", "shift", None),
    finding("NAN601", "scaled", "scale"),
    finding("NAN601", "scaled", "scale", target="cuda-bf16"),
    finding("NAN603", "y", "squash"),
]


def test_block_list_keeps_producers_and_consumers_of_out_of_range_tensors():
    blocked = block_list(model(), FINDINGS, "cuda-fp16")
    assert blocked.nodes == ["scale", "centre"] and blocked.tensors == []
    assert json.loads(blocked.to_json()) == {"node_block_list": ["scale", "centre"], "tensor_block_list": []}


def test_unnamed_producers_are_listed_by_tensor():
    blocked = block_list(model(), [finding("NAN601", "r", None)], "cuda-fp16")
    assert blocked.nodes == ["squash"] and blocked.tensors == ["r"]


def test_mixed_model_keeps_blocked_nodes_and_constants_in_fp32(tmp_path):
    path = tmp_path / "mixed.onnx"
    mixed = write_mixed(model(), FINDINGS, "cuda-fp16", str(path))
    constants = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    assert constants["big"].dtype == np.float32 and constants["big"][0] == 1e6  # not clamped to 65504
    half = fp16_tensors(mixed)
    assert "scaled" not in half and {"centred", "r"} <= half  # no fp16 round trip between blocked nodes
    session = onnxruntime.InferenceSession(str(path))
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (4,), 0.999, 1.001)], 8)
    reference = onnxruntime.InferenceSession(model().SerializeToString())
    for feed in feeds:
        got = session.run(["y"], feed)[0]
        want = reference.run(["y"], feed)[0]
        assert np.all(np.isfinite(got)) and np.allclose(got, want, atol=2e-3)
    stats = run_samples(model(), feeds).stats
    assert all(stats[t].abs_max <= 65504 for t in half if t in stats)
