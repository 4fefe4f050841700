"""Sampling under a memory budget: exposed tensors are chunked by their estimated bytes against a budget
derived from the model's size, each output is reduced as it arrives, and the model is serialized once.
Each sample goes through every chunk before the next (one sample's crossing tensors carried, the chunks'
cuts alive together, each weight held once); chunks whose cuts would share weights run one at a time.
Chunked runs must observe exactly what one unchunked run observes, and give the same findings."""

from __future__ import annotations

import math
import weakref
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

from nanlint.config import GraphSettings, Settings
from nanlint.graph import sampling
from nanlint.graph.driver import GraphOptions, analyze_models
from nanlint.graph.sampling import InputSpec, TensorStats, draw_feeds, run_samples

SETTINGS = Settings(select=("ALL",))
SIDE = 32  # every activation is [SIDE, SIDE] float32: 4096 bytes


@pytest.fixture(autouse=True)
def memory_over_time(monkeypatch):
    """Chunks as the budget says, however often they rerun the graph (one test restores the time guard)."""
    monkeypatch.setattr(sampling, "MAX_RUNS_PER_SAMPLE", math.inf)


def chain_model(links: int = 6) -> onnx.ModelProto:
    """x -> (MatMul by W, Tanh) repeated, then an Exp that overflows float16 for large inputs."""
    x = helper.make_tensor_value_info("x", T.FLOAT, [SIDE, SIDE])
    y = helper.make_tensor_value_info("y", T.FLOAT, [SIDE, SIDE])
    weight = numpy_helper.from_array(np.random.default_rng(3).normal(0, 0.3, (SIDE, SIDE)).astype(np.float32), "w")
    nodes, previous = [], "x"
    for index in range(links):
        nodes.append(helper.make_node("MatMul", [previous, "w"], [f"m{index}"], name=f"matmul{index}"))
        nodes.append(helper.make_node("Tanh", [f"m{index}"], [f"t{index}"], name=f"tanh{index}"))
        previous = f"t{index}"
    nodes.append(helper.make_node("Mul", [previous, "k"], ["s"], name="scale"))
    nodes.append(helper.make_node("Exp", ["s"], ["y"], name="exp"))
    scale = numpy_helper.from_array(np.float32(12.0), "k")
    graph = helper.make_graph(nodes, "chain", [x], [y], [weight, scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.shape_inference.infer_shapes(model)


def feeds(count: int = 5):
    return draw_feeds([InputSpec("x", T.FLOAT, (SIDE, SIDE), -3, 3)], count, seed=2)


def sizes(model: onnx.ModelProto) -> dict[str, int]:
    return {vi.name: SIDE * SIDE for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)}


def sessions_made(monkeypatch) -> list[list[str]]:
    """Records the outputs of every session sampling makes."""
    made, real = [], sampling._session

    def spy(model, *args, **kwargs):
        session = real(model, *args, **kwargs)
        made.append([o.name for o in session.get_outputs()])
        return session

    monkeypatch.setattr(sampling, "_session", spy)
    return made


def nodes_run(monkeypatch) -> list[list[str]]:
    """Records the nodes of the model of every session sampling makes."""
    made, real = [], sampling._session

    def spy(model, *args, **kwargs):
        parsed = onnx.ModelProto.FromString(model) if isinstance(model, bytes) else model
        made.append([node.name for node in parsed.graph.node])
        return real(model, *args, **kwargs)

    monkeypatch.setattr(sampling, "_session", spy)
    return made


@pytest.mark.parametrize("samples", [2, 5])
@pytest.mark.parametrize("one_at_a_time", [False, True])  # with one chunk at a time, 5 samples rerun the graph
def test_chunked_runs_observe_exactly_what_one_run_observes(monkeypatch, samples, one_at_a_time):
    if one_at_a_time:
        one_chunk_at_a_time(monkeypatch)
    model = chain_model()
    whole = run_samples(model, feeds(samples), sizes(model))
    chunked = run_samples(model, feeds(samples), sizes(model), memory=3 * SIDE * SIDE * 4)
    assert whole.chunks == 1 and chunked.chunks == 5  # 15 tensors of 4096 bytes, 3 per chunk
    assert chunked.stats == whole.stats
    assert chunked.stats["y"].max > 65504  # the samples do reach an overflow: the statistics are not trivial


def test_each_node_runs_once_per_sample_when_the_tensors_crossing_a_boundary_fit_the_budget(monkeypatch):
    model = chain_model()
    made = nodes_run(monkeypatch)
    run_samples(model, feeds(2), sizes(model), memory=4 * SIDE * SIDE * 4)  # one 4096-byte tensor x 2 samples
    assert sorted(name for nodes in made for name in nodes) == sorted(node.name for node in model.graph.node)
    assert made[1] == ["tanh1", "matmul2", "tanh2", "matmul3"]


def one_chunk_at_a_time(monkeypatch) -> None:
    """The chain's chunks all read its weight W: with no copy of a weight allowed, they run one at a time."""
    monkeypatch.setattr(sampling, "SHARED_WEIGHTS_LIMIT", 0)


def test_a_chunk_whose_carried_tensors_exceed_the_budget_runs_from_the_inputs_what_it_needs(monkeypatch):
    one_chunk_at_a_time(monkeypatch)
    model = chain_model()
    made = nodes_run(monkeypatch)
    run_samples(model, feeds(5), sizes(model), memory=2 * SIDE * SIDE * 4)  # 5 samples: 20480 bytes to carry
    order = [node.name for node in model.graph.node]
    assert made[1] == order[:3] and made[-1] == order  # its nodes and their ancestors, nothing after them
    assert all(nodes == order[: len(nodes)] for nodes in made)


def test_a_subgraph_reading_a_tensor_of_an_earlier_chunk_is_fed_it(monkeypatch):
    x = helper.make_tensor_value_info("x", T.FLOAT, [4])
    flag = helper.make_tensor_value_info("flag", T.BOOL, [])
    y = helper.make_tensor_value_info("y", T.FLOAT, [4])
    branch = lambda op, out: helper.make_graph(
        [helper.make_node(op, ["a", "c"], [out])], out, [], [helper.make_tensor_value_info(out, T.FLOAT, [4])]
    )
    nodes = [
        helper.make_node("Exp", ["x"], ["a"], name="exp"),
        helper.make_node("Neg", ["a"], ["b"], name="neg"),
        helper.make_node("Abs", ["b"], ["c"], name="abs"),
        helper.make_node(
            "If", ["flag"], ["y"], name="if", then_branch=branch("Add", "t"), else_branch=branch("Sub", "e")
        ),
    ]
    graph = helper.make_graph(nodes, "g", [x, flag], [y])
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    specs = [InputSpec("x", T.FLOAT, (4,), -2, 2), InputSpec("flag", T.BOOL, (), 0, 1)]
    samples = draw_feeds(specs, 6, seed=4)
    made = nodes_run(monkeypatch)
    # x, a, b, c: 16 bytes each, one chunk; y counted as 400 bytes: a chunk of its own, fed a and c (6 x 32 bytes)
    chunked = run_samples(model, samples, {"x": 4, "a": 4, "b": 4, "c": 4, "y": 100}, memory=200)
    assert made == [["exp", "neg", "abs"], ["if"]]  # `a` is read inside the branches: carried over too
    monkeypatch.undo()
    assert chunked.stats == run_samples(model, samples).stats


@pytest.mark.parametrize("per_chunk, chunks", [(2, 8), (3, 5), (4, 4), (15, 1), (100, 1)])
def test_the_number_of_chunks_follows_the_budget(monkeypatch, per_chunk, chunks):
    model = chain_model()
    made = sessions_made(monkeypatch)
    run = run_samples(model, feeds(2), sizes(model), memory=per_chunk * SIDE * SIDE * 4)
    assert run.chunks == len(made) == chunks
    assert max(len(outputs) for outputs in made) == min(per_chunk, 15)  # never more bytes than the budget
    assert [name for outputs in made for name in outputs] == sampling.exposable_tensors(model)


def test_the_budget_never_goes_below_what_one_inference_holds_at_its_largest_node():
    model = chain_model()
    run = run_samples(model, feeds(2), sizes(model), memory=100)
    assert run.chunks == 8  # a MatMul's input and output (8192 bytes; W is a weight): two tensors per run


def test_estimated_bytes_follow_the_dtype_the_actual_input_and_the_producer_of_unknown_shapes():
    x = helper.make_tensor_value_info("x", T.FLOAT, ["n", 8])
    nodes = [
        helper.make_node("Cast", ["x"], ["half"], to=T.FLOAT16),
        helper.make_node("Cast", ["half"], ["double"], to=T.DOUBLE),
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Custom", ["r"], ["c"], domain="example.custom"),  # no shape inference
    ]
    graph = helper.make_graph(nodes, "g", [x], [helper.make_tensor_value_info("c", T.FLOAT, None)])
    model = onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)])
    )
    counts = {"half": 10 * 8, "double": 10 * 8, "r": 10 * 8}  # n bound to 10, as the driver's shapes say
    feed = {"x": np.zeros((10, 8), np.float32)}
    estimated = sampling.exposed_bytes(model, ["x", "half", "double", "r", "c"], counts, feed)
    assert estimated == {"x": 320, "half": 160, "double": 640, "r": 320, "c": 320}


