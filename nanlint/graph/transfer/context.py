"""What a transfer function sees: the node, its input intervals, attributes, and the kernel runner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper

from nanlint.graph.interval import Interval
from nanlint.graph.model import FLOAT_TYPES, MAX_TENSOR_ELEMENTS, Model, ModelError, np_dtype


class Engine(Protocol):
    """What transfer functions may ask of the analysis that runs them (graph/analysis.py implements it)."""

    model: Model
    kernels: Any  # transfer.kernels.Kernels: onnxruntime sessions per op signature
    analysis: Any  # analysis.Analysis: the bounds found so far
    strict: bool

    def dtype_of(self, name: str) -> int | None: ...

    def run_subgraph(self, graph: onnx.GraphProto, bindings: Mapping[str, Interval], scope: Any) -> list: ...

    def eval_synthetic(
        self,
        op_type: str,
        inputs: Sequence[Interval | None],
        attrs: dict | None = None,
        domain: str = "",
        n_outputs: int = 1,
        scope: Any = None,
        dtypes: Sequence[int | None] | None = None,
    ) -> list[Interval | None]: ...


class NotExact(Exception):
    """A parameter input the transfer function needs exactly (a shape, axes, indices) is only bounded."""


INT_TYPES = frozenset(
    {
        TensorProto.INT8,
        TensorProto.INT16,
        TensorProto.INT32,
        TensorProto.INT64,
        TensorProto.UINT8,
        TensorProto.UINT16,
        TensorProto.UINT32,
        TensorProto.UINT64,
    }
)


def run_dtype(elem: int | None) -> np.dtype:
    """The dtype a kernel runs in for a tensor of ONNX type `elem`: reduced floats run in float32."""
    if elem is None or (elem in FLOAT_TYPES and elem != TensorProto.DOUBLE):
        return np.dtype(np.float32)
    if elem == TensorProto.DOUBLE:
        return np.dtype(np.float64)
    try:
        return np_dtype(elem)
    except Exception:
        return np.dtype(np.float32)


def bound_dtype(elem: int | None) -> np.dtype:
    """The dtype bounds are carried in (see interval.py)."""
    if elem is None or (elem in FLOAT_TYPES and elem != TensorProto.DOUBLE):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def to_run(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Bounds or values converted for a kernel input of `dtype` (integers clipped into range)."""
    if arr.dtype == dtype:
        return arr
    if dtype.kind in "iu":
        if arr.dtype.kind == "f":
            info = np.iinfo(dtype)
            # float(info.max) rounds up past the range; the largest float below it is safe.
            top = np.nextafter(np.float64(info.max), 0) if info.max > 2**53 else info.max
            arr = np.clip(np.nan_to_num(arr, nan=0.0), info.min, top)
        return arr.astype(dtype)
    if dtype.kind == "b":
        return arr > 0.5 if arr.dtype.kind == "f" else arr.astype(bool)
    return arr.astype(dtype)


