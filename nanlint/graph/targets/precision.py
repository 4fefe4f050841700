"""Which dtype each tensor is stored in, and each node computes in, for one model on one target.

A converting profile (float16, bfloat16) stores the float32 tensors of a float32 model in its
`float` dtype, except the outputs of ops or patterns it keeps in float32. A tensor crossing from
a float32 node into a float16 one is cast, so a tensor is judged in the narrowest dtype among its
producer and its consumers. A model that already stores float tensors in float16/bfloat16 (or a
profile with `"float": "model"`) is judged in its own dtypes; only the compute overrides of fused
kernels apply then.
"""

from __future__ import annotations

import onnx

from nanlint.graph.patterns import Patterns, all_nodes
from nanlint.graph.targets import BY_ONNX_TYPE, DTYPES, DtypeInfo, OpPrecision, Profile, round_to

_NARROWEST_FIRST = ("float16", "bfloat16", "float32", "float64")
_FLOAT32 = onnx.TensorProto.FLOAT
_BOOL_OPS = frozenset(
    {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "IsNaN", "IsInf"}
)
_INT64_OPS = frozenset({"Shape", "Size", "ArgMax", "ArgMin", "NonZero", "NonMaxSuppression"})


def complete_dtypes(model) -> dict[str, int]:
    """The model's dtypes, with node outputs that shape inference left out filled in locally.

    Shape inference is best effort (custom ops stop it): an output whose type is unknown takes
    the type the op is known to produce, or else the type of its first typed input.
    """
    dtypes = dict(model.dtypes)
    for node in all_nodes(model):
        known = next((dtypes[name] for name in node.input if name in dtypes), None)
        for index, out in enumerate(node.output):
            if not out or out in dtypes:
                continue
            if node.op_type == "Cast":
                dtypes[out] = int(next((a.i for a in node.attribute if a.name == "to"), known or 0))
            elif node.op_type in _BOOL_OPS:
                dtypes[out] = onnx.TensorProto.BOOL
            elif node.op_type in _INT64_OPS or (node.op_type == "TopK" and index == 1):
                dtypes[out] = onnx.TensorProto.INT64
            elif node.op_type == "Where" and len(node.input) == 3:
                dtypes[out] = dtypes.get(node.input[1], dtypes.get(node.input[2], 0))
            elif known is not None:
                dtypes[out] = known
    return {name: dtype for name, dtype in dtypes.items() if dtype}


def is_reduced_model(model, dtypes: dict[str, int]) -> bool:
    """True when the model already computes in float16 or bfloat16 (it is judged in its own dtypes)."""
    reduced = {DTYPES["float16"].onnx_type, DTYPES["bfloat16"].onnx_type}
    return any(dtypes.get(out) in reduced for node in all_nodes(model) for out in node.output)


class Precision:
    def __init__(self, model, profile: Profile, patterns: Patterns, dtypes: dict[str, int] | None = None):
        self.model = model
        self.profile = profile
        self.dtypes = dtypes if dtypes is not None else complete_dtypes(model)
        self.own_dtypes = not profile.converts or is_reduced_model(model, self.dtypes)
        self._pattern = patterns.by_node()

    # -- nodes ------------------------------------------------------------------------------------

    def _override(self, node: onnx.NodeProto) -> OpPrecision:
        op = self.profile.ops.get(node.op_type)
        if op is not None:
            return op
        pattern = self._pattern.get(id(node))
        return self.profile.patterns.get(pattern, OpPrecision()) if pattern else OpPrecision()

    def node_dtype(self, node: onnx.NodeProto) -> str | None:
        """The dtype of the node's float tensors on the target."""
        if self.own_dtypes:
            for name in (*node.output, *node.input):
                info = self._own(name)
                if info is not None:
                    return info.name
            return None
        return self._override(node).storage or self.profile.float

    def compute_dtype(self, node: onnx.NodeProto) -> str | None:
        """The dtype the node's kernel computes (accumulates, applies its epsilon) in."""
        return self._override(node).compute or self.node_dtype(node)

    def exp_overflow(self, node: onnx.NodeProto) -> bool:
        """The target's kernel for this op evaluates exp(input) directly (besides Exp itself)."""
        op = self.profile.ops.get(node.op_type)
        return op is not None and op.exp_overflow

    # -- tensors ----------------------------------------------------------------------------------

    def _own(self, tensor: str) -> DtypeInfo | None:
        elem = self.dtypes.get(tensor)
        return None if elem is None else BY_ONNX_TYPE.get(elem)

    def tensor_dtype(self, tensor: str) -> str | None:
        """The dtype the tensor holds on the target (None for non-float tensors)."""
        own = self._own(tensor)
        if own is None:
            return None
        if self.own_dtypes or own.onnx_type != _FLOAT32:
            return own.name
        nodes = [self.model.producer.get(tensor), *self.model.consumers.get(tensor, [])]
        dtypes = {self.node_dtype(node) for node in nodes if node is not None} or {self.profile.float}
        return min(dtypes, key=_NARROWEST_FIRST.index)

    def info(self, tensor: str) -> DtypeInfo | None:
        dtype = self.tensor_dtype(tensor)
        return DTYPES[dtype] if dtype else None

    def limit(self, tensor: str) -> float | None:
        """The finite max of the tensor's dtype on the target, for clamping bounds (None: not a float)."""
        info = self.info(tensor)
        return None if info is None or info.name == "float64" else info.max

    def converted(self, value: float, tensor: str) -> float:
        """A constant value as the target stores it (rounded, or clipped into range by the converter)."""
        info = self.info(tensor)
        if info is None or self.own_dtypes:
            return value
        if self.profile.constants == "clip" and value != 0 and abs(value) < float("inf"):
            magnitude = min(max(abs(value), info.tiny), info.max)
            value = magnitude if value > 0 else -magnitude
        return round_to(value, info.name)

    def applied(self, value: float, dtype: str) -> float:
        """`value` as a kernel computing in `dtype` sees it (subnormals flushed where the target does)."""
        stored = round_to(value, dtype)
        if self.profile.flush_subnormals and abs(stored) < DTYPES[dtype].normal:
            return 0.0
        return stored