def test_the_budget_is_the_weights_size_within_its_floor_and_ceiling():
    assert sampling.chunk_budget(0) == sampling.MIN_CHUNK_BYTES
    assert sampling.chunk_budget(sampling.MIN_CHUNK_BYTES + 1) == sampling.MIN_CHUNK_BYTES + 1
    assert sampling.chunk_budget(10 * sampling.CHUNK_BYTES) == sampling.CHUNK_BYTES


def test_the_model_is_serialized_once_and_each_chunk_only_adds_its_outputs(monkeypatch):
    model = chain_model(2)
    before = model.SerializeToString()
    serialized = []
    real = onnx.ModelProto.SerializeToString
    monkeypatch.setattr(
        onnx.ModelProto, "SerializeToString", lambda self: serialized.append(len(self.graph.node)) or real(self)
    )
    exposer = sampling._Exposer(model)
    chunk = ["m0", "t1", "y"]
    parsed = onnx.ModelProto.FromString(exposer.with_outputs(chunk))
    assert parsed == sampling._with_outputs(model, chunk)
    assert serialized.count(len(model.graph.node)) == 1  # the graph once; a chunk serializes its outputs alone
    monkeypatch.undo()
    assert model.SerializeToString() == before  # the caller's model keeps its own outputs


def test_blockwise_reduction_gives_the_statistics_of_the_whole_tensor(monkeypatch):
    rng = np.random.default_rng(5)
    tensors = [rng.normal(0, 100, (7, 300)).astype(np.float32) for _ in range(3)]
    tensors[1][2, 5], tensors[1][4, 9], tensors[1][6, 0] = np.nan, np.inf, -np.inf
    tensors.append(np.full((5, 5), np.nan, np.float32))  # nothing finite
    tensors.append(np.abs(tensors[0]) + 1)  # one-signed: no |x| scan needed
    whole, blocked = TensorStats(), TensorStats()
    for tensor in tensors:
        whole.update(tensor)
    monkeypatch.setattr(sampling, "REDUCE_BLOCK", 64)
    for tensor in tensors:
        blocked.update(tensor)
    assert blocked == whole
    assert (whole.nan, whole.inf) == (26, 2) and whole.sample_nan == [False, True, False, True, False]


