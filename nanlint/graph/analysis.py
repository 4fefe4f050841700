"""Interval analysis of a model: bounds for every tensor, propagated node by node in topological order.

Each node is bounded by its transfer function (nanlint/graph/transfer/, grouped by lifting family).
Nodes whose inputs are all exact are computed exactly by onnxruntime instead (constant folding through
the real kernel), which is how shape arithmetic (Shape -> Gather -> Concat -> Reshape) stays exact.
An op without a transfer function, or one whose transfer function cannot bound this instance, gets an
unbounded result and is listed in `Analysis.unsupported`; the analysis never stops at a node.

Memory: bounds of a main-graph tensor are kept element-wise only while later nodes need them; after
its last consumer they shrink to one scalar pair, unless the tensor is small, a graph output, or read
by a domain-sensitive op (Div, Log, Sqrt, Softmax, ...) whose checks want element-wise detail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto

from nanlint.graph.interval import ELEMENTWISE_LIMIT, Interval, join
from nanlint.graph.model import FLOAT_TYPES, Model, ModelError, describe, node_dependencies, np_dtype, subgraphs
from nanlint.graph.transfer import lookup, rownorm
from nanlint.graph.transfer.context import INT_TYPES, NodeContext, NotExact, bound_dtype
from nanlint.graph.transfer.kernels import KernelError, Kernels
from nanlint.graph.transfer.shape import check_generator_size

# After their last consumer, tensors with more elements than this keep one scalar bound pair.
RETAIN_ELEMENTWISE = 1 << 16
# Ops whose first input keeps element-wise bounds after its last consumer: a check asks whether some row
# of it can be entirely -inf or underflow (a softmax's logits). Every other check reads a tensor's overall
# min and max, which the collapsed pair keeps: keeping, say, each Div's numerator element-wise held every
# activation of a convolutional net (x * Clip(x + 3, 0, 6) / 6 in each layer) to the end of the pass.
ROW_CHECKED_OPS = frozenset({"Softmax", "LogSoftmax", "Exp", "ReduceLogSumExp"})


@dataclass
class Analysis:
    bounds: dict[str, Interval]  # every tensor (graph inputs, node outputs, constants)
    unsupported: list[onnx.NodeProto]  # nodes bounded as unbounded (-> NAN799)
    depth: dict[str, int]  # widening steps since the last op that resets bounds
    clamped: dict[str, tuple[float, float]]  # tensors clamped to the target range: the raw bound
    reasons: dict[str, str] = field(default_factory=dict)  # node description -> why it is unsupported
    shapes: dict[str, tuple[int, ...] | None] = field(default_factory=dict)  # shapes the analysis computed
    dtypes: dict[str, int] = field(default_factory=dict)  # elem type of every tensor bounded (model.dtypes
    # completed by what the analysis computed)
    linear_rows: dict = field(default_factory=dict)  # output of a linear map -> attention.LinearRows (what
    # reshapes into heads downstream need to know of its weights)

    def bound(self, name: str) -> Interval | None:
        return self.bounds.get(name)


def analyze(
    model: Model,
    input_ranges: Mapping[str, tuple[float, float]],
    limit: Callable[[str], float | None] | None = None,
    default_range: tuple[float, float] = (-1.0, 1.0),
    *,
    elementwise_limit: int = ELEMENTWISE_LIMIT,
    keep_elementwise: Callable[[str], bool] | None = None,
    input_bounds: Mapping[str, Interval] | None = None,
    strict: bool = False,
) -> Analysis:
    """Bounds for every tensor of `model`, inputs ranging over `input_ranges` (else `default_range`).

    `limit(tensor)` is the finite max of the dtype the tensor is stored in on the target; bounds beyond
    it are clamped and recorded in `clamped`. `elementwise_limit` is the collapse switch (see
    interval.py). `keep_elementwise(tensor)` forces element-wise bounds to be kept for a tensor.
    `input_bounds` gives inputs element-wise bounds instead of a range (e.g. observed per-element
    ranges). `strict` re-raises transfer-function errors (for tests). Raises ModelError for an unknown input
    name or a tensor that would exceed model.MAX_TENSOR_ELEMENTS."""
    unknown = (set(input_ranges) | set(input_bounds or {})) - set(model.inputs)
    if unknown:
        raise ModelError(f"{model.path}: --input-range names no graph input: {', '.join(sorted(unknown))}")
    engine = _Engine(model, limit, elementwise_limit, keep_elementwise, strict)
    engine.run(input_ranges, default_range, input_bounds or {})
    engine.analysis.dtypes = engine.dtypes
    return engine.analysis


_KERNEL_CACHES: dict[tuple, Kernels] = {}


def _kernels_for(model: Model) -> Kernels:
    """Kernel sessions are shared by analyses of models with the same opsets (targets, test suites)."""
    key = tuple(sorted(model.opsets.items()))
    if key not in _KERNEL_CACHES:
        if len(_KERNEL_CACHES) > 8:
            _KERNEL_CACHES.pop(next(iter(_KERNEL_CACHES)))
        _KERNEL_CACHES[key] = Kernels(model.opsets)
    return _KERNEL_CACHES[key]


class _Scope:
    """Tensor bounds visible to a graph: its own, then its enclosing graphs', then the constants."""

    def __init__(self, engine: _Engine, parent: _Scope | None = None):
        self.engine = engine
        self.parent = parent
        self.values: dict[str, Interval] = {}

    def get(self, name: str) -> Interval | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return self.engine.constant(name)


