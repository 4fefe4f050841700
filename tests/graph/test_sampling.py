"""Sampling: every float intermediate observed, NaN/Inf counted, chunked runs agree, inputs drawn in the box."""

from __future__ import annotations

import math
import re
import weakref

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper

from nanlint.graph import sampling
from nanlint.graph.sampling import FeedError, InputSpec, SamplingError, draw_feeds, load_feeds, run_samples


def exp_log_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", T.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", T.FLOAT, [2, 3])
    nodes = [
        helper.make_node("Exp", ["x"], ["e"], name="exp"),
        helper.make_node("Log", ["e"], ["l"], name="log"),
        helper.make_node("Sub", ["l", "x"], ["y"], name="sub"),
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y])
    return onnx.shape_inference.infer_shapes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def test_every_float_intermediate_is_observed_with_nonfinite_counts():
    feeds = [{"x": np.array([[0, 1, 2], [100, -1, 3]], np.float32)}]
    run = run_samples(exp_log_model(), feeds)
    assert list(run.stats) == ["x", "e", "l", "y"]  # the int64 Shape output is not a float tensor
    e = run.stats["e"]
    assert (e.inf, e.nan, e.count) == (1, 0, 6)
    assert e.max == pytest.approx(np.exp(np.float32(3)), rel=1e-6)
    assert run.stats["y"].observed == (0.0, 0.0) and run.stats["y"].inf == 1


def test_chunked_runs_give_the_same_statistics(monkeypatch):
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (2, 3), -5, 5)], 6)
    whole = run_samples(exp_log_model(), feeds)
    monkeypatch.setattr(sampling, "CHUNK_BYTES", 1)
    chunked = run_samples(exp_log_model(), feeds, sizes={"x": 6, "e": 6, "l": 6, "y": 6})
    assert chunked.stats == whole.stats


def test_a_chunk_session_is_released_before_the_next_is_made_when_chunks_run_one_at_a_time(monkeypatch):
    monkeypatch.setattr(sampling, "SHARED_WEIGHTS_LIMIT", -1)  # as if the chunks' cuts shared weights
    alive, peak = [], []
    made = sampling._session

    def tracked(*args, **kwargs):
        peak.append(len(alive))  # sessions still alive when this one is made
        session = made(*args, **kwargs)
        alive.append(1)
        weakref.finalize(session, alive.pop)
        return session

    monkeypatch.setattr(sampling, "_session", tracked)
    monkeypatch.setattr(sampling, "CHUNK_BYTES", 1)
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (2, 3), -5, 5)], 3)
    run_samples(exp_log_model(), feeds, sizes={"x": 6, "e": 6, "l": 6, "y": 6})
    assert peak == [0, 0, 0, 0]  # four chunks, never two sessions (and their weights) at once


def test_the_time_budget_cuts_the_samples_and_says_why(monkeypatch):
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (2, 3), -5, 5)], 16)
    full = run_samples(exp_log_model(), feeds, budget=3600.0)
    assert (full.samples, full.requested, full.note) == (16, 16, None)
    clock = iter(range(0, 10**6, 10))  # every inference "takes" 10 s
    monkeypatch.setattr(sampling.time, "perf_counter", lambda: next(clock))
    cut = run_samples(exp_log_model(), feeds, budget=45.0)
    assert (cut.samples, cut.requested) == (4, 16)
    assert cut.note == "4 of 16 samples: one inference took 10 s, one run per sample, and the samples get 45 s"
    assert len(cut.stats["x"].sample_abs_max) == 4 and cut.stats["x"].max == 5.0  # the corners come first
    monkeypatch.setattr(sampling, "CHUNK_BYTES", 1)
    chunked = run_samples(exp_log_model(), feeds, sizes={"x": 6, "e": 6, "l": 6, "y": 6}, budget=45.0)
    assert chunked.samples == sampling.MIN_SAMPLES  # 4 runs per sample: only the two corners fit
    assert "4 runs per sample (chunks of exposed tensors)" in chunked.note


