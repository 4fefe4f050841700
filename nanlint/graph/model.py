"""Loading an ONNX model for analysis: read it safely, bind its dynamic dimensions, infer shapes, order its nodes.

Everything that can go wrong with a file (unreadable, not ONNX, hostile, invalid) raises ModelError
with a one-line message; no other exception type escapes `load_model`.

External data is resolved only inside the model's directory (relative locations without `..` whose
real path, after symlinks, stays inside that directory) and is memory-mapped, not copied: `constants`
holds read-only views of the file, and the proto's external tensors keep their references. That is
how models above protobuf's 2 GB limit load.

Shape inference runs on a skeleton of the model (large initializers replaced by typed inputs), so it
costs no copy of the weights; it is best effort (a model onnx cannot infer still loads, with fewer
known shapes: the analysis computes shapes itself as it goes).
"""

from __future__ import annotations

import mmap
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import onnx
from onnx import TensorProto

from nanlint.graph.wire import externalize_weights

# -- limits against hostile files -----------------------------------------------------------------
# A .onnx protobuf cannot exceed 2 GiB (protobuf's own limit); bigger models use external data.
MAX_MODEL_FILE_BYTES = 2**31 - 1
# Total external data a model may reference (memory-mapped, so this bounds address space, not RAM).
MAX_EXTERNAL_DATA_BYTES = 2**38
# Nodes in all graphs and subgraphs together (the largest real LLM exports have ~10^5).
MAX_NODES = 500_000
# Elements of any one tensor, declared (initializer dims, value_info) or inferred after binding the
# dynamic dimensions: 2**30 float32 elements is 4 GiB, beyond what the analysis should allocate.
MAX_TENSOR_ELEMENTS = 2**30
# Nesting of If/Loop/Scan bodies.
MAX_SUBGRAPH_DEPTH = 32
# Files from this size on keep their weights in place (memory-mapped, see wire.py) instead of copying them
# into the parsed proto: loading costs the graph structure, not the weights.
EXTERNALIZE_ABOVE_BYTES = 8 * 2**20
# A file Git LFS left in place of the model (a checkout without `git lfs pull`) starts with this line.
_LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
# Initializers at or below this many elements stay in the shape-inference skeleton (shape constants).
_SKELETON_KEEP_ELEMENTS = 4096

MIN_OPSET = 7
MAX_OPSET = onnx.defs.onnx_opset_version()

