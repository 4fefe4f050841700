"""Runtime evidence: onnxruntime runs the model with every intermediate float tensor exposed.

Static bounds over-approximate; samples under-approximate; the truth lies between. The
model is run in fp32 (the CPU provider hides fp16 overflow by computing in fp32, so fp16
overflow is judged by comparing fp32 values with the target dtype's range). Large models
are run once per chunk of exposed tensors, so that the intermediates held at once stay
under a memory budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx

FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
CHUNK_BYTES = 512 * 2**20  # intermediates held at once per run; more tensors -> more runs


class SamplingError(Exception):
    """onnxruntime could not run the model; one-line message."""


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

    def update(self, values: np.ndarray) -> None:
        """Fold in one sample's tensor. A finite tensor (the common case) costs two reductions, three when
        its range straddles 0; only a tensor holding NaN or Inf is scanned element by element."""
        values = np.asarray(values)
        if values.size == 0:
            self.sample_abs_max.append(0.0)
            self.sample_nan.append(False)
            return
        low, high = float(values.min()), float(values.max())  # NaN anywhere makes them NaN
        if math.isfinite(low) and math.isfinite(high):
            self.count += int(values.size)
            self.sample_nan.append(False)
            self.sample_abs_max.append(max(-low, high))
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


def _session(model: onnx.ModelProto, provider: str, weights: Mapping[str, np.ndarray] | None = None):
    """A session keeping every tensor; `weights`: arrays of the model's external initializers (see
    Model.runnable)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every tensor
    options.log_severity_level = 4  # a load failure is raised (SamplingError), not logged to stderr as well
    if weights:
        names = list(weights)
        options.add_external_initializers(names, [onnxruntime.OrtValue.ortvalue_from_numpy(weights[n]) for n in names])
    try:
        return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=[provider])
    except Exception as exc:
        raise SamplingError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}") from None


def run_samples(
    model: onnx.ModelProto,
    feeds: Iterable[Mapping[str, np.ndarray]],
    sizes: Mapping[str, int] | None = None,
    provider: str = "CPUExecutionProvider",
    progress=None,
    weights: Mapping[str, np.ndarray] | None = None,
) -> SampleRun:
    """Observed statistics of every exposable float tensor over the given input feeds (`weights`: the
    arrays of external initializers, see Model.runnable)."""
    feeds = list(feeds)
    tensors = exposable_tensors(model)
    result = SampleRun(stats={name: TensorStats() for name in tensors}, samples=len(feeds), provider=provider)
    for chunk in _chunks(tensors, sizes or {}):
        session = _session(_with_outputs(model, chunk), provider, weights)
        outputs = [o.name for o in session.get_outputs()]
        for feed in feeds:
            try:
                values = session.run(outputs, dict(feed))
            except Exception as exc:
                raise SamplingError(f"onnxruntime failed to run the model: {str(exc).splitlines()[0]}") from None
            for name, value in zip(outputs, values):
                if name in result.stats and isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    result.stats[name].update(value)
            if progress is not None:
                progress(1)
    return result


# --- inputs ---------------------------------------------------------------------------------------

NUMPY_TYPES = {
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
        if np.issubdtype(dtype, np.floating):
            return rng.uniform(self.low, self.high, self.shape).astype(dtype)
        if dtype is np.bool_:
            return rng.integers(0, 2, self.shape).astype(np.bool_)
        return rng.integers(math.ceil(self.low), math.floor(self.high) + 1, self.shape).astype(dtype)

    def corners(self) -> list[np.ndarray]:
        """The box's extreme points (all-low, all-high): cheap samples that often hit the worst case."""
        dtype = NUMPY_TYPES.get(self.elem_type, np.float32)
        return [np.full(self.shape, self.low).astype(dtype), np.full(self.shape, self.high).astype(dtype)]


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


def load_feeds(path: str, names: list[str]) -> list[dict[str, np.ndarray]]:
    """Calibration data: an .npz with one array per input name, first axis = samples."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [n for n in names if n not in data.files]
            if missing:
                raise SamplingError(
                    f"{path}: no array for input(s) {', '.join(missing)} (has {', '.join(data.files) or 'none'})"
                )
            arrays = {n: data[n] for n in names}
    except (OSError, ValueError) as exc:
        raise SamplingError(f"{path}: cannot read calibration data: {exc}") from None
    counts = {len(a) for a in arrays.values()}
    if len(counts) > 1:
        raise SamplingError(f"{path}: inputs have different numbers of samples ({sorted(counts)})")
    total = counts.pop() if counts else 0
    return [{n: arrays[n][i] for n in names} for i in range(total)]
