"""Combining static findings with runtime evidence: samples, and witnesses found by search.

Grading never claims more than the evidence of the finding's own tensor:

- `error` (evidence `sampled` or `witness`) only when a sample or a witness takes that tensor out of
  the target's range, or makes it non-finite itself (from finite inputs: an infinity that merely
  flows through, like a -inf attention mask, is not this tensor's doing);
- a static hazard the samples do not confirm is a `warning` while its bound is credible, and
  `info` when the bound is far above everything the samples reached on the same tensor
  (LOOSE_FACTOR times, while the samples keep LOOSE_HEADROOM below the limit);
- `bound` and `observed` always describe the finding's tensor.

Sampling also finds what the static pass reported nowhere: NaN/Inf in the fp32 model itself
(NAN603), overflow of the target dtype (NAN601, sampled) and low headroom (NAN602).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from nanlint import catalog
from nanlint.findings import Evidence, Finding, GraphLocation, Severity
from nanlint.graph import search as witness_search
from nanlint.graph.sampling import FLOAT_TYPES as _FLOAT_ELEMS
from nanlint.graph.sampling import InputSpec, SampleRun, TensorStats

# A static overflow bound at least LOOSE_FACTOR times the largest |x| the samples reached on the same
# tensor, while the samples stay at least LOOSE_HEADROOM below the dtype's max, is a loose bound (info),
# not a credible hazard (warning). Measured on the development set and ten extra real models (rules/NAN601.md,
# "How the evidence is graded"): the static overflows that no held-out input confirmed had samples 137x to
# 20000x below 65504; every tensor the held-out inputs did take past it had samples within 1.2x of it, and
# the unconfirmed bounds nearest the limit within 10x. 32 is the power of two nearest the middle of that gap.
LOOSE_FACTOR = 32.0
LOOSE_HEADROOM = 32.0
OVERFLOW_CODES = frozenset({"NAN504", "NAN505", "NAN506", "NAN601"})  # confirmed by an overflow of the tensor
# Hazards that are NaN/Inf in float32 itself when they happen (an overflow of the target's dtype is not)
FP32_HAZARDS = frozenset({"NAN501", "NAN502", "NAN503"})


@dataclass(frozen=True)
class RuntimeOptions:
    samples: int = 16
    inputs: str | None = None  # calibration data (.npz)
    provider: str = "CPUExecutionProvider"
    headroom: float = 4.0
    search: bool = False
    budget: float = 10.0
    witness_dir: str | None = None
    seed: int = 0
    time_budget: float | None = None  # seconds for sampling (None: SAMPLING_BUDGET of sampling.py)


@dataclass(frozen=True)
class Watch:
    """What to observe to confirm a finding: a tensor and a score that is >= 0 when the hazard happens."""

    tensor: str
    score: Callable[[np.ndarray], float]
    nonfinite_hits: bool = False  # the tensor turning NaN/Inf itself (from finite inputs) is the hazard
    overflow: bool = False  # the hazard is the tensor leaving its dtype's range


# --- what confirms a finding ------------------------------------------------------------------------


def underflow_threshold(precision, tensor: str) -> float:
    """Positive values at or below this become 0 in the tensor's dtype on the target (0 for fp32/fp64)."""
    info = precision.info(tensor)
    if info is None or info.name in ("float32", "float64"):
        return 0.0
    return info.underflow(precision.profile.flush_subnormals)


def watch_for(finding: Finding, model, precision) -> Watch | None:
    loc = finding.graph_location
    node = model.producer.get(loc.tensor) if loc.tensor else None
    if finding.code == "NAN505":
        return _softmax_watch(finding, node, precision)
    if finding.code in OVERFLOW_CODES and loc.tensor:
        return _overflow_watch(loc.tensor, precision)
    if node is None or not node.input:
        return None
    op = node.op_type
    if finding.code == "NAN501":
        tiny = underflow_threshold(precision, node.input[0])
        return Watch(node.input[0], lambda x: float(tiny - x.min()) if x.size else -math.inf)
    if finding.code == "NAN502":  # what a zero denominator does: an infinite (or NaN) quotient
        return _overflow_watch(node.output[0], precision)
    if finding.code == "NAN503":
        if op in ("Acos", "Asin"):
            return Watch(node.input[0], witness_search.outside_unit)
        if op in ("Sqrt", "Pow"):
            return Watch(node.input[0], witness_search.goes_negative)
    return None