def test_weights_reach_onnxruntime_as_arrays_when_it_cannot_map_them(tmp_path, monkeypatch):
    from nanlint.graph.model import load_model

    path = tmp_path / "m.onnx"
    onnx.save_model(linear_model(), path, save_as_external_data=True, location="m.data", size_threshold=0)
    runnable, weights = load_model(str(path)).runnable()
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (4, 64), -1, 1)], 3)
    mapped = run_samples(runnable, feeds, weights=weights)
    monkeypatch.setattr(sampling, "_EXTERNAL_FOLDER", "nanlint.test.no_such_option")  # as an older onnxruntime
    assert run_samples(runnable, feeds, weights=weights).stats == mapped.stats
    monkeypatch.setattr(sampling, "PREPACK_LIMIT", 0)  # big weights: no pre-packed copy, same values
    assert run_samples(runnable, feeds, weights=weights).stats == mapped.stats


def test_feeds_start_with_the_box_corners_and_stay_inside():
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (4,), -2, 3), InputSpec("ids", T.INT64, (2,), 0, 9)], 10, seed=1)
    assert np.all(feeds[0]["x"] == -2) and np.all(feeds[1]["x"] == 3)
    xs = np.stack([f["x"] for f in feeds])
    ids = np.stack([f["ids"] for f in feeds])
    assert xs.min() >= -2 and xs.max() <= 3 and ids.min() >= 0 and ids.max() <= 9 and ids.dtype == np.int64


def test_calibration_data_is_split_along_the_first_axis(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(12, dtype=np.float64).reshape(2, 2, 3))
    x = InputSpec("x", onnx.TensorProto.FLOAT, (2, 3), -1.0, 1.0)
    feeds = load_feeds(str(path), [x])
    assert len(feeds) == 2 and feeds[1]["x"].shape == (2, 3) and feeds[1]["x"].dtype == np.float32
    with pytest.raises(FeedError, match="no array for input"):
        load_feeds(str(path), [x, InputSpec("mask", onnx.TensorProto.FLOAT, (2,), 0.0, 1.0)])
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(FeedError, match="cannot read calibration data"):
        load_feeds(str(tmp_path / "bad.npz"), [x])


def test_calibration_data_that_does_not_fit_the_model_is_refused(tmp_path):
    x = InputSpec("x", onnx.TensorProto.FLOAT, (2, 3), -1.0, 1.0)
    ids = InputSpec("ids", onnx.TensorProto.INT64, (4,), 0.0, 9.0)
    cases = [
        ({"x": np.zeros((5, 3, 2), np.float32)}, [x], "array 'x' holds samples of shape [3, 2], the model's input"),
        ({"x": np.zeros((2, 3), np.float32)}, [x], "holds samples of shape [3]"),
        ({"x": np.float32(1)}, [x], "array 'x' holds a scalar"),
        ({"ids": np.zeros((2, 4), np.float32)}, [ids], "array 'ids' is float32, the model's input 'ids' is int64"),
        ({"x": np.zeros((0, 2, 3), np.float32)}, [x], "no samples"),
    ]
    for index, (arrays, specs, message) in enumerate(cases):
        path = tmp_path / f"data{index}.npz"
        np.savez(path, **arrays)
        with pytest.raises(FeedError, match=re.escape(message)):
            load_feeds(str(path), specs)
    np.savez(tmp_path / "ok.npz", ids=np.arange(8, dtype=np.int32).reshape(2, 4))
    assert load_feeds(str(tmp_path / "ok.npz"), [ids])[1]["ids"].dtype == np.int64


def test_an_infinite_range_end_is_sampled_inside_the_dtype():
    rng = np.random.default_rng(0)
    for elem, dtype in ((onnx.TensorProto.FLOAT, np.float32), (onnx.TensorProto.FLOAT16, np.float16)):
        spec = InputSpec("x", elem, (1000,), -math.inf, math.inf)
        values = np.concatenate([spec.draw(rng), *spec.corners()])
        assert np.isfinite(values).all() and values.dtype == dtype
        assert values.min() == np.finfo(dtype).min and values.max() == np.finfo(dtype).max
    half = InputSpec("x", onnx.TensorProto.FLOAT, (1000,), 0.0, math.inf).draw(rng)
    assert np.isfinite(half).all() and half.min() >= 0
    ints = InputSpec("i", onnx.TensorProto.INT32, (100,), -math.inf, math.inf)
    assert ints.draw(rng).dtype == np.int32 and ints.corners()[0][0] == np.iinfo(np.int32).min


