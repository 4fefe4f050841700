"""Loading ONNX models: external data confinement, hostile files, opsets, shapes, subgraphs, functions."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph import model as model_mod
from nanlint.graph.analysis import analyze
from nanlint.graph.model import ModelError, load_model

F = TensorProto.FLOAT


def _save(model: onnx.ModelProto, path, **kwargs) -> str:
    onnx.save(model, str(path), **kwargs)
    return str(path)


def simple_model(opset: int = 17, weight: np.ndarray | None = None, shape=("batch", 4)) -> onnx.ModelProto:
    """y = Relu(x @ w + b), with a Constant node for b."""
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 if weight is None else weight
    x = helper.make_tensor_value_info("x", F, list(shape))
    y = helper.make_tensor_value_info("y", F, None)
    nodes = [
        helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(np.ones(3, np.float32))),
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "b"], ["z"], name="add"),
        helper.make_node("Relu", ["z"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(nodes, "simple", [x], [y], [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_loads_a_model_with_types_shapes_constants_and_indexes(tmp_path):
    m = load_model(_save(simple_model(), tmp_path / "m.onnx"))
    assert [n.name for n in m.nodes][1:] == ["mm", "add", "relu"]
    assert m.inputs == ["x"] and m.outputs == ["y"] and m.opset == 17
    assert m.input_shapes == {"x": (1, 4)}  # symbolic batch bound to 1
    assert m.shapes["xw"] == (1, 3) and m.dtypes["y"] == F
    np.testing.assert_array_equal(m.constants["b"], np.ones(3))
    assert m.constants["w"].shape == (4, 3) and not m.constants["w"].flags.writeable
    assert m.producer["z"].name == "add" and [c.name for c in m.consumers["xw"]] == ["add"]


def test_nodes_are_put_in_topological_order(tmp_path):
    proto = simple_model()
    nodes = list(proto.graph.node)
    proto.graph.ClearField("node")
    proto.graph.node.extend(reversed(nodes))
    m = load_model(_save(proto, tmp_path / "m.onnx"))
    order = [n.output[0] for n in m.nodes]
    assert order.index("xw") < order.index("z") < order.index("y")


def test_input_shapes_bind_dynamic_dimensions(tmp_path):
    path = _save(simple_model(), tmp_path / "m.onnx")
    m = load_model(path, {"x": (5, 4)})
    assert m.input_shapes == {"x": (5, 4)} and m.shapes["y"] == (5, 3)
    with pytest.raises(ModelError, match="dimension 1 is 7, the model declares 4"):
        load_model(path, {"x": (5, 7)})
    with pytest.raises(ModelError, match="3 dimensions given, the model declares 2"):
        load_model(path, {"x": (5, 4, 1)})
    with pytest.raises(ModelError, match="names no graph input: nope"):
        load_model(path, {"nope": (1,)})


def test_a_dimension_stored_as_minus_one_is_dynamic(tmp_path):
    proto = simple_model()
    proto.graph.input[0].type.tensor_type.shape.dim[0].Clear()
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -1  # how some exporters write "any"
    path = _save(proto, tmp_path / "m.onnx")
    assert load_model(path, {"x": (6, 4)}).input_shapes == {"x": (6, 4)}
    assert load_model(path).input_shapes == {"x": (1, 4)}
    with pytest.raises(ModelError, match="dimension 1 is 5, the model declares 4"):
        load_model(path, {"x": (6, 5)})


@pytest.mark.parametrize("opset", [5, 99])
def test_unsupported_opsets_are_refused(tmp_path, opset):
    proto = simple_model()
    proto.opset_import[0].version = opset
    with pytest.raises(ModelError, match=f"opset {opset} is not supported"):
        load_model(_save(proto, tmp_path / "m.onnx"))


def test_old_opset_7_model_loads_and_analyses(tmp_path):
    m = load_model(_save(simple_model(opset=7), tmp_path / "m.onnx"))
    a = analyze(m, {"x": (-1.0, 1.0)}, strict=True)
    assert not a.unsupported and a.bounds["y"].min() == 0.0


# -- unreadable and hostile files -----------------------------------------------------------------


def test_missing_empty_directory_and_garbage_files(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        load_model(str(tmp_path / "missing.onnx"))
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ModelError, match="empty file"):
        load_model(str(tmp_path / "empty.onnx"))
    with pytest.raises(ModelError, match="not a regular file"):
        load_model(str(tmp_path))
    (tmp_path / "junk.onnx").write_bytes(b"\xff\xfe this is not protobuf at all \x00\x01")
    with pytest.raises(ModelError, match="not an ONNX model"):
        load_model(str(tmp_path / "junk.onnx"))


def test_truncated_model_is_a_model_error(tmp_path):
    data = simple_model().SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as info:
        load_model(str(tmp_path / "cut.onnx"))
    assert "\n" not in str(info.value)


def test_mutated_bytes_never_raise_anything_but_model_error(tmp_path):
    data = bytearray(simple_model().SerializeToString())
    rng = np.random.default_rng(0)
    path = tmp_path / "fuzz.onnx"
    for _ in range(60):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(mutated), 4):
            mutated[pos] = int(rng.integers(0, 256))
        path.write_bytes(bytes(mutated))
        try:
            m = load_model(str(path))
        except ModelError as exc:
            assert "\n" not in str(exc)
            continue
        analyze(m, {})  # whatever loaded must analyse without crashing


def test_cycles_undefined_and_duplicate_tensors_are_refused(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2])
    y = helper.make_tensor_value_info("y", F, [2])
    cyc = helper.make_graph(
        [
            helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
            helper.make_node("Relu", ["a"], ["b"], name="n2"),
            helper.make_node("Identity", ["a"], ["y"]),
        ],
        "g",
        [x],
        [y],
    )
    with pytest.raises(ModelError, match="cycle"):
        load_model(_save(helper.make_model(cyc), tmp_path / "cycle.onnx"))
    undefined = helper.make_graph([helper.make_node("Add", ["x", "ghost"], ["y"])], "g", [x], [y])
    with pytest.raises(ModelError, match="undefined tensor 'ghost'"):
        load_model(_save(helper.make_model(undefined), tmp_path / "undef.onnx"))
    twice = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Neg", ["x"], ["y"])], "g", [x], [y]
    )
    with pytest.raises(ModelError, match="produced more than once"):
        load_model(_save(helper.make_model(twice), tmp_path / "twice.onnx"))


def test_gigantic_declared_shapes_are_refused(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2])
    y = helper.make_tensor_value_info("y", F, None)
    huge = TensorProto(name="w", data_type=F, dims=[100000, 100000])
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [huge])
    with pytest.raises(ModelError, match="above the limit"):
        load_model(_save(helper.make_model(g), tmp_path / "huge_init.onnx"))
    big_input = helper.make_tensor_value_info("x", F, [100000, 100000, 1000])
    g2 = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [big_input], [y])
    with pytest.raises(ModelError, match="exceeds"):
        load_model(_save(helper.make_model(g2), tmp_path / "huge_input.onnx"))


def test_initializer_with_too_little_data_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", F, [4])
    y = helper.make_tensor_value_info("y", F, None)
    bad = TensorProto(name="w", data_type=F, dims=[4], raw_data=b"\x00" * 8)
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [bad])
    with pytest.raises(ModelError, match="holds 8 bytes"):
        load_model(_save(helper.make_model(g), tmp_path / "short.onnx"))


def test_node_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(model_mod, "MAX_NODES", 2)
    with pytest.raises(ModelError, match="more than 2 nodes"):
        load_model(_save(simple_model(), tmp_path / "m.onnx"))


def test_computed_shape_above_the_cap_stops_the_analysis(tmp_path, monkeypatch):
    x = helper.make_tensor_value_info("x", F, [1])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph(
        [
            helper.make_node("Add", ["x", "s"], ["sum"]),
            helper.make_node("Cast", ["sum"], ["n"], to=TensorProto.INT64),
            helper.make_node("ConstantOfShape", ["n"], ["y"]),
        ],
        "g",
        [x],
        [y],
        [numpy_helper.from_array(np.array([1e6], np.float32), "s")],
    )
    path = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    monkeypatch.setattr(model_mod, "MAX_TENSOR_ELEMENTS", 1000)
    import nanlint.graph.transfer.context as context

    monkeypatch.setattr(context, "MAX_TENSOR_ELEMENTS", 1000)
    m = load_model(path)
    with pytest.raises(ModelError, match="above the limit"):
        analyze(m, {"x": (0.0, 0.0)})


# -- external data ----------------------------------------------------------------------------------


def _external_model(tmp_path, location: str) -> str:
    proto = simple_model(weight=np.arange(12, dtype=np.float32).reshape(4, 3) / 4096)
    path = tmp_path / "ext.onnx"
    onnx.save(
        proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin", size_threshold=0
    )
    if location != "w.bin":
        m = onnx.load(str(path), load_external_data=False)
        for t in m.graph.initializer:
            for entry in t.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(m, str(path))
    return str(path)


def test_external_data_inside_the_directory_is_memory_mapped(tmp_path):
    m = load_model(_external_model(tmp_path, "w.bin"))
    w = m.constants["w"]
    assert w.shape == (4, 3) and w[0, 1] == pytest.approx(1 / 4096)
    assert not w.flags.owndata and not w.flags.writeable  # a view of the mapped file, not a copy
    init = next(t for t in m.proto.graph.initializer if t.name == "w")
    assert init.data_location == TensorProto.EXTERNAL  # the proto is not inflated
    a = analyze(m, {"x": (0.0, 1.0)}, strict=True)
    assert a.bounds["y"].max() > 0


def test_external_data_in_a_subdirectory_is_allowed(tmp_path):
    path = _external_model(tmp_path, "w.bin")
    os.mkdir(tmp_path / "data")
    os.rename(tmp_path / "w.bin", tmp_path / "data" / "w.bin")
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "data/w.bin"
    onnx.save(m, path)
    assert load_model(path).constants["w"].shape == (4, 3)


def test_external_data_leaving_the_directory_is_refused(tmp_path):
    inner = tmp_path / "model"
    inner.mkdir()
    path = _external_model(inner, "w.bin")
    os.rename(inner / "w.bin", tmp_path / "w.bin")
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "../w.bin"
    onnx.save(m, path)
    with pytest.raises(ModelError, match="leaves the model's directory"):
        load_model(path)
    for entry in m.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = str(tmp_path / "w.bin")
    onnx.save(m, path)
    with pytest.raises(ModelError, match="is absolute"):
        load_model(path)


def test_symlink_escaping_the_directory_is_refused(tmp_path):
    inner = tmp_path / "model"
    inner.mkdir()
    path = _external_model(inner, "w.bin")
    os.rename(inner / "w.bin", tmp_path / "secret.bin")
    os.symlink(tmp_path / "secret.bin", inner / "w.bin")
    with pytest.raises(ModelError, match="resolves outside"):
        load_model(path)


def test_missing_or_short_external_data_is_refused(tmp_path):
    path = _external_model(tmp_path, "w.bin")
    with open(tmp_path / "w.bin", "r+b") as handle:
        handle.truncate(20)
    with pytest.raises(ModelError, match="does not match its shape"):
        load_model(path)
    os.remove(tmp_path / "w.bin")
    with pytest.raises(ModelError, match="not found"):
        load_model(path)


# -- subgraphs, functions, other domains -----------------------------------------------------------


def if_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", F, [3])
    y = helper.make_tensor_value_info("y", F, None)
    then_g = helper.make_graph(
        [helper.make_node("Exp", ["x"], ["t"])], "then", [], [helper.make_tensor_value_info("t", F, None)]
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])], "else", [], [helper.make_tensor_value_info("e", F, None)]
    )
    nodes = [
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g, name="branch"),
    ]
    g = helper.make_graph(nodes, "if", [x], [y], [numpy_helper.from_array(np.float32(0), "zero")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def test_subgraphs_are_ordered_and_walked(tmp_path):
    m = load_model(_save(if_model(), tmp_path / "if.onnx"))
    walked = [(n.op_type, depth) for n, depth in m.walk()]
    assert ("If", 0) in walked and ("Exp", 1) in walked and ("Neg", 1) in walked
    branch = m.producer["y"]
    assert [n.op_type for n in m.graph_nodes(branch.attribute[0].g)] in (["Exp"], ["Neg"])
    # outer tensors read inside a branch count the If node as their consumer
    assert any(c.op_type == "If" for c in m.consumers["x"])


def test_local_functions_are_inlined(tmp_path):
    fn = helper.make_function(
        "my.fn",
        "Swishish",
        ["a"],
        ["b"],
        [helper.make_node("Sigmoid", ["a"], ["s"]), helper.make_node("Mul", ["a", "s"], ["b"])],
        opset_imports=[helper.make_opsetid("", 17)],
    )
    x = helper.make_tensor_value_info("x", F, [4])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph([helper.make_node("Swishish", ["x"], ["y"], domain="my.fn")], "g", [x], [y])
    proto = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.fn", 1)], functions=[fn]
    )
    m = load_model(_save(proto, tmp_path / "fn.onnx"))
    assert sorted(n.op_type for n in m.nodes) == ["Mul", "Sigmoid"]
    a = analyze(m, {"x": (-2.0, 2.0)}, strict=True)
    assert not a.unsupported and a.bounds["y"].max() == pytest.approx(2 / (1 + np.exp(-2.0)), rel=1e-5)


def test_contrib_domain_model_loads_and_is_bounded(tmp_path):
    x = helper.make_tensor_value_info("x", F, [2, 4])
    y = helper.make_tensor_value_info("y", F, None)
    g = helper.make_graph([helper.make_node("FastGelu", ["x"], ["y"], domain="com.microsoft")], "g", [x], [y])
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m = load_model(_save(proto, tmp_path / "ms.onnx"))
    a = analyze(m, {"x": (-3.0, 3.0)}, strict=True)
    assert not a.unsupported and a.bounds["y"].min() < -0.16 and a.bounds["y"].max() == pytest.approx(2.99636, rel=1e-4)


def test_input_without_declared_shape_needs_input_shapes(tmp_path):
    x = helper.make_tensor_value_info("x", F, None)
    y = helper.make_tensor_value_info("y", F, None)
    path = _save(
        helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])),
        tmp_path / "noshape.onnx",
    )
    with pytest.raises(ModelError, match="has no declared shape"):
        load_model(path)
    assert load_model(path, {"x": (2, 3)}).input_shapes == {"x": (2, 3)}


@pytest.mark.parametrize("location", ["unset", "set to DEFAULT"])
def test_weights_inside_a_large_file_stay_in_the_file(tmp_path, monkeypatch, location):
    """From EXTERNALIZE_ABOVE_BYTES on, initializers become external references to the file itself (also
    when the file states their location DEFAULT, as onnx.save writes a model loaded from external data)."""
    from nanlint.graph import wire

    monkeypatch.setattr(model_mod, "EXTERNALIZE_ABOVE_BYTES", 0)
    monkeypatch.setattr(wire, "MIN_MOVED_BYTES", 16)
    weight = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    proto = simple_model(weight=weight)
    if location == "set to DEFAULT":
        proto.graph.initializer[0].data_location = TensorProto.DEFAULT  # serialized explicitly (proto2 field)
    path = _save(proto, tmp_path / "big.onnx")
    m = load_model(path)
    np.testing.assert_array_equal(m.constants["w"], weight)
    assert not m.constants["w"].flags.owndata
    init = next(t for t in m.proto.graph.initializer if t.name == "w")
    assert init.data_location == TensorProto.EXTERNAL
    assert {e.key: e.value for e in init.external_data}["location"] == "big.onnx"
    # The standard ONNX loader resolves the same references.
    from onnx.external_data_helper import load_external_data_for_model

    copy = onnx.ModelProto()
    copy.CopyFrom(m.proto)
    load_external_data_for_model(copy, str(tmp_path))
    np.testing.assert_array_equal(numpy_helper.to_array(copy.graph.initializer[0]), weight)
    full = m.proto_with_data()
    assert full.graph.initializer[0].data_location == TensorProto.DEFAULT
    np.testing.assert_array_equal(numpy_helper.to_array(full.graph.initializer[0]), weight)
    a = analyze(m, {"x": (-1.0, 1.0)}, strict=True)
    assert not a.unsupported


def test_wire_surgery_declines_what_it_does_not_understand():
    from nanlint.graph.wire import externalize_weights

    assert externalize_weights(b"\x3a\xff\xff\xff\xff\x0f", "m.onnx") is None  # length beyond the buffer
    assert externalize_weights(b"", "m.onnx") is None
    assert externalize_weights(simple_model().SerializeToString(), "m.onnx") is None  # nothing large