def _softmax_watch(finding: Finding, node, precision) -> Watch | None:
    """A spelled softmax overflows at its Exp (the finding's tensor), or divides 0 by 0 when a whole row of
    exps underflows (its Div: the sum rounds to 0); a fully masked Softmax row turns NaN by itself."""
    tensor = getattr(finding.location, "tensor", None)
    if node is None or not tensor:
        return None
    if node.op_type == "Div" and len(node.input) > 1:
        tiny = underflow_threshold(precision, node.input[1])
        return Watch(node.input[1], lambda x: float(tiny - x[2]) if x.size else -math.inf)
    if node.op_type in ("Softmax", "LogSoftmax"):
        return Watch(tensor, lambda x: -math.inf, nonfinite_hits=True)
    return _overflow_watch(tensor, precision)


def explains_fp32(finding: Finding, model, precision) -> bool:
    """The finding's hazard is NaN/Inf in float32 itself when it happens (a domain hazard, a fully masked
    row, an overflow of a float32 tensor), so a confirmed one explains the NaN/Inf the float32 samples show;
    an overflow of a reduced-precision dtype does not (NAN603 reports the float32 model's own)."""
    if finding.code in FP32_HAZARDS:
        return True
    watch = watch_for(finding, model, precision)
    tensor = getattr(finding.location, "tensor", None)
    if watch is None or not tensor:
        return False
    info = precision.info(tensor)
    return not watch.overflow or (info is not None and info.name in ("float32", "float64"))


def _overflow_watch(tensor: str, precision) -> Watch | None:
    limit = precision.limit(tensor)
    return Watch(tensor, witness_search.exceeds(limit), nonfinite_hits=True, overflow=True) if limit else None


# --- non-finite values a tensor makes itself ----------------------------------------------------------

_FINITE, _INF, _NAN = 0, 1, 2


def _sample_kind(stats: TensorStats, sample: int) -> int:
    if sample >= len(stats.sample_abs_max):
        return _NAN  # not observed on this sample: it may hold anything
    if stats.sample_nan[sample]:
        return _NAN
    return _INF if stats.sample_abs_max[sample] == math.inf else _FINITE


def _input_kind(model, run: SampleRun, name: str, sample: int) -> int:
    """How non-finite an input of a node was on one sample (constants by their content)."""
    stats = run.stats.get(name)
    if stats is not None:
        return _sample_kind(stats, sample)
    value = model.constants.get(name)
    if value is not None:
        if value.dtype.kind != "f" or value.size == 0:
            return _FINITE
        return _NAN if bool(np.isnan(value).any()) else _INF if bool(np.isinf(value).any()) else _FINITE
    elem = model.dtypes.get(name)
    return _FINITE if elem is not None and elem not in _FLOAT_ELEMS else _NAN  # unobserved floats: unknown


def makes_nonfinite(model, run: SampleRun, tensor: str) -> bool:
    """On some sample the tensor holds NaN, or Inf, that none of its producer's inputs held: it made
    them itself (an overflow, a division by zero, a fully masked row), rather than passing them on."""
    stats = run.stats.get(tensor)
    node = model.producer.get(tensor)
    if stats is None or not stats.nonfinite:
        return False
    inputs = [name for name in (node.input if node is not None else ()) if name]
    for sample in range(run.samples):
        kind = _sample_kind(stats, sample)
        if kind != _FINITE and all(_input_kind(model, run, name, sample) < kind for name in inputs):
            return True
    return False


def observed_score(watch: Watch, stats: TensorStats | None, made_nonfinite: bool = False) -> float:
    if stats is None:
        return -math.inf
    if watch.nonfinite_hits and made_nonfinite:
        return math.inf
    return watch.score(stats.extremes()) if stats.observed else -math.inf


def observed_range(run: SampleRun, tensor: str | None) -> tuple[float, float] | None:
    stats = run.stats.get(tensor) if tensor else None
    return stats.observed if stats is not None else None


# --- grading ------------------------------------------------------------------------------------------


def _with(finding: Finding, severity: Severity, evidence: Evidence, note: str = "") -> Finding:
    return dataclasses.replace(finding, severity=severity, evidence=evidence, message=finding.message + note)


def _abs_max(bound) -> float:
    return max(abs(bound[0]), abs(bound[1])) if bound else math.inf


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e6 else f"{value:.3g}"


def _span(pair: tuple[float, float]) -> str:
    return f"[{_num(pair[0])}, {_num(pair[1])}]"