def test_a_model_onnxruntime_rejects_is_a_sampling_error():
    model = exp_log_model()
    model.graph.node[0].op_type = "NoSuchOp"
    with pytest.raises(SamplingError, match="onnxruntime cannot load the model"):
        run_samples(model, [{"x": np.zeros((2, 3), np.float32)}])


def _reference_stats(samples: list[np.ndarray]) -> dict:
    """What TensorStats must hold, computed the slow, obvious way in float64."""
    values = np.concatenate([s.ravel() for s in samples]).astype(np.float64)
    finite = values[np.isfinite(values)]
    return {
        "min": finite.min() if finite.size else np.inf,
        "max": finite.max() if finite.size else -np.inf,
        "abs_max": np.abs(finite).max() if finite.size else 0.0,
        "abs_min": np.abs(finite).min() if finite.size else np.inf,
        "nan": int(np.isnan(values).sum()),
        "inf": int(np.isinf(values).sum()),
        "count": values.size,
        "sample_nan": [bool(np.isnan(s).any()) for s in samples],
        "sample_abs_max": [np.inf if not np.isfinite(s).all() else float(np.abs(s).max()) for s in samples],
    }


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_tensor_statistics_match_a_reference(seed, dtype):
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(4):
        sample = (
            rng.standard_normal(int(rng.integers(1, 50))) * 10 ** rng.uniform(-3, 3) + rng.choice([0.0, 5.0, -5.0])
        ).astype(dtype)
        if rng.random() < 0.3:
            sample[rng.integers(sample.size)] = rng.choice([np.nan, np.inf, -np.inf])
        samples.append(sample)
    stats = sampling.TensorStats()
    for sample in samples:
        stats.update(sample)
    expected = _reference_stats(samples)
    observed = {key: getattr(stats, key) for key in expected}
    assert observed == expected  # exact: min, max and |x| of floats are exact in any float width


def test_tensor_statistics_of_an_all_nan_and_an_empty_sample():
    stats = sampling.TensorStats()
    stats.update(np.array([np.nan, np.nan], np.float32))
    stats.update(np.zeros((0, 3), np.float32))
    assert (stats.nan, stats.inf, stats.count, stats.observed) == (2, 0, 2, None)
    assert (stats.sample_nan, stats.sample_abs_max) == ([True, False], [np.inf, 0.0])


def linear_model() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    weights = [
        onnx.numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), f"w{i}") for i in range(3)
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("MatMul", ["r", "w1"], ["b"]),
        helper.make_node("Tanh", ["b"], ["t"]),
        helper.make_node("MatMul", ["t", "w2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", T.FLOAT, [4, 64])],
        [helper.make_tensor_value_info("y", T.FLOAT, [4, 64])],
        weights,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("layout", ["external data file", "weights kept in the model file"])
def test_sampling_and_search_run_weights_left_in_place_like_inline_ones(tmp_path, monkeypatch, layout):
    """Weights that stay on disk (external data, or a large model's own file mapped) reach onnxruntime
    as external initializers: the same statistics as the model with its weights inline."""
    from nanlint.graph import model as model_module
    from nanlint.graph.model import load_model
    from nanlint.graph.search import Hazard, search

    proto = linear_model()
    path = tmp_path / "m.onnx"
    if layout == "external data file":
        onnx.save_model(linear_model(), path, save_as_external_data=True, location="m.data", size_threshold=0)
    else:
        onnx.save_model(proto, path)
        monkeypatch.setattr(model_module, "EXTERNALIZE_ABOVE_BYTES", 0)
    model = load_model(str(path))
    runnable, weights = model.runnable()
    assert sorted(weights.arrays) == ["w0", "w1", "w2"] and weights.folder == str(tmp_path)
    feeds = draw_feeds([InputSpec("x", T.FLOAT, (4, 64), -1, 1)], 4)
    assert run_samples(runnable, feeds, weights=weights).stats == run_samples(proto, feeds).stats
    found = search(
        runnable,
        [InputSpec("x", T.FLOAT, (4, 64), -1, 1)],
        [Hazard("h", "y", lambda v: float(v.max()))],
        budget=0.5,
        weights=weights,
    )
    assert found.witnesses["h"].score > 0