def _save(tmp_path: Path, model: onnx.ModelProto) -> str:
    path = tmp_path / "chain.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def findings(path: str) -> list:
    options = GraphOptions.from_cli(GraphSettings(), ("cuda-fp16",), ("x=-3,3",), ())
    [result], errors = analyze_models([path], SETTINGS, options)
    assert errors == []
    return result.findings


def test_findings_are_the_same_whatever_the_budget(tmp_path, monkeypatch):
    path = _save(tmp_path, chain_model())
    default = findings(path)
    assert ("NAN504", "y", "error") in {
        (f.code, f.location.tensor, f.severity.name) for f in default
    }  # its Exp overflows
    made = sessions_made(monkeypatch)
    monkeypatch.setattr(sampling, "chunk_budget", lambda model_bytes: 1)  # as few tensors per run as can be
    assert findings(path) == default
    assert len(made) == 8  # two tensors per run: the largest node's input and output


def test_the_driver_derives_the_budget_from_the_weights(tmp_path, monkeypatch):
    path = _save(tmp_path, chain_model())
    budgets = []
    real = sampling.run_samples
    monkeypatch.setattr(sampling, "run_samples", lambda *a, **k: budgets.append(k["memory"]) or real(*a, **k))
    monkeypatch.setattr(sampling, "MIN_CHUNK_BYTES", 0)
    findings(path)
    assert budgets == [SIDE * SIDE * 4 + 4]  # W and the scale k


