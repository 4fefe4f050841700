"""Block lists and mixed-precision models: blocked parts stay fp32, constants are not clamped, the rest is fp16."""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import onnxruntime
from click.testing import CliRunner
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from nanlint.cli import main
from nanlint.findings import Evidence, Finding, GraphLocation, Severity
from nanlint.graph import mixed
from nanlint.graph.mixed import (
    BlockList,
    FeedSet,
    Interface,
    block_list,
    build_mixed,
    convert,
    fp16_tensors,
    other_shapes,
    validate,
    with_interface,
    write_mixed,
)
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


def test_block_list_keeps_the_cascade_of_a_root():
    root = Finding(
        "NAN601",
        "activation-overflow",
        "m",
        Severity.error,
        GraphLocation("m.onnx", "cuda-fp16", "scale", "Mul", "scaled"),
        evidence=Evidence("sampled", cascade=("centred", "r")),
    )
    blocked = block_list(model(), [root], "cuda-fp16")
    assert blocked.nodes == ["scale", "centre", "squash"] and blocked.tensors == ["r"]


# --- the written model: its own interface, other shapes, a run before it is written ---------------


def symbolic_model() -> onnx.ModelProto:
    """x[batch, n] -> *300 -> square (beyond fp16 for |x| > 0.85) -> Sqrt -> y[batch, n]: finite in fp32 only."""
    x = helper.make_tensor_value_info("x", T.FLOAT, ["batch", "n"])
    y = helper.make_tensor_value_info("y", T.FLOAT, ["batch", "n"])
    nodes = [
        helper.make_node("Mul", ["x", "gain"], ["scaled"], name="scale"),
        helper.make_node("Mul", ["scaled", "scaled"], ["square"], name="square"),
        helper.make_node("Sqrt", ["square"], ["y"], name="root"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(np.array(300.0, np.float32), "gain")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def bound(proto: onnx.ModelProto, shape) -> onnx.ModelProto:
    """The model as the analysis sees it: symbolic dimensions bound, value_info inferred."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    for vi in (*copy.graph.input, *copy.graph.output):
        for dim, size in zip(vi.type.tensor_type.shape.dim, shape):
            dim.dim_value = size
    return onnx.shape_inference.infer_shapes(copy)


def dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_the_written_model_has_the_original_inputs_and_outputs():
    original = symbolic_model()
    restored = with_interface(bound(original, (1, 1)), Interface.of(original))
    assert [dims(vi) for vi in (*restored.graph.input, *restored.graph.output)] == [["batch", "n"], ["batch", "n"]]
    assert not restored.graph.value_info  # the bound shapes of the analysis are gone
    mixed = convert(restored, BlockList())
    assert [dims(vi) for vi in (*mixed.graph.input, *mixed.graph.output)] == [["batch", "n"], ["batch", "n"]]
    session = onnxruntime.InferenceSession(mixed.SerializeToString())
    for shape in ((1, 1), (3, 5)):
        assert session.run(None, {"x": np.full(shape, 0.1, np.float32)})[0].shape == shape


def test_an_output_dimension_the_converter_could_infer_stays_as_declared():
    # y = x @ w declares [batch, cols]; the converter's shape inference knows cols = 3 and would write it.
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "g",
        [helper.make_tensor_value_info("x", T.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", T.FLOAT, ["batch", "cols"])],
        [w],
    )
    original = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    mixed = convert(with_interface(original, Interface.of(original)), BlockList())
    assert [dims(vi) for vi in (*mixed.graph.input, *mixed.graph.output)] == [["batch", 4], ["batch", "cols"]]


def test_other_shapes_resize_every_symbolic_dimension_alike():
    interface = Interface.of(symbolic_model())
    assert interface.symbolic_axes() == {"x": [0, 1]}
    assert other_shapes(interface, {"x": (1, 1)}) == [{"x": (2, 2)}, {"x": (3, 3)}]
    assert other_shapes(interface, {"x": (4, 6)}) == [{"x": (2, 3)}, {"x": (8, 12)}]  # the cheaper first
    fixed = Interface.of(model())
    assert fixed.symbolic_axes() == {} and other_shapes(fixed, {"x": (4,)}) == []


def test_a_round_trip_cast_into_a_graph_output_keeps_the_output_name():
    mixed = convert(symbolic_model(), BlockList(nodes=["square", "root"]))
    assert [o.name for o in mixed.graph.output] == ["y"]
    assert [n.op_type for n in mixed.graph.node if "y" in n.output] == ["Sqrt"]  # no Cast pair left before it
    onnx.checker.check_model(mixed)  # and the nodes are in topological order


def feed_set(values) -> FeedSet:
    return FeedSet.of("inputs", [{"x": np.array(v, np.float32)} for v in values])


def test_the_run_sees_fp16_overflow_that_onnxruntime_hides_and_where_it_starts():
    fp32 = symbolic_model()
    plain = convert(fp32, BlockList())
    check = validate(fp32, plain, [feed_set([[[0.1, 0.9]], [[0.2, 0.3]]])], {})
    assert check.runs == 2 and check.checked == ["2 inputs of shape x[1, 2]"]
    assert check.nonfinite_outputs == ["y on 1 of the 2 inputs of shape x[1, 2]"]
    assert check.overflowing == ["square"] and check.max_relative_error == math.inf
    kept = validate(fp32, convert(fp32, BlockList(nodes=["square", "root"])), [feed_set([[[0.1234, 0.8765]]])], {})
    assert kept.nonfinite_outputs == [] and kept.overflowing == [] and 0 < kept.max_relative_error < 1e-3


def test_build_mixed_keeps_in_fp32_what_its_own_run_saw_overflow():
    """No finding names the square: the first conversion overflows, the second keeps it in fp32."""
    fp32 = symbolic_model()
    built = build_mixed(
        fp32, [], "cuda-fp16", Interface.of(fp32), [feed_set([[[0.9, -0.95]]])], [feed_set([[[0.5]] * 2])], {}
    )
    assert built.rounds == 2 and "square" in built.blocked.nodes
    assert built.validation.nonfinite_outputs == [] and built.validation.checked == [
        "1 inputs of shape x[1, 2]",
        "1 inputs of shape x[2, 1]",
    ]


def underflow_chain(depth: int) -> onnx.ModelProto:
    """x * 1e-3 `depth` times, then 1/that (and rescaled): fp16 underflows to 0 on the way, 1/0 = inf."""
    x = helper.make_tensor_value_info("x", T.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", T.FLOAT, ["n", 4])
    nodes, previous = [], "x"
    for i in range(depth):
        nodes.append(helper.make_node("Mul", [previous, "small"], [f"s{i}"], name=f"shrink{i}"))
        previous = f"s{i}"
    nodes += [
        helper.make_node("Reciprocal", [previous], ["r"], name="invert"),
        helper.make_node("Mul", ["r", "back"], ["y"], name="rescale"),
    ]
    weights = [
        numpy_helper.from_array(np.array(1e-3, np.float32), "small"),
        numpy_helper.from_array(np.array(10.0 ** (-3 * depth), np.float32), "back"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_an_fp32_node_starved_by_fp16_underflow_gets_its_tiny_inputs_in_fp32(tmp_path):
    """The Reciprocal is kept in fp32 (its output is beyond fp16), but its input underflowed to 0 in fp16
    three Muls earlier: every tensor upstream below fp16's normal range is kept in fp32 in one round."""
    path = tmp_path / "chain.onnx"
    onnx.save(underflow_chain(5), str(path))
    result = CliRunner().invoke(
        main,
        ["graph", str(path), "--target", "cuda-fp16", "--write-mixed", str(tmp_path / "m.onnx"), "--format", "json"],
    )
    written = json.loads(result.stdout)["summary"]["mixed"]
    assert written["rounds"] == 2 and written["nonfinite_outputs"] == [] and written["max_relative_error"] < 1e-2
    blocked = {n.name for n in onnx.load(str(tmp_path / "m.onnx")).graph.node if n.op_type == "Mul"}
    assert {"shrink1", "shrink2", "shrink3", "shrink4"} <= blocked


def test_a_mixed_model_with_nonfinite_outputs_exits_1_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(mixed, "ROUNDS", 1)  # no second conversion: the first one's NaN/Inf stand
    path = tmp_path / "chain.onnx"
    onnx.save(underflow_chain(5), str(path))
    result = CliRunner().invoke(
        main,
        ["graph", str(path), "--target", "cuda-fp16", "--write-mixed", str(tmp_path / "m.onnx"), "-q", "--exit-zero"],
    )
    assert result.exit_code == 1
    assert (
        "nanlint: error: the mixed model gives NaN/Inf where the fp32 model is finite: "
        "y on 16 of the 16 sampled inputs of shape x[1, 4]; y on 2 of the 2 inputs of shape x[2, 4]"
    ) in result.stderr  # the other shape is twice the size: half the inputs


def test_an_other_shape_is_run_with_every_tensor_exposed_only_where_its_outputs_broke(monkeypatch):
    """Exposing every tensor costs a run per chunk of tensors, at the other shape's size (8x an image's
    when its batch, height and width double): only the inputs whose outputs broke pay it."""
    exposed: list[int] = []
    real = mixed.run_exposed
    monkeypatch.setattr(
        mixed, "run_exposed", lambda m, feeds, sizes: exposed.append(len(feeds)) or real(m, feeds, sizes)
    )
    fp32 = symbolic_model()
    kept = convert(fp32, BlockList(nodes=["square", "root"]))
    main_set = feed_set([[[0.1, 0.2]], [[0.3, 0.4]]])
    other = FeedSet.of("inputs", [{"x": np.full((2, 4), v, np.float32)} for v in (0.1, 0.9)], probed=0)
    validate(fp32, kept, [main_set, other], {})
    assert exposed == [2, 0]  # both of the main set, none of the other shape (its outputs are finite)
    plain = convert(fp32, BlockList())
    exposed.clear()
    check = validate(fp32, plain, [main_set, other], {})
    assert exposed == [2, 1] and check.overflowing == ["square"]  # 0.9 * 300 squared overflows fp16


def test_a_cast_to_float_before_a_blocked_node_is_no_round_trip_to_drop():
    """x -> Abs -> Cast(to=float) -> Pow (blocked) -> y, as torch's STFT export writes it: the converter
    makes the Cast one to fp16 (its input is fp16 now) and casts back to fp32 before the Pow. That pair is
    no fp32 -> fp16 -> fp32 round trip: without it the Pow would read the Abs's fp16 value."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [4])
    y = helper.make_tensor_value_info("y", T.FLOAT, [4])
    nodes = [
        helper.make_node("Abs", ["x"], ["a"], name="abs"),
        helper.make_node("Cast", ["a"], ["c"], to=T.FLOAT, name="cast"),
        helper.make_node("Pow", ["c", "two"], ["y"], name="square"),
    ]
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[two])
    fp32 = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    converted = convert(fp32, BlockList(nodes=["square"]))
    onnx.checker.check_model(converted, full_check=True)
    session = onnxruntime.InferenceSession(converted.SerializeToString(), providers=["CPUExecutionProvider"])
    value = np.array([-300.0, 2.0, 0.5, 255.0], np.float32)
    got = session.run(None, {"x": value})[0]
    assert got.dtype == np.float32 and np.allclose(got, value**2, rtol=1e-3)
    types = mixed.tensor_types(converted)
    (pow_node,) = [n for n in converted.graph.node if n.op_type == "Pow"]
    assert types[pow_node.input[0]] == T.FLOAT and types["a"] == T.FLOAT16


def test_an_op_without_a_float16_kernel_stays_in_fp32():
    """A dynamically quantized model: DynamicQuantizeLinear takes float32 only (its schema says so), so
    converting its input to fp16 makes a model onnxruntime refuses, and so does DequantizeLinear's scale
    before opset 19; Relu has fp16 and is converted."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("DynamicQuantizeLinear", ["r"], ["q", "scale", "zero"], name="quantize"),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["y"], name="dequantize"),
    ]
    fp32 = helper.make_model(helper.make_graph(nodes, "g", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    opsets, types = {"ai.onnx": 17}, mixed.tensor_types(fp32)
    assert [mixed.fp32_only(n, opsets, types) for n in fp32.graph.node] == [False, True, True]
    custom = helper.make_node("DynamicQuantizeLSTM", ["x"], ["h"], domain="com.microsoft", name="lstm")
    assert mixed.fp32_only(custom, opsets, types)  # another domain's types are unknown here
    resize = helper.make_node("Resize", ["x", "", "scales"], ["big"], name="resize")  # scales: kept by the converter
    assert not mixed.fp32_only(resize, opsets, {"x": T.FLOAT, "scales": T.FLOAT})
    ints = helper.make_node("Range", ["start", "limit", "delta"], ["steps"], name="range")  # no float input
    assert not mixed.fp32_only(ints, opsets, {"start": T.INT64, "limit": T.INT64, "delta": T.INT64})
    unknown = helper.make_node("DynamicQuantizeLinear", ["h"], ["q", "scale", "zero"], name="after_lstm")
    assert mixed.fp32_only(unknown, opsets, {})  # its input's type unknown: it may be float32
    blocked = block_list(fp32, [], "cuda-fp16")
    assert blocked.nodes == ["quantize", "dequantize"]
    converted = convert(fp32, blocked)
    assert mixed.tensor_types(converted)["r"] == T.FLOAT16
    session = onnxruntime.InferenceSession(converted.SerializeToString())
    value = np.array([[0.5, -1.0, 2.0], [0.25, 1.5, 0.0]], np.float32)
    assert np.allclose(session.run(None, {"x": value})[0], np.maximum(value, 0), atol=0.01)
