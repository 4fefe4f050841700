"""Hazards -> findings: what the interval bounds mean on one target.

Every check reads the bounds of one analysis (run with the target's clamping limits) and the
target's precision (which dtype each tensor is stored in and each kernel computes in). The checks
run from the most specific to the most general, and each hazard is reported once:

- NAN701/NAN702 (constants, epsilons), NAN505/NAN506 (softmax and normalization patterns) and
  NAN504 (exp overflow) claim the tensors they explain, so NAN601 does not report them again;
- a node with a domain finding (NAN501-NAN503) claims its outputs (the inf or NaN it makes);
- a tensor whose bound is past the limit only because of an overflow upstream (one the analysis
  clamped, an out-of-range or infinite constant) is a consequence, not a new hazard, until an op
  that resets bounds (Softmax, LayerNormalization, Sigmoid, Clip, ...) intervenes;
- a bound that is infinite only because an unsupported op (NAN799) made it unknown says nothing.

Margins rank findings: for range hazards, log2 of how far the bound goes past the dtype's max;
for domain hazards, log2(1 + distance past the edge of the domain).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from nanlint import catalog, options
from nanlint.findings import Evidence, Finding, GraphLocation, Severity
from nanlint.graph.patterns import GUARD_DEPTH, Patterns, all_nodes, attribute
from nanlint.graph.targets import DTYPES, REDUCED, DtypeInfo, Profile
from nanlint.graph.targets.precision import Precision
from nanlint.graph.transfer.registry import Domain, hazards_of, lookup


def num(value: float) -> str:
    """A number for a message: integers as such, the rest with 3 significant digits."""
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def span(bound: tuple[float, float]) -> str:
    return f"[{num(bound[0])}, {num(bound[1])}]"


@dataclass
class Context:
    """One model on one target: bounds, precisions, and the findings so far."""

    model: Any
    analysis: Any
    profile: Profile
    precision: Precision
    patterns: Patterns
    settings: Any
    findings: list[Finding] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)  # tensors explained by a finding already
    unknown: set[str] = field(default_factory=set)  # tensors unbounded because of unsupported ops
    nodes: list[onnx.NodeProto] = field(default_factory=list)  # every node, subgraphs included
    downstream: set[str] = field(default_factory=set)  # tensors whose bound derives from an overflow
    # x / norm(x), (x - mean) / std: bounded by the pattern however loose their interval (never an overflow)
    normalized: set[str] = field(default_factory=set)

    # -- bounds ---------------------------------------------------------------------------------

    def raw(self, tensor: str) -> tuple[float, float] | None:
        """The tensor's bound before any clamping to the target range."""
        if tensor in self.analysis.clamped:
            lo, hi = self.analysis.clamped[tensor]
            return float(lo), float(hi)
        bound = self.analysis.bounds.get(tensor)
        return (bound.min(), bound.max()) if bound is not None else None

    def overflowed(self, tensor: str) -> bool:
        """The tensor can leave its dtype's finite range on the target (constants included)."""
        info = self.precision.info(tensor)
        bound = self.raw(tensor)
        if info is None or bound is None:
            return False
        return max(-bound[0], bound[1]) >= info.overflow

    def spoiled(self, tensor: str) -> bool:
        """The tensor's bound says nothing new: it overflows, or derives from an overflow upstream."""
        return tensor in self.downstream or self.overflowed(tensor)

    def inputs_spoiled(self, node: onnx.NodeProto) -> bool:
        return any(name and self.spoiled(name) for name in node.input)

    def depth(self, tensor: str | None) -> int | None:
        return self.analysis.depth.get(tensor) if tensor else None

    def guarded(self, tensor: str) -> bool:
        """An epsilon guard sits shortly upstream: whether it survives is NAN702's business."""
        guard_nodes = {id(g.node) for g in self.patterns.guards}
        frontier, seen = [tensor], set[int]()
        for _ in range(GUARD_DEPTH + 1):
            parents: list[str] = []
            for name in frontier:
                node = self.model.producer.get(name)
                if node is None or id(node) in seen:
                    continue
                if id(node) in guard_nodes:
                    return True
                seen.add(id(node))
                parents.extend(i for i in node.input if i)
            frontier = parents
        return False

    # -- reporting ------------------------------------------------------------------------------

    def report(
        self,
        code: str,
        node: onnx.NodeProto | None,
        tensor: str | None,
        message: str,
        bound: tuple[float, float] | None = None,
        margin: float | None = None,
        certain: bool = False,
        claims: Iterable[str] = (),
    ) -> None:
        self.claimed.update(name for name in claims if name)
        if node is not None:
            self.claimed.update(out for out in node.output if out)
        if not self.settings.is_selected(code):
            return
        page = catalog.get(code)
        severity = self.settings.severity_of(code, Severity.error if certain else page.severity)
        location = GraphLocation(
            self.model.path,
            self.profile.name,
            (node.name or None) if node is not None else None,
            node.op_type if node is not None else None,
            tensor,
        )
        evidence = Evidence("static", bound=bound, margin=margin, depth=self.depth(tensor))
        self.findings.append(Finding(code, page.name, message, severity, location, evidence=evidence))


