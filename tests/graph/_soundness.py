"""Soundness harness for transfer functions: random boxes, random points inside them, the real op.

For one op, `check(...)` builds a single-node model, draws element-wise input boxes (several seeds and
magnitude regimes: straddling 0, positive, negative, tiny 1e-20, huge 1e15, narrow), bounds the node
with the analysis, runs the op itself with onnxruntime on points inside the boxes (vertices, and
uniform interior points), and asserts every output lies within the computed bounds.

Tolerance (float rounding): an output may exceed its bound by
    RTOL * (|lo| + |hi|) of its own element  +  SCALE_TOL * the largest finite |bound| of the tensor
    + ATOL,
since kernels and bounds round differently and accumulate sums in different orders (float32), and the
analysis's kernels flush float32 subnormals to zero (ATOL = 1e-37, a few times the smallest normal).
NaN outputs must be flagged (`may_nan`); infinite outputs need an infinite bound on their side.

Stored bounds: a Box with `stored` gives the analysis bounds stored once along some axes (size 1 there,
as Interval.compact keeps them); the points still vary along every axis.

Row norms: a Box with `row_norm` also bounds the L2 norm of its last-axis rows (Interval.row_norm), and
its points are drawn inside box and ball; an output bound that carries a row norm is checked row by
row as well (within RTOL).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from nanlint.graph.analysis import analyze
from nanlint.graph.interval import Interval
from nanlint.graph.model import load_model

RTOL = 1e-5
SCALE_TOL = 1e-5
ATOL = 1e-37
SEEDS = (0, 1, 2)
POINTS = 12

REGIMES = ("straddle", "positive", "negative", "tiny", "huge", "narrow")


@dataclass
class Box:
    """A varying input: element-wise bounds drawn per seed."""

    shape: tuple
    dtype: int = TensorProto.FLOAT
    regimes: tuple = REGIMES
    low: float | None = None  # clip boxes into [low, high] (domains, index ranges)
    high: float | None = None
    integer: bool = False
    scale: float = 1.0  # magnitude of the draws (before regime scaling)
    # A fraction f in [0, 1]: the input also has rows of L2 norm <= r, with r from the largest norm of a
    # row's box point nearest 0 (f = 0: the ball just reaches every row's box) to the largest norm of a
    # row's magnitudes (f = 1: the ball holds the whole box). None: no row norm.
    row_norm: float | None = None
    # The bounds as stored: size 1 along the axes where they do not vary (Interval.compact), the given
    # size elsewhere. None: full, element-wise bounds.
    stored: tuple | None = None


@dataclass
class Case:
    op: str
    inputs: list  # Box | np.ndarray (a constant initializer) | None (omitted)
    attrs: dict = field(default_factory=dict)
    domain: str = ""
    opset: int = 17
    outputs: int = 1
    output_types: list | None = None  # elem types of outputs when not float (for the model signature)
    regimes: tuple | None = None  # restrict regimes for every box
    rtol: float = RTOL
    scale_tol: float = SCALE_TOL
    check_outputs: tuple | None = None  # which outputs to check (default all)
    name: str = ""
    reference: object = None  # feeds -> outputs, for ops onnxruntime's CPU provider lacks
    # A whole graph instead of the single node `op` (sub-graph patterns): its inputs are in0, in1, ...
    # (the Boxes of `inputs`, in order), every graph output is checked.
    graph: onnx.GraphProto | None = None

    def __str__(self):
        return self.name or self.op


def _draw_box(rng: np.random.Generator, box: Box, regime: str) -> tuple[np.ndarray, np.ndarray]:
    shape = box.shape if box.stored is None else box.stored
    scale = {"tiny": 1e-20, "huge": 1e15}.get(regime, 1.0)
    if box.integer:
        scale = 1.0 if regime in ("tiny", "huge") else scale
    scale *= box.scale
    center = rng.standard_normal(shape) * scale * 2
    radius = rng.uniform(0, 1, shape) * scale * 2
    if regime == "positive":
        center = np.abs(center) + radius
    elif regime == "negative":
        center = -np.abs(center) - radius
    elif regime == "narrow":
        radius = radius * 1e-3
    elif regime == "straddle":
        center = center * 0.3
    lo, hi = center - radius, center + radius
    if box.low is not None or box.high is not None:
        lo = np.clip(lo, box.low, box.high)
        hi = np.clip(hi, box.low, box.high)
    if box.integer:
        lo, hi = np.ceil(lo), np.floor(hi)
        hi = np.maximum(hi, lo)
    lo, hi = np.asarray(lo), np.asarray(hi)
    dtype = helper.tensor_dtype_to_np_dtype(box.dtype)
    if box.dtype == TensorProto.BOOL:
        a, b = rng.integers(0, 2, shape), rng.integers(0, 2, shape)
        return np.minimum(a, b).astype(np.float64), np.maximum(a, b).astype(np.float64)
    if np.dtype(dtype).kind in "iu":
        return lo.astype(np.float64), hi.astype(np.float64)
    return lo.astype(np.float32), hi.astype(np.float32)


def _points(rng, lo, hi, dtype, count: int) -> list[np.ndarray]:
    """Vertices and interior points of the box, in the input's dtype."""
    out = []
    for k in range(count):
        if k == 0:
            u = np.zeros(lo.shape)
        elif k == 1:
            u = np.ones(lo.shape)
        elif k < count // 2:
            u = rng.integers(0, 2, lo.shape).astype(np.float64)
        else:
            u = rng.uniform(0, 1, lo.shape)
        x = np.asarray(lo.astype(np.float64) + u * (hi.astype(np.float64) - lo.astype(np.float64)))
        np_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(dtype))
        if np_dtype.kind == "b":
            x = np.where(lo == hi, lo, rng.integers(0, 2, lo.shape)).astype(bool)
        elif np_dtype.kind in "iu":
            x = np.asarray(np.clip(np.rint(x), lo, hi)).astype(np_dtype)
        else:
            x = np.asarray(np.clip(x.astype(np_dtype), lo, hi)).astype(np_dtype)
        out.append(x)
    return out