class _Engine:
    def __init__(self, model: Model, limit, elementwise_limit: int, keep_elementwise, strict: bool):
        self.model = model
        self.limit = limit
        self.elementwise_limit = elementwise_limit
        self.keep_elementwise = keep_elementwise
        self.strict = strict
        self.kernels = _kernels_for(model)
        self.dtypes = dict(model.dtypes)
        self.analysis = Analysis(bounds={}, unsupported=[], depth={}, clamped={})
        self._constants: dict[str, Interval] = {}
        self.unbounded: set[str] = set()  # outputs of unsupported nodes

    # -- lookups ----------------------------------------------------------------------------------

    def dtype_of(self, name: str) -> int | None:
        return self.dtypes.get(name)

    def constant(self, name: str) -> Interval | None:
        return self.model_constant(name) if name in self.model.constants else None

    def model_constant(self, name: str) -> Interval:
        """The exact interval of model constant `name` (made once, on first use)."""
        iv = self._constants.get(name)
        if iv is None:
            iv = Interval.point(self.model.constants[name])
            self._constants[name] = iv
        return iv

    # -- the main graph ---------------------------------------------------------------------------

    def run(self, input_ranges, default_range, input_bounds) -> None:
        scope = _Scope(self)
        bounds = self.analysis.bounds
        for name in self.model.constants:
            bounds[name] = self.model_constant(name)
            self.analysis.depth[name] = 0
        for name in self.model.inputs:
            iv: Interval | None
            if name in input_bounds:
                given, shape = input_bounds[name], self.model.input_shapes.get(name)
                iv = self.normalize(name, given.with_shape(shape) if shape is not None else given)
            else:
                iv = self.input_interval(name, input_ranges.get(name, default_range))
            if iv is not None:
                scope.values[name] = iv
                bounds[name] = iv
                self.analysis.depth[name] = 0
                self.analysis.shapes[name] = iv.shape
        remaining, keep = self.retention_plan()
        for node in self.model.nodes:
            self.eval_node(node, scope)
            for name in dict.fromkeys(n for n in node_dependencies(node)):
                if name not in remaining:
                    continue
                remaining[name] -= 1
                if remaining[name] == 0:
                    self.release(name, scope, keep)

    def retention_plan(self) -> tuple[dict[str, int], set[str]]:
        """Main-graph consumers left per tensor, and the tensors whose element-wise bounds are kept."""
        main = {id(n) for n in self.model.nodes}
        remaining: dict[str, int] = {}
        for name, consumers in self.model.consumers.items():
            if name in self.model.constants:
                continue
            count = sum(1 for c in consumers if id(c) in main)
            if count:
                remaining[name] = count
        keep = set(self.model.outputs)
        for node in self.model.nodes:
            if node.op_type in ROW_CHECKED_OPS and node.input:
                keep.add(node.input[0])
        return remaining, keep

    def release(self, name: str, scope: _Scope, keep: set[str]) -> None:
        """`name` has no consumers left: drop it from the working set, shrink what the result keeps."""
        if name in self.model.outputs:
            return
        scope.values.pop(name, None)
        iv = self.analysis.bounds.get(name)
        if iv is None or name in keep or (self.keep_elementwise and self.keep_elementwise(name)):
            return
        if iv.size is not None and iv.size > RETAIN_ELEMENTWISE and not iv.is_collapsed:
            self.analysis.bounds[name] = iv.collapse()

    def input_interval(self, name: str, value_range) -> Interval | None:
        shape = self.model.input_shapes.get(name)
        elem = self.dtypes.get(name)
        if shape is None or elem is None:
            return None
        lo, hi = (float(v) for v in value_range)
        if elem in INT_TYPES or elem == TensorProto.BOOL:
            lo, hi = np.ceil(lo), np.floor(hi)
            low, high = _int_range(elem)
            lo, hi = max(lo, low), min(hi, high)
            if lo > hi:
                raise ModelError(f"{self.model.path}: input '{name}' range contains no value of its integer type")
        if lo > hi:
            raise ModelError(f"{self.model.path}: input '{name}' has an empty range [{lo}, {hi}]")
        dtype = bound_dtype(elem)
        if lo == hi:
            return Interval.point(np.full(shape, lo, dtype=np_dtype(elem) if elem in INT_TYPES else dtype))
        return Interval.range(lo, hi, shape, dtype)

    # -- nodes ------------------------------------------------------------------------------------

    def eval_node(self, node: onnx.NodeProto, scope: _Scope) -> list[Interval | None]:
        inputs = [scope.get(name) if name else None for name in node.input]
        entry = lookup(node.domain, node.op_type)
        ctx = NodeContext(self, node, inputs, scope)
        outputs: list | None = None
        reason = None
        try:
            check_generator_size(ctx)
            if self.foldable(node, entry, inputs, ctx):
                try:
                    outputs = [None if o is None else Interval.point(o) for o in ctx.run()]
                except KernelError as exc:
                    reason = f"onnxruntime: {exc}"
            if outputs is None and entry is not None:
                outputs = rownorm.apply(ctx, entry.fn(ctx))
                reason = None
            elif outputs is None:
                reason = reason or "no transfer function for this op"
        except ModelError:
            raise
        except (NotExact, KernelError) as exc:
            if self.strict and isinstance(exc, KernelError):
                raise KernelError(f"{describe(node)}: {exc}") from exc
            reason = str(exc) or type(exc).__name__
            outputs = None
        except Exception as exc:
            if self.strict:
                raise RuntimeError(f"{describe(node)}: {type(exc).__name__}: {exc}") from exc
            reason = f"{type(exc).__name__}: {exc}"
            outputs = None
        if outputs is None:
            self.analysis.unsupported.append(node)
            upstream = [n for n in node.input if n in self.unbounded]
            if upstream:
                reason = f"{reason} (input '{upstream[0]}' comes from an unsupported node)"
            self.analysis.reasons[describe(node)] = reason or "unbounded"
            self.unbounded.update(o for o in node.output if o)
            outputs = []
        depth_rule = ctx.depth or (entry.depth if entry is not None and reason is None else "keep")
        base = max(
            (
                self.analysis.depth.get(name, 0)
                for name, iv in zip(node.input, inputs)
                if name and not (iv is not None and iv.is_point)
            ),
            default=0,
        )
        results = []
        for j, name in enumerate(node.output):
            iv = outputs[j] if j < len(outputs) else None
            if not name:
                results.append(iv)
                continue
            if iv is None:
                iv = ctx.unbounded(j)
            iv = self.normalize(name, iv)
            scope.values[name] = iv
            self.record(name, iv, base, depth_rule, scope)
            results.append(iv)
        return results

    def foldable(self, node, entry, inputs, ctx) -> bool:
        if entry is not None:
            fold = entry.fold
            if callable(fold):
                fold = fold(ctx)
            if not fold:
                return False
        present = [iv for name, iv in zip(node.input, inputs) if name]
        if not present or any(iv is None or not iv.is_point for iv in present) or subgraphs(node):
            return False
        if node.op_type == "Constant":
            return False
        return True

    def normalize(self, name: str, iv: Interval) -> Interval:
        """Bounds in the tensor's bound dtype, integral for integers, NaN-free, collapsed or clamped as asked."""
        elem = self.dtypes.get(name)
        if elem is None:
            elem = _elem_of(iv)
            if elem is not None:
                self.dtypes[name] = elem
        if iv.shape is None and self.model.shapes.get(name) is not None:
            iv = iv.with_shape(self.model.shapes[name])
        if elem in INT_TYPES or elem == TensorProto.BOOL:
            iv = _integral(iv, elem)
        elif elem is None or elem in FLOAT_TYPES:
            iv = iv.astype(bound_dtype(elem))
            if not iv.is_point:
                iv = iv.sanitized().compact()
        if iv.size is not None and iv.size > self.elementwise_limit and not iv.is_collapsed:
            iv = iv.collapse()
        if self.limit is not None and (elem is None or elem in FLOAT_TYPES):
            limit = self.limit(name)
            if limit is not None and (iv.min() < -limit or iv.max() > limit):
                self.analysis.clamped[name] = (iv.min(), iv.max())
                iv = iv.clamp(limit)
        return iv

    def record(self, name: str, iv: Interval, base: int, rule: str, scope: _Scope) -> None:
        bounds = self.analysis.bounds
        if scope.parent is not None and name in bounds:
            # Subgraph tensors (loop bodies run several times): the bound covers every run.
            old = bounds[name]
            iv_all = (
                join(old, iv) if old.shape == iv.shape else join(old.collapse(), iv.collapse()).with_shape(iv.shape)
            )
            bounds[name] = iv_all
        else:
            bounds[name] = iv
        self.analysis.shapes[name] = iv.shape
        if iv.is_point or rule == "reset":
            depth = 0
        elif rule == "widen":
            depth = base + 1
        else:
            depth = base
        self.analysis.depth[name] = max(depth, self.analysis.depth.get(name, 0)) if scope.parent else depth

    # -- subgraphs and synthetic nodes (used by transfer functions) ------------------------------

    def run_subgraph(
        self, graph: onnx.GraphProto, bindings: Mapping[str, Interval], scope: _Scope
    ) -> list[Interval | None]:
        """Bound a subgraph's outputs, its formal inputs bound to `bindings`, outer names from `scope`."""
        inner = _Scope(self, scope)
        for vi in graph.input:
            if vi.name in bindings:
                inner.values[vi.name] = bindings[vi.name]
                self.analysis.bounds[vi.name] = bindings[vi.name]
                elem = vi.type.tensor_type.elem_type if vi.type.HasField("tensor_type") else 0
                if elem and vi.name not in self.dtypes:
                    self.dtypes[vi.name] = elem
        for node in self.model.graph_nodes(graph):
            self.eval_node(node, inner)
        return [inner.get(o.name) for o in graph.output]

    def eval_synthetic(
        self,
        op_type: str,
        inputs: Sequence[Interval | None],
        attrs: dict | None = None,
        domain: str = "",
        n_outputs: int = 1,
        scope: _Scope | None = None,
        dtypes: Sequence[int | None] | None = None,
    ) -> list[Interval | None]:
        """Bound one made-up node on given intervals (composite ops: FastGelu = Add then Gelu, ...)."""
        names = [f"__synthetic_in{i}" if iv is not None else "" for i, iv in enumerate(inputs)]
        node = onnx.helper.make_node(
            op_type, names, [f"__synthetic_out{j}" for j in range(n_outputs)], domain=domain, **(attrs or {})
        )
        entry = lookup(domain, op_type)
        if entry is None:
            raise NotExact(f"no transfer function for {op_type}")
        for i, iv in enumerate(inputs):
            if iv is not None:
                given = dtypes[i] if dtypes else None
                self.dtypes[names[i]] = given or _elem_of(iv) or TensorProto.FLOAT
        for j in range(n_outputs):
            self.dtypes.pop(f"__synthetic_out{j}", None)
        ctx = NodeContext(self, node, list(inputs), scope or _Scope(self))
        if (
            all(iv is None or iv.is_point for iv in inputs)
            and any(iv is not None for iv in inputs)
            and entry.fold is True
        ):
            try:
                return [None if o is None else Interval.point(o) for o in ctx.run()]
            except KernelError:
                pass
        return rownorm.apply(ctx, entry.fn(ctx))


