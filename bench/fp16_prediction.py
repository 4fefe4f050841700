"""How well `nanlint graph --target cuda-fp16` predicts the tensors that really overflow float16.

    python bench/fp16_prediction.py [--models resnet18,resnet18-hot,bert,t5] [--calibration 16]
                                    [--fresh 256] [--budget 10] [--verbose] [--json OUT]

About 4-5 minutes on 2 cores (most of it the adversarial image search); not part of the test suite.

Models (bench/fp16_models.py): realistic architectures written in torch with random or deliberately
scaled weights, exported to ONNX into a cache directory ($NANLINT_BENCH_CACHE, default
/tmp/nanlint-bench/fp16_prediction). Needs torch (`pip install torch==2.13.0`), never a runtime
dependency of nanlint.

Predictions, per model, through nanlint.graph.driver.analyze_models (target cuda-fp16, the model's input
ranges declared with --input-range):
- static:  the static pass alone (--samples 0);
- drawn:   with nanlint's own `--samples` (default 16) draws from the declared ranges (box corners,
           then uniform), what users get without calibration data;
- sampled: with --inputs calib.npz, `--calibration` realistic inputs (another seed than the truth's);
- search:  the same plus --search --budget B.
A prediction is the tensor a NAN601, NAN504, NAN505 (its Exp output) or NAN506 (its square)
finding says overflows; predictors are the findings of one run at or above a severity, or with
one kind of evidence.

Ground truth, on inputs nanlint never saw: `--fresh` new realistic inputs (another seed) plus
adversarial ones (projected gradient ascent on the images; token scans for the token models).
The fp32 ONNX model runs in onnxruntime with every intermediate float tensor exposed (this
script's own runner, not nanlint's sampler); a tensor truly overflows when some input gives it a
value with |x| >= 65520, the magnitude at which float16 rounds to inf (every float tensor of these
models is stored in float16 on cuda-fp16).

Counting. nanlint reports where an overflow starts, not each tensor it spoils downstream. So,
judged on each input separately:
- a predicted tensor P *covers* a truly overflowing tensor T on an input when T = P, or when a
  dataflow path leads from P to T through tensors that all overflow on that input (T inherits P's
  overflow; the chain stops where values come back into range, e.g. after a normalisation);
- a true tensor (one that overflows on some input) is covered when it is covered on every input on
  which it overflows; a true origin is a tensor that, on some input, overflows while no input of its
  producer does;
- recall = covered true tensors / true tensors; origin recall = covered origins / origins;
- precision = predictions that cover a true tensor on some input / predictions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("NANLINT_BENCH_CACHE", Path(tempfile.gettempdir()) / "nanlint-bench")) / "fp16_prediction"
TARGET = "cuda-fp16"
FP16_INF = 65520.0  # round-to-nearest float16: magnitudes from here on become inf (65504 is the largest finite)
OVERFLOW_CODES = ("NAN601", "NAN504", "NAN505", "NAN506")
CALIBRATION_SEED, FRESH_SEED = 11, 22


# --- ground truth ----------------------------------------------------------------------------------


@dataclass
class Graph:
    """Dataflow of the ONNX model: which node outputs exist and who reads what."""

    tensors: list[str]  # float node outputs, topological order
    consumers: dict[str, list[list[str]]]  # tensor -> output lists of the nodes reading it
    producer_inputs: dict[str, list[str]]  # tensor -> inputs of the node producing it

    @classmethod
    def of(cls, proto) -> Graph:
        import onnx

        types = {vi.name: vi.type.tensor_type.elem_type for vi in (*proto.graph.value_info, *proto.graph.output)}
        floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
        tensors, consumers, producer_inputs = [], {}, {}
        for node in proto.graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(list(node.output))
            for out in node.output:
                producer_inputs[out] = list(node.input)
                if node.op_type != "Constant" and types.get(out) in floats:
                    tensors.append(out)
        return cls(tensors, consumers, producer_inputs)

    def covered_by(self, predicted: str, truth: set[str]) -> set[str]:
        """The true tensors `predicted` covers: itself if true, and those reached through true tensors."""
        seen = {predicted} & truth
        frontier = [predicted]
        while frontier:
            for outputs in self.consumers.get(frontier.pop(), []):
                for out in outputs:
                    if out in truth and out not in seen:
                        seen.add(out)
                        frontier.append(out)
        return seen

    def origins(self, truth: set[str]) -> set[str]:
        return {name for name in truth if not any(i in truth for i in self.producer_inputs.get(name, []))}


def peaks_per_input(path: Path, feeds: list[dict]) -> tuple[Graph, np.ndarray]:
    """(graph, max |x| of every float node output for every feed: [feeds, tensors]); inf/NaN count as inf."""
    import onnx
    import onnxruntime

    proto = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = Graph.of(proto)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    del exposed.graph.output[:]
    exposed.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in graph.tensors)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    peaks = np.zeros((len(feeds), len(graph.tensors)))
    for row, feed in enumerate(feeds):
        for column, value in enumerate(session.run(graph.tensors, feed)):
            value = np.asarray(value, np.float64)
            if value.size:
                peaks[row, column] = np.inf if not np.isfinite(value).all() else np.abs(value).max()
    return graph, peaks


# --- predictions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    tensor: str
    code: str
    severity: str
    evidence: str


def predictions(path: Path, ranges: dict, **runtime) -> tuple[list[Prediction], dict]:
    """The overflow predictions of `nanlint graph` on one model, and the run's summary."""
    import onnx

    from nanlint.config import GraphSettings, Settings
    from nanlint.graph.driver import GraphOptions, analyze_models

    settings = dataclasses.replace(Settings(), select=("ALL",))
    declared = [f"{name}={lo},{hi}" for name, (lo, hi) in ranges.items()]
    options = GraphOptions.from_cli(GraphSettings(), (TARGET,), declared, (), **runtime)
    [result], errors = analyze_models([str(path)], settings, options)
    if errors:
        raise SystemExit(f"nanlint failed on {path}: {errors}")
    producers = {out: node for node in onnx.load(str(path), load_external_data=False).graph.node for out in node.output}
    found = []
    for finding in result.findings:
        tensor = predicted_tensor(finding, producers)
        if finding.code in OVERFLOW_CODES and tensor:
            evidence = finding.evidence.kind if finding.evidence else "static"
            found.append(Prediction(tensor, finding.code, finding.severity.name, evidence))
    return found, result.summary