def _full(lo, hi, box: Box):
    """Bounds stored once along some axes, broadcast to the input's shape (points vary everywhere)."""
    if box.stored is None:
        return lo, hi
    return np.broadcast_to(lo, box.shape), np.broadcast_to(hi, box.shape)


def _nearest_to_zero(lo, hi) -> np.ndarray:
    return np.clip(0.0, lo.astype(np.float64), hi.astype(np.float64))


def _input_interval(lo, hi, box: Box) -> Interval:
    if box.stored is not None:
        return Interval(lo, hi, shape=box.shape)
    if box.row_norm is None:
        return Interval(lo, hi)
    mag = np.maximum(np.abs(lo), np.abs(hi)).astype(np.float64)
    low = float(np.max(np.linalg.norm(_nearest_to_zero(lo, hi), axis=-1)))
    high = float(np.max(np.linalg.norm(mag, axis=-1)))
    return Interval(lo, hi, row_norm=low + box.row_norm * (high - low))


def _ball_points(rng, lo, hi, radius: float, dtype, count: int) -> list[np.ndarray]:
    """Points of the box pulled, row by row, towards the box point nearest 0 until their norm is <= radius
    (the largest such point on that segment: box vertices end on the sphere or stay vertices)."""
    nearest = _nearest_to_zero(lo, hi)
    out = []
    for p in _points(rng, lo, hi, dtype, count):
        d = p.astype(np.float64) - nearest
        a = np.sum(d * d, axis=-1)
        b = 2 * np.sum(nearest * d, axis=-1)
        c = np.sum(nearest * nearest, axis=-1) - radius * radius
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
        t = np.clip(np.where(a > 0, t * (1 - 1e-6), 1.0), 0.0, 1.0)
        q = nearest + t[..., None] * d
        np_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(dtype))
        out.append(np.clip(q.astype(np_dtype), lo, hi).astype(np_dtype))
    return out


def build_model(case: Case, path: str) -> onnx.ModelProto:
    if case.graph is not None:
        return _save_graph(case, case.graph, path)
    graph_inputs, inits, names = [], [], []
    for i, spec in enumerate(case.inputs):
        name = f"in{i}"
        if spec is None:
            names.append("")
        elif isinstance(spec, Box):
            graph_inputs.append(helper.make_tensor_value_info(name, spec.dtype, list(spec.shape)))
            names.append(name)
        else:
            inits.append(numpy_helper.from_array(np.asarray(spec), name))
            names.append(name)
    outs = [f"out{j}" for j in range(case.outputs)]
    node = helper.make_node(case.op, names, outs, domain=case.domain, **case.attrs)
    out_infos = [onnx.ValueInfoProto(name=o) for o in outs]
    graph = helper.make_graph([node], "case", graph_inputs, out_infos, inits)
    return _save_graph(case, graph, path)