def context(model, analysis, profile: Profile, precision: Precision, patterns: Patterns, settings) -> Context:
    ctx = Context(model, analysis, profile, precision, patterns, settings, nodes=all_nodes(model))
    ctx.unknown = unknown_tensors(model, analysis)
    # Whatever its interval says, a normalized value is at most sqrt(N) (times its scale) in magnitude
    # while the epsilon survives (NAN702 says when it does not): its bound is not an overflow.
    ctx.normalized = set(patterns.normalized)
    ctx.downstream = downstream_of_overflows(ctx)
    return ctx


def check(
    model, analysis, profile: Profile, precision: Precision, patterns: Patterns, settings, ctx: Context | None = None
) -> list[Finding]:
    """Every hazard of one model on one target, most specific checks first (`ctx`: from context(), to reuse)."""
    ctx = ctx or context(model, analysis, profile, precision, patterns, settings)
    for run in (
        constants_out_of_range,
        epsilons,
        naive_softmaxes,
        masked_softmaxes,
        normalizations,
        exp_overflow,
        domains,
        activation_overflow,
        unsupported_ops,
    ):
        run(ctx)
    return ctx.findings


def downstream_of_overflows(ctx: Context) -> set[str]:
    """Tensors computed from an overflowing (clamped) bound, up to the next op that resets bounds."""
    downstream: set[str] = set()
    for node in ctx.nodes:
        if not any(name and (name in downstream or ctx.overflowed(name)) for name in node.input):
            continue
        downstream.update(out for out in node.output if out and ctx.depth(out) != 0)
    return downstream


def overflowing(ctx: Context) -> dict[str, tuple[float, float]]:
    """Every node output whose static bound (raw, before clamping) reaches its dtype's max on the target,
    unknown and pattern-bounded tensors excepted: the static side of a cascade. Reaching the max, not
    passing it: downstream of an overflow the analysis carries the clamped value, so a tensor that
    inherits the overflow shows the max itself."""
    found = {}
    bounded = ctx.normalized | {pattern.div.output[0] for pattern in ctx.patterns.softmaxes}  # in [0, 1] or NaN
    for node in ctx.nodes:
        for name in node.output:
            if not name or name in ctx.unknown or name in bounded:
                continue
            info, bound = ctx.precision.info(name), ctx.raw(name)
            if info is not None and bound is not None and max(-bound[0], bound[1]) >= info.max:
                found[name] = bound
    return found


def unknown_tensors(model, analysis) -> set[str]:
    """Tensors whose bound says nothing because an unsupported op upstream is unbounded: the outputs of
    unsupported ops, and everything computed from them up to an op whose own range bounds its output
    (Softmax, Sigmoid, LayerNormalization, ...). A bound that looks finite only because the analysis
    clamped an infinite one to the dtype's range is unknown too."""
    unsupported = {id(node) for node in analysis.unsupported}
    unknown: set[str] = set()
    for node in all_nodes(model):
        if id(node) in unsupported:
            unknown.update(out for out in node.output if out and not _finite(analysis, out))
        elif any(name in unknown for name in node.input):
            entry = lookup(node.domain, node.op_type)
            resets = entry is not None and entry.depth == "reset"
            unknown.update(out for out in node.output if out and not (resets and _finite(analysis, out)))
    return unknown