def predicted_tensor(finding, producers) -> str | None:
    """The tensor a finding says overflows: a naive softmax (NAN505, reported at its Div) overflows at its Exp."""
    tensor = finding.location.tensor
    if finding.code == "NAN505" and tensor in producers:
        numerator = producers[tensor].input[0]
        if numerator in producers and producers[numerator].op_type == "Exp":
            return numerator
    return tensor


@dataclass
class Predictor:
    label: str
    run: str  # static | sampled | search
    keep: object  # Prediction -> bool


def _errors(p: Prediction) -> bool:
    return p.severity == "error"


def _warnings_up(p: Prediction) -> bool:
    return p.severity in ("error", "warning")


PREDICTORS = [
    Predictor("static pass alone (warning+)", "static", _warnings_up),
    Predictor("drawn: error", "drawn", _errors),
    Predictor("drawn: warning+", "drawn", _warnings_up),
    Predictor("sampled: error", "sampled", _errors),
    Predictor("sampled: warning+", "sampled", _warnings_up),
    Predictor(
        "sampled: static-evidence warning", "sampled", lambda p: p.severity == "warning" and p.evidence == "static"
    ),
    Predictor("sampled: any incl. info", "sampled", lambda p: True),
    Predictor("search: error", "search", _errors),
    Predictor("search: warning+", "search", _warnings_up),
]


# --- scoring ---------------------------------------------------------------------------------------


@dataclass
class Score:
    predicted: int = 0
    correct: int = 0  # predictions covering at least one true tensor
    truth: int = 0
    covered: int = 0
    origins: int = 0
    origins_covered: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.covered / self.truth if self.truth else None

    @property
    def origin_recall(self) -> float | None:
        return self.origins_covered / self.origins if self.origins else None


