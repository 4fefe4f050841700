"""Fixes for reduced precision: which nodes to keep in fp32, and a mixed-precision model that does.

Keeping only the node that overflows is not enough: the converter casts its fp32 output
back to fp16 for the next node, and the cast overflows. So a tensor out of range keeps
both its producer and its consumers in fp32; a constant out of range keeps its consumers
(and its Constant node) in fp32, so the converter leaves it in fp32 instead of clamping it.
An overflow root keeps its cascade (the tensors downstream beyond the range because of it)
in fp32 too. The conversion itself is onnxruntime's own float16 converter.

The written model is the one a user ships: its inputs and outputs are the original model's
(symbolic dimensions intact, not the shapes the analysis bound them to), and it is run before
it is written -- see `validate`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx

from nanlint.findings import Finding, GraphLocation, Severity

# Codes whose fix is "compute this part in fp32".
PRECISION_CODES = frozenset({"NAN504", "NAN506", "NAN601", "NAN602", "NAN701", "NAN702"})
FP16_MAX = 65504.0
FP16_NORMAL = 2.0**-14  # below this, fp16 keeps fewer digits (subnormals), then 0
FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16})
ROUNDS = 3  # conversions at most: each further one also blocks what the run of the previous one saw overflow

Feeds = list[dict[str, np.ndarray]]


class MixedPrecisionError(Exception):
    pass


# --- what to keep in fp32 ------------------------------------------------------------------------


@dataclass
class BlockList:
    nodes: list[str] = field(default_factory=list)  # node names, as convert_float_to_float16 takes them
    tensors: list[str] = field(default_factory=list)  # tensors whose producer has no name

    def to_json(self) -> str:
        return json.dumps({"node_block_list": self.nodes, "tensor_block_list": self.tensors}, indent=2) + "\n"


def _tensors_to_keep(findings: list[Finding], target: str) -> set[str]:
    """The tensors of `target`'s precision findings, each with its cascade."""
    keep: set[str] = set()
    for finding in findings:
        loc = finding.location
        if (
            isinstance(loc, GraphLocation)
            and loc.target == target
            and finding.code in PRECISION_CODES
            and finding.severity >= Severity.warning
            and loc.tensor
        ):
            keep.add(loc.tensor)
            if finding.evidence is not None:
                keep.update(finding.evidence.cascade)
    return keep


def block_list(model: onnx.ModelProto, findings: list[Finding], target: str, extra_tensors=()) -> BlockList:
    """Producers and consumers of every out-of-range tensor of `target` (findings' tensors and their
    cascades, and `extra_tensors`, e.g. every tensor the samples saw beyond the range), in graph order."""
    keep = _tensors_to_keep(findings, target) | set(extra_tensors)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    types = tensor_types(model)
    result = BlockList()
    for node in model.graph.node:
        touches = any(t in keep for t in node.output) or any(t in keep for t in node.input)
        if not touches and not fp32_only(node, opsets, types):
            continue
        if node.name:
            result.nodes.append(node.name)
        else:
            result.tensors.extend(t for t in node.output if t)
    result.nodes = list(dict.fromkeys(result.nodes))
    result.tensors = list(dict.fromkeys(result.tensors))
    return result


# Inputs onnxruntime's converter keeps in float32 itself (its ALWAYS_FLOAT_INPUTS): Resize's scales.
KEPT_FLOAT_INPUTS = {"Resize": (2,), "GroupNorm": (1, 2), "SkipGroupNorm": (1, 2)}


def fp32_only(node: onnx.NodeProto, opsets: Mapping[str, int], types: Mapping[str, int]) -> bool:
    """Whether a node reads a float32 tensor on an input whose op takes no float16 there
    (DynamicQuantizeLinear, DequantizeLinear's scale before opset 19, the ai.onnx.ml ops), or is an op
    of another domain whose types are unknown here (com.microsoft's DynamicQuantizeLSTM) reading
    float32: converted to fp16, onnxruntime would refuse to load the model. Inputs of unknown type count
    as float32 (ddddocr's DynamicQuantizeLinear reads the output of a com.microsoft LSTM)."""
    # a tensor of unknown type (after an op shape inference does not know) may be float32 too
    floats = [
        i
        for i, name in enumerate(node.input)
        if name and types.get(name, onnx.TensorProto.FLOAT) == onnx.TensorProto.FLOAT
    ]
    floats = [i for i in floats if i not in KEPT_FLOAT_INPUTS.get(node.op_type, ())]
    if not floats:
        return False
    domain = node.domain or "ai.onnx"
    try:
        schema = onnx.defs.get_schema(node.op_type, opsets.get(domain, 1), "" if domain == "ai.onnx" else domain)
    except onnx.defs.SchemaError:
        return True
    if not schema.inputs:
        return False
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    for i in floats:
        formal = schema.inputs[min(i, len(schema.inputs) - 1)]  # a variadic last input repeats
        if "tensor(float16)" not in allowed.get(formal.type_str, {formal.type_str}):
            return True
    return False


