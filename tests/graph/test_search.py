"""Witness search finds inputs that random sampling misses, stays in the box, and replays from .npz."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto as T
from onnx import helper

from nanlint.graph.sampling import InputSpec, draw_feeds, run_samples
from nanlint.graph.search import Hazard, exceeds, near_zero, save_witness, search

FP16_MAX = 65504.0


def reciprocal_of_shifted_input() -> onnx.ModelProto:
    """y = 1 / (x - 0.3): overflows fp16 only when x is within ~1.5e-5 of 0.3."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [1])
    y = helper.make_tensor_value_info("y", T.FLOAT, [1])
    shift = helper.make_tensor("shift", T.FLOAT, [1], [0.3])
    nodes = [
        helper.make_node("Sub", ["x", "shift"], ["d"], name="sub"),
        helper.make_node("Reciprocal", ["d"], ["y"], name="recip"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[shift])
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


SPEC = InputSpec("x", T.FLOAT, (1,), 0.0, 1.0)


def test_sampling_misses_the_hazard():
    run = run_samples(reciprocal_of_shifted_input(), draw_feeds([SPEC], 64))
    assert run.stats["y"].abs_max < FP16_MAX


def test_search_finds_a_witness_inside_the_box_and_it_replays(tmp_path):
    model = reciprocal_of_shifted_input()
    hazards = [Hazard("recip-overflow", "y", exceeds(FP16_MAX)), Hazard("denominator", "d", near_zero(1 / FP16_MAX))]
    result = search(model, [SPEC], hazards, budget=10.0)
    assert set(result.witnesses) == {"recip-overflow", "denominator"}
    witness = result.witnesses["recip-overflow"]
    assert 0.0 <= witness.feed["x"][0] <= 1.0
    path = tmp_path / "witness.npz"
    save_witness(str(path), witness)
    with np.load(path) as data:
        replay = onnxruntime.InferenceSession(model.SerializeToString()).run(["y"], {"x": data["x"]})[0]
    assert np.abs(replay).max() > FP16_MAX


def test_an_impossible_hazard_uses_the_budget_and_finds_nothing():
    result = search(reciprocal_of_shifted_input(), [SPEC], [Hazard("never", "d", exceeds(10.0))], budget=0.3)
    assert result.witnesses == {} and result.evaluations > 10 and result.seconds >= 0.3