@dataclass
class Coverage:
    truth: set[str]  # tensors that overflow on some input
    origins: set[str]  # tensors that overflow on some input while no input of their producer does
    covered: set[str]  # true tensors covered on every input on which they overflow
    correct: set[str]  # predictions that cover a true tensor on some input

    def score(self, predicted: set[str]) -> Score:
        return Score(
            len(predicted),
            len(self.correct),
            len(self.truth),
            len(self.covered),
            len(self.origins),
            len(self.origins & self.covered),
        )


def coverage(graph: Graph, over: np.ndarray, predicted: set[str]) -> Coverage:
    """Predictions against `over` ([inputs, tensors]: does the tensor overflow on that input).

    Judged input by input: a true tensor counts as covered only when, on every input on which it
    overflows, a prediction covers it through that input's overflowing tensors. (Taking the union over
    inputs first would let a rare overflow upstream "explain" one that happens on every input.)"""
    columns = np.flatnonzero(over.any(axis=0))
    names = [graph.tensors[c] for c in columns]
    uncovered, origins, correct = set(), set(), set()
    for row in np.unique(over[:, columns], axis=0):  # inputs with the same overflowing tensors, once
        overflowing = {names[j] for j in np.flatnonzero(row)}
        reached = set()
        for tensor in predicted:
            hit = graph.covered_by(tensor, overflowing)
            if hit:
                correct.add(tensor)
            reached |= hit
        uncovered |= overflowing - reached
        origins |= graph.origins(overflowing)
    return Coverage(set(names), origins, set(names) - uncovered, correct)


# --- the run ---------------------------------------------------------------------------------------


@dataclass
class ModelReport:
    name: str
    description: str
    tensors: int
    fresh: int
    adversarial: int
    truth: dict[str, float]  # true tensor -> fraction of fresh inputs on which it overflows (adversarial only: 0)
    origins: list[str]
    runs: dict[str, list[Prediction]]
    scores: dict[str, Score]
    covered: dict[str, list[str]]  # predictor label -> the true tensors it covers
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate(name: str, args) -> ModelReport:
    from bench.fp16_models import BUILDERS

    seconds = {}
    started = time.perf_counter()
    bench = BUILDERS[name]()
    path = bench.export(CACHE)
    seconds["build"] = time.perf_counter() - started

    calibration = bench.realistic(np.random.default_rng(CALIBRATION_SEED), args.calibration)
    calib_path = CACHE / f"{path.stem}-calibration-{args.calibration}.npz"
    np.savez(calib_path, **{n: np.stack([f[n] for f in calibration]) for n in bench.input_names})
    runs = {}
    for run, runtime in (
        ("static", {"samples": 0}),
        ("drawn", {"samples": args.samples}),
        ("sampled", {"inputs": str(calib_path)}),
        ("search", {"inputs": str(calib_path), "search": True, "budget": args.budget}),
    ):
        started = time.perf_counter()
        runs[run], _ = predictions(path, bench.ranges, **runtime)
        seconds[run] = time.perf_counter() - started

    started = time.perf_counter()
    fresh = bench.realistic(np.random.default_rng(FRESH_SEED), args.fresh)
    adversarial = bench.adversarial(fresh)
    seconds["adversarial"] = time.perf_counter() - started
    started = time.perf_counter()
    graph, peaks = peaks_per_input(path, fresh + adversarial)
    seconds["truth"] = time.perf_counter() - started
    over = peaks >= FP16_INF
    truth = {graph.tensors[c]: float(over[: len(fresh), c].mean()) for c in np.flatnonzero(over.any(axis=0))}
    between = int(((peaks > 65504) & ~over).any(axis=0).sum())
    if between:
        print(f"note: {name}: {between} tensors peak in (65504, 65520): finite in float16, not counted")
    scores, covered = {}, {}
    for predictor in PREDICTORS:
        predicted = {x.tensor for x in runs[predictor.run] if predictor.keep(x)}
        result = coverage(graph, over, predicted)
        scores[predictor.label], covered[predictor.label] = result.score(predicted), sorted(result.covered)
    origins = coverage(graph, over, set()).origins
    in_order = lambda names: sorted(names, key=graph.tensors.index)
    truth = {name: truth[name] for name in in_order(truth)}
    return ModelReport(
        name,
        bench.description,
        len(graph.tensors),
        len(fresh),
        len(adversarial),
        truth,
        in_order(origins),
        runs,
        scores,
        covered,
        seconds,
    )


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def print_table(reports: list[ModelReport]) -> None:
    header = (
        "model",
        "predictor",
        "predicted",
        "correct",
        "precision",
        "true",
        "covered",
        "recall",
        "origins",
        "origin recall",
    )
    rows = []
    for predictor in PREDICTORS:
        total = Score()
        for report in reports:
            s = report.scores[predictor.label]
            total = total + s
            rows.append((report.name, predictor.label, s))
        rows.append(("ALL", predictor.label, total))
    widths = [max(len(header[0]), *(len(r[0]) for r in rows)), max(len(header[1]), *(len(r[1]) for r in rows))]
    print(" | ".join([header[0].ljust(widths[0]), header[1].ljust(widths[1]), *header[2:]]))
    for model, label, s in sorted(rows, key=lambda r: (r[0] == "ALL", r[0], [p.label for p in PREDICTORS].index(r[1]))):
        cells = [
            str(s.predicted),
            str(s.correct),
            percent(s.precision),
            str(s.truth),
            str(s.covered),
            percent(s.recall),
            str(s.origins),
            percent(s.origin_recall),
        ]
        print(
            " | ".join(
                [model.ljust(widths[0]), label.ljust(widths[1]), *(c.rjust(len(h)) for c, h in zip(cells, header[2:]))]
            )
        )