def test_a_carried_tensor_owns_its_memory():
    """A view of onnxruntime's output would keep the finished run's arena (all its tensors) alive."""
    model = chain_model(1)
    session = sampling._session(sampling._Exposer(model).with_outputs(["m0", "t0"]), "CPUExecutionProvider")
    result, kept = sampling.SampleRun(stats={"m0": TensorStats()}), {}
    sampling._observe(session, ["m0", "t0"], feeds(1)[0], result, {"t0"}, kept)
    assert list(kept) == ["t0"] and kept["t0"].flags.owndata and kept["t0"].base is None
    assert result.stats["m0"].count == SIDE * SIDE


def test_the_budget_doubles_until_the_chunks_run_the_graph_at_most_twice_per_sample(monkeypatch):
    monkeypatch.setattr(sampling, "MAX_RUNS_PER_SAMPLE", 2.0)
    one_chunk_at_a_time(monkeypatch)
    model = chain_model()
    made = nodes_run(monkeypatch)
    run = run_samples(model, feeds(5), sizes(model), memory=2 * SIDE * SIDE * 4)  # 8 chunks, each from the inputs
    # 2 tensors a chunk: 8 chunks from the inputs; 4: 3 + 7 + 11 + 14 nodes > 2 x 14; 8: 7 + 14 nodes
    assert [len(nodes) for nodes in made] == [7, 14] and run.chunks == 2


def test_each_sample_goes_through_every_chunk_and_each_node_runs_once_whatever_the_sample_count(monkeypatch):
    model = chain_model()
    made = nodes_run(monkeypatch)
    run = run_samples(model, feeds(5), sizes(model), memory=2 * SIDE * SIDE * 4)  # 5 samples: 20480 bytes to carry
    assert run.chunks == len(made) == 8
    assert sorted(name for nodes in made for name in nodes) == sorted(node.name for node in model.graph.node)


def carried_bytes(monkeypatch) -> list[int]:
    """Records, after every run, the bytes of the tensors carried for later chunks."""
    held, real = [], sampling._observe

    def spy(session, outputs, feed, result, keep=frozenset(), kept=None):
        real(session, outputs, feed, result, keep, kept)
        held.append(sum(int(value.nbytes) for value in (kept or {}).values()))

    monkeypatch.setattr(sampling, "_observe", spy)
    return held


def test_only_one_samples_crossing_tensors_are_carried(monkeypatch):
    model = chain_model()
    held = carried_bytes(monkeypatch)
    run = run_samples(model, feeds(6), sizes(model), memory=3 * SIDE * SIDE * 4)
    assert run.chunks == 5 and len(held) == 6 * 5
    # one [SIDE, SIDE] tensor crosses each boundary: a run holds, for one sample, the one it was fed and the
    # one it passes on (for all six samples at once, as when chunks run one at a time, it would be 24576)
    assert max(held) == 2 * SIDE * SIDE * 4
    assert held[4::5] == [SIDE * SIDE * 4] * 6  # the last chunk passes nothing on: it holds only what it was fed


def initializers_held(monkeypatch) -> list[set[str]]:
    """Records the initializers of every session sampling makes (sessions are kept until sampling ends)."""
    made, real = [], sampling._session

    def spy(model, *args, **kwargs):
        parsed = onnx.ModelProto.FromString(model) if isinstance(model, bytes) else model
        made.append({tensor.name for tensor in parsed.graph.initializer})
        return real(model, *args, **kwargs)

    monkeypatch.setattr(sampling, "_session", spy)
    return made