def _finite(analysis, tensor: str) -> bool:
    """The tensor's raw (unclamped) bound is finite."""
    bound = analysis.clamped.get(tensor)
    if bound is None and tensor in analysis.bounds:
        bound = (analysis.bounds[tensor].min(), analysis.bounds[tensor].max())
    return bound is not None and math.isfinite(bound[0]) and math.isfinite(bound[1])


def blind_spots(model, analysis) -> list[onnx.NodeProto]:
    """The unsupported nodes that are the cause (not blind only because an op upstream is)."""
    unknown = unknown_tensors(model, analysis)
    return [node for node in analysis.unsupported if not any(name in unknown for name in node.input)]


# --- NAN701: constants ----------------------------------------------------------------------------


def constants_out_of_range(ctx: Context) -> None:
    min_ratio = ctx.settings.option("NAN701", "min-ratio", options.default("NAN701", "min-ratio"))
    for name, value in ctx.model.constants.items():
        info = ctx.precision.info(name)
        if info is None or ctx.precision.own_dtypes or not ctx.model.consumers.get(name) or value.size == 0:
            continue
        bound = ctx.raw(name)  # the analysis has reduced most weights already
        if bound is None or not (math.isfinite(bound[0]) and math.isfinite(bound[1])):
            bound = _finite_range(value)
        if bound is None:
            continue
        low, high = bound
        peak = max(-low, high)
        if peak < info.overflow or peak < min_ratio * info.max:
            continue
        producer = ctx.model.producer.get(name)
        fate = (
            f"the {info.name} conversion clips it to {'-' if peak == -low else ''}{num(info.max)}"
            if ctx.profile.constants == "clip"
            else "it becomes inf"
        )
        ctx.report(
            "NAN701",
            producer,
            name,
            f"constant '{name}' holds {num(high if peak == high else low)}, beyond {info.name}'s finite "
            f"range (max {num(info.max)}): {fate}",
            bound=(low, high),
            margin=math.log2(peak / info.max),
            certain=True,
        )


