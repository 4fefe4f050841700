"""The ONNX pass (`nanlint graph`): load each model, bound every tensor, judge the bounds per target.

For each model and target profile: the interval analysis runs with the target's clamping limits
(the finite max of the dtype each tensor is stored in there), then the checks turn hazards into
findings. Targets whose tensors have the same limits share one analysis. A model that cannot be
read gives a NAN900 finding and an error (exit 2) while the other models are still analysed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from nanlint.graph.targets import Profile, ProfileError, load_profile
from nanlint.graph.targets import list_target_names as _builtin_names

DEFAULT_RANGE = (-1.0, 1.0)  # the value range of inputs that have none declared
ALL_INPUTS = "*"  # `--input-range '*=LO,HI'` sets the default range


def list_target_names() -> list[str]:
    return _builtin_names()


@dataclass(frozen=True)
class GraphOptions:
    targets: tuple[str, ...] = ("cpu",)
    input_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    input_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    default_range: tuple[float, float] = DEFAULT_RANGE
    profiles: tuple[Profile, ...] = ()

    @classmethod
    def from_cli(cls, graph_settings, targets: Iterable[str], input_ranges: Iterable[str],
                 input_shapes: Iterable[str]) -> "GraphOptions":
        """Options from the command line on top of [tool.nanlint.graph]; ValueError (one line) when bad."""
        ranges = dict(graph_settings.input_ranges)
        ranges.update(parse_range(text) for text in input_ranges)
        shapes = dict(graph_settings.input_shapes)
        shapes.update(parse_shape(text) for text in input_shapes)
        default = ranges.pop(ALL_INPUTS, DEFAULT_RANGE)
        names = tuple(dict.fromkeys(targets)) or tuple(graph_settings.targets) or ("cpu",)
        return cls(names, ranges, shapes, default, load_profiles(names))


def load_profiles(targets: Iterable[str]) -> tuple[Profile, ...]:
    profiles: list[Profile] = []
    for target in targets:
        try:
            profile = load_profile(target)
        except ProfileError as exc:
            raise ValueError(str(exc)) from None
        if any(p.name == profile.name for p in profiles):
            raise ValueError(f"two targets are named {profile.name!r} ({target} and an earlier --target)")
        profiles.append(profile)
    return tuple(profiles)


def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    name, sep, values = text.rpartition("=")
    parts = values.split(",")
    usage = f"--input-range {text!r}: expected NAME=LO,HI (e.g. pixels=0,1)"
    if not sep or not name or len(parts) != 2:
        raise ValueError(usage)
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ValueError(usage) from None
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError(f"--input-range {text!r}: bounds cannot be NaN")
    if lo > hi:
        raise ValueError(f"--input-range {text!r}: LO {lo:g} is above HI {hi:g}")
    return name, (lo, hi)


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, values = text.rpartition("=")
    usage = f"--input-shape {text!r}: expected NAME=D0,D1,... with whole numbers >= 0 (e.g. input=1,3,224,224)"
    if not sep or not name:
        raise ValueError(usage)
    try:
        dims = tuple(int(d) for d in values.split(",")) if values.strip() else ()
    except ValueError:
        raise ValueError(usage) from None
    if any(d < 0 for d in dims):
        raise ValueError(usage)
    return name, dims


def analyze_models(paths: list[str], settings, options: GraphOptions):
    """(one GraphResult per model, error messages). Errors mean exit code 2."""
    from nanlint.report import GraphResult

    profiles = options.profiles or load_profiles(options.targets)
    results, errors = [], []
    seen_inputs: set[str] = set()
    loaded = 0
    for path in paths:
        findings, summary, error, inputs = analyze_model(path, settings, options, profiles)
        seen_inputs.update(inputs or ())
        loaded += inputs is not None
        if error:
            errors.append(error)
        results.append(GraphResult(path, tuple(p.name for p in profiles), findings, summary))
    unknown = sorted(set(options.input_ranges) - seen_inputs)
    if unknown and loaded:
        errors.append(f"--input-range names no input of the model{'s' if len(paths) > 1 else ''}: "
                      f"{', '.join(unknown)} (inputs: {', '.join(sorted(seen_inputs)) or 'none'})")
    return results, errors


def analyze_model(path: str, settings, options: GraphOptions, profiles: tuple[Profile, ...]):
    """(findings, summary, error message or None, the model's input names or None) for one model."""
    from nanlint.graph.model import ModelError, load_model

    try:
        model = load_model(path, options.input_shapes)
    except ModelError as exc:
        findings = unreadable(path, str(exc), settings, profiles)
        return findings, summarize(findings, None, profiles), str(exc), None
    try:
        findings, summary = run_targets(model, settings, options, profiles)
    except Exception as exc:  # noqa: BLE001 - one model's internal error must not stop the others
        if os.environ.get("NANLINT_DEBUG"):
            raise
        message = f"{path}: internal error in the graph analysis: {type(exc).__name__}: {exc}"
        return [], summarize([], None, profiles), message, model.inputs
    return findings, summary, None, model.inputs


def unreadable(path: str, message: str, settings, profiles: tuple[Profile, ...]):
    from nanlint import catalog
    from nanlint.findings import Finding, GraphLocation

    if not settings.is_selected("NAN900"):
        return []
    page = catalog.get("NAN900")
    prefix = f"{path}: "
    text = message[len(prefix):] if message.startswith(prefix) else message
    location = GraphLocation(path, profiles[0].name if profiles else "cpu", None, None, None)
    return [Finding("NAN900", page.name, f"cannot read model: {text}", settings.severity_of("NAN900", page.severity),
                    location)]


def run_targets(model, settings, options: GraphOptions, profiles: tuple[Profile, ...]):
    from nanlint.graph import checks
    from nanlint.graph.analysis import analyze
    from nanlint.graph.patterns import find_patterns
    from nanlint.graph.targets.precision import Precision, complete_dtypes

    max_epsilon = settings.option("NAN702", "max-epsilon", checks.OPTIONS["NAN702"]["max-epsilon"])
    patterns = find_patterns(model, max_epsilon)
    analyses: dict[tuple, object] = {}  # targets with the same limits share one analysis
    dtypes = complete_dtypes(model)
    findings, first = [], None
    for order, profile in enumerate(profiles):
        precision = Precision(model, profile, patterns, dtypes)
        limits = {name: precision.limit(name) for name in dtypes}
        key = tuple(sorted(limits.items()))
        if key not in analyses:
            ranges = {name: r for name, r in options.input_ranges.items() if name in model.inputs}
            analyses[key] = analyze(model, ranges, limits.get, options.default_range)
        analysis = analyses[key]
        first = first or analysis
        found = checks.check(model, analysis, profile, precision, patterns, settings)
        findings.extend(sorted(found, key=lambda f: (order, *rank(f))))
    return findings, summarize(findings, first, profiles, model)


def rank(finding) -> tuple:
    """Within a target: errors first, then by margin (how far past the limit), then by place."""
    loc = finding.location
    margin = finding.evidence.margin if finding.evidence and finding.evidence.margin is not None else 0.0
    return (-int(finding.severity), -margin, loc.node or "", loc.tensor or "", finding.code)


def summarize(findings, analysis, profiles: tuple[Profile, ...], model=None) -> dict:
    from nanlint.findings import Severity
    from nanlint.graph.checks import blind_spots

    by_severity = {s.name: 0 for s in (Severity.error, Severity.warning, Severity.info)}
    by_code: dict[str, int] = {}
    for finding in findings:
        by_severity[finding.severity.name] += 1
        by_code[finding.code] = by_code.get(finding.code, 0) + 1
    unsupported = sorted({node.op_type for node in blind_spots(model, analysis)}) if analysis is not None else []
    return {
        "findings": len(findings),
        "by_severity": by_severity,
        "by_code": dict(sorted(by_code.items())),
        "tensors_analysed": len(analysis.bounds) if analysis is not None else 0,
        "unsupported_ops": unsupported,
        "targets": [p.name for p in profiles],
    }
