"""The graph pass driver: load each model, bound every tensor, judge the bounds per target.

For each model and target profile: the interval analysis runs with the target's clamping limits
(the finite max of the dtype each tensor is stored in there), then the checks turn hazards into
findings. Targets whose tensors have the same limits share one analysis. A model that cannot be
read gives a NAN900 finding and an error (exit 2) while the other models are still analysed.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nanlint import options as rule_options
from nanlint.findings import GraphResult, TensorProfile
from nanlint.graph.runtime import RuntimeOptions
from nanlint.graph.sampling import available_providers
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
    runtime: RuntimeOptions | None = None  # None: static analysis only
    block_list: str | None = None  # --emit-block-list FILE
    write_mixed: str | None = None  # --write-mixed OUT.onnx
    source_root: str | None = None  # --source-root DIR: where the exporter's Python paths are found
    progress: Callable | None = None  # progress(label, length) -> context manager with .update(n)

    @property
    def sampling(self) -> RuntimeOptions:
        """`runtime`, for the code that runs only when the model is sampled."""
        if self.runtime is None:
            raise ValueError("the static analysis alone has no runtime options")
        return self.runtime

    @classmethod
    def from_cli(
        cls, graph_settings, targets: Iterable[str], input_ranges: Iterable[str], input_shapes: Iterable[str], **runtime
    ) -> GraphOptions:
        """Options from the command line on top of [tool.nanlint.graph]; ValueError (one line) when bad.

        `runtime` takes samples, inputs, provider, search, budget, witness_dir, headroom, block_list,
        write_mixed, progress and source_root; None values fall back to the configuration.
        """
        ranges = dict(graph_settings.input_ranges)
        ranges.update(parse_range(text) for text in input_ranges)
        shapes = dict(graph_settings.input_shapes)
        shapes.update(parse_shape(text) for text in input_shapes)
        default = ranges.pop(ALL_INPUTS, DEFAULT_RANGE)
        names = tuple(dict.fromkeys(targets)) or tuple(graph_settings.targets) or ("cpu",)
        extras = {key: runtime.pop(key, None) for key in ("block_list", "write_mixed", "progress", "source_root")}
        return cls(
            names, ranges, shapes, default, load_profiles(names), runtime_options(graph_settings, **runtime), **extras
        )


def runtime_options(
    graph_settings, samples=None, inputs=None, provider=None, search=None, budget=None, witness_dir=None, headroom=None
) -> RuntimeOptions | None:
    samples = graph_settings.samples if samples is None else samples
    search = graph_settings.search if search is None else search
    if samples <= 0 and not inputs and not search:
        return None
    if provider is not None and provider not in available_providers():
        raise ValueError(f"--provider {provider}: not available here (available: {', '.join(available_providers())})")
    return RuntimeOptions(
        samples=samples,
        inputs=inputs,
        provider=provider or "CPUExecutionProvider",
        headroom=graph_settings.headroom if headroom is None else headroom,
        search=search,
        budget=graph_settings.budget if budget is None else budget,
        witness_dir=witness_dir,
    )


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
    """(one GraphResult per model, error messages). Errors mean exit code 2.

    Whatever the libraries print while the models are analysed (onnxruntime announces an execution
    provider's fallback on stdout) goes to stderr: stdout carries the report alone. Large freed blocks go
    back to the system from the start (sampling.map_large_blocks): the analysis' and sampling's temporaries
    would otherwise stay in the heap."""
    from nanlint.graph.sampling import map_large_blocks

    map_large_blocks()
    with contextlib.redirect_stdout(sys.stderr):
        return _analyze_models(paths, settings, options)


def _analyze_models(paths: list[str], settings, options: GraphOptions):
    profiles = options.profiles or load_profiles(options.targets)
    if (options.block_list or options.write_mixed) and len(paths) != 1:
        return [], ["--emit-block-list and --write-mixed take exactly one model"]
    results, errors = [], []
    seen_inputs: set[str] = set()
    loaded = 0
    for path in paths:
        outcome = analyze_model(path, settings, options, profiles)
        seen_inputs.update(outcome.inputs or ())
        loaded += outcome.inputs is not None
        errors.extend(outcome.errors)
        names = tuple(p.name for p in profiles)
        results.append(GraphResult(path, names, outcome.findings, outcome.summary, outcome.profile, ranges(profiles)))
    unknown = sorted(set(options.input_ranges) - seen_inputs)
    if unknown and loaded:
        errors.append(
            f"--input-range names no input of the model{'s' if len(paths) > 1 else ''}: "
            f"{', '.join(unknown)} (inputs: {', '.join(sorted(seen_inputs)) or 'none'})"
        )
    return results, errors


def ranges(profiles: tuple[Profile, ...]) -> dict[str, tuple[str, float]]:
    """Per target, the dtype float tensors are stored in and its largest finite value (for the HTML plot)."""
    from nanlint.graph.targets import DTYPES

    stored = {p.name: p.float if p.float in DTYPES else "float32" for p in profiles}
    return {name: (dtype, DTYPES[dtype].max) for name, dtype in stored.items()}


@dataclass
class ModelOutcome:
    findings: list
    summary: dict
    errors: list[str] = field(default_factory=list)
    inputs: list[str] | None = None  # the model's input names (None: it could not be read)
    profile: list = field(default_factory=list)  # TensorProfile rows for the HTML report


def analyze_model(path: str, settings, options: GraphOptions, profiles: tuple[Profile, ...]) -> ModelOutcome:
    from nanlint.graph.mixed import MixedPrecisionError
    from nanlint.graph.model import ModelError, load_model
    from nanlint.graph.sampling import FeedError, SamplingError

    try:
        model = load_model(path, options.input_shapes)
    except ModelError as exc:
        # A model that exists but cannot be read is a finding (NAN900), governed like any other; a path
        # that does not exist is an error (exit 2), as in `nanlint check`.
        findings = unreadable(path, str(exc), settings, profiles)
        return ModelOutcome(findings, summarize(findings, None, profiles), [] if Path(path).exists() else [str(exc)])
    try:
        return run_targets(model, settings, options, profiles)
    except FeedError as exc:  # calibration data that does not fit the model: a usage error
        return ModelOutcome([], summarize([], None, profiles), [str(exc)], model.inputs)
    except (SamplingError, MixedPrecisionError) as exc:
        return ModelOutcome([], summarize([], None, profiles), [f"{path}: {exc}"], model.inputs)
    except Exception as exc:
        if os.environ.get("NANLINT_DEBUG"):
            raise
        message = f"{path}: internal error in the graph analysis: {type(exc).__name__}: {exc}"
        return ModelOutcome([], summarize([], None, profiles), [message], model.inputs)


def unreadable(path: str, message: str, settings, profiles: tuple[Profile, ...]):
    from nanlint import catalog
    from nanlint.findings import Finding, GraphLocation

    if not settings.is_selected("NAN900"):
        return []
    page = catalog.get("NAN900")
    prefix = f"{path}: "
    text = message[len(prefix) :] if message.startswith(prefix) else message
    location = GraphLocation(path, profiles[0].name if profiles else "cpu", None, None, None)
    return [
        Finding(
            "NAN900", page.name, f"cannot read model: {text}", settings.severity_of("NAN900", page.severity), location
        )
    ]


def run_targets(model, settings, options: GraphOptions, profiles: tuple[Profile, ...]) -> ModelOutcome:
    from nanlint.graph import cascade, checks
    from nanlint.graph.analysis import analyze
    from nanlint.graph.patterns import find_patterns
    from nanlint.graph.provenance import with_sources
    from nanlint.graph.sampling import SamplingError
    from nanlint.graph.targets.precision import Precision, complete_dtypes

    max_epsilon = settings.option("NAN702", "max-epsilon", rule_options.default("NAN702", "max-epsilon"))
    patterns = find_patterns(model, max_epsilon)
    analyses: dict[tuple, object] = {}  # targets with the same limits share one analysis
    dtypes = complete_dtypes(model)
    samples, skipped = None, None
    if options.runtime:
        try:
            samples = sample(model, options)
        except SamplingError as exc:  # the static findings stand; say why there is no runtime evidence
            skipped = f"skipped: {exc}"
        else:
            complete_shapes(model, samples)
    findings, first, per_target = [], None, []
    for order, profile in enumerate(profiles):
        precision = Precision(model, profile, patterns, dtypes)
        limits = {name: precision.limit(name) for name in dtypes}
        key = tuple(sorted(limits.items()))
        if key not in analyses:
            ranges = {name: r for name, r in options.input_ranges.items() if name in model.inputs}
            analyses[key] = analyze(model, ranges, limits.get, options.default_range)
        analysis = analyses[key]
        first = first or analysis
        ctx = checks.context(model, analysis, profile, precision, patterns, settings)
        found = checks.check(model, analysis, profile, precision, patterns, settings, ctx)
        if samples is not None:
            found = with_runtime_evidence(
                model, found, samples, precision, profile.name, settings, options, ctx.raw, first_target=order == 0
            )
        found = cascade.attach(found, model, precision, checks.overflowing(ctx), samples)
        per_target.append((profile, precision, found))
        findings.extend(sorted(found, key=lambda f: (order, *rank(f))))
    findings = with_sources(model, findings, options.source_root)
    summary = summarize(findings, first, profiles, model)
    if samples is not None:
        summary["samples"] = samples.samples
        if samples.note:
            summary["sampling"] = samples.note
    if skipped:
        summary["sampling"] = skipped
    outcome = ModelOutcome(findings, summary, [], model.inputs, tensor_profile(model, first, samples))
    precision_fixes(model, per_target, samples, options, outcome)
    return outcome


def sample(model, options: GraphOptions):
    """One fp32 run over the samples (or the calibration data) shared by every target, holding about the
    weights' size of exposed tensors at once (sampling.chunk_budget)."""
    from nanlint.graph.sampling import SAMPLING_BUDGET, chunk_budget, run_samples

    feeds = sample_feeds(model, options)
    sizes = tensor_sizes(model)
    proto, weights = model.runnable()
    runtime = options.sampling
    budget = SAMPLING_BUDGET if runtime.time_budget is None else runtime.time_budget
    memory = chunk_budget(sum(int(value.nbytes) for value in model.constants.values()))
    settings = dict(weights=weights, budget=budget, memory=memory)
    if options.progress is None:
        return run_samples(proto, feeds, sizes, runtime.provider, **settings)
    with options.progress("sampling", len(feeds)) as bar:
        return run_samples(proto, feeds, sizes, runtime.provider, progress=bar.update, **settings)


def complete_shapes(model, samples) -> None:
    """Shapes onnxruntime computed, for the tensors shape inference left unknown (e.g. the outputs of a
    custom-domain op): without them the analysis loses what ops after it still know (a Softmax is in
    [0, 1] whatever its input)."""
    for name, stats in samples.stats.items():
        if model.shapes.get(name) is None and stats.shape is not None:
            model.shapes[name] = tuple(int(d) for d in stats.shape)


def sample_feeds(model, options: GraphOptions):
    """The calibration data, or the samples drawn from the declared ranges (the same on every call)."""
    from nanlint.graph.sampling import draw_feeds, load_feeds

    runtime = options.sampling
    if runtime.inputs:
        return load_feeds(runtime.inputs, input_specs(model, options))
    return draw_feeds(input_specs(model, options), runtime.samples, runtime.seed)


def tensor_sizes(model) -> dict[str, int]:
    return {name: math.prod(shape) for name, shape in model.shapes.items() if shape is not None}


def input_specs(model, options: GraphOptions):
    """The box inputs are drawn from: declared ranges, else the default (integer inputs: [0, 1])."""
    from nanlint.graph.sampling import FLOAT_TYPES, InputSpec

    specs = []
    for name in model.inputs:
        elem_type = model.dtypes.get(name, 1)
        default = options.default_range if elem_type in FLOAT_TYPES else (0.0, 1.0)
        low, high = options.input_ranges.get(name, default)
        shape = model.input_shapes.get(name) or model.shapes.get(name) or ()
        specs.append(InputSpec(name, elem_type, tuple(shape), low, high))
    return specs


def with_runtime_evidence(
    model, found, samples, precision, target: str, settings, options: GraphOptions, bound_of, first_target: bool
):
    from nanlint.graph import runtime

    graded = runtime.grade(found, samples, model, precision, settings)
    findings = graded.findings
    findings += runtime.range_findings(
        model, samples, precision, target, settings, options.sampling.headroom, graded.watched, bound_of
    )
    if first_target and settings.is_selected("NAN603"):
        findings += runtime.nonfinite_findings(
            model, samples, target, settings, fp32_explained(findings, model, precision)
        )
    if options.sampling.search and graded.open_hazards:
        proto, weights = model.runnable()
        findings = runtime.find_witnesses(
            proto, input_specs(model, options), findings, graded.open_hazards, options.sampling, settings, weights
        )
    return findings


def fp32_explained(findings, model, precision) -> set[str]:
    """Tensors whose NaN/Inf in float32 a confirmed finding already reports (runtime.explains_fp32)."""
    from nanlint.graph.runtime import explains_fp32

    return {
        f.location.tensor
        for f in findings
        if f.location.tensor
        and f.evidence is not None
        and f.evidence.kind != "static"
        and explains_fp32(f, model, precision)
    }


def tensor_profile(model, analysis, samples) -> list:
    """Static bound and observed range of every float tensor, in topological order (for the HTML plot)."""
    rows = []
    for node in model.nodes:
        for tensor in node.output:
            bound = analysis.bounds.get(tensor) if analysis is not None else None
            stats = samples.stats.get(tensor) if samples is not None else None
            if bound is None and stats is None:
                continue
            static = (float(bound.min()), float(bound.max())) if bound is not None else None
            rows.append(
                TensorProfile(
                    tensor, node.name or None, node.op_type, static, stats.observed if stats is not None else None
                )
            )
    return rows


def precision_fixes(model, per_target, samples, options: GraphOptions, outcome: ModelOutcome) -> None:
    """--emit-block-list / --write-mixed for the first reduced-precision target. The block list keeps
    in fp32 what the findings name (with their cascades) and every tensor the samples saw within the
    headroom factor of the target's range; the mixed model is run before it is written (mixed.py)."""
    if not (options.block_list or options.write_mixed):
        return
    from nanlint.graph import mixed

    chosen = next(((p, prec, f) for p, prec, f in per_target if p.float in ("float16", "bfloat16")), None)
    if chosen is None:
        outcome.errors.append("--emit-block-list/--write-mixed need a reduced-precision --target (e.g. cuda-fp16)")
        return
    profile, precision, found = chosen
    headroom = options.runtime.headroom if options.runtime else 1.0
    over = {
        name
        for name, stats in (samples.stats.items() if samples else ())
        if precision.limit(name) is not None and stats.abs_max * headroom > precision.limit(name)
    }
    proto = mixed.name_unnamed_nodes(model.proto_with_data())
    blocked = mixed.block_list(proto, found, profile.name, extra_tensors=over)
    if options.write_mixed:
        interface = mixed.Interface.read(model.path)
        main, others = validation_feeds(model, options, samples, interface)
        built = mixed.build_mixed(proto, found, profile.name, interface, main, others, tensor_sizes(model), over)
        mixed.save(built.proto, options.write_mixed)
        outcome.summary["mixed"] = mixed.summary(built, profile.name, options.write_mixed)
        blocked = built.blocked
    if options.block_list:
        Path(options.block_list).write_text(blocked.to_json(), encoding="utf-8")


VALIDATION_FEEDS = 4  # inputs in all when there were no samples, and per other shape of the analysed size


def validation_feeds(model, options: GraphOptions, samples, interface):
    """The mixed model's test inputs: the samples (or calibration data), and inputs of other shapes
    where the model's inputs have symbolic dimensions. An other shape checks that the model takes it and
    stays finite there: it costs about VALIDATION_FEEDS inferences of the analysed size (fewer inputs when
    they are larger: doubling an image's batch, height and width makes each 8x), and only the inputs whose
    outputs broke are run again with every tensor exposed."""
    from dataclasses import replace

    from nanlint.graph.mixed import FeedSet, other_shapes
    from nanlint.graph.sampling import draw_feeds

    specs = input_specs(model, options)
    if options.runtime and samples is not None:
        what = "calibration inputs" if options.runtime.inputs else "sampled inputs"
        main = [FeedSet.of(what, sample_feeds(model, options))]
    else:
        main = [FeedSet.of("inputs drawn from the input ranges", draw_feeds(specs, VALIDATION_FEEDS, seed=1))]
    others = []
    for shapes in other_shapes(interface, {s.name: s.shape for s in specs}):
        resized = [replace(spec, shape=tuple(shapes.get(spec.name, spec.shape))) for spec in specs]
        growth = max(
            (math.prod(new.shape) / max(math.prod(old.shape), 1) for new, old in zip(resized, specs)), default=1
        )
        feeds = draw_feeds(resized, max(1, round(VALIDATION_FEEDS / max(growth, 1.0))), seed=1)
        others.append(FeedSet.of("inputs", feeds, scale=max(growth, 1.0), probed=0))
    return main, others


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
