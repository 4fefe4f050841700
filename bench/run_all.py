"""All of nanlint's benchmarks in one run, printed as one Markdown table with the machine it ran on.

    python bench/run_all.py                  # full run (about 40 minutes on 2 cores)
    python bench/run_all.py --wait-quiet 120 --output bench/RESULTS.md   # how RESULTS.md is made
    python bench/run_all.py --quick          # a few minutes: smaller corpora and models, fewer repeats
    python bench/run_all.py --only graph,graph-growth   # re-run a part

Every figure is a ratio to a baseline measured in the same run, on the same machine:
- source: nanlint's cold pass vs a bare single-process `libcst.parse_module` of the same files (one and
  two workers), warm (cached) vs cold, and nanlint vs Fixit running one comparable qualified-name rule
  (bench/source_speed.py, bench/fixit_speed.py);
- graph: the static pass vs one onnxruntime inference of the same model, the cost of one sample vs one
  inference, peak memory vs the model's size (bench/graph_speed.py);
- growth: the exponent k of time ~ size^k, for the source pass over corpus sizes and for the static
  pass over a family of models of one architecture; k close to 1 is linear.
Timings are the best of N runs (N in the table): other processes only add time. The corpus is the
wheel of transformers 4.46.3 (about 1M lines), downloaded once into the bench cache
($NANLINT_BENCH_CACHE, default /tmp/nanlint-bench); Fixit is installed there into a venv of its own.
The graph figures need torch (`pip install torch==2.13.0`), used only to export the models.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import fixit_speed, graph_speed, source_speed, startup
from bench.measure import Contention, load_average, machine, nanlint_revision, progress, wait_for_quiet

SECTIONS = ("startup", "source", "fixit", "graph", "graph-growth")
# Growth exponents up to this count as linear (timing noise and fixed costs shift k a little). A model
# family whose own inference grows faster than its size (fixed embeddings or stems) may grow as fast.
LINEAR = 1.15


@dataclasses.dataclass(frozen=True)
class Plan:
    source_lines: tuple[int | None, ...]  # corpus sizes; None: the whole package
    fixit_lines: int | None
    models: tuple[str, ...]
    families: dict
    repeat: int  # source and Fixit timings (long runs)
    graph_repeat: int  # graph timings (short runs, noisier)
    sample_counts: tuple[int, int]


FULL = Plan((10_000, 100_000, None), 100_000, ("resnet50", "bert-base"), graph_speed.FAMILIES, 3, 5, (2, 10))
QUICK = Plan((10_000, 30_000, 100_000), 10_000, ("resnet50", "bert-base"), graph_speed.QUICK_FAMILIES, 2, 3, (2, 6))


@dataclasses.dataclass
class Row:
    area: str
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str = ""
    met: bool | None = None
    repeat: int | None = None

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "**missed**", None: ""}[self.met]
        target = f"{self.target} {verdict}".strip()
        return [
            self.area,
            self.figure,
            self.value,
            self.baseline,
            self.ratio,
            target,
            str(self.repeat) if self.repeat else "",
        ]


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def megabytes(value: float) -> str:
    return f"{value / 2**20:.1f} MB" if value < 10 * 2**20 else f"{value / 2**20:.0f} MB"


def lines(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.0f}k"


def ratio(value: float) -> str:
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


# --- sections --------------------------------------------------------------------------------------


def source_rows(plan: Plan) -> list[Row]:
    result = source_speed.measure(source_speed.PACKAGE, plan.source_lines, plan.repeat)
    top = result.headline
    corpus = f"{top.corpus.name}, {len(top.corpus.files):,} files, {top.corpus.lines:,} lines"
    parse = f"bare `libcst.parse_module`, 1 process: {seconds(top.parse)}"
    n = plan.repeat
    rows = [
        Row(
            "source",
            f"cold, 1 worker, all rules ({corpus})",
            seconds(top.cold1),
            parse,
            ratio(top.cold1 / top.parse),
            "<= 1.5x",
            top.cold1 / top.parse <= 1.5,
            n,
        ),
        Row(
            "source",
            "cold, 2 workers",
            seconds(result.cold2),
            parse,
            ratio(result.cold2 / top.parse),
            "< 1x",
            result.cold2 / top.parse < 1,
            n,
        ),
        Row(
            "source",
            "warm (cached), 1 worker",
            seconds(result.warm),
            f"cold, 1 worker: {seconds(top.cold1)}",
            ratio(result.warm / top.cold1),
            "<= 0.1x",
            result.warm / top.cold1 <= 0.1,
            n,
        ),
        Row(
            "source",
            "warm after a selection change (`--select NAN1` on a cache filled with ALL)",
            seconds(result.reselected),
            f"cold, 1 worker: {seconds(top.cold1)}",
            ratio(result.reselected / top.cold1),
            "<= 0.1x",
            result.reselected / top.cold1 <= 0.1,
            n,
        ),
    ]
    first = result.points[0]
    points = ", ".join(f"{lines(p.corpus.lines)}: {seconds(p.cold1)}" for p in result.points)
    parses = ", ".join(f"{lines(p.corpus.lines)}: {seconds(p.parse)}" for p in result.points)
    rows.append(
        Row(
            "growth",
            f"source pass (cold, 1 worker) vs lines of code: {points}",
            f"k = {result.exponent:.2f}",
            f"bare parse ({parses}): k = {result.parse_exponent:.2f}",
            f"{ratio(first.cold1 / first.parse)} to {ratio(top.cold1 / top.parse)} of a parse",
            f"k <= {LINEAR}",
            result.exponent <= LINEAR,
            n,
        )
    )
    return rows


def startup_rows(plan: Plan) -> list[Row]:
    """What a pre-commit hook pays per call: each command against importing what it needs (bench/startup.py)."""
    repeat = plan.graph_repeat * 2
    return [
        Row(
            "startup",
            f"`nanlint {figure.name}`",
            seconds(figure.seconds),
            f"{figure.baseline}: {seconds(figure.baseline_seconds)}" if figure.baseline_seconds else "",
            ratio(figure.ratio) if figure.ratio else "",
            figure.target,
            figure.met,
            repeat,
        )
        for figure in startup.measure(repeat)
    ]


def fixit_rows(plan: Plan) -> list[Row]:
    r = fixit_speed.measure(source_speed.PACKAGE, plan.fixit_lines, plan.repeat)
    corpus = f"{len(r.corpus.files)} files, {r.corpus.lines:,} lines of transformers"
    rule = "one qualified-name rule (log of softmax)"
    return [
        Row(
            "source vs Fixit",
            f"`nanlint check -j 1`, all rules ({corpus})",
            seconds(r.nanlint1),
            f"Fixit {r.fixit_version}, {rule}, 1 process: {seconds(r.fixit1)}",
            ratio(r.nanlint1 / r.fixit1),
            repeat=plan.repeat,
        ),
        Row(
            "source vs Fixit",
            "`nanlint check` (a worker per core)",
            seconds(r.nanlint_cli),
            f"`fixit lint` (a process per core), {rule}: {seconds(r.fixit_cli)}",
            ratio(r.nanlint_cli / r.fixit_cli),
            repeat=plan.repeat,
        ),
    ]


def graph_rows(plan: Plan, target: str) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nanlint-bench-graph-") as tmp:
        for name in plan.models:
            r = graph_speed.measure_model(name, Path(tmp), target, plan.graph_repeat, plan.sample_counts)
            label = f"{name} ({megabytes(r.size)}, {r.summary.get('tensors_analysed')} tensors)"
            infer = f"one onnxruntime inference: {seconds(r.inference)}"
            one_thread = f"{infer} (on 1 thread: {seconds(r.inference_one_thread)})"
            n = plan.graph_repeat
            rows += [
                Row(
                    "graph",
                    f"{label}: static pass on the loaded model, target {target} (load {seconds(r.load)} and "
                    f"onnxruntime session creation {seconds(r.session)} apart)",
                    seconds(r.static_loaded),
                    f"one onnxruntime inference on 1 thread: {seconds(r.inference_one_thread)}",
                    ratio(r.static_loaded / r.inference_one_thread),
                    "<= 4x",
                    r.static_loaded / r.inference_one_thread <= 4,
                    n,
                ),
                Row(
                    "graph",
                    f"{name}: static pass from the file (load included)",
                    seconds(r.static),
                    one_thread,
                    f"{ratio(r.static / r.inference)} ({ratio(r.static / r.inference_one_thread)})",
                    "",
                    None,
                    n,
                ),
                Row(
                    "graph",
                    f"{name}: sampling, cost of one sample (fixed cost of the stage: {seconds(r.sampling_setup)})",
                    seconds(r.per_sample),
                    infer,
                    ratio(r.per_sample / r.inference),
                    "",
                    None,
                    n,
                ),
                Row(
                    "graph",
                    f"{name}: peak memory, static pass",
                    megabytes(r.memory_static),
                    f"model file: {megabytes(r.size)}",
                    ratio(r.memory_static / r.size),
                    "<= 3x",
                    r.memory_static / r.size <= 3,
                ),
                Row(
                    "graph",
                    f"{name}: peak memory, default run (static + {graph_speed.DEFAULT_SAMPLES} samples)",
                    megabytes(r.memory_sampled),
                    f"model file: {megabytes(r.size)}",
                    ratio(r.memory_sampled / r.size),
                ),
            ]
    return rows


def growth_rows(plan: Plan, target: str) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="nanlint-bench-growth-") as tmp:
        for family, members in plan.families.items():
            g = graph_speed.measure_growth(family, members, Path(tmp), target, plan.graph_repeat)
            points = ", ".join(f"{megabytes(p.size)}: {seconds(p.static)}" for p in g.points)
            linear = g.exponent <= max(LINEAR, g.inference_exponent + 0.05)
            rows.append(
                Row(
                    "growth",
                    f"graph static pass vs model size, {family} ({points})",
                    f"k = {g.exponent:.2f}",
                    f"one inference: k = {g.inference_exponent:.2f}",
                    f"{ratio(g.points[0].static / g.points[0].inference)} to "
                    f"{ratio(g.points[-1].static / g.points[-1].inference)} of an inference",
                    f"k <= {LINEAR} or inference's k",
                    linear,
                    plan.graph_repeat,
                )
            )
    return rows


# --- report ----------------------------------------------------------------------------------------

HEADER = ["area", "figure", "value", "baseline (same run)", "ratio", "target", "best of N"]

READING = """How to read it: every ratio is nanlint's time (or memory) divided by the baseline measured in
the same run on the same machine; below 1x nanlint is faster. Targets come from the issues (source pass:
issue 3, graph pass: issues 5 and 11, startup and the cache: issue 11; none is set against Fixit, nor for
sampling); a growth exponent k (time ~ size^k, fitted on log-log) counts as linear up to 1.15, or up to
the model's own inference's k on the same family. The static pass is timed on the loaded model against one inference in a one-thread session
(issue 11), which moves less when other processes take a core; the pass from the file is also given
against onnxruntime's default session (a thread per core), the one-thread ratio in parentheses. Timings
are the best of N runs; "other processes" says how much CPU the rest of the machine took while runs were
timed. Measure a checkout nobody edits meanwhile (a `git clone` of the commit named above). Each part
runs alone too: `python bench/startup.py`, `python bench/source_speed.py --lines 10000,100000,all`, `python bench/fixit_speed.py`,
`python bench/graph_speed.py --growth transformer-depth,transformer-width,resnet-depth`.
"""


def markdown(rows: list[Row], about: dict[str, str], mode: str) -> str:
    lines_out = [f"- **{key}**: {value}" for key, value in about.items()]
    lines_out.append(f"- **mode**: {mode}")
    lines_out += ["", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines_out += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines_out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: smaller corpora and models")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--repeat", type=int, help="best of N for the source and Fixit timings")
    parser.add_argument("--graph-repeat", type=int, help="best of N for the graph timings")
    parser.add_argument("--target", default="cuda-fp16", help="graph target profile")
    parser.add_argument("--output", type=Path, help="also write the table (with the command) to this file")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each round of timed runs, wait up to this long for other processes to go quiet (below 0.3 cores)",
    )
    args = parser.parse_args()

    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    if {"graph", "graph-growth"} & set(sections):
        try:
            import torch  # noqa: F401 - only to export the benchmark models
        except ImportError:
            sys.exit(
                "the graph benchmarks export models with torch: pip install torch==2.13.0 (or --only source,fixit)"
            )
    plan = QUICK if args.quick else FULL
    plan = dataclasses.replace(
        plan, repeat=args.repeat or plan.repeat, graph_repeat=args.graph_repeat or plan.graph_repeat
    )

    Contention.wait_seconds = args.wait_quiet
    about = machine()
    start_load = load_average()
    measures = {
        "startup": lambda: startup_rows(plan),
        "source": lambda: source_rows(plan),
        "fixit": lambda: fixit_rows(plan),
        "graph": lambda: graph_rows(plan, args.target),
        "graph-growth": lambda: growth_rows(plan, args.target),
    }
    rows: list[Row] = []
    others = []
    for section in SECTIONS:
        if section in sections:
            wait_for_quiet(args.wait_quiet)
            before = Contention.snapshot()
            rows += measures[section]()
            others.append(f"{section} {Contention.average_cores(since=before):.2f}")
    if nanlint_revision() != about["nanlint"]:
        about["nanlint"] += f", **changed during the run** to {nanlint_revision()}: re-run for consistent figures"
    about["load average (1, 5, 15 min)"] = f"{start_load} at the start, {load_average()} at the end"
    about["other processes"] = (
        f"used {Contention.average_cores():.2f} of the {os.cpu_count()} cores on average "
        f"while runs were timed (by section: {', '.join(others)})"
    )
    table = markdown(rows, about, "quick" if args.quick else "full")
    progress("done")
    print(table)
    if args.output:
        command = shlex.join(["python", "bench/run_all.py", *sys.argv[1:]])
        args.output.write_text(f"# nanlint benchmarks\n\nCommand: `{command}`\n\n{table}\n{READING}")


if __name__ == "__main__":
    main()