def name_unnamed_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose unnamed nodes are named after their first output, so that they can be blocked."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    taken = {n.name for n in named.graph.node if n.name}
    for index, node in enumerate(named.graph.node):
        if not node.name:
            base = f"nanlint/{node.op_type}/{node.output[0] if node.output else index}"
            node.name = base if base not in taken else f"{base}#{index}"
            taken.add(node.name)
    return named


# --- the model's own interface ---------------------------------------------------------------------


@dataclass
class Interface:
    """The graph inputs (initializers excluded) and outputs of the model as its author wrote them."""

    inputs: list[onnx.ValueInfoProto]
    outputs: list[onnx.ValueInfoProto]

    @classmethod
    def of(cls, proto: onnx.ModelProto) -> Interface:
        weights = {t.name for t in proto.graph.initializer}
        inputs = [vi for vi in proto.graph.input if vi.name not in weights]
        return cls([_copy(vi) for vi in inputs], [_copy(vi) for vi in proto.graph.output])

    @classmethod
    def read(cls, path: str) -> Interface:
        try:
            return cls.of(onnx.load(path, load_external_data=False))
        except Exception as exc:
            raise MixedPrecisionError(f"cannot re-read the model's inputs and outputs: {exc}") from None

    def symbolic_axes(self) -> dict[str, list[int]]:
        """Per input, the axes without a fixed size (a dim_param, or no size at all)."""
        axes = {}
        for vi in self.inputs:
            dims = vi.type.tensor_type.shape.dim if vi.type.tensor_type.HasField("shape") else []
            free = [axis for axis, dim in enumerate(dims) if not dim.HasField("dim_value")]
            if free:
                axes[vi.name] = free
        return axes


def _copy(value_info: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value_info)
    return copy


def with_interface(proto: onnx.ModelProto, interface: Interface) -> onnx.ModelProto:
    """A copy of the analysed model with the original inputs and outputs, and no value_info: the
    analysis bound symbolic dimensions to concrete sizes, which must not reach the written model."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    graph = model.graph
    weights = {t.name for t in graph.initializer}
    kept_inputs = [_copy(vi) for vi in graph.input if vi.name in weights]
    del graph.input[:]
    graph.input.extend([*interface.inputs, *kept_inputs])
    del graph.output[:]
    graph.output.extend(interface.outputs)
    del graph.value_info[:]
    return model


def other_shapes(interface: Interface, bound: Mapping[str, Sequence[int]]) -> list[dict[str, tuple[int, ...]]]:
    """Input shapes to try besides the analysed ones, the cheaper first: every symbolic dimension doubled,
    or halved (3 for a dimension bound to 1) -- the same rule for every dimension, so that dimensions
    that must agree (a batch, a sequence length shared by two inputs) still agree."""
    axes = interface.symbolic_axes()
    if not axes:
        return []

    def resized(rule: Callable[[int], int]) -> dict[str, tuple[int, ...]]:
        return {
            name: tuple(rule(d) if axis in axes.get(name, ()) else d for axis, d in enumerate(shape))
            for name, shape in bound.items()
        }

    doubled = resized(lambda d: 2 * max(d, 1))
    smaller = resized(lambda d: d // 2 if d > 1 else 3)
    candidates = [shapes for shapes in (doubled, smaller) if shapes != dict(bound)]
    return sorted(candidates, key=lambda shapes: sum(math.prod(shape) for shape in shapes.values()))


# --- conversion ------------------------------------------------------------------------------------


def convert(model: onnx.ModelProto, blocked: BlockList) -> onnx.ModelProto:
    """fp16 with the blocked nodes kept in fp32 (inputs and outputs keep their types)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    try:
        mixed = convert_float_to_float16(
            model, keep_io_types=True, node_block_list=blocked.nodes, disable_shape_infer=False
        )
    except Exception as exc:
        raise MixedPrecisionError(f"onnxruntime's float16 converter failed: {str(exc).splitlines()[0]}") from None
    return in_topological_order(drop_round_trip_casts(with_declared_io(mixed, model)))


