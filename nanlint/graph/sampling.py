"""Runtime evidence: onnxruntime runs the model with every intermediate float tensor exposed.

Static bounds over-approximate; samples under-approximate; the truth lies between. The
model is run in fp32 (the CPU provider hides fp16 overflow by computing in fp32, so fp16
overflow is judged by comparing fp32 values with the target dtype's range).

Big models: the model is run once per chunk of exposed tensors, so that the intermediates held at
once stay under CHUNK_BYTES; a chunk's session is released before the next one is made, and weights
left on disk (external data, or a large model's own file) are memory-mapped by onnxruntime itself
from the model's folder instead of copied (nor pre-packed, above PREPACK_LIMIT). The number of samples
adapts to a time budget: the first inference is timed, and when all the samples would take longer
than SAMPLING_BUDGET seconds (chunks included), fewer are run (the box's corners first), and the
run says how many and why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx

FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
CHUNK_BYTES = 512 * 2**20  # intermediates held at once per run; more tensors -> more runs
SAMPLING_BUDGET = 120.0  # seconds the samples may take by default (measured from the first inference)
MIN_SAMPLES = 2  # the box's two corners: run whatever the budget says
PREPACK_LIMIT = 64 * 2**20  # bytes of weights above which onnxruntime must not keep a pre-packed copy
# onnxruntime reads external initializers of a model given as bytes from this folder (memory-mapped)
_EXTERNAL_FOLDER = "session.model_external_initializers_file_folder_path"


class SamplingError(Exception):
    """onnxruntime could not run the model; one-line message."""


class FeedError(Exception):
    """Calibration data (--inputs) that does not fit the model: a usage error, one-line message."""


@dataclass
class TensorStats:
    """What was observed of one tensor over all samples."""

    min: float = math.inf
    max: float = -math.inf
    abs_max: float = 0.0
    abs_min: float = math.inf
    nan: int = 0
    inf: int = 0
    count: int = 0
    # Per sample, in feed order: max |x| (inf when any value is not finite) and whether it held a NaN,
    # so that "where does it start" is judged input by input, not on the union of all samples.
    sample_abs_max: list[float] = field(default_factory=list)
    sample_nan: list[bool] = field(default_factory=list)
    sample_peak: list[float] = field(default_factory=list)  # max |x| of the finite values (0 when none)
    shape: tuple[int, ...] | None = None  # as onnxruntime computed it (None when it varied between samples)

    def update(self, values: np.ndarray) -> None:
        """Fold in one sample's tensor. A finite tensor (the common case) costs two reductions, three when
        its range straddles 0; only a tensor holding NaN or Inf is scanned element by element."""
        values = np.asarray(values)
        self.shape = values.shape if not self.sample_nan or self.shape == values.shape else None
        if values.size == 0:
            self.sample_abs_max.append(0.0)
            self.sample_nan.append(False)
            self.sample_peak.append(0.0)
            return
        low, high = float(values.min()), float(values.max())  # NaN anywhere makes them NaN
        if math.isfinite(low) and math.isfinite(high):
            self.count += int(values.size)
            self.sample_nan.append(False)
            self.sample_abs_max.append(max(-low, high))
            self.sample_peak.append(max(-low, high))
            closest = float(np.abs(values).min()) if low < 0 < high else min(abs(low), abs(high))
            self._fold(low, high, closest)
            return
        self._update_nonfinite(values)

    def _update_nonfinite(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        nans = int(np.isnan(values).sum())
        self.nan += nans
        self.inf += int(values.size - finite.sum()) - nans
        self.count += int(values.size)
        self.sample_nan.append(nans > 0)
        self.sample_abs_max.append(math.inf)
        kept = values[finite]
        self.sample_peak.append(float(np.abs(kept).max()) if kept.size else 0.0)
        if kept.size:
            magnitudes = np.abs(kept)
            self._fold(float(kept.min()), float(kept.max()), float(magnitudes.min()))

    def _fold(self, low: float, high: float, closest: float) -> None:
        self.min, self.max = min(self.min, low), max(self.max, high)
        self.abs_max = max(self.abs_max, -low, high)
        self.abs_min = min(self.abs_min, closest)

    @property
    def nonfinite(self) -> int:
        return self.nan + self.inf

    def extremes(self) -> np.ndarray:
        """[min, max, min |x|]: enough for any hazard score (max |x|, min, min |x|) without the samples."""
        return np.array([self.min, self.max, self.abs_min]) if self.observed else np.array([])

    @property
    def observed(self) -> tuple[float, float] | None:
        return (self.min, self.max) if self.count and self.min <= self.max else None


@dataclass
class SampleRun:
    stats: dict[str, TensorStats] = field(default_factory=dict)
    samples: int = 0
    provider: str = "CPUExecutionProvider"
    requested: int = 0  # samples asked for (more than `samples` when the time budget cut them)
    note: str | None = None  # why fewer samples were run


@dataclass(frozen=True)
class Weights:
    """How onnxruntime finds a model's initializers stored outside its proto: the folder external data
    is relative to (onnxruntime maps the files itself), and the arrays, for versions that cannot."""

    folder: str | None = None
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays.values())


def available_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def exposable_tensors(model: onnx.ModelProto) -> list[str]:
    """Node outputs of float type in the main graph (and graph inputs), in topological order."""
    types = {
        vi.name: vi.type.tensor_type.elem_type
        for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)
    }
    names = [vi.name for vi in model.graph.input if types.get(vi.name) in FLOAT_TYPES]
    for node in model.graph.node:
        names.extend(out for out in node.output if out and types.get(out, onnx.TensorProto.FLOAT) in FLOAT_TYPES)
    return list(dict.fromkeys(names))


def _with_outputs(model: onnx.ModelProto, tensors: list[str]) -> onnx.ModelProto:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    known = {vi.name: vi for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)}
    del exposed.graph.output[:]  # exactly this chunk: the model's own outputs come in their chunk
    exposed.graph.output.extend(
        known[name] if name in known else onnx.helper.make_empty_tensor_value_info(name) for name in tensors
    )
    return exposed


def _chunks(tensors: list[str], sizes: Mapping[str, int]) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    used = 0
    for name in tensors:
        size = sizes.get(name, 0) * 4
        if chunks[-1] and used + size > CHUNK_BYTES:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += size
    return chunks


def _session(model: onnx.ModelProto, provider: str, weights: Weights | Mapping[str, np.ndarray] | None = None):
    """A session keeping every tensor. `weights`: where the model's external initializers are (see
    Model.runnable): mapped by onnxruntime from their folder, else handed over as arrays."""
    import onnxruntime

    if weights is not None and not isinstance(weights, Weights):
        weights = Weights(None, weights)
    data = model.SerializeToString()
    attempts = []
    if weights is not None and weights.folder:
        attempts.append(lambda options: options.add_session_config_entry(_EXTERNAL_FOLDER, weights.folder))
    if weights is not None and weights.arrays:
        arrays = weights.arrays
        attempts.append(
            lambda options: options.add_external_initializers(
                list(arrays), [onnxruntime.OrtValue.ortvalue_from_numpy(arrays[n]) for n in arrays]
            )
        )
    error = None
    for attach in attempts or [lambda options: None]:
        options = _options(weights)
        attach(options)
        try:
            return onnxruntime.InferenceSession(data, options, providers=[provider])
        except Exception as exc:  # an onnxruntime without the folder option: hand the arrays over instead
            error = error or exc
    raise SamplingError(f"onnxruntime cannot load the model: {str(error).splitlines()[0]}") from None


def _options(weights: Weights | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    options.log_severity_level = 4  # a load failure is raised (SamplingError), not logged to stderr as well
    if weights is not None and weights.nbytes > PREPACK_LIMIT:
        options.add_session_config_entry("session.disable_prepacking", "1")  # no second copy of the weights
    return options


def run_samples(
    model: onnx.ModelProto,
    feeds: Iterable[Mapping[str, np.ndarray]],
    sizes: Mapping[str, int] | None = None,
    provider: str = "CPUExecutionProvider",
    progress=None,
    weights: Weights | Mapping[str, np.ndarray] | None = None,
    budget: float | None = None,
) -> SampleRun:
    """Observed statistics of every exposable float tensor over the given input feeds (`weights`: see
    _session), within `budget` seconds if given (fewer feeds, the first ones, when the first inference
    says they would not fit)."""
    feeds = list(feeds)
    tensors = exposable_tensors(model)
    chunks = _chunks(tensors, sizes or {})
    result = SampleRun(
        stats={name: TensorStats() for name in tensors}, samples=len(feeds), provider=provider, requested=len(feeds)
    )
    session = None
    for index, chunk in enumerate(chunks):
        session = None  # the previous chunk's session goes before the next one is made
        session = _session(_with_outputs(model, chunk), provider, weights)
        outputs = [o.name for o in session.get_outputs()]
        number = 0
        while number < len(feeds):
            started = time.perf_counter()
            _observe(session, outputs, feeds[number], result)
            if index == 0 and number == 0 and budget is not None:
                feeds = _within_budget(feeds, time.perf_counter() - started, len(chunks), budget, result)
            number += 1
            if progress is not None:
                progress(1)
    return result


def _observe(session, outputs: list[str], feed: Mapping[str, np.ndarray], result: SampleRun) -> None:
    try:
        values = session.run(outputs, dict(feed))
    except Exception as exc:
        raise SamplingError(f"onnxruntime failed to run the model: {str(exc).splitlines()[0]}") from None
    for name, value in zip(outputs, values):
        if name in result.stats and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            result.stats[name].update(value)


def _within_budget(feeds: list, seconds: float, chunks: int, budget: float, result: SampleRun) -> list:
    """The feeds that fit the budget, judged from one inference (`seconds`) times the chunk count."""
    affordable = int(budget / max(seconds * chunks, 1e-9))
    keep = min(len(feeds), max(MIN_SAMPLES, affordable))
    if keep < len(feeds):
        result.samples = keep
        runs = f"{chunks} runs per sample (chunks of exposed tensors)" if chunks > 1 else "one run per sample"
        result.note = (
            f"{keep} of {len(feeds)} samples: one inference took {seconds:.3g} s, {runs}, "
            f"and the samples get {budget:g} s"
        )
    return feeds[:keep]


# --- inputs ---------------------------------------------------------------------------------------

NUMPY_TYPES: dict[int, type] = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
    onnx.TensorProto.BOOL: np.bool_,
    onnx.TensorProto.UINT8: np.uint8,
    onnx.TensorProto.INT8: np.int8,
}


@dataclass(frozen=True)
class InputSpec:
    name: str
    elem_type: int
    shape: tuple[int, ...]
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        dtype = NUMPY_TYPES.get(self.elem_type)
        if dtype is None:
            raise SamplingError(
                f"input {self.name!r} has an element type nanlint cannot sample "
                f"({onnx.TensorProto.DataType.Name(self.elem_type)})"
            )
        low, high = self.finite_range()
        if np.issubdtype(dtype, np.floating):
            return rng.uniform(low, high, self.shape).astype(dtype)
        if dtype is np.bool_:
            return rng.integers(0, 2, self.shape).astype(np.bool_)
        return rng.integers(math.ceil(low), math.floor(high) + 1, self.shape, dtype=np.int64).astype(dtype)

    def finite_range(self) -> tuple[float, float]:
        """The declared range inside the dtype's finite values (an infinite end is the dtype's extreme)."""
        dtype = np.dtype(NUMPY_TYPES.get(self.elem_type, np.float32))
        if dtype.kind == "f":
            extreme = float(np.finfo(dtype).max)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)  # type: ignore[type-var]
            return float(max(self.low, info.min, -(2.0**62))), float(min(self.high, info.max, 2.0**62))
        else:
            extreme = 1.0
        return max(self.low, -extreme), min(self.high, extreme)

    def corners(self) -> list[np.ndarray]:
        """The box's extreme points (all-low, all-high): cheap samples that often hit the worst case."""
        dtype = NUMPY_TYPES.get(self.elem_type, np.float32)
        low, high = self.finite_range()
        return [np.full(self.shape, low).astype(dtype), np.full(self.shape, high).astype(dtype)]


