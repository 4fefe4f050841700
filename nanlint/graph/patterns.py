"""Subgraph patterns shared by the checks and the target profiles.

- decomposed normalizations: a LayerNorm or RMSNorm spelled out as
  Pow/Mul (square) -> ReduceMean -> Add eps -> Sqrt -> Div (or Reciprocal/Mul, Pow -0.5);
- naive softmaxes: Exp -> ReduceSum -> Div whose Exp input is not `x - ReduceMax(x)`;
- epsilon guards: a small positive constant that keeps a value away from 0 (Add eps,
  Max(x, eps), Clip min) or a bound `1 - eps` that keeps it away from 1 (Clip max,
  Min(x, 1 - eps)), on the way to an op that is undefined there (Log, Sqrt, a division).

Patterns are found once per model and looked up by node; they describe structure only,
never bounds or targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

# Ops a value passes through unchanged in the sense that matters here (its sign and whether it
# can be 0 or 1): casts and layout.
PASS_THROUGH = frozenset({"Cast", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Expand", "Transpose", "Flatten"})
GUARD_DEPTH = 4  # how many ops an epsilon may travel before the op it protects


def all_nodes(model) -> list[onnx.NodeProto]:
    """Every node: the main graph in topological order, each If/Loop/Scan body after its node."""
    return [node for node, _ in model.walk()]


def attribute(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


@dataclass
class Normalization:
    """A decomposed LayerNorm (x - mean) or RMSNorm (x) normalisation."""

    kind: str  # "LayerNorm" | "RMSNorm"
    base: str  # the tensor that is squared
    square: onnx.NodeProto
    reduce: onnx.NodeProto
    nodes: list[onnx.NodeProto] = field(default_factory=list)  # every node of the pattern
    normalized: list[str] = field(default_factory=list)  # (x - mean) / sqrt(var + eps): at most sqrt(N)


@dataclass
class SpelledSoftmax:
    """Exp -> ReduceSum -> Div; `stable` when the Exp input is x - max(x)."""

    exp: onnx.NodeProto
    reduce: onnx.NodeProto
    div: onnx.NodeProto
    stable: bool

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        return [self.exp, self.reduce, self.div]


@dataclass
class EpsGuard:
    """`node` bounds its output away from 0 (kind "lower") or from 1 (kind "upper") with `value`."""

    node: onnx.NodeProto
    kind: str  # "lower" | "upper"
    constant: str  # the tensor holding the epsilon / the 1 - eps bound
    value: float
    protects: onnx.NodeProto  # the op that is undefined without the guard

    @property
    def nodes(self) -> list[onnx.NodeProto]:
        return [self.node, self.protects]


@dataclass
class Patterns:
    normalizations: list[Normalization]
    softmaxes: list[SpelledSoftmax]
    guards: list[EpsGuard]
    stable_exps: list[onnx.NodeProto]  # Exp(x - max(x)): at most 1 whatever the bound of x says
    # x / norm(x) (L1, L2, max-abs, + eps): at most 1 in magnitude whatever the bound of x says
    unit_ratios: list[onnx.NodeProto] = field(default_factory=list)

    @property
    def normalized(self) -> set[str]:
        """Tensors whose magnitude the pattern bounds (sqrt(N) times a scale, or 1), however loose
        their interval is: the interval cannot see that numerator and denominator move together."""
        names = {name for n in self.normalizations for name in n.normalized}
        return names | {node.output[0] for node in self.unit_ratios}

    @property
    def naive_softmaxes(self) -> list[SpelledSoftmax]:
        return [s for s in self.softmaxes if not s.stable]

    def by_node(self) -> dict[int, str]:
        """id(node) -> the name of the profile pattern it belongs to (the first one wins)."""
        member: dict[int, str] = {}
        for kind, found in (
            ("decomposed-normalization", self.normalizations),
            ("naive-softmax", self.naive_softmaxes),
            ("eps-guard", self.guards),
        ):
            for pattern in found:
                for node in pattern.nodes:
                    member.setdefault(id(node), kind)
        return member


def find_patterns(model, max_epsilon: float) -> Patterns:
    graph = _Graph(model)
    stable = [n for n in all_nodes(model) if n.op_type == "Exp" and n.input and graph.max_subtracted(n.input[0])]
    return Patterns(
        graph.normalizations(), graph.spelled_softmaxes(), graph.guards(max_epsilon), stable, graph.unit_ratios()
    )


class _Graph:
    """Structural queries over a loaded model (producers, consumers, constants)."""

    def __init__(self, model):
        self.model = model
        self.nodes = all_nodes(model)
        self.producer = model.producer
        self.consumers = model.consumers
        self.constants = model.constants

    # -- helpers ------------------------------------------------------------------------------

    def source(self, tensor: str) -> onnx.NodeProto | None:
        """The producer of `tensor`, looking through casts and layout ops."""
        node = self.producer.get(tensor)
        while node is not None and node.op_type in PASS_THROUGH and node.input:
            node = self.producer.get(node.input[0])
        return node

    def uses(self, tensor: str) -> Iterable[tuple[onnx.NodeProto, int]]:
        """(consumer, input index) pairs of `tensor`, looking through casts and layout ops."""
        for node in self.consumers.get(tensor, []):
            if node.op_type in PASS_THROUGH:
                yield from self.uses(node.output[0])
                continue
            for index, name in enumerate(node.input):
                if name == tensor:
                    yield node, index

    def constant(self, tensor: str) -> np.ndarray | None:
        value = self.constants.get(tensor)
        if value is None:
            node = self.producer.get(tensor)
            if node is not None and node.op_type in PASS_THROUGH and node.input:
                return self.constant(node.input[0])
        return value

    def scalar(self, tensor: str) -> float | None:
        value = self.constant(tensor)
        if value is None or value.size != 1 or value.dtype.kind not in "fiu":
            return None
        return float(value.reshape(()))

    # -- decomposed normalizations --------------------------------------------------------------

    def square_base(self, node: onnx.NodeProto) -> str | None:
        if node.op_type == "Pow" and len(node.input) == 2 and self.scalar(node.input[1]) == 2.0:
            return node.input[0]
        if node.op_type == "Mul" and len(node.input) == 2 and node.input[0] == node.input[1]:
            return node.input[0]
        return None

    def normalizations(self) -> list[Normalization]:
        found = []
        for square in self.nodes:
            base = self.square_base(square)
            if base is None:
                continue
            for reduce, _ in self.uses(square.output[0]):
                if reduce.op_type not in ("ReduceMean", "ReduceSum"):
                    continue
                chain = self.rsqrt_chain(reduce.output[0])
                if chain is None:
                    continue
                nodes = [square, reduce, *chain]
                mean = self.centering(base)
                if mean is not None:
                    nodes[:0] = mean
                normalized = [n.output[0] for n in chain if n.op_type in ("Div", "Mul")]
                found.append(Normalization("LayerNorm" if mean else "RMSNorm", base, square, reduce, nodes, normalized))
        return found

    def rsqrt_chain(self, variance: str) -> list[onnx.NodeProto] | None:
        """The nodes from a variance to the product or quotient that normalises by its square root
        (x / sqrt(v), x * 1/sqrt(v), x * v**-0.5), or None if the variance goes elsewhere."""
        chain: list[onnx.NodeProto] = []
        tensor = variance
        for _ in range(GUARD_DEPTH):
            step = next(iter(self.uses(tensor)), None)
            if step is None:
                return None
            node, _ = step
            chain.append(node)
            if node.op_type == "Sqrt":
                return chain + self.normalizing_uses(node.output[0], inverse=False)
            if node.op_type == "Reciprocal" or (node.op_type == "Pow" and (self.scalar(node.input[1]) or 0) < 0):
                return chain + self.normalizing_uses(node.output[0], inverse=True)
            if node.op_type not in ("Add", "Max", "Clip"):
                return None
            tensor = node.output[0]
        return None

    def normalizing_uses(self, root: str, inverse: bool) -> list[onnx.NodeProto]:
        """Divisions by a square root, or products with an inverse square root (1 / sqrt(v) spelled as
        a Div of a constant counts as an inverse)."""
        found = []
        for node, index in self.uses(root):
            if not inverse and node.op_type == "Div" and index == 1:
                found.append(node)
                if self.constant(node.input[0]) is not None:  # 1 / sqrt(v): the products with it normalise
                    found.extend(self.normalizing_uses(node.output[0], inverse=True))
            elif inverse and node.op_type == "Mul":
                found.append(node)
        return found

    # -- x / norm(x) ------------------------------------------------------------------------------

    def unit_ratios(self) -> list[onnx.NodeProto]:
        """Div(x, norm(x) [+ eps]) with norm an L1, L2 or max-abs reduction of the same x."""
        found = []
        for node in self.nodes:
            if node.op_type != "Div" or len(node.input) != 2:
                continue
            norm = self.source(node.input[1])
            while (
                norm is not None
                and norm.op_type in ("Add", "Max", "Clip")
                and norm.input
                and all(self.constant(name) is not None for name in norm.input[1:] if name)
            ):
                norm = self.source(norm.input[0])
            if norm is not None and self.norm_of(norm) == self.origin(node.input[0]):
                found.append(node)
        return found

    def origin(self, tensor: str) -> str:
        """The tensor before casts and layout ops."""
        node = self.producer.get(tensor)
        while node is not None and node.op_type in PASS_THROUGH and node.input:
            tensor = node.input[0]
            node = self.producer.get(tensor)
        return tensor

    def norm_of(self, node: onnx.NodeProto) -> str | None:
        """x when `node` computes a norm of x that bounds every |x_i| (None otherwise)."""
        if node.op_type in ("ReduceL1", "ReduceL2") and node.input:
            return self.origin(node.input[0])
        if node.op_type == "Sqrt":
            inner = self.source(node.input[0])
            if inner is not None and inner.op_type == "ReduceSum":
                square = self.source(inner.input[0])
                base = self.square_base(square) if square is not None else None
                return self.origin(base) if base else None
            return None
        if node.op_type in ("ReduceSum", "ReduceMax") and node.input:
            absolute = self.source(node.input[0])
            if absolute is not None and absolute.op_type == "Abs":
                return self.origin(absolute.input[0])
        return None

    def centering(self, base: str) -> list[onnx.NodeProto] | None:
        """[ReduceMean, Sub] when `base` is x - mean(x)."""
        sub = self.producer.get(base)
        if sub is None or sub.op_type != "Sub" or len(sub.input) != 2:
            return None
        mean = self.source(sub.input[1])
        if mean is not None and mean.op_type == "ReduceMean" and mean.input and mean.input[0] == sub.input[0]:
            return [mean, sub]
        return None

    # -- naive softmax --------------------------------------------------------------------------

    def spelled_softmaxes(self) -> list[SpelledSoftmax]:
        found = []
        for exp in self.nodes:
            if exp.op_type != "Exp" or not exp.input:
                continue
            uses = list(self.uses(exp.output[0]))
            for reduce, _ in uses:
                if reduce.op_type != "ReduceSum":
                    continue
                for div, index in uses:
                    if div.op_type == "Div" and index == 0 and self.source(div.input[1]) is reduce:
                        found.append(SpelledSoftmax(exp, reduce, div, self.max_subtracted(exp.input[0])))
        return found

    def max_subtracted(self, tensor: str) -> bool:
        sub = self.source(tensor)
        if sub is None or sub.op_type != "Sub" or len(sub.input) != 2:
            return False
        shift = self.source(sub.input[1])
        return shift is not None and shift.op_type in ("ReduceMax", "Max", "ArgMax")

    # -- epsilon guards ----------------------------------------------------------------------------

    def guards(self, max_epsilon: float) -> list[EpsGuard]:
        found = []
        for node in self.nodes:
            for kind, constant, value in self.guard_constants(node, max_epsilon):
                protects = self.protected_use(node.output[0], negated=kind == "upper")
                if protects is not None:
                    found.append(EpsGuard(node, kind, constant, value, protects))
        return found

    def guard_constants(self, node: onnx.NodeProto, max_epsilon: float) -> list[tuple[str, str, float]]:
        """(kind, constant tensor, value) of the epsilons `node` applies."""

        def small(name: str) -> float | None:
            value = self.constant(name) if name else None
            if value is None or value.size == 0 or value.dtype.kind != "f":
                return None
            low, high = float(value.min()), float(value.max())
            return low if 0 < low and high <= max_epsilon else None

        def near_one(name: str) -> float | None:
            value = self.constant(name) if name else None
            if value is None or value.size == 0 or value.dtype.kind != "f":
                return None
            high = float(value.max())
            return high if 1 - max_epsilon <= float(value.min()) and high < 1 else None

        found = []
        if node.op_type in ("Add", "Max") and len(node.input) == 2:
            for name in node.input:
                if (value := small(name)) is not None:
                    found.append(("lower", name, value))
        if node.op_type == "Clip" and len(node.input) >= 2 and (value := small(node.input[1])) is not None:
            found.append(("lower", node.input[1], value))
        if node.op_type in ("Clip", "Min"):
            names = node.input[2:3] if node.op_type == "Clip" else node.input
            for name in names:
                if (value := near_one(name)) is not None:
                    found.append(("upper", name, value))
        return found

    def protected_use(self, tensor: str, negated: bool, depth: int = GUARD_DEPTH) -> onnx.NodeProto | None:
        """The first op undefined at 0 that `tensor` reaches (for an upper guard: through `c - tensor`)."""
        if depth == 0:
            return None
        for node, index in self.uses(tensor):
            if not negated and _undefined_at_zero(node, index, self):
                return node
            if node.op_type == "Sub" and index == 1 and negated:
                found = self.protected_use(node.output[0], False, depth - 1)
            elif node.op_type in ("Add", "Mul", "ReduceSum", "ReduceMean", "Sqrt") or (
                node.op_type == "Sub" and index == 0
            ):
                found = self.protected_use(node.output[0], negated, depth - 1)
            else:
                continue
            if found is not None:
                return found
        return None


def _undefined_at_zero(node: onnx.NodeProto, index: int, graph: _Graph) -> bool:
    op = node.op_type
    if op in ("Log", "Reciprocal") and index == 0:
        return True
    if op in ("Div", "Mod") and index == 1:
        return True
    if op == "Sqrt" and index == 0:
        # sqrt(0) is 0, but its derivative and any division by it are not: an eps inside a sqrt is a guard.
        return True
    if op == "Pow" and index == 0:
        exponent = graph.scalar(node.input[1])
        return exponent is None or exponent < 0 or not float(exponent).is_integer()
    return False