def _save_graph(case: Case, graph: onnx.GraphProto, path: str) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", case.opset)]
    if case.domain:
        opsets.append(helper.make_opsetid(case.domain, 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = max(helper.find_min_ir_version_for(opsets, ignore_unknown=True), 7)
    onnx.save(model, path)
    return model


_SESSION_OPTIONS = ort.SessionOptions()
_SESSION_OPTIONS.log_severity_level = 4
_SESSION_OPTIONS.intra_op_num_threads = 1


def check(case: Case, seeds=SEEDS, points: int = POINTS) -> dict:
    """Assert soundness of the case's transfer function; returns the last bounds (for extra asserts)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "case.onnx")
        build_model(case, path)
        model = load_model(path)
        if case.reference is None:
            session = ort.InferenceSession(path, _SESSION_OPTIONS, providers=["CPUExecutionProvider"])
    outputs = model.outputs if case.graph is not None else list(model.nodes[0].output)
    last = {}
    checked = 0
    for seed in seeds:
        rng = np.random.default_rng(seed)
        regimes = case.regimes or REGIMES
        for regime in regimes:
            boxes = {}
            for i, spec in enumerate(case.inputs):
                if isinstance(spec, Box):
                    allowed = tuple(r for r in spec.regimes if r in regimes) or spec.regimes
                    boxes[f"in{i}"] = (_draw_box(rng, spec, regime if regime in allowed else allowed[0]), spec)
            bounds = {name: _input_interval(lo, hi, spec) for name, ((lo, hi), spec) in boxes.items()}
            analysis = analyze(model, {}, input_bounds=bounds, strict=True)
            assert not analysis.unsupported, f"{case}: unsupported: {analysis.reasons}"
            outs = [analysis.bounds[o] for o in outputs]
            samples = {
                name: _ball_points(rng, lo, hi, bounds[name].row_norm, spec.dtype, points)
                if spec.row_norm is not None
                else _points(rng, *_full(lo, hi, spec), spec.dtype, points)
                for name, ((lo, hi), spec) in boxes.items()
            }
            for k in range(points):
                feeds = {name: samples[name][k] for name in boxes}
                values = case.reference(feeds) if case.reference else session.run(None, feeds)
                for j, (value, iv) in enumerate(zip(values, outs)):
                    if case.check_outputs is not None and j not in case.check_outputs:
                        continue
                    _assert_inside(case, j, np.asarray(value), iv, regime, seed, feeds)
                    checked += 1
            last = {"bounds": outs, "inputs": bounds, "analysis": analysis}
    assert checked > 0
    return last


def _assert_inside(case, j, value, iv: Interval, regime, seed, feeds):
    value = value.astype(np.float64)
    if iv.shape is not None:
        assert tuple(value.shape) == tuple(iv.shape), f"{case} out{j}: shape {value.shape} != bound shape {iv.shape}"
    lo = np.broadcast_to(np.asarray(iv.lo, np.float64), value.shape)
    hi = np.broadcast_to(np.asarray(iv.hi, np.float64), value.shape)
    nan = np.isnan(value)
    if nan.any():
        assert iv.may_nan, f"{case} out{j} [{regime}, seed {seed}]: NaN output but may_nan is False"
    finite = np.concatenate([np.abs(lo[np.isfinite(lo)]).ravel(), np.abs(hi[np.isfinite(hi)]).ravel(), [0.0]])
    scale = finite.max()
    with np.errstate(invalid="ignore", over="ignore"):
        tol = (
            case.rtol * (np.where(np.isfinite(lo), np.abs(lo), 0) + np.where(np.isfinite(hi), np.abs(hi), 0))
            + case.scale_tol * scale
            + ATOL
        )
        below = (value < lo - tol) & ~nan
        above = (value > hi + tol) & ~nan
    bad = below | above
    if bad.any():
        idx = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{case} out{j} [{regime}, seed {seed}]: value {value[idx]!r} outside [{lo[idx]!r}, {hi[idx]!r}] "
            f"at {idx}; inputs at that point: "
            + ", ".join(f"{k}={np.asarray(v).reshape(-1)[:6]}" for k, v in feeds.items())
        )
    if iv.row_norm is not None and value.size:
        rows = value.reshape(-1, value.shape[-1])
        norms = np.linalg.norm(rows[~np.isnan(rows).any(axis=1)], axis=1)
        limit = iv.row_norm * (1 + case.rtol) + ATOL
        assert np.all(norms <= limit), (
            f"{case} out{j} [{regime}, seed {seed}]: a row of norm {norms.max()!r} above the row-norm bound "
            f"{iv.row_norm!r}"
        )


def check_model(
    path: str,
    ranges: dict,
    input_shapes: dict | None = None,
    seeds=SEEDS,
    points: int = POINTS,
    rtol: float = RTOL,
    scale_tol: float = SCALE_TOL,
    **analyze_kwargs,
):
    """Soundness of a whole model: every graph output, on points drawn from the input ranges."""
    model = load_model(path, input_shapes or {})
    analysis = analyze(model, ranges, strict=True, **analyze_kwargs)
    session = ort.InferenceSession(path, _SESSION_OPTIONS, providers=["CPUExecutionProvider"])
    case = Case(op=os.path.basename(path), inputs=[], rtol=rtol, scale_tol=scale_tol)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for k in range(points):
            feeds = {}
            for name in model.inputs:
                lo, hi = ranges.get(name, (-1.0, 1.0))
                shape = model.input_shapes[name]
                elem = model.dtypes[name]
                np_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem))
                u = rng.integers(0, 2, shape).astype(np.float64) if k < 2 else rng.uniform(0, 1, shape)
                x = lo + u * (hi - lo)
                feeds[name] = (np.rint(x) if np_dtype.kind in "iub" else x).astype(np_dtype)
            for name, value in zip(model.outputs, session.run(model.outputs, feeds)):
                _assert_inside(case, name, np.asarray(value), analysis.bounds[name], "model", seed, feeds)
    return analysis
