"""Combining static findings with runtime evidence: samples, and witnesses found by search.

A hazard seen in samples (or reproduced by a witness) is an error with that evidence. A
static-only hazard stays a warning while its bound is credible; it drops to info when the
bound has merely grown loose through many layers, far beyond anything the samples reach.
Sampling also finds what the static pass reported nowhere: NaN/Inf in the fp32 model itself
(NAN603), overflow of the target dtype (NAN601, sampled) and low headroom (NAN602).
Findings never claim more than their evidence.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from nanlint import catalog
from nanlint.findings import Evidence, Finding, GraphLocation, Severity
from nanlint.graph import search as witness_search
from nanlint.graph.sampling import InputSpec, SampleRun, TensorStats

LOOSE_DEPTH = 3  # widening steps after which an unconfirmed static overflow may be a loose bound
LOOSE_FACTOR = 2.0**10  # ... when the bound is this many times what the samples reached
OVERFLOW_CODES = frozenset({"NAN504", "NAN506", "NAN601"})  # hazards the samples confirm by an overflow


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


@dataclass(frozen=True)
class Watch:
    """What to observe to confirm a finding: a tensor and a score that is >= 0 when the hazard happens."""

    tensor: str
    score: Callable[[np.ndarray], float]
    nonfinite_hits: bool = False  # an Inf/NaN in the tensor is the hazard happening (watches of results)


# --- what confirms a finding ------------------------------------------------------------------------


def underflow_threshold(precision, tensor: str) -> float:
    """Positive values at or below this become 0 in the tensor's dtype on the target (0 for fp32/fp64)."""
    info = precision.info(tensor)
    if info is None or info.name in ("float32", "float64"):
        return 0.0
    return info.underflow(precision.profile.flush_subnormals)


def watch_for(finding: Finding, model, precision) -> Watch | None:
    loc = finding.location
    node = model.producer.get(loc.tensor) if loc.tensor else None
    if finding.code in OVERFLOW_CODES and loc.tensor:
        return _overflow_watch(loc.tensor, precision)
    if node is None or not node.input:
        return None
    op = node.op_type
    if finding.code == "NAN505":  # a naive softmax overflows at its Exp
        numerator = model.producer.get(node.input[0])
        return (
            _overflow_watch(node.input[0], precision) if numerator is not None and numerator.op_type == "Exp" else None
        )
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


def _overflow_watch(tensor: str, precision) -> Watch | None:
    limit = precision.limit(tensor)
    return Watch(tensor, witness_search.exceeds(limit), nonfinite_hits=True) if limit else None


def bound_tensor(finding: Finding, model) -> str | None:
    """The tensor a finding's static bound describes, so that `observed` speaks of the same tensor:
    the operand for domain and exp hazards (Log, Div, Sqrt, Exp ... inputs), the tensor itself otherwise."""
    loc = finding.location
    node = model.producer.get(loc.tensor) if loc.tensor else None
    if node is None or not node.input or finding.code not in ("NAN501", "NAN502", "NAN503", "NAN504"):
        return loc.tensor
    if finding.code == "NAN502" and node.op_type in ("Div", "Mod") and len(node.input) > 1:
        return node.input[1]
    return node.input[0]


def observed_score(watch: Watch, stats: TensorStats | None) -> float:
    if stats is None:
        return -math.inf
    if watch.nonfinite_hits and stats.nonfinite:
        return math.inf
    return watch.score(stats.extremes()) if stats.observed else -math.inf


# --- grading ------------------------------------------------------------------------------------------


def _with(finding: Finding, severity: Severity, evidence: Evidence, note: str = "") -> Finding:
    return dataclasses.replace(finding, severity=severity, evidence=evidence, message=finding.message + note)


def _abs_max(bound) -> float:
    return max(abs(bound[0]), abs(bound[1])) if bound else math.inf


@dataclass
class Graded:
    findings: list[Finding]
    open_hazards: list[tuple[int, Watch]]  # (index in findings, watch) still open for a witness search
    watched: set[str]  # tensors whose hazard a finding already reports (no second finding for them)