@dataclass
class Graded:
    findings: list[Finding]
    open_hazards: list[tuple[int, Watch]]  # (index in findings, watch) still open for a witness search
    watched: set[str]  # tensors whose hazard a finding already reports (no second finding for them)


def grade(findings: list[Finding], run: SampleRun, model, precision, settings) -> Graded:
    """Findings graded by the samples of their own tensors."""
    graded, open_hazards = [], []
    watched = {f.graph_location.tensor for f in findings if f.graph_location.tensor}
    for finding in findings:
        watch = watch_for(finding, model, precision)
        if watch is None:
            graded.append(finding)
            continue
        watched.add(watch.tensor)
        stats = run.stats.get(watch.tensor)
        evidence = dataclasses.replace(
            finding.evidence or Evidence("static"), observed=observed_range(run, finding.graph_location.tensor)
        )
        if observed_score(watch, stats, watch.nonfinite_hits and makes_nonfinite(model, run, watch.tensor)) >= 0:
            sampled = dataclasses.replace(evidence, kind="sampled")
            note = f" (samples reach {_span(evidence.observed)})" if watch.overflow and evidence.observed else ""
            graded.append(_with(finding, settings.severity_of(finding.code, Severity.error), sampled, note))
            continue
        graded.append(_unconfirmed(finding, evidence, stats if watch.overflow else None, precision, settings))
        open_hazards.append((len(graded) - 1, watch))
    return Graded(graded, open_hazards, watched)


def _unconfirmed(finding: Finding, evidence: Evidence, stats: TensorStats | None, precision, settings) -> Finding:
    """A static finding the samples did not confirm: never an error when they saw the tensor (its bound
    claimed a certainty they refute), info when its overflow bound is far above what they reached
    (`stats`: of the finding's own tensor when the hazard is that tensor's overflow, else None)."""
    if stats is None or not stats.observed:
        severity = finding.severity if evidence.observed is None else min(finding.severity, Severity.warning)
        return _with(finding, severity, evidence)
    if is_loose(finding, stats, precision):
        peak = _abs_max(evidence.bound)
        note = (
            f" (static bound only: {_num(peak / max(stats.abs_max, 1e-30))}x above what the samples reached, "
            f"which stay within {_span(stats.observed)})"
        )
        return _with(finding, Severity.info, evidence, note)
    severity = min(finding.severity, settings.severity_of(finding.code, Severity.warning))
    return _with(finding, severity, evidence)


def is_loose(finding: Finding, stats: TensorStats | None, precision) -> bool:
    """An overflow bound far beyond everything the samples reached on the same tensor, and far from the limit."""
    evidence = finding.evidence
    if finding.code not in OVERFLOW_CODES or stats is None or not stats.observed or evidence is None:
        return False
    limit = precision.limit(finding.graph_location.tensor) or math.inf
    return loose_bound(_abs_max(evidence.bound), stats.abs_max, limit)


def loose_bound(bound: float, observed: float, limit: float) -> bool:
    """A static |bound| far beyond the observed max |x|, with the observations far below the limit."""
    observed = max(observed, 1e-30)
    return bound >= LOOSE_FACTOR * observed and observed * LOOSE_HEADROOM <= limit


# --- what only the samples show ------------------------------------------------------------------------


def _finding(
    code: str, message: str, severity: Severity, model, target: str, tensor: str, settings, evidence: Evidence
) -> Finding:
    node = model.producer.get(tensor)
    page = catalog.get(code)
    location = GraphLocation(
        model.path,
        target,
        (node.name or None) if node is not None else None,
        node.op_type if node is not None else None,
        tensor,
    )
    return Finding(code, page.name, message, settings.severity_of(code, severity), location, evidence=evidence)


def _origins(model, run: SampleRun, flagged: set[str], hit: Callable[[str, int], bool]) -> list[str]:
    """Flagged tensors where a problem starts: on some sample the tensor is hit while none of its
    producer's inputs is (judged input by input: an overflow that starts on its own below a rarer one
    upstream is an origin too)."""
    found = []
    for name in run.stats:
        if name not in flagged:
            continue
        node = model.producer.get(name)
        inputs = [i for i in (node.input if node is not None else ()) if i]
        if any(hit(name, s) and not any(hit(i, s) for i in inputs) for s in range(run.samples)):
            found.append(name)
    return found