def with_declared_io(mixed: onnx.ModelProto, model: onnx.ModelProto) -> onnx.ModelProto:
    """The input and output shapes as `model` declares them: the converter's shape inference writes the
    sizes it infers over symbolic dimensions (their element types are the converter's business)."""
    declared = {vi.name: vi.type for vi in (*model.graph.input, *model.graph.output)}
    for vi in (*mixed.graph.input, *mixed.graph.output):
        original = declared.get(vi.name)
        if original is None or not original.tensor_type.HasField("shape") or not vi.type.HasField("tensor_type"):
            continue  # no declared shape (an empty one would mean a scalar): what the converter wrote stays
        vi.type.tensor_type.shape.CopyFrom(original.tensor_type.shape)
    return mixed


def in_topological_order(model: onnx.ModelProto) -> onnx.ModelProto:
    """The converter appends the Casts it inserts; onnx.checker and other runtimes than onnxruntime
    require producers before consumers."""
    from nanlint.graph.model import ModelError, topological_order

    try:
        order = topological_order(model.graph)
    except ModelError as exc:
        raise MixedPrecisionError(f"the converted model is not a valid graph: {exc}") from None
    ordered = [_copy_node(node) for node in order]
    del model.graph.node[:]
    model.graph.node.extend(ordered)
    return model


def _copy_node(node: onnx.NodeProto) -> onnx.NodeProto:
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    return copy