def _finite_range(value: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of the finite values (None when there are none), without copying large weights."""
    low, high = float(np.min(value)), float(np.max(value))
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    finite = value[np.isfinite(value)]
    return (float(finite.min()), float(finite.max())) if finite.size else None


# --- NAN702: epsilons -----------------------------------------------------------------------------


def epsilons(ctx: Context) -> None:
    for node in ctx.nodes:
        if hazards_of(node.domain, node.op_type).epsilon:
            attribute_epsilon(ctx, node)
    for guard in ctx.patterns.guards:
        if guard.kind == "lower":
            lower_guard(ctx, guard)
        else:
            upper_guard(ctx, guard)


def attribute_epsilon(ctx: Context, node: onnx.NodeProto) -> None:
    facts = hazards_of(node.domain, node.op_type)
    eps = attribute(node, facts.epsilon or "epsilon", facts.epsilon_default)
    dtype = ctx.precision.compute_dtype(node)
    if eps is None or dtype is None or eps <= 0 or ctx.precision.applied(float(eps), dtype) != 0:
        return
    info = DTYPES[dtype]
    ctx.report(
        "NAN702",
        node,
        None,
        f"{node.op_type} epsilon {num(eps)} becomes 0 in {dtype}, where the kernel applies it on "
        f"{ctx.profile.name}: a constant row divides 0 by 0; use an epsilon of at least {num(info.tiny)}",
        bound=(float(eps), float(eps)),
        margin=math.log2(info.underflow(ctx.profile.flush_subnormals) / eps),
        claims=node.output,
    )


def lower_guard(ctx: Context, guard) -> None:
    dtype = ctx.precision.compute_dtype(guard.node)
    if dtype is None:
        return
    stored = ctx.precision.converted(guard.value, guard.constant)
    if ctx.precision.applied(stored, dtype) != 0:
        return
    info = DTYPES[dtype]
    ctx.report(
        "NAN702",
        ctx.model.producer.get(guard.constant),
        guard.constant,
        f"epsilon {num(guard.value)} becomes 0 in {dtype}, where {guard.node.op_type} applies it: it no "
        f"longer keeps the input of {guard.protects.op_type} away from 0; use at least {num(info.tiny)}",
        bound=(guard.value, guard.value),
        margin=math.log2(info.underflow(ctx.profile.flush_subnormals) / guard.value),
        claims=[*guard.node.output, *guard.protects.output],
    )


def upper_guard(ctx: Context, guard) -> None:
    dtype = ctx.precision.compute_dtype(guard.node)
    if dtype is None:
        return
    stored = ctx.precision.converted(guard.value, guard.constant)
    if ctx.precision.applied(stored, dtype) < 1.0:
        return
    gap = 1.0 - guard.value
    ctx.report(
        "NAN702",
        ctx.model.producer.get(guard.constant),
        guard.constant,
        f"bound {guard.value:.8g} (1 - {gap:.2g}) rounds to 1 in {dtype}, where {guard.node.op_type} "
        f"applies it: the epsilon is absorbed and 1 - x can reach 0 before {guard.protects.op_type}",
        bound=(guard.value, guard.value),
        margin=math.log2(DTYPES[dtype].eps / 2 / gap),
        claims=[*guard.node.output, *guard.protects.output],
    )


# --- NAN505: softmax --------------------------------------------------------------------------


def naive_softmaxes(ctx: Context) -> None:
    for pattern in ctx.patterns.softmaxes:
        if pattern.stable:  # exp(x - max x) <= 1 and one of them is 1: the sum is >= 1, the result in [0, 1]
            ctx.claimed.update(_outputs(pattern.nodes))
            continue
        # A structural hazard: an overflow upstream (a clipped mask, say) only narrows the logits' bound
        # (the analysis clamps it), so a bound past ln(max) here holds on the target too.
        logits, exps = pattern.exp.input[0], pattern.exp.output[0]
        bound = ctx.raw(logits)
        info = ctx.precision.info(exps)
        if bound is None or info is None or logits in ctx.unknown:
            continue
        overflow = math.log(info.max)
        if bound[1] > overflow:
            ctx.report(
                "NAN505",
                pattern.exp,
                exps,
                f"softmax spelled Exp -> ReduceSum -> Div without subtracting the max: exp({num(bound[1])}) "
                f"overflows {info.name} (ln of its max is {overflow:.4g}), giving inf/inf = NaN; use Softmax",
                bound=ctx.raw(exps),
                margin=(bound[1] - overflow) / math.log(2),
                certain=bound[0] > overflow,
                claims=_outputs(pattern.nodes),
            )
        elif row_can_underflow(ctx, logits, pattern.reduce, info):
            ctx.report(
                "NAN505",
                pattern.div,
                pattern.div.output[0],
                f"softmax spelled Exp -> ReduceSum -> Div without subtracting the max: every exp of a row can "
                f"underflow to 0 in {info.name} (logits down to {num(bound[0])}), giving 0/0 = NaN; "
                "use Softmax",
                bound=ctx.raw(pattern.div.output[0]),
                margin=0.0,
                claims=_outputs(pattern.nodes),
            )


def _outputs(nodes: Iterable[onnx.NodeProto]) -> list[str]:
    return [out for node in nodes for out in node.output]


def row_can_underflow(ctx: Context, logits: str, reduce: onnx.NodeProto, info: DtypeInfo) -> bool:
    """Some row of `logits` (along the reduced axes) can lie entirely where exp underflows to 0."""
    interval = ctx.analysis.bounds.get(logits)
    if interval is None:
        return False
    below = np.asarray(interval.lo, np.float64) < math.log(info.underflow(ctx.profile.flush_subnormals))
    return bool(np.any(_all_along(below, _reduce_axes(ctx, reduce, below.ndim, interval.shape))))


def _reduce_axes(ctx: Context, node: onnx.NodeProto, rank: int, shape) -> tuple[int, ...] | None:
    axes = attribute(node, "axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        value = ctx.model.constants.get(node.input[1])
        axes = None if value is None else [int(a) for a in np.asarray(value).reshape(-1)]
    full = len(shape) if shape is not None else rank
    if not axes:
        return None  # all axes
    return tuple(int(a) % full for a in axes) if full else None


def _all_along(mask: np.ndarray, axes: tuple[int, ...] | None, full_rank: int | None = None) -> np.ndarray | np.bool_:
    """np.all over `axes` (of the tensor's full rank) of a mask that broadcasts to the tensor."""
    if mask.ndim == 0:
        return mask
    if axes is None:
        return np.all(mask)
    rank = max(full_rank or 0, mask.ndim, max(axes) + 1)
    mask = mask.reshape((1,) * (rank - mask.ndim) + mask.shape)
    return np.all(mask, axis=axes)


def masked_softmaxes(ctx: Context) -> None:
    """Softmax (NAN505) and LogSoftmax (NAN501) over rows whose every entry can be -inf."""
    for node in ctx.nodes:
        if node.op_type not in ("Softmax", "LogSoftmax") or not node.input:
            continue
        logits = node.input[0]
        interval = ctx.analysis.bounds.get(logits)
        if interval is None or logits in ctx.unknown or not _minus_inf_possible(ctx, logits):
            continue
        minus_inf = _minus_inf_elements(ctx, logits, interval)
        rank = len(interval.shape) if interval.shape is not None else minus_inf.ndim
        if not rank or not np.any(_all_along(minus_inf, _softmax_axes(ctx, node, rank), rank)):
            continue
        what = "Softmax" if node.op_type == "Softmax" else "LogSoftmax"
        result = "0/0 = NaN" if what == "Softmax" else "the log of a zero sum, NaN"
        ctx.report(
            "NAN505" if what == "Softmax" else "NAN501",
            node,
            node.output[0],
            f"{what} over rows that can be entirely -inf (fully masked, e.g. an all-padding sequence): "
            f"{result}; mask with a large finite negative value or guard empty rows",
            bound=ctx.raw(node.output[0]),
            margin=0.0,
        )


def _minus_inf_possible(ctx: Context, tensor: str, budget: int = 64) -> bool:
    """The tensor can hold -inf that comes from a mask (an infinite constant upstream), not from an
    overflow, a division by zero or a bound that is merely loose."""
    bound = ctx.raw(tensor)
    info = ctx.precision.info(tensor)
    if bound is None or info is None or bound[0] > -info.max:
        return False
    frontier, seen = [tensor], set[str]()
    while frontier and len(seen) < budget:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        value = ctx.model.constants.get(name)
        if value is not None:
            if value.dtype.kind == "f" and value.size and bool(np.isneginf(value).any()):
                return True
            continue
        node = ctx.model.producer.get(name)
        if node is not None:
            frontier.extend(i for i in node.input if i)
    return False


def _minus_inf_elements(ctx: Context, tensor: str, interval) -> np.ndarray:
    """Elements that can be -inf: the mask's -inf may have been clamped to -max on the way."""
    info = ctx.precision.info(tensor)
    assert info is not None  # _minus_inf_possible found the tensor's float dtype
    return np.asarray(interval.lo, np.float64) <= -info.max


def _softmax_axes(ctx: Context, node: onnx.NodeProto, rank: int) -> tuple[int, ...]:
    if ctx.model.opset >= 13:
        return (int(attribute(node, "axis", -1)) % rank,)
    axis = int(attribute(node, "axis", 1)) % rank
    return tuple(range(axis, rank))  # opsets < 13 flatten the trailing dimensions into one row


# --- NAN506: decomposed normalizations -------------------------------------------------------------


def normalizations(ctx: Context) -> None:
    for pattern in ctx.patterns.normalizations:
        square = pattern.square.output[0]
        info = ctx.precision.info(square)
        if info is None or info.name not in REDUCED or ctx.spoiled(pattern.base) or pattern.base in ctx.unknown:
            continue
        claims = _outputs(pattern.nodes)
        bound = ctx.raw(square)
        if bound is not None and bound[1] >= info.overflow:
            ctx.report(
                "NAN506",
                pattern.square,
                square,
                f"{pattern.kind} decomposed into Pow/ReduceMean/Sqrt/Div runs in {info.name} on "
                f"{ctx.profile.name}: the square of its input can reach {num(bound[1])}, beyond {info.name}'s "
                f"max {num(info.max)}; use the fused {_fused(pattern.kind)} or keep these nodes in float32",
                bound=bound,
                margin=math.log2(bound[1] / info.max),
                certain=bound[0] >= info.overflow,
                claims=claims,
            )
            continue
        total = reduction_sum(ctx, pattern.reduce)
        accumulate = ctx.precision.compute_dtype(pattern.reduce)
        if total is None or accumulate not in REDUCED or total < DTYPES[accumulate].overflow:
            continue
        reduce_info = DTYPES[accumulate]
        ctx.report(
            "NAN506",
            pattern.reduce,
            pattern.reduce.output[0],
            f"{pattern.kind} decomposed into Pow/ReduceMean/Sqrt/Div runs in {accumulate} on "
            f"{ctx.profile.name}: the sum of squares can reach {num(total)}, beyond {accumulate}'s max "
            f"{num(reduce_info.max)}; use the fused {_fused(pattern.kind)} or keep these nodes in float32",
            bound=ctx.raw(pattern.reduce.output[0]),
            margin=math.log2(total / reduce_info.max),
            claims=claims,
        )


def _fused(kind: str) -> str:
    return "LayerNormalization" if kind == "LayerNorm" else "RMSNormalization"


def reduction_sum(ctx: Context, reduce: onnx.NodeProto) -> float | None:
    """The largest sum a ReduceMean/ReduceSum accumulates (mean times the count of reduced elements)."""
    bound = ctx.raw(reduce.output[0])
    if bound is None:
        return None
    if reduce.op_type == "ReduceSum":
        return bound[1]
    shape = ctx.model.shapes.get(reduce.input[0]) or getattr(ctx.analysis, "shapes", {}).get(reduce.input[0])
    if not shape and reduce.input[0] in ctx.analysis.bounds:
        shape = ctx.analysis.bounds[reduce.input[0]].shape
    if not shape:
        return bound[1]
    axes = _reduce_axes(ctx, reduce, len(shape), shape)
    count = int(np.prod([shape[a] for a in (axes if axes is not None else range(len(shape)))]))
    return bound[1] * max(count, 1)


# --- NAN504: exp overflow -----------------------------------------------------------------------


def exp_overflow(ctx: Context) -> None:
    for node in ctx.patterns.stable_exps:  # exp(x - max(x)) <= 1, however loose the bound of x - max(x)
        ctx.claimed.update(node.output)
    for node in ctx.nodes:
        if hazards_of(node.domain, node.op_type).exponential or ctx.precision.exp_overflow(node):
            exp_like(ctx, node)
        elif node.op_type == "Pow" and len(node.input) == 2 and node.input[1] not in ctx.model.constants:
            variable_power(ctx, node)


def exp_like(ctx: Context, node: onnx.NodeProto) -> None:
    source, result = node.input[0], node.output[0]
    bound = ctx.raw(source)
    info = ctx.precision.info(result)
    if result in ctx.claimed or bound is None or info is None or ctx.spoiled(source) or source in ctx.unknown:
        return
    edge = math.log(info.max)
    if bound[1] <= edge:
        return
    ctx.report(
        "NAN504",
        node,
        result,
        f"{node.op_type} input can reach {num(bound[1])}, beyond ln({num(info.max)}) = {edge:.4g} for "
        f"{info.name}: the result overflows to inf; subtract the max or clamp the input first",
        bound=ctx.raw(result),
        margin=(bound[1] - edge) / math.log(2),
        certain=bound[0] > edge,
    )


def variable_power(ctx: Context, node: onnx.NodeProto) -> None:
    """base ** x with a computed exponent grows like exp(x ln base)."""
    result = node.output[0]
    bound = ctx.raw(result)
    info = ctx.precision.info(result)
    if (
        result in ctx.claimed
        or bound is None
        or info is None
        or ctx.inputs_spoiled(node)
        or any(name in ctx.unknown for name in node.input)
        or max(-bound[0], bound[1]) < info.overflow
    ):
        return
    peak = max(-bound[0], bound[1])
    ctx.report(
        "NAN504",
        node,
        result,
        f"Pow with a computed exponent (bound {span(ctx.raw(node.input[1]) or (math.nan, math.nan))}) can "
        f"reach {num(peak)}, beyond {info.name}'s max {num(info.max)}: clamp the exponent",
        bound=bound,
        margin=math.log2(peak / info.max),
    )


# --- NAN501-NAN503: domains ------------------------------------------------------------------------


def domains(ctx: Context) -> None:
    """Each op whose registry entry declares an input domain, judged on that operand's bound."""
    for node in ctx.nodes:
        domain = hazards_of(node.domain, node.op_type).domain
        if domain is None or len(node.input) <= domain.operand or any(out in ctx.claimed for out in node.output):
            continue
        DOMAIN_CHECKS[domain.kind](ctx, node, domain)


def positive_domain(ctx: Context, node: onnx.NodeProto, domain: Domain) -> None:
    zero_or_negative(
        ctx,
        node,
        "NAN501",
        f"{node.op_type} of a value that can be <= 0",
        "-inf or NaN; clamp the input to a positive minimum first",
        allow_zero=False,
    )


def nonzero_domain(ctx: Context, node: onnx.NodeProto, domain: Domain) -> None:
    what = (
        f"{node.op_type} of a value that can be 0"
        if domain.operand == 0
        else f"{node.op_type} by a value that can be 0"
    )
    effect = (
        "inf; add an epsilon first"
        if domain.operand == 0
        else ("inf or NaN; add an epsilon to the denominator or clamp it away from 0")
    )
    can_be_zero(ctx, node, node.input[domain.operand], what, effect)


def nonnegative_domain(ctx: Context, node: onnx.NodeProto, domain: Domain) -> None:
    zero_or_negative(
        ctx, node, "NAN503", f"{node.op_type} of a value that can be negative", "NaN; clamp at 0 first", allow_zero=True
    )


def _bound(ctx: Context, tensor: str) -> tuple[float, float] | None:
    if tensor in ctx.unknown:
        return None
    return ctx.raw(tensor)


def zero_or_negative(ctx: Context, node: onnx.NodeProto, code: str, what: str, effect: str, allow_zero: bool) -> None:
    source = node.input[0]
    bound = _bound(ctx, source)
    if bound is None:
        return
    lo, hi = bound
    if lo < 0 or (lo == 0 and not allow_zero):
        ctx.report(
            code,
            node,
            node.output[0],
            f"{what} (bound {span(bound)}): {effect}",
            bound=ctx.raw(node.output[0]),
            margin=math.log2(1 + max(0.0, -lo)),
            certain=hi < 0 or (hi == 0 and not allow_zero),
        )
    elif not allow_zero and (info := underflow_dtype(ctx, source, bound)) is not None:
        ctx.report(
            code,
            node,
            node.output[0],
            f"{what}: its lower bound {num(lo)} underflows to 0 in {info.name} ({effect})",
            bound=ctx.raw(node.output[0]),
            margin=0.0,
        )


def underflow_dtype(ctx: Context, tensor: str, bound: tuple[float, float]) -> DtypeInfo | None:
    """The tensor's dtype when the bound, nonzero in exact arithmetic, can round to 0 in it (and no epsilon
    guard decides it); else None."""
    info = ctx.precision.info(tensor)
    if info is None:
        return None
    threshold = info.underflow(ctx.profile.flush_subnormals)
    lo, hi = bound
    tiny = (0 < lo <= threshold) or (-threshold <= hi < 0)
    return info if tiny and not ctx.guarded(tensor) else None


def can_be_zero(ctx: Context, node: onnx.NodeProto, source: str, what: str, effect: str) -> None:
    bound = _bound(ctx, source)
    if bound is None:
        return
    lo, hi = bound
    if lo <= 0 <= hi:
        ctx.report(
            "NAN502",
            node,
            node.output[0],
            f"{what} (bound {span(bound)}): {effect}",
            bound=ctx.raw(node.output[0]),
            margin=math.log2(1 + min(-lo, hi)),
            certain=lo == hi == 0,
        )
    elif (info := underflow_dtype(ctx, source, bound)) is not None:
        ctx.report(
            "NAN502",
            node,
            node.output[0],
            f"{what} after rounding: the bound {span(bound)} underflows to 0 in {info.name} ({effect})",
            bound=ctx.raw(node.output[0]),
            margin=0.0,
        )


def bounded_domain(ctx: Context, node: onnx.NodeProto, domain: Domain) -> None:
    bound = _bound(ctx, node.input[domain.operand])
    if bound is None:
        return
    low, high, closed = domain.low, domain.high, domain.closed
    lo, hi = bound
    outside = (lo < low or hi > high) if closed else (lo <= low or hi >= high)
    if not outside:
        return
    past = max(low - lo, hi - high, 0.0)
    interval = f"[{num(low)}, {num(high)}]" if closed else f"({num(low)}, {num(high)})"
    ctx.report(
        "NAN503",
        node,
        node.output[0],
        f"{node.op_type} of a value that can leave {interval} (bound {span(bound)}): NaN; clamp the input to "
        f"{interval} first",
        bound=ctx.raw(node.output[0]),
        margin=math.log2(1 + past),
        certain=hi < low or lo > high,
    )


def power_domain(ctx: Context, node: onnx.NodeProto, domain: Domain) -> None:
    base, exponent = node.input
    base_bound = _bound(ctx, base)
    exp_values = ctx.model.constants.get(exponent)
    if exp_values is not None:
        exp_values = np.asarray(exp_values, np.float64)
        exp_bound = (float(exp_values.min()), float(exp_values.max())) if exp_values.size else None
        fractional = bool(exp_values.size) and not bool(np.all(exp_values == np.round(exp_values)))
    else:
        exp_bound = _bound(ctx, exponent)
        fractional = exp_bound is None or exp_bound[0] != exp_bound[1] or not float(exp_bound[0]).is_integer()
    if base_bound is None or exp_bound is None:
        return
    lo, hi = base_bound
    if lo < 0 and fractional:
        ctx.report(
            "NAN503",
            node,
            node.output[0],
            f"Pow with a fractional exponent {span(exp_bound)} of a base that can be negative (bound "
            f"{span(base_bound)}): NaN; clamp the base at 0 first",
            bound=ctx.raw(node.output[0]),
            margin=math.log2(1 + -lo),
            certain=hi < 0 and exp_values is not None,
        )
    elif exp_bound[0] < 0 and lo <= 0 <= hi:
        ctx.report(
            "NAN502",
            node,
            node.output[0],
            f"Pow with a negative exponent {span(exp_bound)} of a base that can be 0 (bound "
            f"{span(base_bound)}): inf; add an epsilon to the base first",
            bound=ctx.raw(node.output[0]),
            margin=math.log2(1 + min(-lo, hi)),
        )


DOMAIN_CHECKS = {
    "positive": positive_domain,
    "nonzero": nonzero_domain,
    "nonnegative": nonnegative_domain,
    "interval": bounded_domain,
    "power": power_domain,
}


# --- NAN601: activations -------------------------------------------------------------------------


def activation_overflow(ctx: Context) -> None:
    min_ratio = ctx.settings.option("NAN601", "min-ratio", options.default("NAN601", "min-ratio"))
    ranked = []
    for tensor in ctx.analysis.bounds:
        if tensor in ctx.claimed or tensor in ctx.unknown or tensor in ctx.normalized or tensor in ctx.model.constants:
            continue
        info = ctx.precision.info(tensor)
        bound = ctx.raw(tensor)
        if info is None or bound is None:
            continue
        peak = max(-bound[0], bound[1])
        if peak < info.overflow or peak < min_ratio * info.max:
            continue
        if tensor in ctx.model.inputs and not math.isfinite(peak):
            continue  # an input declared unbounded: its range is the user's, not a hazard of the model
        producer = ctx.model.producer.get(tensor)
        if producer is not None and ctx.inputs_spoiled(producer):
            continue  # a consequence of an overflow reported upstream
        ranked.append((peak / info.max, tensor, producer, info, bound))
    for ratio, tensor, producer, info, bound in sorted(ranked, key=lambda item: -item[0]):
        times = "beyond" if math.isinf(ratio) else f"{num(ratio)}x"
        ctx.report(
            "NAN601",
            producer,
            tensor,
            f"tensor '{tensor}' can reach {num(bound[1] if bound[1] >= -bound[0] else bound[0])}, {times} "
            f"{info.name}'s max {num(info.max)}, where it overflows to inf",
            bound=bound,
            margin=math.log2(ratio) if math.isfinite(ratio) else math.inf,
            certain=bound[0] >= info.overflow or bound[1] <= -info.overflow,
        )


# --- NAN799: unsupported ops ---------------------------------------------------------------------


def unsupported_ops(ctx: Context) -> None:
    for node in ctx.analysis.unsupported:
        if any(name in ctx.unknown for name in node.input):
            continue  # blind only because an op upstream is: that op is the finding (see blind_spots)
        domain = f"{node.domain}." if node.domain not in ("", "ai.onnx") else ""
        ctx.report(
            "NAN799",
            node,
            node.output[0] if node.output else None,
            f"{domain}{node.op_type} is not supported by the interval analysis: its outputs are treated as "
            "unbounded, and hazards downstream of them are not reported",
        )