FLOAT_TYPES = frozenset(
    {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
    | {
        getattr(TensorProto, n)
        for n in ("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT8E8M0", "FLOAT4E2M1")
        if hasattr(TensorProto, n)
    }
)


class ModelError(Exception):
    """A model that cannot be analysed: the message is one line, for the user."""


@dataclass
class Model:
    path: str  # as given
    proto: onnx.ModelProto  # after function inlining and shape inference
    nodes: list[onnx.NodeProto]  # main graph, topological order
    inputs: list[str]  # real graph inputs (initializers excluded)
    outputs: list[str]
    dtypes: dict[str, int]  # tensor -> TensorProto elem type (where known)
    shapes: dict[str, tuple[int, ...] | None]  # concrete shapes after binding dynamic dims (None: unknown)
    constants: dict[str, np.ndarray]  # initializers and Constant outputs (read-only arrays)
    producer: dict[str, onnx.NodeProto]  # tensor -> node producing it (subgraphs included)
    consumers: dict[str, list[onnx.NodeProto]]  # tensor -> nodes reading it (a control-flow node for
    # tensors its subgraphs read from the outer scope)
    opset: int  # default-domain opset
    opsets: dict[str, int] = field(default_factory=dict)  # domain -> version ("" for ONNX)
    warnings: list[str] = field(default_factory=list)  # checker / shape-inference complaints (not fatal)
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # bound graph-input shapes
    _orders: dict[tuple, list[onnx.NodeProto]] = field(default_factory=dict, repr=False)

    def graph_nodes(self, graph: onnx.GraphProto) -> list[onnx.NodeProto]:
        """The nodes of a subgraph (If branch, Loop/Scan body) in topological order."""
        # Keyed by content, not id(): protobuf hands out a new wrapper object per attribute access.
        key = graph_key(graph)
        if key not in self._orders:
            self._orders[key] = topological_order(graph, outer=_all_names(self.proto.graph))
        return self._orders[key]

    def walk(self) -> Iterator[tuple[onnx.NodeProto, int]]:
        """Every node with its subgraph depth (0 = main graph), main graph in topological order."""

        def visit(nodes, depth):
            for node in nodes:
                yield node, depth
                for graph in subgraphs(node):
                    yield from visit(self.graph_nodes(graph), depth + 1)

        yield from visit(self.nodes, 0)

    def domain_version(self, domain: str) -> int:
        return self.opsets.get(_norm_domain(domain), 1)

    def runnable(self):
        """The model for onnxruntime without a serialized copy of its weights: `proto` (external
        initializers left external) and a sampling.Weights saying where they are: the model's folder,
        from which onnxruntime maps them itself, and their arrays (for an onnxruntime that cannot).
        Serializing a 400 MB model and parsing it back cost seconds and a copy of the weights."""
        from nanlint.graph.sampling import Weights

        arrays = {}
        for tensor in self.proto.graph.initializer:
            if tensor.data_location == TensorProto.EXTERNAL and tensor.name in self.constants:
                arrays[tensor.name] = np.ascontiguousarray(self.constants[tensor.name])
        folder = os.path.dirname(os.path.abspath(self.path)) if arrays else None
        return self.proto, Weights(folder, arrays)

    def proto_with_data(self) -> onnx.ModelProto:
        """A copy of `proto` with every main-graph initializer's data inline, e.g. to run the model with
        onnxruntime from memory. Costs a copy of the weights (and cannot exceed protobuf's 2 GB)."""
        full = onnx.ModelProto()
        full.CopyFrom(self.proto)
        for tensor in full.graph.initializer:
            if tensor.data_location == TensorProto.EXTERNAL and tensor.name in self.constants:
                arr = np.ascontiguousarray(self.constants[tensor.name])
                tensor.ClearField("external_data")
                tensor.data_location = TensorProto.DEFAULT
                tensor.raw_data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        return full


def load_model(path: str, input_shapes: Mapping[str, tuple[int, ...]] = {}) -> Model:
    """Read, validate and prepare an ONNX model. Raises ModelError (one line) for any unusable file."""
    try:
        return _Loader(str(path), dict(input_shapes)).load()
    except ModelError:
        raise
    except RecursionError:
        raise ModelError(f"{path}: model nesting is too deep") from None
    except MemoryError:
        raise ModelError(f"{path}: model is too large to load") from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot load model: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _norm_domain(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


# -- graph utilities (also used by the analysis for subgraphs) -------------------------------------


def subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    out = []
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            out.append(attr.g)
        elif attr.type == onnx.AttributeProto.GRAPHS:
            out.extend(attr.graphs)
    return out


def _graph_defined(graph: onnx.GraphProto) -> set[str]:
    names = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    names |= {t.values.name for t in graph.sparse_initializer}
    for node in graph.node:
        names.update(o for o in node.output if o)
    return names


def _all_names(graph: onnx.GraphProto) -> set[str]:
    """Every tensor name defined anywhere in `graph` and its subgraphs (the scope a subgraph can see)."""
    names = _graph_defined(graph)
    for node in graph.node:
        for sub in subgraphs(node):
            names |= _all_names(sub)
    return names


def graph_key(graph: onnx.GraphProto) -> tuple:
    """A stable identity for a subgraph: its name, inputs and node outputs (unique in SSA form)."""
    return (graph.name, tuple(i.name for i in graph.input), tuple(o for node in graph.node for o in node.output))


def implicit_inputs(graph: onnx.GraphProto) -> set[str]:
    """Names a subgraph reads from enclosing scopes."""
    defined = _graph_defined(graph)
    used: set[str] = set()
    for node in graph.node:
        used.update(i for i in node.input if i)
        for sub in subgraphs(node):
            used |= implicit_inputs(sub)
    return used - defined


def node_dependencies(node: onnx.NodeProto) -> list[str]:
    """Tensors a node reads: its inputs and what its subgraphs read from outside."""
    deps = [i for i in node.input if i]
    for sub in subgraphs(node):
        deps.extend(sorted(implicit_inputs(sub)))
    return deps


def describe(node: onnx.NodeProto) -> str:
    return (
        f"'{node.name}' ({node.op_type})"
        if node.name
        else f"{node.op_type} -> {node.output[0] if node.output else '?'}"
    )


def topological_order(graph: onnx.GraphProto, outer: AbstractSet[str] = frozenset()) -> list[onnx.NodeProto]:
    """Nodes ordered so that producers come before consumers (original order where free).

    Raises ModelError for a cycle, a tensor produced twice, or a read of an undefined tensor."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    available |= {t.values.name for t in graph.sparse_initializer}
    nodes = list(graph.node)
    producer_index: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for out in node.output:
            if not out:
                continue
            if out in producer_index or out in available:
                raise ModelError(f"graph '{graph.name}': tensor '{out}' is produced more than once")
            producer_index[out] = index
    waiting = [0] * len(nodes)
    dependents: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        producers = set()
        for dep in node_dependencies(node):
            if dep in producer_index:
                producers.add(producer_index[dep])
            elif dep not in available and dep not in outer:
                raise ModelError(f"graph '{graph.name}': node {describe(node)} reads undefined tensor '{dep}'")
        waiting[index] = len(producers)
        for p in producers:
            dependents[p].append(index)
    ready = deque(i for i in range(len(nodes)) if waiting[i] == 0)
    order = []
    while ready:
        index = ready.popleft()
        order.append(nodes[index])
        for d in dependents[index]:
            waiting[d] -= 1
            if waiting[d] == 0:
                ready.append(d)
    if len(order) < len(nodes):
        stuck = next(nodes[i] for i in range(len(nodes)) if waiting[i] > 0)
        raise ModelError(f"graph '{graph.name}' has a cycle through node {describe(stuck)}")
    return order


# -- tensors ----------------------------------------------------------------------------------------


def np_dtype(elem_type: int) -> np.dtype:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def _count(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def tensor_array(tensor: onnx.TensorProto, external: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """A read-only array of a TensorProto's data (no copy for raw data and external data)."""
    name = tensor.name
    if external is not None and name in external and tensor.data_location == TensorProto.EXTERNAL:
        return external[name]
    dims = tuple(int(d) for d in tensor.dims)
    if any(d < 0 for d in dims) or _count(dims) > MAX_TENSOR_ELEMENTS:
        raise ModelError(
            f"tensor '{name}' declares shape {list(dims)}, above the limit of {MAX_TENSOR_ELEMENTS} elements"
        )
    if tensor.data_type == TensorProto.STRING:
        raise ValueError("string tensor")
    simple = {
        TensorProto.FLOAT,
        TensorProto.DOUBLE,
        TensorProto.FLOAT16,
        TensorProto.INT8,
        TensorProto.UINT8,
        TensorProto.INT16,
        TensorProto.UINT16,
        TensorProto.INT32,
        TensorProto.UINT32,
        TensorProto.INT64,
        TensorProto.UINT64,
        TensorProto.BOOL,
    }
    if tensor.HasField("raw_data") and tensor.data_type in simple:
        dtype = np_dtype(tensor.data_type).newbyteorder("<")
        raw = tensor.raw_data
        if len(raw) != _count(dims) * dtype.itemsize:
            raise ModelError(f"tensor '{name}' holds {len(raw)} bytes for shape {list(dims)}")
        arr = np.frombuffer(raw, dtype=dtype).reshape(dims)
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)
    data_fields = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")
    stored = max([len(getattr(tensor, f)) for f in data_fields] + [len(tensor.raw_data)])
    if stored == 0 and _count(dims) > 0:
        raise ModelError(f"tensor '{name}' has shape {list(dims)} but no data")
    arr = onnx.numpy_helper.to_array(tensor)
    arr.flags.writeable = False
    return arr


def _tensor_type(value_info) -> tuple[int | None, list | None]:
    """(elem_type, dims) of a ValueInfoProto; dims entries are ints or None (dynamic); None = no shape."""
    t = value_info.type
    if not t.HasField("tensor_type"):
        return None, None
    tt = t.tensor_type
    elem = tt.elem_type or None
    if not tt.HasField("shape"):
        return elem, None
    # A negative dim_value (exporters write -1) is a dynamic dimension, like a dim_param or no value.
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in tt.shape.dim]
    return elem, dims


