"""numpy spellings of a few simple ops, used by the kernel runner instead of an onnxruntime call.

Shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) and the reshapes/transposes
around attention run thousands of times on tiny or already-laid-out tensors; a session call costs more
than the op. Each function here has exactly the ONNX semantics for the opsets it accepts (returning
None declines, and onnxruntime runs the op); the soundness tests run the same ops both ways.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _axes(node_attrs: dict, inputs: list, index: int, opset: int, since: int):
    """Axes from the attribute (before `since`) or from input `index`."""
    if opset < since:
        value = node_attrs.get("axes")
        return None if value is None else [int(a) for a in value]
    if len(inputs) > index and inputs[index] is not None:
        return [int(a) for a in np.asarray(inputs[index]).reshape(-1)]
    return None


def identity(inputs, attrs, opset):
    return [inputs[0]]


def reshape(inputs, attrs, opset):
    data, shape = inputs[0], [int(d) for d in np.asarray(inputs[1]).reshape(-1)]
    allowzero = int(attrs.get("allowzero", 0)) if opset >= 14 else 0
    if not allowzero:
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [data.reshape(shape)]


def transpose(inputs, attrs, opset):
    perm = attrs.get("perm")
    return [np.transpose(inputs[0], None if perm is None else [int(p) for p in perm])]


def squeeze(inputs, attrs, opset):
    data = inputs[0]
    axes = _axes(attrs, inputs, 1, opset, 13)
    if axes is None:
        return [np.squeeze(data)]
    axes = tuple(a % data.ndim for a in axes)
    if any(data.shape[a] != 1 for a in axes):
        return None
    return [np.squeeze(data, axis=axes)]


def unsqueeze(inputs, attrs, opset):
    data = inputs[0]
    axes = _axes(attrs, inputs, 1, opset, 13)
    if axes is None:
        return None
    rank = data.ndim + len(axes)
    return [np.expand_dims(data, tuple(sorted(a % rank for a in axes)))]


def flatten(inputs, attrs, opset):
    data = inputs[0]
    axis = int(attrs.get("axis", 1)) % (data.ndim + 1) if data.ndim else 0
    outer = int(np.prod(data.shape[:axis], dtype=np.int64))
    return [data.reshape(outer, -1) if data.size else data.reshape(outer, int(np.prod(data.shape[axis:])))]


def concat(inputs, attrs, opset):
    parts = [a for a in inputs if a is not None]
    dtypes = {a.dtype for a in parts}
    if len(dtypes) != 1 or not parts or parts[0].ndim == 0:
        return None
    return [np.concatenate(parts, axis=int(attrs["axis"]))]


def gather(inputs, attrs, opset):
    data, indices = inputs[0], inputs[1]
    if data.ndim == 0 or indices.dtype.kind not in "iu":
        return None
    axis = int(attrs.get("axis", 0)) % data.ndim
    n = data.shape[axis]
    if indices.size and (indices.min() < -n or indices.max() >= n):
        return None  # onnxruntime reports the error
    return [np.take(data, np.where(indices < 0, indices + n, indices), axis=axis)]


def shape(inputs, attrs, opset):
    dims = np.asarray(inputs[0].shape, np.int64)
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    return [dims[start:] if end is None else dims[start : int(end)]]


def relu(inputs, attrs, opset):
    x = inputs[0]
    if x.dtype.kind != "f":
        return None
    return [np.maximum(x, x.dtype.type(0))]


NUMPY_KERNELS: dict[str, Callable] = {
    "Identity": identity,
    "Reshape": reshape,
    "Transpose": transpose,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "Flatten": flatten,
    "Concat": concat,
    "Gather": gather,
    "Shape": shape,
    "Relu": relu,
}


def numpy_kernel(node, inputs: list, attrs: dict, opset: int) -> list | None:
    """The op computed in numpy, or None when this instance is left to onnxruntime."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in NUMPY_KERNELS or len(node.output) != 1:
        return None
    if inputs and inputs[0] is None:
        return None
    try:
        out = NUMPY_KERNELS[node.op_type](inputs, attrs, opset)
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return out