def draw_feeds(specs: list[InputSpec], count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """`count` feeds: the two corners of the input box first, then uniform random points."""
    rng = np.random.default_rng(seed)
    feeds = []
    if count >= 2:
        lows, highs = zip(*(spec.corners() for spec in specs)) if specs else ((), ())
        feeds += [dict(zip((s.name for s in specs), lows)), dict(zip((s.name for s in specs), highs))]
    while len(feeds) < count:
        feeds.append({spec.name: spec.draw(rng) for spec in specs})
    return feeds


def load_feeds(path: str, specs: list[InputSpec]) -> list[dict[str, np.ndarray]]:
    """Calibration data: an .npz with one array per input name, first axis = samples, each sample of the
    input's shape; raises FeedError when it does not fit the model."""
    names = [spec.name for spec in specs]
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [n for n in names if n not in data.files]
            if missing:
                raise FeedError(
                    f"{path}: no array for input(s) {', '.join(missing)} (has {', '.join(data.files) or 'none'})"
                )
            arrays = {spec.name: _fitted(path, spec, data[spec.name]) for spec in specs}
    except (OSError, ValueError) as exc:
        raise FeedError(f"{path}: cannot read calibration data: {exc}") from None
    counts = {len(a) for a in arrays.values()}
    if len(counts) > 1:
        raise FeedError(f"{path}: inputs have different numbers of samples ({sorted(counts)})")
    total = counts.pop() if counts else 0
    if total == 0 and names:
        raise FeedError(f"{path}: no samples (the first axis of every array is the sample axis)")
    return [{n: arrays[n][i] for n in names} for i in range(total)]


def _fitted(path: str, spec: InputSpec, array: np.ndarray) -> np.ndarray:
    """The samples of one input in its dtype; FeedError when their shape or kind does not fit."""
    if array.ndim == 0 or tuple(array.shape[1:]) != tuple(spec.shape):
        got = "a scalar" if array.ndim == 0 else f"samples of shape {list(array.shape[1:])}"
        raise FeedError(
            f"{path}: array '{spec.name}' holds {got}, the model's input '{spec.name}' has shape {list(spec.shape)} "
            "(the first axis is the sample axis; give other dynamic dimensions with --input-shape)"
        )
    dtype = np.dtype(NUMPY_TYPES.get(spec.elem_type, np.float32))
    fits = array.dtype == dtype or (array.dtype.kind in "fiub" and (dtype.kind == "f" or array.dtype.kind != "f"))
    if not fits:
        raise FeedError(f"{path}: array '{spec.name}' is {array.dtype}, the model's input '{spec.name}' is {dtype}")
    return array.astype(dtype, copy=False)
