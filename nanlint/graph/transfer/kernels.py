"""Running one ONNX node with onnxruntime: the concrete kernels the transfer functions lift.

A session is built once per op signature (op, attributes, opset, input dtypes and roles) with the
inputs untyped in shape, so one session serves every tensor shape; weights are fed as inputs, never
copied into the session. "Pair" sessions hold the node twice, so the kernel runs on the lower and the
upper bounds in one call.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from nanlint.graph.interval import contiguous
from nanlint.graph.transfer.fastpath import NUMPY_KERNELS, numpy_kernel

# Per analysis; bounded so that a model with thousands of distinct signatures cannot hoard memory.
MAX_CACHED_SESSIONS = 512


class KernelError(Exception):
    """onnxruntime could not build or run the node."""


def _elem_type(arr: np.ndarray) -> int:
    return helper.np_dtype_to_tensor_dtype(arr.dtype)


def _session_options(flush: bool) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    options.enable_mem_pattern = False
    # Up to MAX_CACHED_SESSIONS sessions stay alive: an arena each would keep its largest run's memory
    # (minilm_int8's static pass peaks at 315 MB with them, 253 MB without, in the same time).
    options.enable_cpu_mem_arena = False
    if flush:
        # Subnormal operands slow convolutions and GEMMs ~100x; flushing them in these sums of
        # products moves a bound by < 1e-37 per term. Flushing sessions run on their own worker thread.
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
    # Many small sessions share the cores: idle threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class Kernels:
    """Cached single-node onnxruntime sessions for one model's opsets."""

    def __init__(self, opsets: dict[str, int]):
        self.opsets = dict(opsets)
        self._sessions: dict[tuple, ort.InferenceSession | KernelError] = {}
        self._options = {False: _session_options(False), True: _session_options(True)}
        # Linear sessions (mid and radius products) are optimised like an inference session: onnxruntime's
        # blocked convolution layout is ~20% faster, and only the accumulation order changes.
        self._linear_options = _session_options(True)
        self._linear_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------------

    def run(
        self, node: onnx.NodeProto, inputs: list[np.ndarray | None], attrs: dict | None = None, flush: bool = False
    ) -> list[np.ndarray | None]:
        """Outputs of `node` on concrete `inputs` (None for omitted optional inputs). `flush`: subnormals
        count as 0 (for sums of products only, see _session_options)."""
        fast = self._numpy(node, inputs, attrs)
        if fast is not None:
            return fast
        roles = tuple(None if a is None else ("p", _elem_type(a)) for a in inputs)
        session, outputs = self._session(node, roles, pair=False, attrs=attrs, flush=flush)
        feeds = {f"p{i}": _contiguous(a) for i, a in enumerate(inputs) if a is not None}
        return self._run(session, outputs, feeds, flush)

    def run_pair(
        self,
        node: onnx.NodeProto,
        lo: list[np.ndarray | None],
        hi: list[np.ndarray | None],
        varying: set[int],
        attrs: dict | None = None,
        flush: bool = False,
    ) -> tuple[list, list]:
        """Outputs on the lower and on the upper inputs; inputs outside `varying` are shared (lo[i])."""
        fast_lo = self._numpy(node, lo, attrs)
        fast_hi = (
            self._numpy(node, [hi[i] if i in varying else lo[i] for i in range(len(lo))], attrs)
            if fast_lo is not None
            else None
        )
        if fast_hi is not None:
            return fast_lo, fast_hi
        roles = tuple(None if a is None else ("v" if i in varying else "p", _elem_type(a)) for i, a in enumerate(lo))
        session, outputs = self._session(node, roles, pair=True, attrs=attrs, flush=flush)
        feeds = {}
        for i, (role, a) in enumerate(zip(roles, lo)):
            if role is None or a is None:
                continue
            if role[0] == "v":
                feeds[f"lo{i}"] = _contiguous(a)
                feeds[f"hi{i}"] = _contiguous(cast(np.ndarray, hi[i]))  # a varying input has both bounds
            else:
                feeds[f"p{i}"] = _contiguous(a)
        values = self._run(session, outputs, feeds, flush)
        half = len(values) // 2
        return values[:half], values[half:]

    def run_linear(
        self,
        node: onnx.NodeProto,
        lo: np.ndarray,
        hi: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None = None,
        attrs: dict | None = None,
        rad_attrs: dict | None = None,
        abs_weight: np.ndarray | None = None,
        shape: tuple[int, ...] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Bounds of node(x, W[, B]) for lo <= x <= hi and exact W, in one onnxruntime call:
        mid = (lo+hi)/2, rad = (hi-lo)/2, out = node(mid, W, B) -+ node(rad, |W|). Returns the output
        bounds and their min and max (NaN when an indeterminate form appeared). `abs_weight`: |W|,
        when the caller has it. `shape`: x's shape when `lo` and `hi` are stored smaller (size 1 where
        they do not vary): they are centred as stored and expanded inside the session, whose buffers
        onnxruntime reuses for the outputs (full copies made here could not be)."""
        roles = (("v", _elem_type(lo)), ("p", _elem_type(weight))) + (
            (("p", _elem_type(bias)),) if bias is not None else ()
        )
        session, _ = self._session(
            node,
            roles,
            pair="linear",
            attrs=attrs,
            extra=(repr(rad_attrs), shape is not None),
            flush=True,
            build=lambda d, v, a, r: self._build_linear(node, d, v, a, r, rad_attrs, shape is not None),
        )
        feeds = {
            "lo": _contiguous(lo),
            "hi": _contiguous(hi),
            "w": _contiguous(weight),
            "absw": np.abs(weight) if abs_weight is None else _contiguous(abs_weight),
        }
        if bias is not None:
            feeds["b"] = _contiguous(bias)
        if shape is not None:
            feeds["shape"] = np.asarray(shape, np.int64)
        out_lo, out_hi, low, high = _call(session, ["out_lo", "out_hi", "low", "high"], feeds, True)
        return out_lo, out_hi, float(low), float(high)

    def _build_linear(self, node, domain, version, attributes, roles, rad_attrs, expand):
        h = helper
        inputs = [
            h.make_tensor_value_info("lo", roles[0][1], None),
            h.make_tensor_value_info("hi", roles[0][1], None),
            h.make_tensor_value_info("w", roles[1][1], None),
            h.make_tensor_value_info("absw", roles[1][1], None),
        ]
        if len(roles) > 2:
            inputs.append(h.make_tensor_value_info("b", roles[2][1], None))
        if expand:
            inputs.append(h.make_tensor_value_info("shape", onnx.TensorProto.INT64, None))
        mid_node = h.make_node(node.op_type, ["mid", "w"] + (["b"] if len(roles) > 2 else []), ["m"], domain=domain)
        mid_node.attribute.extend(attributes)
        rad_node = h.make_node(node.op_type, ["rad", "absw"], ["r"], domain=domain)
        rad_node.attribute.extend(
            attributes if rad_attrs is None else [h.make_attribute(k, v) for k, v in rad_attrs.items()]
        )
        half = onnx.numpy_helper.from_array(np.asarray(0.5, helper.tensor_dtype_to_np_dtype(roles[0][1])), "half")
        stored = "_stored" if expand else ""
        centre = [
            h.make_node("Add", ["lo", "hi"], ["sum"]),
            h.make_node("Mul", ["sum", "half"], ["mid" + stored]),
            h.make_node("Sub", ["hi", "lo"], ["diff"]),
            h.make_node("Mul", ["diff", "half"], ["rad" + stored]),
        ]
        if expand:
            centre += [h.make_node("Expand", [f"{v}_stored", "shape"], [v]) for v in ("mid", "rad")]
        nodes = [
            *centre,
            mid_node,
            rad_node,
            h.make_node("Sub", ["m", "r"], ["out_lo"]),
            h.make_node("Add", ["m", "r"], ["out_hi"]),
            h.make_node("ReduceMin", ["out_lo"], ["low"], keepdims=0),
            h.make_node("ReduceMax", ["out_hi"], ["high"], keepdims=0),
        ]
        outputs = [onnx.ValueInfoProto(name=n) for n in ("out_lo", "out_hi", "low", "high")]
        graph = h.make_graph(nodes, "linear", inputs, outputs, [half])
        opsets = [h.make_opsetid("", max(version, 13) if domain == "" else 17)]
        if domain:
            opsets.append(h.make_opsetid(domain, version))
        model = h.make_model(graph, opset_imports=opsets)
        model.ir_version = max(h.find_min_ir_version_for(opsets, ignore_unknown=True), 7)
        try:
            session = _create(model, self._linear_options, True)
        except Exception as exc:
            raise KernelError(_first_line(exc)) from None
        return session, ["out_lo", "out_hi", "low", "high"]

    # -- sessions ---------------------------------------------------------------------------------

    def _numpy(self, node, inputs, attrs):
        if node.op_type not in NUMPY_KERNELS:
            return None
        values = attrs if attrs is not None else {a.name: helper.get_attribute_value(a) for a in node.attribute}
        return numpy_kernel(node, inputs, values, self._opset(node)[1])

    def _run(self, session, outputs, feeds, flush: bool):
        names = [o for o in outputs if o]
        values = dict(zip(names, _call(session, names, feeds, flush)))
        return [values.get(o) if o else None for o in outputs]

    def _opset(self, node: onnx.NodeProto) -> tuple[str, int]:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        version = self.opsets.get(domain, 1)
        if domain == "":
            # Use the version that defines this op at the model's opset: same semantics, and
            # onnxruntime may not know the newest opsets yet.
            try:
                version = max(onnx.defs.get_schema(node.op_type, version, "").since_version, 7)
            except Exception:
                pass
        return domain, version

    def _session(self, node, roles, pair, attrs: dict | None, extra: tuple = (), build=None, flush: bool = False):
        domain, version = self._opset(node)
        attributes = list(node.attribute) if attrs is None else [helper.make_attribute(k, v) for k, v in attrs.items()]
        key = (
            domain,
            node.op_type,
            version,
            b"".join(a.SerializeToString() for a in attributes),
            roles,
            len(node.output),
            pair,
            extra,
            flush,
        )
        with self._lock:
            found = self._sessions.get(key)
        if found is None:
            try:
                if build is not None:
                    found = build(domain, version, attributes, roles)
                else:
                    found = self._build(node, domain, version, attributes, roles, pair, flush)
            except KernelError as exc:
                found = exc
            with self._lock:
                if len(self._sessions) >= MAX_CACHED_SESSIONS:
                    self._sessions.pop(next(iter(self._sessions)))
                self._sessions[key] = found
        if isinstance(found, KernelError):
            raise found
        return found

    def _build(self, node, domain, version, attributes, roles, pair: bool, flush: bool = False):
        copies = ("lo", "hi") if pair else ("",)
        nodes: list[onnx.NodeProto] = []
        all_outputs: list[str] = []
        graph_outputs: list[str] = []
        for copy in copies:
            names = [
                "" if role is None else f"{copy}{i}" if role[0] == "v" else f"p{i}" for i, role in enumerate(roles)
            ]
            # Omitted optional outputs stay omitted: some kernels behave differently when asked for them.
            outs = [f"{copy}out{j}" if name else "" for j, name in enumerate(node.output)]
            new = helper.make_node(node.op_type, names, outs, domain=domain)
            new.attribute.extend(attributes)
            nodes.append(new)
            all_outputs.extend(outs)
            graph_outputs.extend(o for o in outs if o)
        graph_inputs, declared = [], set()
        for node_copy in nodes:
            for name, role in zip(node_copy.input, roles):
                if role is not None and name not in declared:
                    declared.add(name)
                    graph_inputs.append(helper.make_tensor_value_info(name, role[1], None))
        graph = helper.make_graph(nodes, "kernel", graph_inputs, [onnx.ValueInfoProto(name=o) for o in graph_outputs])
        opsets = [helper.make_opsetid(domain, version)]
        if domain != "":
            opsets.append(helper.make_opsetid("", 17))
        model = helper.make_model(graph, opset_imports=opsets)
        try:
            model.ir_version = max(helper.find_min_ir_version_for(opsets, ignore_unknown=True), 7)
        except Exception:
            model.ir_version = 8
        try:
            session = _create(model, self._options[flush], flush)
        except Exception as exc:
            raise KernelError(_first_line(exc)) from None
        return session, all_outputs


# A flushing session sets flush-to-zero on the thread that builds or runs it, and onnxruntime leaves it
# set. Sessions are built and run on worker threads, one per mode, so the caller's numpy and the
# exact kernels keep IEEE subnormals.
_WORKERS = {
    flush: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"nanlint-kernels-{flush}") for flush in (False, True)
}


def _create(model: onnx.ModelProto, options: ort.SessionOptions, flush: bool) -> ort.InferenceSession:
    data = model.SerializeToString()
    return (
        _WORKERS[flush].submit(lambda: ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])).result()
    )


def _call(session, names, feeds, flush: bool):
    def run():
        return session.run(names, feeds)

    try:
        return _WORKERS[flush].submit(run).result()
    except Exception as exc:
        raise KernelError(_first_line(exc)) from None


def _contiguous(a: np.ndarray) -> np.ndarray:
    return contiguous(a)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