def exceeds_range(model, run: SampleRun, precision) -> Callable[[str, int], bool]:
    """hit(tensor, sample): the tensor's finite values pass its dtype's max on that sample; a constant
    whose values do passes it on every sample."""
    constant_peaks: dict[str, float] = {}

    def hit(name: str, sample: int) -> bool:
        limit = precision.limit(name)
        stats = run.stats.get(name)
        if limit is None:
            return False
        if stats is not None:
            return sample < len(stats.sample_peak) and stats.sample_peak[sample] > limit
        value = model.constants.get(name)
        if value is None or value.dtype.kind != "f" or value.size == 0:
            return False
        if name not in constant_peaks:
            finite = np.abs(value[np.isfinite(value)]) if not np.isfinite(value).all() else np.abs(value)
            constant_peaks[name] = float(finite.max()) if finite.size else 0.0
        return constant_peaks[name] > limit

    return hit


def overflow_origins(model, run: SampleRun, precision) -> set[str]:
    """Tensors that pass their dtype's range on the samples on their own: on some sample while no input does."""
    return set(_origins(model, run, sampled_overflows(run, precision), exceeds_range(model, run, precision)))


def sampled_overflows(run: SampleRun, precision) -> set[str]:
    """Tensors whose observed finite values pass their dtype's max."""
    over = set()
    for name, stats in run.stats.items():
        limit = precision.limit(name)
        if limit is not None and stats.observed and stats.abs_max > limit:
            over.add(name)
    return over


def _sample_hit(run: SampleRun, test: Callable[[str, TensorStats, int], bool]) -> Callable[[str, int], bool]:
    """hit(tensor, sample) from a test of one tensor's statistics on one sample."""

    def hit(name: str, sample: int) -> bool:
        stats = run.stats.get(name)
        return stats is not None and sample < len(stats.sample_abs_max) and test(name, stats, sample)

    return hit


def downstream_count(model, run: SampleRun, flagged: set[str], origin: str) -> int:
    seen, frontier = {origin}, [origin]
    while frontier:
        name = frontier.pop()
        for node in model.consumers.get(name, []):
            for out in node.output:
                if out in flagged and out not in seen:
                    seen.add(out)
                    frontier.append(out)
    return len(seen) - 1


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def nonfinite_findings(
    model, run: SampleRun, target: str, settings, explained: AbstractSet[str] = frozenset()
) -> list[Finding]:
    """NAN603: where the fp32 model itself first produces NaN, or an Inf that reaches an output, on the
    samples. An infinity that a later op absorbs (a -inf mask before a Softmax) is not a hazard; a
    tensor a confirmed finding already explains is not reported twice."""
    constant = {name for name in run.stats if name in model.constants}
    nonfinite = {name for name, stats in run.stats.items() if stats.nonfinite and name not in constant}
    explained = _downstream(model, set(explained) & nonfinite, nonfinite)
    nans = {name for name in nonfinite if run.stats[name].nan and name not in explained}
    infs = _reaching_outputs(model, {name for name in nonfinite if not run.stats[name].nan} - explained)
    findings = []
    is_nan = _sample_hit(run, lambda name, stats, s: stats.sample_nan[s])
    is_inf = _sample_hit(run, lambda name, stats, s: not stats.sample_nan[s] and stats.sample_abs_max[s] == math.inf)
    for flagged, what, hit in ((nans, "NaN", is_nan), (infs, "Inf", is_inf)):
        for name in _origins(model, run, flagged, hit):
            stats = run.stats[name]
            count = stats.nan if what == "NaN" else stats.inf
            later = downstream_count(model, run, flagged, name)
            message = (
                f"produces {count} {what} values in fp32 on {_plural(run.samples, 'sample', 'samples')}"
                + (" that reach the model's output" if what == "Inf" else "")
                + (f"; {_plural(later, 'tensor', 'tensors')} downstream inherit them" if later else "")
            )
            findings.append(
                _finding(
                    "NAN603",
                    message,
                    Severity.error,
                    model,
                    target,
                    name,
                    settings,
                    Evidence("sampled", observed=stats.observed),
                )
            )
    return findings


def _downstream(model, start: set[str], allowed: set[str]) -> set[str]:
    """`start` and every `allowed` tensor reachable from it through allowed tensors."""
    seen, frontier = set(start), list(start)
    while frontier:
        for node in model.consumers.get(frontier.pop(), []):
            for out in node.output:
                if out in allowed and out not in seen:
                    seen.add(out)
                    frontier.append(out)
    return seen