def layered_model(layers: int = 4) -> onnx.ModelProto:
    """x -> (MatMul by its own weight, Relu) per layer: no weight read by two layers."""
    rng = np.random.default_rng(7)
    nodes, weights, previous = [], [], "x"
    for index in range(layers):
        weights.append(numpy_helper.from_array(rng.normal(0, 0.2, (SIDE, SIDE)).astype(np.float32), f"w{index}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{index}"], [f"m{index}"], name=f"matmul{index}"))
        nodes.append(helper.make_node("Relu", [f"m{index}"], [f"r{index}"], name=f"relu{index}"))
        previous = f"r{index}"
    x = helper.make_tensor_value_info("x", T.FLOAT, [SIDE, SIDE])
    y = helper.make_tensor_value_info(previous, T.FLOAT, [SIDE, SIDE])
    graph = helper.make_graph(nodes, "layers", [x], [y], weights)
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_chunk_sessions_alive_together_hold_each_weight_once(monkeypatch):
    model = layered_model()
    made = initializers_held(monkeypatch)
    chunked = run_samples(model, feeds(3), sizes(model), memory=2 * SIDE * SIDE * 4)
    assert chunked.chunks == len(made) == 5  # x and m0, then r_i and m_i+1: two tensors per run
    assert sorted(name for names in made for name in names) == ["w0", "w1", "w2", "w3"]  # no weight twice
    monkeypatch.undo()
    assert chunked.stats == run_samples(model, feeds(3), sizes(model)).stats


def test_chunks_that_would_each_hold_a_shared_weight_run_one_at_a_time(monkeypatch):
    one_chunk_at_a_time(monkeypatch)
    model = chain_model()  # every MatMul reads W
    alive, most = [], []
    real = sampling._session

    def tracked(*args, **kwargs):
        session = real(*args, **kwargs)
        alive.append(1)
        most.append(len(alive))
        weakref.finalize(session, alive.pop)
        return session

    monkeypatch.setattr(sampling, "_session", tracked)
    run = run_samples(model, feeds(2), sizes(model), memory=4 * SIDE * SIDE * 4)
    assert run.chunks == 4 and max(most) == 1


def _peak_rss_growth(action) -> float:
    """MiB the process' peak RSS grew by during `action` (peak reset first; Linux)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    rss = _status("VmRSS")
    action()
    return (_status("VmHWM") - rss) / 1024


def _status(field_name: str) -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(field_name + ":"))


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_chunk_sessions_alive_together_keep_no_memory_between_runs():
    """Twelve chunks of 4 MiB activations: sessions that each kept an arena of their largest run would
    hold ~12 x 8 MiB at the end of a sample; freed run by run, the peak stays within a few activations."""
    side, links = 1024, 12
    rng = np.random.default_rng(1)
    nodes, previous = [], "x"
    for index in range(links):
        nodes.append(helper.make_node("Sin", [previous], [f"s{index}"]))
        nodes.append(helper.make_node("Add", [f"s{index}", "b"], [f"a{index}"]))
        previous = f"a{index}"
    bias = numpy_helper.from_array(rng.normal(0, 1, (side,)).astype(np.float32), "b")
    x = helper.make_tensor_value_info("x", T.FLOAT, [side, side])
    out = helper.make_tensor_value_info(previous, T.FLOAT, [side, side])
    graph = helper.make_graph(nodes, "wide", [x], [out], [bias])
    model = onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    activation = side * side * 4
    counts = {vi.name: side * side for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)}
    samples = draw_feeds([InputSpec("x", T.FLOAT, (side, side), -1, 1)], 3, seed=0)
    run_samples(model, samples[:1], counts, memory=2 * activation)  # onnxruntime's own first-use costs
    grown = _peak_rss_growth(lambda: run_samples(model, samples, counts, memory=2 * activation))
    assert grown < 10 * activation / 2**20  # 40 MiB: the feeds, a chunk's run, carried tensors, slack


def test_a_cut_onnxruntime_cannot_load_sends_the_chunks_one_at_a_time_with_the_same_statistics(monkeypatch):
    model = layered_model()
    whole = run_samples(model, feeds(3), sizes(model))
    real, tried = sampling._Plan.cut_session, []

    def refuses_the_third(self, segment, *args):
        tried.append(segment.start)
        if len(tried) == 3:
            raise sampling._Uncut
        return real(self, segment, *args)

    monkeypatch.setattr(sampling._Plan, "cut_session", refuses_the_third)
    made = initializers_held(monkeypatch)
    chunked = run_samples(model, feeds(3), sizes(model), memory=2 * SIDE * SIDE * 4)
    assert len(tried) == 3 and len(made) == 2 + 5  # two cuts of the first sample, then five chunks in turn
    assert chunked.stats == whole.stats and chunked.samples == 3