def grade(findings: list[Finding], run: SampleRun, model, precision, settings) -> Graded:
    """Findings graded by the samples."""
    graded, open_hazards = [], []
    watched = {f.location.tensor for f in findings if f.location.tensor}
    for finding in findings:
        watch = watch_for(finding, model, precision)
        if watch is None:
            graded.append(finding)
            continue
        watched.add(watch.tensor)
        stats = run.stats.get(watch.tensor)
        described = run.stats.get(bound_tensor(finding, model) or "")
        observed = described.observed if described else None
        evidence = finding.evidence or Evidence("static")
        if observed_score(watch, stats) >= 0:
            graded.append(
                _with(
                    finding,
                    settings.severity_of(finding.code, Severity.error),
                    dataclasses.replace(evidence, kind="sampled", observed=observed),
                )
            )
            continue
        evidence = dataclasses.replace(evidence, observed=observed)
        if is_loose(finding, stats, precision) and finding.severity < Severity.error:
            note = (
                f" (static bound only: it widened through {evidence.depth} layers, while samples peak at "
                f"{stats.abs_max:.3g})"
            )
            graded.append(_with(finding, Severity.info, evidence, note))
        else:
            graded.append(dataclasses.replace(finding, evidence=evidence))
        open_hazards.append((len(graded) - 1, watch))
    return Graded(graded, open_hazards, watched)


def is_loose(finding: Finding, stats: TensorStats | None, precision) -> bool:
    """An overflow bound that grew through many layers to far beyond anything observed."""
    evidence = finding.evidence
    if finding.code not in OVERFLOW_CODES or stats is None or not stats.observed or evidence is None:
        return False
    limit = precision.limit(finding.location.tensor) or math.inf
    observed = max(stats.abs_max, 1e-30)
    return (
        (evidence.depth or 0) >= LOOSE_DEPTH
        and _abs_max(evidence.bound) >= LOOSE_FACTOR * observed
        and observed * LOOSE_FACTOR**0.5 < limit
    )


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
        inputs = [i for i in (node.input if node is not None else ()) if i in run.stats]
        if any(hit(name, s) and not any(hit(i, s) for i in inputs) for s in range(run.samples)):
            found.append(name)
    return found


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
    model, run: SampleRun, target: str, settings, explained: set[str] = frozenset()
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
    model, run: SampleRun, precision, target: str, settings, headroom: float, reported: set[str]
) -> list[Finding]:
    """NAN601 (sampled) where observed values exceed the target dtype, NAN602 within `headroom` of it."""
    over, close = set(), set()
    for name, stats in run.stats.items():
        limit = precision.limit(name)
        if limit is None or not stats.observed:
            continue
        if stats.abs_max > limit:
            over.add(name)
        elif stats.abs_max * headroom > limit:
            close.add(name)
    findings = []
    dtype = lambda name: precision.info(name).name
    beyond = _sample_hit(run, lambda name, stats, s: stats.sample_abs_max[s] > (precision.limit(name) or math.inf))
    for name in _origins(model, run, over, beyond):
        if name in reported:
            continue
        stats, limit = run.stats[name], precision.limit(name)
        later = downstream_count(model, run, over, name)
        message = (
            f"observed values up to {stats.abs_max:.4g} exceed {dtype(name)}'s max {limit:.6g}: inf on "
            f"{target}" + (f"; {_plural(later, 'tensor', 'tensors')} downstream exceed it too" if later else "")
        )
        findings.append(
            _finding(
                "NAN601",
                message,
                Severity.error,
                model,
                target,
                name,
                settings,
                Evidence("sampled", observed=stats.observed, margin=math.log2(stats.abs_max / limit)),
            )
        )
    near = _sample_hit(
        run, lambda name, stats, s: stats.sample_abs_max[s] * headroom > (precision.limit(name) or math.inf)
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
                Evidence("sampled", observed=stats.observed, margin=math.log2(stats.abs_max * headroom / limit)),
            )
        )
    return [f for f in findings if settings.is_selected(f.code)]


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
    loc = finding.location
    stem = Path(loc.model).stem
    site = re.sub(r"[^A-Za-z0-9_.-]+", "_", loc.node or loc.tensor or "graph").strip("_")[:80]
    path = Path(directory) / f"{stem}-{loc.target}-{finding.code}-{site}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    witness_search.save_witness(str(path), witness)
    return str(path)
