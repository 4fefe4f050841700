"""The op registry: which transfer function bounds which op, grouped by lifting family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Families, in documentation order, with how they bound an op.
FAMILIES: dict[str, str] = {
    "layout": "moves or copies elements without changing them: the kernel runs on `lo` and on `hi`",
    "monotone": "element-wise monotone: the kernel runs on `lo` and `hi` (swapped when decreasing)",
    "elementwise": "element-wise, not monotone: the kernel at both ends plus the function's known "
    "extrema inside the interval",
    "arithmetic": "interval arithmetic on the operands (corners, poles, masks)",
    "linear": "linear in one operand: centre/radius form `mid' = op(mid, W)`, `rad' = op(rad, |W|)`; "
    "an interval product when both operands vary",
    "normalization": "bounded by the normalisation itself (about sqrt(N)·|scale| + bias whatever the input), "
    "intersected with interval arithmetic on the input",
    "reduction": "reductions and scans: monotone in each element (of x or of |x|)",
    "shape": "shapes, sizes, generators and integer index tensors, tracked exactly where they decide shapes",
    "control flow": "subgraphs: If joins both branches, Loop/Scan iterate to a bound with widening",
    "recurrent": "RNN/GRU/LSTM: hidden states bounded by their gate activations, cell states by the number of steps",
    "quantization": "quantize/dequantize: monotone affine maps with rounding and saturation",
    "contrib": "onnxruntime contrib ops (domain com.microsoft) that exporters and optimizers emit",
}

DEPTH_RULES = ("keep", "widen", "reset")


@dataclass(frozen=True)
class OpEntry:
    domain: str
    op_type: str
    family: str
    fn: Callable
    depth: str = "keep"  # "widen": a widening step (linear layers, products); "reset": the op's own
    # range bounds the output (Softmax, LayerNorm, Sigmoid, Tanh, Clip, ...)
    fold: bool | Callable = True  # with all inputs exact, run the kernel itself (False for random ops and
    # control flow; a callable(ctx) decides per node, e.g. no integer /0)
    note: str = ""


REGISTRY: dict[tuple[str, str], OpEntry] = {}


def register(
    family: str, *ops: str, domain: str = "", depth: str = "keep", fold: bool | Callable = True, note: str = ""
):
    """Decorator: `fn(ctx) -> list[Interval | None]` bounds the outputs of every op in `ops`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family}")
    if depth not in DEPTH_RULES:
        raise ValueError(f"unknown depth rule {depth}")

    def decorate(fn):
        for op in ops:
            key = (domain, op)
            if key in REGISTRY:
                raise ValueError(f"{domain or 'ai.onnx'}::{op} registered twice")
            REGISTRY[key] = OpEntry(domain, op, family, fn, depth, fold, note)
        return fn

    return decorate


def lookup(domain: str, op_type: str) -> OpEntry | None:
    domain = "" if domain in ("", "ai.onnx") else domain
    return REGISTRY.get((domain, op_type))


def supported_ops() -> list[OpEntry]:
    order = list(FAMILIES)
    return sorted(REGISTRY.values(), key=lambda e: (order.index(e.family), e.domain, e.op_type))
