"""An op's hazard facts live on its registry entry (transfer/registry.py HAZARDS), and the checks read them there."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
from onnx import TensorProto, helper

from nanlint.graph.transfer import REGISTRY
from nanlint.graph.transfer import registry as reg
from tests.graph.checks_support import brief, run, save_and_load


def test_every_hazardous_op_is_a_registered_op_with_valid_facts():
    for key, facts in reg.HAZARDS.items():
        assert key in REGISTRY, key
        assert REGISTRY[key].hazards is facts
        if facts.domain is not None:
            assert facts.domain.kind in reg.DOMAIN_KINDS
            assert facts.domain.low <= facts.domain.high


def test_ops_without_facts_have_none():
    assert REGISTRY[("", "Relu")].hazards == reg.NO_HAZARDS
    assert reg.hazards_of("", "NoSuchOp") == reg.NO_HAZARDS
    assert reg.hazards_of("ai.onnx", "Log").domain == reg.Domain(0, "positive")


def _unary(tmp_path, op: str):
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], name="n")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    return save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)


def test_the_domain_check_is_driven_by_the_registry_entry(tmp_path, monkeypatch):
    model = _unary(tmp_path, "Neg")
    assert brief(run(model, {"x": (-1.0, 1.0), "y": (-1.0, 1.0)})) == []
    entry = REGISTRY[("", "Neg")]
    declared = dataclasses.replace(entry, hazards=reg.Hazards(reg.Domain(0, "interval", 0.0, 2.0)))
    monkeypatch.setitem(REGISTRY, ("", "Neg"), declared)
    assert brief(run(model, {"x": (-1.0, 1.0), "y": (-1.0, 1.0)})) == [("NAN503", "n", "y", "warning")]


def test_the_epsilon_check_reads_the_attribute_the_entry_names(tmp_path, monkeypatch):
    node = helper.make_node("LayerNormalization", ["x", "g"], ["y"], name="ln", epsilon=1e-9)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
        [onnx.numpy_helper.from_array(np.ones(4, np.float32), "g")],
    )
    model = save_and_load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path)
    bounds = {"x": (-1.0, 1.0), "y": (-2.0, 2.0)}
    assert [f.code for f in run(model, bounds, target="directml-fp16")] == ["NAN702"]
    entry = REGISTRY[("", "LayerNormalization")]
    monkeypatch.setitem(REGISTRY, ("", "LayerNormalization"), dataclasses.replace(entry, hazards=reg.NO_HAZARDS))
    assert [f.code for f in run(model, bounds, target="directml-fp16")] == []