class NodeContext:
    def __init__(self, engine: Engine, node: onnx.NodeProto, inputs: list[Interval | None], scope):
        self.engine = engine
        self.node = node
        self.inputs = inputs
        self.scope = scope
        self.depth: str | None = None  # overrides the registry's depth rule ("keep"/"widen"/"reset")
        self._attrs: dict[str, Any] | None = None

    # -- attributes and types ---------------------------------------------------------------------

    @property
    def attrs(self) -> dict[str, Any]:
        if self._attrs is None:
            self._attrs = {a.name: helper.get_attribute_value(a) for a in self.node.attribute}
        return self._attrs

    def attr(self, name: str, default=None):
        value = self.attrs.get(name, default)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return value

    @property
    def opset(self) -> int:
        return self.engine.model.domain_version(self.node.domain)

    def in_type(self, i: int) -> int | None:
        return self.engine.dtype_of(self.node.input[i]) if self.has(i) else None

    def out_type(self, j: int = 0) -> int | None:
        return self.engine.dtype_of(self.node.output[j]) if j < len(self.node.output) else None

    def out_shape(self, j: int = 0) -> tuple[int, ...] | None:
        return self.engine.model.shapes.get(self.node.output[j]) if j < len(self.node.output) else None

    def out_is_float(self, j: int = 0) -> bool:
        t = self.out_type(j)
        return t is None or t in FLOAT_TYPES

    # -- inputs -----------------------------------------------------------------------------------

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def has(self, i: int) -> bool:
        return self.maybe_x(i) is not None

    def maybe_x(self, i: int) -> Interval | None:
        """Input `i`'s interval, or None when the input is absent or unknown."""
        return self.inputs[i] if i < len(self.inputs) and self.node.input[i] != "" else None

    def x(self, i: int = 0) -> Interval:
        iv = self.maybe_x(i)
        if iv is None:
            raise NotExact(f"input {i} is missing or unknown")
        return iv

    def is_exact(self, i: int) -> bool:
        iv = self.maybe_x(i)
        return iv is not None and iv.is_point

    def const(self, i: int) -> np.ndarray:
        """The exact value of input `i` (raises NotExact when only bounds are known)."""
        iv = self.x(i)
        if not iv.is_point:
            raise NotExact(f"input {i} ('{self.node.input[i]}') is not a known constant")
        return iv.lo

    def const_or(self, i: int, default):
        return self.const(i) if self.has(i) else default

    def ints(self, i: int) -> list[int]:
        return [int(v) for v in np.asarray(self.const(i)).reshape(-1)]

    # -- results ----------------------------------------------------------------------------------

    def unbounded(self, j: int = 0, shape=None) -> Interval:
        return Interval.unbounded(self.out_shape(j) if shape is None else shape, bound_dtype(self.out_type(j)))

    def data_nan(self, *indices: int) -> bool:
        idx = indices or range(len(self.inputs))
        return any((iv := self.maybe_x(i)) is not None and iv.may_nan for i in idx)

    def optional(self, fn, *args, default=None):
        """fn(*args) for a refinement the bounds do not depend on (a tighter band, a fact for later ops):
        any failure gives `default` instead of failing the op, except in strict mode (tests)."""
        try:
            return fn(*args)
        except Exception:
            if self.engine.strict:
                raise
            return default

    # -- kernels ----------------------------------------------------------------------------------

    def _run_input(self, i: int, arr: np.ndarray) -> np.ndarray:
        return to_run(np.asarray(arr), run_dtype(self.in_type(i) if self.in_type(i) is not None else _guess(arr)))

    def run(self, values: list[np.ndarray | None] | None = None, attrs: dict | None = None) -> list[np.ndarray | None]:
        """The node's kernel on exact inputs (by default the node's own exact inputs)."""
        if values is None:
            values = [self.const(i) if self.has(i) else None for i in range(len(self.inputs))]
        feeds = [None if v is None else self._run_input(i, v) for i, v in enumerate(values)]
        return self.engine.kernels.run(self.node, feeds, attrs)

    def lift(
        self,
        data=(0,),
        decreasing: bool = False,
        attrs: dict | None = None,
        values: dict[int, Interval] | None = None,
        elementwise: bool = False,
    ) -> list[Interval | None]:
        """Run the kernel on the lower and on the upper bounds of the `data` inputs.

        Sound for ops that are non-decreasing (or, with `decreasing`, non-increasing) in every data
        input element-wise; all other inputs must be exact. `values` overrides input intervals.
        `elementwise` ops also run on the scalar bounds of a tensor whose shape is unknown."""
        values = values or {}
        ivs = {i: values.get(i, self.maybe_x(i)) for i in range(len(self.inputs))}
        varying = {i: iv for i in data if (iv := ivs.get(i)) is not None}  # the data inputs that are known
        data = [i for i in data if i in varying]
        lo_feeds: list[np.ndarray | None] = []
        hi_feeds: list[np.ndarray | None] = []
        # An element-wise op of one varying input runs on its bounds as stored (one value for a whole
        # axis along which they do not vary): the output varies along the same axes only.
        first = varying[data[0]] if len(data) == 1 else None
        compact_shape = first.shape if elementwise and first is not None and not first.is_point else None
        compact = compact_shape is not None
        for i in range(len(self.inputs)):
            iv = ivs[i]
            if iv is None:
                lo_feeds.append(None)
                hi_feeds.append(None)
            elif i in data:
                if iv.shape is None:
                    if not elementwise:
                        raise NotExact(f"input {i} has an unknown shape")
                    lo, hi = iv.lo, iv.hi
                elif compact:
                    common = np.broadcast_shapes(iv.lo.shape, iv.hi.shape)
                    common = (1,) * (len(iv.shape) - len(common)) + tuple(common)  # kernels want the rank
                    lo, hi = np.broadcast_to(iv.lo, common), np.broadcast_to(iv.hi, common)
                else:
                    check_size(iv.shape, self.node.input[i])
                    lo, hi = iv.broadcast()
                lo_feeds.append(self._run_input(i, lo))
                hi_feeds.append(self._run_input(i, hi))
            else:
                if not iv.is_point:
                    raise NotExact(f"input {i} ('{self.node.input[i]}') is not a known constant")
                arr = self._run_input(i, iv.lo)
                lo_feeds.append(arr)
                hi_feeds.append(arr)
        may_nan = any(iv.may_nan for iv in varying.values())
        if all(iv.is_point for iv in varying.values()):
            outs = self.engine.kernels.run(self.node, lo_feeds, attrs)
            return [None if o is None else Interval(o, o, may_nan or _has_nan(o)) for o in outs]
        lo_out, hi_out = self.engine.kernels.run_pair(self.node, lo_feeds, hi_feeds, set(data), attrs)
        if decreasing:
            lo_out, hi_out = hi_out, lo_out
        known = all(iv.shape is not None for iv in varying.values())
        shapes = [
            None
            if lo is None or not known
            else (np.broadcast_shapes(compact_shape, lo.shape) if compact_shape is not None else lo.shape)
            for lo in lo_out
        ]
        return [None if lo is None else Interval(lo, hi, may_nan, s) for lo, hi, s in zip(lo_out, hi_out, shapes)]

    def lift_first(
        self,
        data=(0,),
        decreasing: bool = False,
        attrs: dict | None = None,
        values: dict[int, Interval] | None = None,
        elementwise: bool = False,
    ) -> Interval:
        """Output 0 of `lift` (same arguments), for ops that always produce it."""
        out = self.lift(data, decreasing, attrs, values, elementwise)[0]
        assert out is not None  # output 0 is never omitted by the ops that use this
        return out


def _guess(arr: np.ndarray) -> int | None:
    try:
        return helper.np_dtype_to_tensor_dtype(arr.dtype)
    except Exception:
        return None


def _has_nan(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" and bool(np.isnan(a).any())


def check_size(shape, name: str) -> None:
    n = 1
    for d in shape:
        n *= int(d)
    if n > MAX_TENSOR_ELEMENTS:
        raise ModelError(f"tensor '{name}' would have {n} elements, above the limit of {MAX_TENSOR_ELEMENTS}")
