"""The op registry: which transfer function bounds which op, grouped by lifting family, and what is
hazardous about the op (its input domain, its epsilon attribute, whether it allocates from values).

The hazard facts (`Hazards`) are data, read by the checks (nanlint/graph/checks.py) and the analysis:
adding a hazardous op is adding a row to `HAZARDS`, not a branch to a check."""

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

# Domain kinds: which operand values make the op's result inf or NaN.
DOMAIN_KINDS = {
    "positive": "defined above 0: 0 gives -inf, a negative NaN (NAN501)",
    "nonzero": "defined away from 0: 0 gives inf or NaN (NAN502)",
    "nonnegative": "defined at and above 0: a negative gives NaN (NAN503)",
    "interval": "defined on [low, high] (or the open interval): outside gives NaN (NAN503)",
    "power": "base ** exponent: a negative base with a fractional exponent is NaN (NAN503), a zero base "
    "with a negative exponent inf (NAN502)",
}


@dataclass(frozen=True)
class Domain:
    """Where an op is defined on one operand (`operand` = input index)."""

    operand: int
    kind: str  # a key of DOMAIN_KINDS
    low: float = float("-inf")  # kind "interval": the valid range ...
    high: float = float("inf")
    closed: bool = True  # ... and whether its endpoints are valid


@dataclass(frozen=True)
class Hazards:
    """What can make an op produce inf or NaN, as data for the checks."""

    domain: Domain | None = None
    exponential: bool = False  # grows like exp(input): overflows past ln(max) of the dtype
    epsilon: str | None = None  # the attribute holding the epsilon the op adds before dividing
    epsilon_default: float | None = None  # its default (None: only an explicit attribute is checked)
    generates: bool = False  # allocates an output whose size comes from input values (checked before running)


NO_HAZARDS = Hazards()
_NORM_EPSILON = Hazards(epsilon="epsilon", epsilon_default=1e-5)
_CONTRIB = "com.microsoft"
HAZARDS: dict[tuple[str, str], Hazards] = {
    ("", "Log"): Hazards(Domain(0, "positive")),
    ("", "Div"): Hazards(Domain(1, "nonzero")),
    ("", "Mod"): Hazards(Domain(1, "nonzero")),
    ("", "Reciprocal"): Hazards(Domain(0, "nonzero")),
    ("", "Sqrt"): Hazards(Domain(0, "nonnegative")),
    ("", "Acos"): Hazards(Domain(0, "interval", -1.0, 1.0)),
    ("", "Asin"): Hazards(Domain(0, "interval", -1.0, 1.0)),
    ("", "Atanh"): Hazards(Domain(0, "interval", -1.0, 1.0, closed=False)),
    ("", "Acosh"): Hazards(Domain(0, "interval", 1.0, float("inf"))),
    ("", "Pow"): Hazards(Domain(0, "power")),
    ("", "Exp"): Hazards(exponential=True),
    ("", "LayerNormalization"): _NORM_EPSILON,
    ("", "BatchNormalization"): _NORM_EPSILON,
    ("", "InstanceNormalization"): _NORM_EPSILON,
    ("", "GroupNormalization"): _NORM_EPSILON,
    ("", "RMSNormalization"): _NORM_EPSILON,
    ("", "SimplifiedLayerNormalization"): Hazards(epsilon="epsilon"),
    (_CONTRIB, "SkipLayerNormalization"): Hazards(epsilon="epsilon"),
    (_CONTRIB, "SkipSimplifiedLayerNormalization"): Hazards(epsilon="epsilon"),
    (_CONTRIB, "EmbedLayerNormalization"): Hazards(epsilon="epsilon"),
    **{
        ("", op): Hazards(generates=True)
        for op in ("ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad", "OneHot")
    },
}


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
    hazards: Hazards = NO_HAZARDS  # what can make it produce inf or NaN (from HAZARDS)


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
            REGISTRY[key] = OpEntry(domain, op, family, fn, depth, fold, note, HAZARDS.get(key, NO_HAZARDS))
        return fn

    return decorate


def lookup(domain: str, op_type: str) -> OpEntry | None:
    return REGISTRY.get((_norm(domain), op_type))


def hazards_of(domain: str, op_type: str) -> Hazards:
    """An op's hazard facts (none for an op the registry does not know)."""
    entry = lookup(domain, op_type)
    return entry.hazards if entry is not None else HAZARDS.get((_norm(domain), op_type), NO_HAZARDS)


def _norm(domain: str) -> str:
    return "" if domain in ("", "ai.onnx") else domain


def supported_ops() -> list[OpEntry]:
    order = list(FAMILIES)
    return sorted(REGISTRY.values(), key=lambda e: (order.index(e.family), e.domain, e.op_type))