def drop_round_trip_casts(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove fp32 -> fp16 -> fp32 Cast pairs between two fp32 nodes.

    onnxruntime's converter casts every blocked node's output to fp16 and back, even when
    the next node is blocked too; the round trip would overflow exactly where the block
    list was meant to prevent it. A Cast to fp16 whose input is not fp32 (the model's own
    Cast to float, which the converter turned into one to fp16 in an fp16 region) starts
    no round trip: without the pair, the next node would read a value of another type.
    """
    graph = model.graph
    types = tensor_types(model)
    casts = {n.output[0]: n for n in graph.node if n.op_type == "Cast"}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    removed: set[int] = set()
    for half, down in casts.items():
        if _cast_to(down) != onnx.TensorProto.FLOAT16 or half in outputs:
            continue
        if types.get(down.input[0], onnx.TensorProto.FLOAT) != onnx.TensorProto.FLOAT:
            continue
        users = consumers.get(half, [])
        if not users or not all(u.op_type == "Cast" and _cast_to(u) == onnx.TensorProto.FLOAT for u in users):
            continue
        source = down.input[0]
        if any(up.output[0] in outputs for up in users) and (len(users) > 1 or source in outputs):
            continue  # the graph output keeps its name: only a single round trip can be renamed away
        for up in users:
            if up.output[0] in outputs:  # the producer writes the graph output itself
                _rename(graph, source, up.output[0])
                source = up.output[0]
            for node in consumers.get(up.output[0], []):
                node.input[:] = [source if name == up.output[0] else name for name in node.input]
            removed.add(id(up))
        removed.add(id(down))
    kept = [n for n in graph.node if id(n) not in removed]
    del graph.node[:]
    graph.node.extend(kept)
    produced = {name for node in kept for name in node.output}
    infos = [vi for vi in graph.value_info if vi.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    return model


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]


def _cast_to(node: onnx.NodeProto) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None)


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor of a (converted) model whose type is known."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        inferred = model
    graph = inferred.graph
    types = {t.name: t.data_type for t in graph.initializer}
    for vi in (*graph.input, *graph.value_info, *graph.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    for node in graph.node:
        if node.op_type == "Cast":
            types[node.output[0]] = _cast_to(node) or types.get(node.output[0], 0)
    return types


def fp16_tensors(model: onnx.ModelProto) -> set[str]:
    """Tensors stored in fp16 in a (converted) model, from its type information."""
    return {name for name, kind in tensor_types(model).items() if kind == onnx.TensorProto.FLOAT16}


def nodes_in_fp32(model: onnx.ModelProto, types: Mapping[str, int]) -> tuple[int, int]:
    """(nodes keeping a float32 output, nodes with a float output), Cast and Constant nodes aside."""
    kept = total = 0
    for node in model.graph.node:
        if node.op_type in ("Cast", "Constant"):
            continue
        floats = [types[o] for o in node.output if o and types.get(o) in FLOAT_TYPES]
        total += bool(floats)
        kept += onnx.TensorProto.FLOAT in floats
    return kept, total


# --- running the written model ---------------------------------------------------------------------


@dataclass
class FeedSet:
    """Inputs the written model is run on: the samples, or inputs of another shape."""

    label: str  # "16 sampled inputs of shape x[1, 4]"
    feeds: Feeds
    scale: float = 1.0  # tensor sizes relative to the analysed shapes (for chunking the run)
    probed: int = 4  # inputs run with every tensor exposed even when their outputs are fine

    @classmethod
    def of(cls, what: str, feeds: Feeds, **kwargs) -> FeedSet:
        shapes = " ".join(f"{name}{list(value.shape)}" for name, value in feeds[0].items()) if feeds else ""
        return cls(f"{len(feeds)} {what} of shape {shapes}".rstrip(), feeds, **kwargs)


@dataclass
class Validation:
    runs: int = 0
    checked: list[str] = field(default_factory=list)  # FeedSet labels
    max_relative_error: float = 0.0
    nonfinite_outputs: list[str] = field(default_factory=list)  # "logits on 3 of the 16 sampled inputs ..."
    overflowing: list[str] = field(default_factory=list)  # tensors whose fp16 copy is where NaN/Inf start
    starved: list[str] = field(default_factory=list)  # tensors whose fp16 copy lost the value an fp32 node needs


FP16 = onnx.TensorProto.FLOAT16
STORED = "::fp16"  # suffix of a tensor's fp32 copy as the mixed model stores it (see storage_emulation)
HALF = "::half"  # suffix of the fp16 value in between
RAW = "::fp32"  # suffix of a graph output's value before it is stored in fp16
LOAD = "nanlint/load/"  # the Cast that makes a value's fp16 copy, named after the value


def storage_emulation(fp32: onnx.ModelProto, mixed: onnx.ModelProto) -> onnx.ModelProto:
    """The fp32 model in which every value the mixed model reads in fp16 goes through a Cast to fp16
    and back (or, for a constant, is the converter's own fp16 value): fp32 arithmetic, fp16 storage,
    as a GPU runs the mixed model. onnxruntime's CPU provider computes runs of fp16 nodes in fp32 and
    never stores their values in fp16, so running the mixed model itself hides its overflow."""
    mixed_types, fp32_types = tensor_types(mixed), tensor_types(fp32)
    twins = {node.name: node for node in mixed.graph.node if node.name}
    constants = _constants(mixed)
    model = onnx.ModelProto()
    model.CopyFrom(fp32)
    graph = model.graph
    stored: dict[str, str] = {}

    def store(name: str, twin_name: str) -> str:
        if name not in stored:
            stored[name] = name + STORED
            if twin_name in constants:  # the converter's fp16 value (clipped to the range, not inf)
                value = np.asarray(constants[twin_name], np.float32)
                graph.initializer.append(onnx.numpy_helper.from_array(value, stored[name]))
            else:
                graph.node.extend(_round_trip(name, stored[name]))
        return stored[name]

    own = {node.name for node in graph.node}
    casts = {o: n for n in mixed.graph.node if n.op_type == "Cast" and n.name not in own for o in n.output}

    def held_in_fp16(twin_name: str) -> bool:  # through the Casts the converter inserted
        while mixed_types.get(twin_name) != FP16 and twin_name in casts:
            twin_name = casts[twin_name].input[0]
        return mixed_types.get(twin_name) == FP16

    for node in list(graph.node):
        twin = twins.get(node.name)
        if twin is None or twin.op_type != node.op_type:
            continue
        for position, (name, twin_name) in enumerate(zip(node.input, twin.input)):
            if name and fp32_types.get(name) == onnx.TensorProto.FLOAT and held_in_fp16(twin_name):
                node.input[position] = store(name, twin_name)
    _store_outputs(graph, mixed)
    return in_topological_order(model)


def _round_trip(name: str, stored: str) -> list[onnx.NodeProto]:
    half = onnx.helper.make_node("Cast", [name], [name + HALF], to=FP16, name=f"nanlint/store/{name}")
    back = onnx.helper.make_node("Cast", [name + HALF], [stored], to=onnx.TensorProto.FLOAT, name=LOAD + name)
    return [half, back]


def _store_outputs(graph: onnx.GraphProto, mixed: onnx.ModelProto) -> None:
    """Graph outputs the mixed model computes in fp16 (and casts to fp32 at the end) are rounded too."""
    casts = {o: node for node in mixed.graph.node if node.op_type == "Cast" for o in node.output}
    types = tensor_types(mixed)
    for output in graph.output:
        cast = casts.get(output.name)
        if cast is None or types.get(cast.input[0]) != FP16:
            continue
        raw = output.name + RAW
        _rename(graph, output.name, raw)
        graph.node.extend(_round_trip(raw, output.name))


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """fp16 initializers and Constant outputs of the mixed model, as the converter wrote them."""
    values = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == FP16}
    for node in model.graph.node:
        if node.op_type == "Constant":
            attribute = next((a for a in node.attribute if a.name == "value"), None)
            if attribute is not None and attribute.t.data_type == FP16:
                values[node.output[0]] = onnx.numpy_helper.to_array(attribute.t)
    return values


@dataclass
class Run:
    outputs: list[list[np.ndarray]]  # per feed, the graph outputs in order
    nonfinite: list[set[str]]  # per feed, the exposed tensors holding a NaN or Inf
    abs_max: list[dict[str, float]]  # per feed, max |x| of each exposed tensor


def run_exposed(model: onnx.ModelProto, feeds: Feeds, sizes: Mapping[str, int]) -> Run:
    """Run `model` (fp32) with every float tensor exposed, chunked like the sampling run (the fp16 values in
    between a storage emulation's Casts are not: their fp32 copies hold the same values)."""
    from nanlint.graph.sampling import SamplingError, _chunks, _session, _with_outputs

    types = tensor_types(model)
    outputs = [o.name for o in model.graph.output]
    produced = [o for node in model.graph.node for o in node.output if o and o not in outputs]
    exposed = [n for n in produced if types.get(n, onnx.TensorProto.FLOAT) in FLOAT_TYPES and not n.endswith(HALF)]
    run = Run([], [set() for _ in feeds], [{} for _ in feeds])
    results: list[dict[str, np.ndarray]] = [{} for _ in feeds]
    for chunk in _chunks(outputs + exposed, sizes):
        session = _session(_with_outputs(model, chunk), "CPUExecutionProvider")
        names = [o.name for o in session.get_outputs()]
        for index, feed in enumerate(feeds):
            try:
                values = session.run(names, feed)
            except Exception as exc:
                raise SamplingError(str(exc).splitlines()[0]) from None
            for name, value in zip(names, values):
                if name in outputs:
                    results[index][name] = value
                if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
                    magnitude = float(np.abs(value).max())
                    run.abs_max[index][name] = magnitude
                    if not math.isfinite(magnitude):
                        run.nonfinite[index].add(name)
    run.outputs = [[values[name] for name in outputs] for values in results]
    return run


def plain_outputs(model: onnx.ModelProto, feeds: Feeds) -> list[list[np.ndarray]]:
    """A model's outputs on onnxruntime CPU (default optimisations). Raises SamplingError."""
    import onnxruntime

    from nanlint.graph.sampling import SamplingError

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return [session.run(None, feed) for feed in feeds]
    except Exception as exc:
        raise SamplingError(str(exc).splitlines()[0]) from None


def relative_error(value: np.ndarray, reference: np.ndarray) -> float:
    """max |y - y32| / max |y32| over the elements where y32 is finite (inf where y is not)."""
    if reference.dtype.kind != "f":
        return 0.0
    finite = np.isfinite(reference)
    if not finite.any():
        return 0.0
    diff = np.abs(value.astype(np.float64)[finite] - reference.astype(np.float64)[finite])
    scale = float(np.abs(reference[finite]).max())
    worst = float(diff.max()) if diff.size else 0.0
    if math.isnan(worst):
        return math.inf
    return worst / scale if scale > 0 else (0.0 if worst == 0 else math.inf)


def validate(
    fp32: onnx.ModelProto, mixed: onnx.ModelProto, feed_sets: list[FeedSet], sizes: Mapping[str, int]
) -> Validation:
    """Run the mixed model (onnxruntime must accept it at every shape) and its storage emulation on every
    feed set; compare the emulation's outputs with the fp32 model's. Where NaN/Inf start is looked for
    with every tensor exposed, which costs a run per chunk of tensors: on the first `probed` inputs of
    each set (the box's corners come first) and on those whose outputs broke."""
    emulation = storage_emulation(fp32, mixed)
    producers = {o: node for node in emulation.graph.node for o in node.output if o}
    names = [o.name for o in fp32.graph.output]
    result = Validation()
    for feed_set in feed_sets:
        plain_outputs(mixed, feed_set.feeds)  # the written model itself runs at these shapes
        reference = plain_outputs(fp32, feed_set.feeds)
        emulated = plain_outputs(emulation, feed_set.feeds)
        result.runs += len(feed_set.feeds)
        result.checked.append(feed_set.label)
        broken: dict[str, int] = {}
        probed = list(range(min(feed_set.probed, len(feed_set.feeds))))
        for index, (want, got) in enumerate(zip(reference, emulated)):
            floats = [(n, e, g) for n, e, g in zip(names, want, got) if _is_float(e)]
            for name, expected, actual in floats:
                if (np.isfinite(expected) & ~np.isfinite(actual)).any():
                    broken[name] = broken.get(name, 0) + 1
                    probed.append(index)
                result.max_relative_error = max(result.max_relative_error, relative_error(actual, expected))
            if not all(np.isfinite(e).all() for _, e, _ in floats):  # the fp32 model breaks on its own here
                probed = [i for i in probed if i != index]
        probed = sorted(set(probed))
        run = run_exposed(emulation, [feed_set.feeds[i] for i in probed], emulated_sizes(sizes, feed_set.scale))
        for position in range(len(probed)):
            over, starved = breaking_points(run, position, producers)
            result.overflowing += over
            result.starved += starved
        result.nonfinite_outputs += [f"{n} on {count} of the {feed_set.label}" for n, count in sorted(broken.items())]
    result.overflowing = list(dict.fromkeys(result.overflowing))
    result.starved = list(dict.fromkeys(result.starved))
    return result


def emulated_sizes(sizes: Mapping[str, int], scale: float) -> dict[str, int]:
    """Element counts for the emulation's tensors (its copies have their originals' sizes)."""
    scaled = {name: int(size * scale) for name, size in sizes.items()}
    return scaled | {name + suffix: size for name, size in scaled.items() for suffix in (STORED, RAW)}


def _is_float(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def breaking_points(run: Run, index: int, producers: Mapping[str, onnx.NodeProto]) -> tuple[list[str], list[str]]:
    """Where NaN/Inf start in the emulation on one input (fp32-model names): (tensors whose fp16 copy
    overflows while they are finite, tensors whose fp16 copy feeds an fp32 node that turns NaN/Inf from
    finite inputs -- a denominator that underflowed to 0 -- with the tiny fp16 copies upstream of it)."""
    bad = run.nonfinite[index]
    overflowing, starved = [], []
    for name in sorted(bad):
        node = producers.get(name)
        if node is None:
            continue
        if node.name.startswith(LOAD):  # an fp16 copy: it breaks where the value it copies is finite
            original = node.name[len(LOAD) :]
            if original not in bad:
                overflowing.append(original.removesuffix(RAW))
        elif not node.name.startswith("nanlint/") and not any(i in bad for i in node.input):
            for source in node.input:
                starved += _underflowed(source, run.abs_max[index], producers)
    return overflowing, starved


def _underflowed(name: str, abs_max: Mapping[str, float], producers: Mapping[str, onnx.NodeProto]) -> list[str]:
    """The tensor whose fp16 copy `name` is, and the tensors upstream whose fp16 copies hold only values
    below fp16's smallest normal number (they lose their digits to underflow together)."""
    if not name.endswith(STORED):
        return []
    found, stack = [name], [name]
    while stack:
        original = producers.get(stack.pop()[: -len(STORED)])
        for source in original.input if original is not None else ():
            if source.endswith(STORED) and source not in found and abs_max.get(source, 1.0) < FP16_NORMAL:
                found.append(source)
                stack.append(source)
    return [n[: -len(STORED)] for n in found]


# --- the whole fix ---------------------------------------------------------------------------------


@dataclass
class MixedModel:
    proto: onnx.ModelProto
    blocked: BlockList
    validation: Validation
    rounds: int
    fp32_nodes: int
    float_nodes: int
    fp16_tensors: int
    not_run: str | None = None  # why the model could not be run (it is written all the same)


def build_mixed(
    proto: onnx.ModelProto,
    findings: list[Finding],
    target: str,
    interface: Interface,
    feed_sets: list[FeedSet],
    alternatives: list[FeedSet],
    sizes: Mapping[str, int],
    extra_tensors=(),
) -> MixedModel:
    """Convert, run, and convert again with what the run saw overflow kept in fp32 (at most ROUNDS
    conversions). `proto` has named nodes (name_unnamed_nodes); `feed_sets` are run always, the
    first of `alternatives` (other shapes) that the fp32 model accepts too."""
    from nanlint.graph.sampling import SamplingError

    fp32 = with_interface(proto, interface)
    keep = set(extra_tensors)
    not_run = None
    try:
        feed_sets = feed_sets + first_accepted(fp32, alternatives)
    except SamplingError as exc:
        feed_sets, not_run = [], f"onnxruntime cannot run the fp32 model: {exc}"
    for rounds in range(1, ROUNDS + 1):
        blocked = block_list(fp32, findings, target, keep)
        mixed = convert(fp32, blocked)
        try:
            validation = validate(fp32, mixed, feed_sets, sizes)
        except SamplingError as exc:
            validation, not_run = Validation(), f"onnxruntime cannot run it: {exc}"
        fresh = set(validation.overflowing + validation.starved) - keep
        if not fresh or rounds == ROUNDS:
            break
        keep |= fresh
    types = tensor_types(mixed)
    kept, total = nodes_in_fp32(mixed, types)
    half = sum(kind == onnx.TensorProto.FLOAT16 for kind in types.values())
    return MixedModel(mixed, blocked, validation, rounds, kept, total, half, not_run)


def first_accepted(fp32: onnx.ModelProto, alternatives: list[FeedSet]) -> list[FeedSet]:
    """The first feed set of another shape that the fp32 model runs on ([] when none: a model may fix
    a dimension its inputs declare symbolic, e.g. a maximum length)."""
    from nanlint.graph.sampling import SamplingError

    for feed_set in alternatives:
        try:
            plain_outputs(fp32, feed_set.feeds[:1])
        except SamplingError:
            continue
        return [feed_set]
    return []


def save(model: onnx.ModelProto, path: str) -> None:
    try:
        onnx.save(model, path)
    except (OSError, ValueError) as exc:
        raise MixedPrecisionError(f"cannot write {path}: {exc}") from None


def summary(result: MixedModel, target: str, path: str) -> dict:
    """What the JSON summary and the CLI's closing line say about the written model."""
    check = result.validation
    return {
        "target": target,
        "path": path,
        "nodes_in_fp32": result.fp32_nodes,
        "float_nodes": result.float_nodes,
        "fp16_tensors": result.fp16_tensors,
        "rounds": result.rounds,
        "not_run": result.not_run,
        "checked": check.checked,
        "runs": check.runs,
        "max_relative_error": check.max_relative_error,
        "nonfinite_outputs": check.nonfinite_outputs,
        "overflowing": check.overflowing,
    }


def write_mixed(
    model: onnx.ModelProto, findings: list[Finding], target: str, path: str, extra_tensors=()
) -> onnx.ModelProto:
    """Convert `model` as it is (its own inputs and outputs) and write it, without running it:
    for callers that have no feeds. The CLI goes through build_mixed."""
    named = name_unnamed_nodes(model)
    mixed = convert(named, block_list(named, findings, target, extra_tensors))
    save(mixed, path)
    return mixed