DETAIL_COLUMNS = {
    "S": "static pass alone (warning+)",
    "E": "sampled: error",
    "W": "sampled: warning+",
    "X": "search: error",
}


def print_details(report: ModelReport) -> None:
    print(f"\n## {report.name}: {report.description}")
    print(
        f"{report.tensors} float tensors; truth from {report.fresh} fresh + {report.adversarial} adversarial "
        f"inputs; {len(report.truth)} tensors overflow (o: an origin on some input; % of fresh inputs on which "
        f"it overflows; covered by " + ", ".join(f"{k} = {v}" for k, v in DETAIL_COLUMNS.items()) + "):"
    )
    for name, share in report.truth.items():
        marks = "".join(key if name in report.covered[label] else "." for key, label in DETAIL_COLUMNS.items())
        print(f"  {'o' if name in report.origins else ' '} {100 * share:5.1f}% {marks} {name}")
    for run, found in report.runs.items():
        print(f"{run} run: " + ("no overflow findings" if not found else ""))
        for p in found:
            mark = "overflows " if p.tensor in report.truth else "          "
            print(f"  {mark}{p.code} {p.severity:7} {p.evidence:7} {p.tensor}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet18,resnet18-hot,bert,t5")
    parser.add_argument("--calibration", type=int, default=16, help="realistic inputs given to nanlint (--inputs)")
    parser.add_argument("--samples", type=int, default=16, help="nanlint's own draws from the declared ranges")
    parser.add_argument("--fresh", type=int, default=256, help="fresh realistic inputs for the ground truth")
    parser.add_argument("--budget", type=float, default=10.0, help="witness search budget per model (seconds)")
    parser.add_argument("--verbose", action="store_true", help="list the true origins and every prediction")
    parser.add_argument("--json", help="write the scores and details as JSON to this file")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    started = time.perf_counter()
    reports = [evaluate(name, args) for name in args.models.split(",")]
    print(
        f"target {TARGET}; nanlint given {args.calibration} calibration inputs; truth on {args.fresh} fresh "
        f"realistic inputs + adversarial ones; search budget {args.budget:g}s; "
        f"{time.perf_counter() - started:.0f}s in all"
    )
    print_table(reports)
    if args.verbose:
        for report in reports:
            print_details(report)
    if args.json:
        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in reports], indent=1, default=str))


if __name__ == "__main__":
    main()