# -- the loader -------------------------------------------------------------------------------------


class _Loader:
    def __init__(self, path: str, input_shapes: dict[str, tuple[int, ...]]):
        self.path = path
        self.input_shapes = input_shapes
        self.base = os.path.dirname(os.path.abspath(path))
        self.warnings: list[str] = []
        self.external: dict[str, np.ndarray] = {}

    def fail(self, message: str) -> NoReturn:
        raise ModelError(f"{self.path}: {message}")

    def load(self) -> Model:
        proto = self.read()
        self.check_structure(proto)
        self.load_external_data(proto)
        input_names = self.real_inputs(proto)
        bound = self.bind_input_shapes(proto, input_names)
        self.prepare(proto)  # inlining + shape inference + checker, on a skeleton
        try:
            nodes = topological_order(proto.graph)
            self.check_subgraphs(nodes, 0)
        except ModelError as exc:
            self.fail(str(exc))
        constants = self.collect_constants(proto)
        dtypes, shapes = self.collect_types(proto, constants)
        producer, consumers = self.index(nodes, proto.graph)
        opsets = {_norm_domain(o.domain): o.version for o in proto.opset_import}
        outputs = [o.name for o in proto.graph.output]
        for out in outputs:
            if out not in producer and out not in constants and out not in input_names:
                self.fail(f"graph output '{out}' is not produced by any node")
        return Model(
            path=self.path,
            proto=proto,
            nodes=nodes,
            inputs=input_names,
            outputs=outputs,
            dtypes=dtypes,
            shapes=shapes,
            constants=constants,
            producer=producer,
            consumers=consumers,
            opset=opsets.get("", MAX_OPSET),
            opsets=opsets,
            warnings=self.warnings,
            input_shapes=bound,
        )

    def check_subgraphs(self, nodes, depth: int) -> None:
        """Cycles and double definitions inside If/Loop/Scan bodies (topological_order raises)."""
        if depth > MAX_SUBGRAPH_DEPTH:
            self.fail(f"subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH}")
        for node in nodes:
            for graph in subgraphs(node):
                # Reads from enclosing scopes are not resolved here: an undefined one is an
                # unbounded value for the analysis, not a load error.
                self.check_subgraphs(topological_order(graph, outer=_AnyName()), depth + 1)

    # -- reading ----------------------------------------------------------------------------------

    def read(self) -> onnx.ModelProto:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self.fail("no such file")
        except OSError as exc:
            self.fail(f"cannot read: {exc.strerror or exc}")
        if not os.path.isfile(self.path):
            self.fail("not a regular file")
        if st.st_size == 0:
            self.fail("empty file, not an ONNX model")
        if st.st_size > MAX_MODEL_FILE_BYTES:
            self.fail(
                f"file of {st.st_size} bytes exceeds the protobuf limit of 2 GiB "
                "(large models keep their weights in external data)"
            )
        try:
            with open(self.path, "rb") as handle:
                if st.st_size >= EXTERNALIZE_ABOVE_BYTES:
                    # Large weights stay in the file, memory-mapped: parse only the structure.
                    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                        data = externalize_weights(memoryview(mapped), os.path.basename(self.path))
                        if data is None:
                            data = mapped[:]
                else:
                    data = handle.read()
        except (OSError, ValueError) as exc:
            self.fail(f"cannot read: {getattr(exc, 'strerror', None) or exc}")
        if bytes(data[: len(_LFS_POINTER)]) == _LFS_POINTER:  # never valid protobuf: 'v' is wire type 6
            self.fail(
                "the file is a Git LFS pointer, not the model: fetch it with git lfs pull (actions/checkout: lfs: true)"
            )
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception:
            self.fail("not an ONNX model (protobuf parsing failed)")
        del data
        if not proto.HasField("graph") or proto.ir_version <= 0:
            self.fail("not an ONNX model (no graph or IR version)")
        return proto

    def check_structure(self, proto: onnx.ModelProto) -> None:
        count = 0
        stack = [(proto.graph, 0)]
        while stack:
            graph, depth = stack.pop()
            if depth > MAX_SUBGRAPH_DEPTH:
                self.fail(f"subgraphs nested deeper than {MAX_SUBGRAPH_DEPTH}")
            count += len(graph.node)
            if count > MAX_NODES:
                self.fail(f"more than {MAX_NODES} nodes")
            for node in graph.node:
                stack.extend((g, depth + 1) for g in subgraphs(node))
        for function in proto.functions:
            count += len(function.node)
        if count > MAX_NODES:
            self.fail(f"more than {MAX_NODES} nodes")
        versions = {}
        for op in proto.opset_import:
            versions[_norm_domain(op.domain)] = op.version
        uses_onnx = any(_norm_domain(n.domain) == "" for n in proto.graph.node) or not proto.graph.node
        if "" not in versions:
            if uses_onnx:
                self.fail("no opset import for the default ONNX domain")
        elif not MIN_OPSET <= versions[""] <= MAX_OPSET:
            self.fail(f"opset {versions['']} is not supported (supported: {MIN_OPSET} to {MAX_OPSET})")

    # -- external data ----------------------------------------------------------------------------

    def _all_tensors(self, proto: onnx.ModelProto) -> Iterator[onnx.TensorProto]:
        def from_graph(graph):
            yield from graph.initializer
            for sparse in graph.sparse_initializer:
                yield sparse.values
                yield sparse.indices
            for node in graph.node:
                yield from from_node(node)

        def from_node(node):
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                if attr.HasField("g"):
                    yield from from_graph(attr.g)
                for g in attr.graphs:
                    yield from from_graph(g)

        yield from from_graph(proto.graph)
        for function in proto.functions:
            for node in function.node:
                yield from from_node(node)

    def load_external_data(self, proto: onnx.ModelProto) -> None:
        total = 0
        base_real = os.path.realpath(self.base)
        for tensor in self._all_tensors(proto):
            if tensor.data_location != TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in tensor.external_data}
            location = info.get("location", "")
            where = f"tensor '{tensor.name}'"
            if not location:
                self.fail(f"{where}: external data without a location")
            if (
                os.path.isabs(location)
                or location.startswith(("/", "\\"))
                or (len(location) > 1 and location[1] == ":")
            ):
                self.fail(
                    f"{where}: external data path '{location}' is absolute "
                    "(only files inside the model's directory are read)"
                )
            parts = location.replace("\\", "/").split("/")
            if ".." in parts:
                self.fail(f"{where}: external data path '{location}' leaves the model's directory")
            real = os.path.realpath(os.path.join(self.base, location))
            if os.path.commonpath([real, base_real]) != base_real or real == base_real:
                self.fail(f"{where}: external data path '{location}' resolves outside the model's directory")
            if not os.path.isfile(real):
                self.fail(f"{where}: external data file '{location}' not found")
            try:
                offset = int(info.get("offset", 0) or 0)
                length = int(info["length"]) if info.get("length") else None
            except ValueError:
                self.fail(f"{where}: invalid external data offset or length")
            size = os.path.getsize(real)
            dims = tuple(int(d) for d in tensor.dims)
            if any(d < 0 for d in dims) or _count(dims) > MAX_TENSOR_ELEMENTS:
                self.fail(f"{where}: declares shape {list(dims)}, above the limit of {MAX_TENSOR_ELEMENTS} elements")
            try:
                dtype = np_dtype(tensor.data_type)
            except Exception:
                self.fail(f"{where}: unknown data type {tensor.data_type}")
            if dtype.kind not in "fiub" or dtype.itemsize * 8 < 8:
                self.fail(f"{where}: external data of type {tensor.data_type} is not supported")
            need = _count(dims) * dtype.itemsize
            if length is None:
                length = need
            if offset < 0 or length != need or offset + length > size:
                self.fail(
                    f"{where}: external data ({length} bytes at offset {offset} in a file of {size}) "
                    f"does not match its shape {list(dims)}"
                )
            total += length
            if total > MAX_EXTERNAL_DATA_BYTES:
                self.fail(f"external data exceeds {MAX_EXTERNAL_DATA_BYTES} bytes")
            if need == 0:
                arr = np.zeros(dims, dtype)
            else:
                arr = np.memmap(real, dtype=dtype.newbyteorder("<"), mode="r", offset=offset, shape=dims)
                arr = arr.view(np.ndarray)
            arr.flags.writeable = False
            self.external[tensor.name] = arr

    # -- inputs -----------------------------------------------------------------------------------

    def real_inputs(self, proto: onnx.ModelProto) -> list[str]:
        inits = {t.name for t in proto.graph.initializer}
        return [i.name for i in proto.graph.input if i.name not in inits]

    def bind_input_shapes(self, proto: onnx.ModelProto, names: list[str]) -> dict[str, tuple[int, ...]]:
        """Concrete shapes for the graph inputs: --input-shape where given, 1 for other dynamic dims."""
        unknown = set(self.input_shapes) - set(names)
        if unknown:
            self.fail(
                f"--input-shape names no graph input: {', '.join(sorted(unknown))} "
                f"(inputs: {', '.join(names) or 'none'})"
            )
        bound = {}
        by_name = {i.name: i for i in proto.graph.input}
        for name in names:
            vi = by_name[name]
            elem, dims = _tensor_type(vi)
            if elem is None:
                continue  # sequences, maps, optionals: not bounded
            given = self.input_shapes.get(name)
            if given is not None:
                given = tuple(int(d) for d in given)
                if any(d < 0 for d in given):
                    self.fail(f"--input-shape {name}: dimensions must be >= 0")
                if dims is not None and len(dims) != len(given):
                    self.fail(f"--input-shape {name}: {len(given)} dimensions given, the model declares {len(dims)}")
                for axis, (declared, value) in enumerate(zip(dims or [], given)):
                    if declared is not None and declared != value:
                        self.fail(f"--input-shape {name}: dimension {axis} is {value}, the model declares {declared}")
                shape = given
            elif dims is None:
                self.fail(f"input '{name}' has no declared shape; give it with --input-shape {name}=D0,D1,...")
            else:
                shape = tuple(1 if d is None else d for d in dims)
            if _count(shape) > MAX_TENSOR_ELEMENTS:
                self.fail(f"input '{name}' of shape {list(shape)} exceeds {MAX_TENSOR_ELEMENTS} elements")
            tt = vi.type.tensor_type
            tt.shape.ClearField("dim")
            for d in shape:
                tt.shape.dim.add().dim_value = d
            bound[name] = shape
        return bound

    # -- inlining, shape inference, checker (on a weight-free skeleton) ---------------------------

    def skeleton(self, proto: onnx.ModelProto) -> onnx.ModelProto:
        skel = onnx.ModelProto()
        skel.ir_version = proto.ir_version
        skel.opset_import.extend(proto.opset_import)
        skel.functions.extend(proto.functions)
        g, src = skel.graph, proto.graph
        g.name = src.name
        g.node.extend(src.node)
        g.input.extend(src.input)
        g.output.extend(src.output)
        g.value_info.extend(src.value_info)
        input_names = {i.name for i in src.input}
        for t in src.initializer:
            if t.data_location != TensorProto.EXTERNAL and _count(t.dims) <= _SKELETON_KEEP_ELEMENTS:
                g.initializer.append(t)
            elif t.name not in input_names:
                g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        # Subgraph/attribute tensors stored externally are small in practice; give inference their data.
        for tensor in self._all_tensors(skel):
            if tensor.data_location == TensorProto.EXTERNAL and tensor.name in self.external:
                arr = self.external[tensor.name]
                tensor.ClearField("external_data")
                tensor.data_location = TensorProto.DEFAULT
                tensor.raw_data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        if skel.ir_version < 4:
            skel.ir_version = 4  # initializers-not-in-inputs needs IR >= 4
        return skel

    def prepare(self, proto: onnx.ModelProto) -> None:
        skel = self.skeleton(proto)
        if len(skel.functions):
            try:
                from onnx import inliner

                skel = inliner.inline_local_functions(skel)
            except Exception as exc:
                self.warnings.append(f"function inlining failed: {_one_line(exc)}")
        inferred = None
        for data_prop in (True, False):
            try:
                inferred = onnx.shape_inference.infer_shapes(
                    skel, check_type=False, strict_mode=False, data_prop=data_prop
                )
                break
            except Exception as exc:
                message = f"shape inference failed: {_one_line(exc)}"
        if inferred is None:
            self.warnings.append(message)
            inferred = skel
        try:
            onnx.checker.check_model(inferred, skip_opset_compatibility_check=True)
        except Exception as exc:
            self.warnings.append(f"onnx checker: {_one_line(exc)}")
        g = proto.graph
        g.ClearField("node")
        g.node.extend(inferred.graph.node)
        g.ClearField("value_info")
        g.value_info.extend(inferred.graph.value_info)
        g.ClearField("output")
        g.output.extend(inferred.graph.output)
        if len(inferred.functions) != len(proto.functions):
            proto.ClearField("functions")
            proto.functions.extend(inferred.functions)
        if len(inferred.opset_import) != len(proto.opset_import):
            proto.ClearField("opset_import")
            proto.opset_import.extend(inferred.opset_import)

    # -- tables -----------------------------------------------------------------------------------

    def collect_constants(self, proto: onnx.ModelProto) -> dict[str, np.ndarray]:
        constants: dict[str, np.ndarray] = {}

        def visit(graph):
            for t in graph.initializer:
                try:
                    constants[t.name] = tensor_array(t, self.external)
                except ModelError as exc:
                    self.fail(str(exc))
                except Exception:
                    pass
            for node in graph.node:
                if node.op_type == "Constant" and _norm_domain(node.domain) == "" and len(node.output) == 1:
                    value = self.constant_value(node)
                    if value is not None:
                        constants[node.output[0]] = value
                for sub in subgraphs(node):
                    visit(sub)

        visit(proto.graph)
        return constants

    def constant_value(self, node: onnx.NodeProto) -> np.ndarray | None:
        for attr in node.attribute:
            try:
                if attr.name == "value":
                    arr = tensor_array(attr.t, self.external)
                elif attr.name == "value_float":
                    arr = np.asarray(attr.f, np.float32)
                elif attr.name == "value_floats":
                    arr = np.asarray(list(attr.floats), np.float32)
                elif attr.name == "value_int":
                    arr = np.asarray(attr.i, np.int64)
                elif attr.name == "value_ints":
                    arr = np.asarray(list(attr.ints), np.int64)
                elif attr.name == "sparse_value":
                    arr = onnx.numpy_helper.to_array(attr.sparse_tensor.values)
                    dense = np.zeros(tuple(attr.sparse_tensor.dims), arr.dtype)
                    idx = onnx.numpy_helper.to_array(attr.sparse_tensor.indices)
                    if idx.ndim == 1:
                        dense.reshape(-1)[idx] = arr
                    else:
                        dense[tuple(idx.T)] = arr
                    arr = dense
                else:
                    continue
            except ModelError as exc:
                self.fail(str(exc))
            except Exception:
                return None
            arr.flags.writeable = False
            return arr
        return None

    def collect_types(self, proto, constants) -> tuple[dict[str, int], dict[str, tuple[int, ...] | None]]:
        dtypes: dict[str, int] = {}
        shapes: dict[str, tuple[int, ...] | None] = {}

        def visit(graph):
            for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
                elem, dims = _tensor_type(vi)
                if elem:
                    dtypes[vi.name] = elem
                concrete = None if dims is None or any(d is None for d in dims) else tuple(dims)
                if concrete is not None and _count(concrete) > MAX_TENSOR_ELEMENTS:
                    self.fail(
                        f"tensor '{vi.name}' has shape {list(concrete)}, above the limit of "
                        f"{MAX_TENSOR_ELEMENTS} elements"
                    )
                if concrete is not None or vi.name not in shapes:
                    shapes[vi.name] = concrete
            for t in graph.initializer:
                dtypes[t.name] = t.data_type
                shapes[t.name] = tuple(int(d) for d in t.dims)
            for node in graph.node:
                for sub in subgraphs(node):
                    visit(sub)

        visit(proto.graph)
        for name, arr in constants.items():
            shapes[name] = tuple(arr.shape)
            if name not in dtypes:
                try:
                    dtypes[name] = onnx.helper.np_dtype_to_tensor_dtype(arr.dtype)
                except Exception:
                    pass
        return dtypes, shapes

    def index(
        self, nodes: Iterable[onnx.NodeProto], graph: onnx.GraphProto
    ) -> tuple[dict[str, onnx.NodeProto], dict[str, list[onnx.NodeProto]]]:
        producer: dict[str, onnx.NodeProto] = {}
        consumers: dict[str, list[onnx.NodeProto]] = {}

        def visit(node_list: Iterable[onnx.NodeProto]) -> None:
            for node in node_list:
                for out in node.output:
                    if out:
                        producer[out] = node
                for dep in dict.fromkeys(node_dependencies(node)):
                    consumers.setdefault(dep, []).append(node)
                for sub in subgraphs(node):
                    visit(sub.node)

        visit(nodes)
        return producer, consumers


class _AnyName(frozenset):
    """An outer scope that has every name."""

    def __contains__(self, item) -> bool:
        return True