def _int_range(elem: int) -> tuple[float, float]:
    if elem == TensorProto.BOOL:
        return 0.0, 1.0
    info = np.iinfo(np_dtype(elem))
    return float(info.min), float(info.max)


def _elem_of(iv: Interval) -> int | None:
    dtype = iv.lo.dtype
    if iv.is_point:
        try:
            return onnx.helper.np_dtype_to_tensor_dtype(dtype)
        except Exception:
            return None
    if dtype.kind in "iu":
        return onnx.helper.np_dtype_to_tensor_dtype(dtype)
    if dtype.kind == "b":
        return TensorProto.BOOL
    return None


def _integral(iv: Interval, elem: int) -> Interval:
    """Integer/bool bounds: exact arrays stay in their dtype; bounds become integral and in range."""
    target = np_dtype(elem)
    if iv.is_point:
        a = iv.lo
        if a.dtype != target:
            with np.errstate(invalid="ignore", over="ignore"):
                if target.kind == "b":
                    a = a.astype(bool)
                elif a.dtype.kind == "f":
                    low, high = _int_range(elem)
                    a = np.clip(np.nan_to_num(a), low, high).astype(target)
                else:
                    a = a.astype(target)
        return Interval(a, a, False, iv.shape)
    low, high = _int_range(elem)
    with np.errstate(invalid="ignore"):
        lo = np.clip(
            np.nan_to_num(np.floor(np.asarray(iv.lo, np.float64)), nan=low, neginf=low, posinf=high), low, high
        )
        hi = np.clip(
            np.nan_to_num(np.ceil(np.asarray(iv.hi, np.float64)), nan=high, neginf=low, posinf=high), low, high
        )
    if (
        iv.shape is not None
        and lo.shape == tuple(iv.shape)
        and lo.size <= RETAIN_ELEMENTWISE
        and np.array_equal(lo, hi)
        and (lo.size == 0 or float(np.max(np.abs(lo))) < 2**53)
    ):
        # Bounds that pin every element (a decided comparison, an exact index): an exact value.
        return Interval.point(lo.astype(target))
    return Interval(lo, hi, False, iv.shape)