def _reaching_outputs(model, flagged: set[str]) -> set[str]:
    """The flagged tensors from which a chain of flagged tensors leads to a model output."""
    reached = {name for name in model.outputs if name in flagged}
    frontier = list(reached)
    while frontier:
        node = model.producer.get(frontier.pop())
        for name in node.input if node is not None else ():
            if name in flagged and name not in reached:
                reached.add(name)
                frontier.append(name)
    return reached


def range_findings(
    model,
    run: SampleRun,
    precision,
    target: str,
    settings,
    headroom: float,
    reported: set[str],
    bound_of: Callable[[str], tuple[float, float] | None] = lambda name: None,
) -> list[Finding]:
    """NAN601 (sampled) where observed finite values exceed the target dtype, NAN602 within `headroom` of it
    (`bound_of(tensor)`: its static bound, reported beside what was observed)."""
    over, close = set(), set()
    for name, stats in run.stats.items():
        limit = precision.limit(name)
        if limit is None or not stats.observed or _declared_unbounded(model, name, bound_of):
            continue
        if stats.abs_max > limit:
            over.add(name)
        elif stats.abs_max * headroom > limit:
            close.add(name)
    findings = []
    dtype = lambda name: precision.info(name).name
    for name in _origins(model, run, over, exceeds_range(model, run, precision)):
        if name in reported:
            continue
        stats, limit = run.stats[name], precision.limit(name)
        message = f"observed values up to {stats.abs_max:.4g} exceed {dtype(name)}'s max {limit:.6g}: inf on {target}"
        findings.append(
            _finding(
                "NAN601",
                message,
                Severity.error,
                model,
                target,
                name,
                settings,
                Evidence(
                    "sampled", bound=bound_of(name), observed=stats.observed, margin=math.log2(stats.abs_max / limit)
                ),
            )
        )
    near = _sample_hit(
        run, lambda name, stats, s: stats.sample_peak[s] * headroom > (precision.limit(name) or math.inf)
    )
    for name in _origins(model, run, close | over, near):
        if name not in close or name in reported:
            continue
        stats, limit = run.stats[name], precision.limit(name)
        message = (
            f"observed values up to {stats.abs_max:.4g} are within {headroom:g}x of {dtype(name)}'s max "
            f"{limit:.6g} ({limit / stats.abs_max:.2g}x headroom)"
        )
        findings.append(
            _finding(
                "NAN602",
                message,
                Severity.info,
                model,
                target,
                name,
                settings,
                Evidence(
                    "sampled",
                    bound=bound_of(name),
                    observed=stats.observed,
                    margin=math.log2(stats.abs_max * headroom / limit),
                ),
            )
        )
    return [f for f in findings if settings.is_selected(f.code)]


def _declared_unbounded(model, name: str, bound_of) -> bool:
    """An input whose declared range is infinite: the samples span its dtype, by the user's choice."""
    bound = bound_of(name) if name in model.inputs else None
    return bound is not None and not (math.isfinite(bound[0]) and math.isfinite(bound[1]))


# --- witnesses -----------------------------------------------------------------------------------------


def find_witnesses(
    proto: onnx.ModelProto,
    specs: list[InputSpec],
    graded: list[Finding],
    open_hazards,
    options: RuntimeOptions,
    settings,
    weights=None,
) -> list[Finding]:
    """Witness inputs for the open hazards (`weights`: the arrays of external initializers, see
    Model.runnable)."""
    hazards = [witness_search.Hazard(str(index), watch.tensor, watch.score) for index, watch in open_hazards]
    if not hazards:
        return graded
    result = witness_search.search(proto, specs, hazards, options.budget, options.seed, options.provider, weights)
    for key, witness in result.witnesses.items():
        index = int(key)
        finding = graded[index]
        path = save_witness(finding, witness, options.witness_dir)
        evidence = dataclasses.replace(finding.evidence or Evidence("static"), kind="witness", witness=path)
        note = f"; witness input saved to {path}" if path else ""
        graded[index] = _with(finding, settings.severity_of(finding.code, Severity.error), evidence, note)
    return graded


def save_witness(finding: Finding, witness, directory: str | None) -> str | None:
    if not directory:
        return None
    loc = finding.graph_location
    stem = Path(loc.model).stem
    site = re.sub(r"[^A-Za-z0-9_.-]+", "_", loc.node or loc.tensor or "graph").strip("_")[:80]
    path = Path(directory) / f"{stem}-{loc.target}-{finding.code}-{site}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    witness_search.save_witness(str(path), witness)
    return str(path)
