"""Graph pass speed and memory, as ratios to a baseline measured in the same run.

    python bench/graph_speed.py [--models resnet50,bert-base] [--target cuda-fp16] [--repeat 3]
                                [--growth transformer-depth,transformer-width,resnet-depth]

Models: a ResNet-50-sized CNN (bottleneck blocks 3-4-6-3, 25.6M parameters, 1x3x224x224) and a
BERT-base-sized encoder (12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 30522, sequence
128, 110M parameters), written here in torch with random weights and exported with
torch.onnx.export (opset 17) into a temporary directory; nothing big is committed. Needs torch
(`pip install torch==2.13.0`), which is never a runtime dependency.

Figures, per model:
- static ratio: the static pass (`nanlint graph MODEL --target T --samples 0`: load, interval
  analysis, checks, in-process, after one warm-up run) / one onnxruntime CPU inference of the same
  model (warm session); the two are measured alternately, best of --repeat each (the inference,
  short and the most sensitive to load from other processes, 5 times per round). Target <= 3.
- sampling ratio: the cost of one more sample in nanlint's sampling stage (every intermediate tensor
  exposed and summarised), from the stage's time at two sample counts: (T(n2) - T(n1)) / (n2 - n1),
  divided by one inference. The stage's fixed cost (sessions with every tensor exposed) is T(n1) minus
  n1 samples; the default run (`--samples 16`) pays it once.
- memory ratio: the peak resident memory the pass adds (in a fresh process, above the memory after
  imports) / the model file's size, for the static pass and for the default run with 16 samples.
  Target <= 3.

Growth (--growth): a family of models of one architecture at growing depth or width; the static pass
and one inference are timed at each size and the exponent k of time ~ size^k is fitted (1: linear).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import best_of, fit_exponent, progress, settle, timed  # noqa: E402

DEFAULT_SAMPLES = 16  # nanlint graph's default --samples


# --- models ----------------------------------------------------------------------------------------


def resnet(blocks=(3, 4, 6, 3), width=64):
    """A ResNet with bottleneck blocks (ResNet-50: blocks 3-4-6-3, width 64), 1x3x224x224 input."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            out = planes * 4
            self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
            self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
            self.down = None
            if stride != 1 or inplanes != out:
                self.down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            identity = x if self.down is None else self.down(x)
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            return torch.relu(self.bn3(self.conv3(y)) + identity)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(3, 2, 1)
            )
            layers, inplanes = [], width
            for stage, count in enumerate(blocks):
                planes = width * 2**stage
                for index in range(count):
                    layers.append(Bottleneck(inplanes, planes, 2 if index == 0 and stage > 0 else 1))
                    inplanes = planes * 4
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(inplanes, 1000)

        def forward(self, x):
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))

    return ResNet(), (torch.zeros(1, 3, 224, 224),), ["pixels"], {"pixels": (0.0, 1.0)}


def transformer(layers=12, hidden=768, vocab=30522, seq=128):
    """A BERT-style encoder (BERT-base: 12 layers, hidden 768, vocabulary 30522); heads of 64, FFN 4x."""
    import torch
    from torch import nn

    heads, ffn = hidden // 64, 4 * hidden

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.out = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
            self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-12), nn.LayerNorm(hidden, eps=1e-12)
            self.up, self.down = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)

        def forward(self, x, bias):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, heads, hidden // heads).permute(2, 0, 3, 1, 4)
            scores = q @ k.transpose(-1, -2) / (hidden // heads) ** 0.5 + bias
            context = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, hidden)
            x = self.ln1(x + self.out(context))
            return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.words, self.positions = nn.Embedding(vocab, hidden), nn.Embedding(512, hidden)
            self.types, self.ln = nn.Embedding(2, hidden), nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, input_ids, attention_mask):
            positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
            x = self.ln(self.words(input_ids) + self.positions(positions) + self.types(torch.zeros_like(input_ids)))
            bias = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
            for layer in self.layers:
                x = layer(x, bias)
            return x

    ids = torch.zeros(1, seq, dtype=torch.int64)
    mask = torch.ones(1, seq, dtype=torch.int64)
    return (
        Encoder(),
        (ids, mask),
        ["input_ids", "attention_mask"],
        {"input_ids": (0.0, vocab - 1.0), "attention_mask": (0.0, 1.0)},
    )


MODELS = {"resnet50": resnet, "bert-base": transformer}

# Families for the growth figures: one architecture, growing depth or width; every stage grows alike, so
# that size and compute grow together (a small vocabulary, so that the layers make the size).
FAMILIES = {
    "transformer-depth": {f"encoder-L{n}-H256": functools.partial(transformer, n, 256, 1000) for n in (1, 2, 4, 8, 16)},
    "transformer-width": {
        f"encoder-L4-H{h}": functools.partial(transformer, 4, h, 1000) for h in (128, 256, 512, 1024)
    },
    "resnet-depth": {f"resnet-{n}-{n}-{n}-{n}": functools.partial(resnet, (n,) * 4) for n in (1, 2, 4, 8)},
}
QUICK_FAMILIES = {
    "transformer-depth": {f"encoder-L{n}-H256": functools.partial(transformer, n, 256, 1000) for n in (1, 2, 4, 8)},
    "resnet-depth": {f"resnet-{n}-{n}-{n}-{n}-w32": functools.partial(resnet, (n,) * 4, 32) for n in (1, 2, 4)},
}


def export(name: str, directory: Path, builder=None) -> tuple[Path, dict]:
    """Export model `name` (one of MODELS, or built by `builder`) with random weights; (path, input ranges)."""
    import torch

    torch.manual_seed(0)
    module, args, names, ranges = (builder or MODELS[name])()
    module.eval()
    path = directory / f"{name}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, on every export
        torch.onnx.export(
            module, args, str(path), dynamo=False, opset_version=17, input_names=names, output_names=["y"]
        )
    return path, ranges


# --- measurements ----------------------------------------------------------------------------------


def inference_session(path: Path, threads: int = 0):
    """(seconds to create the session, a function running one inference) with onnxruntime's CPU provider
    (threads: 0 for onnxruntime's default, a thread per core)."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    start = time.perf_counter()
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    created = time.perf_counter() - start
    feeds = {}
    for spec in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in spec.shape]
        dtype = np.int64 if "int64" in spec.type else np.float32
        feeds[spec.name] = np.ones(shape, dtype)
    session.run(None, feeds)  # warm-up
    return created, lambda: session.run(None, feeds)


INFERENCES_PER_ROUND = 5  # one inference is short and multi-threaded: the most sensitive to load


def static_vs_inference(repeat: int, analyse, *inferences, best: tuple[float, ...] = ()) -> list[float]:
    """[best static pass, best time of each inference], taking turns so that load from elsewhere hits all
    alike; each round runs each inference INFERENCES_PER_ROUND times (`best`: inference times so far)."""
    best = [math.inf, *best] + [math.inf] * (len(inferences) - len(best))
    for _ in range(repeat):
        settle()
        best[0] = min(best[0], timed(analyse))
        for index, infer in enumerate(inferences, 1):
            best[index] = min(best[index], *(timed(infer) for _ in range(INFERENCES_PER_ROUND)))
    return best


def graph_options(ranges: dict, target: str, samples: int):
    from nanlint.config import GraphSettings
    from nanlint.graph.driver import GraphOptions

    return GraphOptions.from_cli(
        GraphSettings(),
        (target,),
        [f"{k}={lo},{hi}" for k, (lo, hi) in ranges.items()],
        (),
        samples=samples,
        search=False,
    )


def analysis_run(path: Path, ranges: dict, target: str, samples: int = 0) -> tuple[float, dict]:
    """Seconds for the whole pass on one target (static only unless `samples`), and its summary."""
    from nanlint.config import Settings
    from nanlint.graph.driver import analyze_models

    settings = dataclasses.replace(Settings(), select=("ALL",))
    options = graph_options(ranges, target, samples)
    start = time.perf_counter()
    results, errors = analyze_models([str(path)], settings, options)
    seconds = time.perf_counter() - start
    if errors:
        raise SystemExit(f"analysis failed: {errors}")
    return seconds, results[0].summary


def static_after_load(model, ranges: dict, target: str) -> dict:
    """The static pass on a model already loaded (interval analysis and checks, no sampling): the figure
    issue 11 asks for, without reading and parsing the file."""
    from nanlint.config import Settings
    from nanlint.graph.driver import load_profiles, run_targets

    settings = dataclasses.replace(Settings(), select=("ALL",))
    options = graph_options(ranges, target, 0)
    return run_targets(model, settings, options, options.profiles or load_profiles(options.targets)).summary


def measure_static(name: str, directory: Path, target: str, repeat: int) -> None:
    """--static-only: load, session creation, one inference (default threads and one thread) and the static
    pass after loading, printed as one line (ratios to the same-run inference)."""
    from nanlint.graph.model import load_model

    progress(f"graph: exporting {name}")
    path, ranges = export(name, directory)
    created, infer = inference_session(path)
    _, infer_one_thread = inference_session(path, threads=1)
    load = best_of(repeat, functools.partial(load_model, str(path)))
    model = load_model(str(path))
    summary = static_after_load(model, ranges, target)  # warm-up (kernel sessions are cached)
    static, inference, one_thread = static_vs_inference(
        repeat, lambda: static_after_load(model, ranges, target), infer, infer_one_thread
    )
    print(
        f"{name}: {path.stat().st_size / 2**20:.0f} MB, {summary.get('tensors_analysed')} tensors; load {load:.3f} s, "
        f"ort session {created:.2f} s (apart); inference {inference:.4f} s, one thread {one_thread:.4f} s; "
        f"static pass after load {static:.3f} s = {static / one_thread:.2f}x one same-thread inference "
        f"({static / inference:.2f}x default threads); findings {json.dumps(summary.get('by_code'))}"
    )
    path.unlink()


def sampling_run(model, ranges: dict, samples: int) -> None:
    """nanlint's sampling stage alone: `samples` inputs drawn from the ranges, every tensor observed."""
    from nanlint.graph.driver import sample

    sample(model, graph_options(ranges, "cpu", samples))


_MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import numpy, onnx, onnxruntime
from bench.graph_speed import analysis_run, peak_rss, rss_now
before = rss_now()
seconds, summary = analysis_run(__import__("pathlib").Path({path!r}), {ranges!r}, {target!r}, {samples!r})
print(json.dumps({{"before": before, "peak": peak_rss(), "seconds": seconds}}))
"""


def rss_now() -> int:
    """Current resident memory of this process, in bytes (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Peak resident memory of this process, in bytes (Linux VmHWM; unlike getrusage's ru_maxrss it does
    not include the parent's memory at the time of the fork)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def analysis_memory(path: Path, ranges: dict, target: str, samples: int = 0) -> int:
    """Peak resident memory the pass adds, measured in a fresh process (bytes)."""
    code = _MEMORY_CHILD.format(root=str(ROOT), path=str(path), ranges=ranges, target=target, samples=samples)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return max(0, data["peak"] - data["before"])


@dataclasses.dataclass
class ModelResult:
    name: str
    size: int  # bytes of the .onnx file
    session: float  # seconds to create the onnxruntime session
    inference: float  # one warm inference (onnxruntime's default threads)
    inference_one_thread: float  # the same on one thread: slower, but robust to load from other processes
    static: float  # the static pass, reading the file included
    load: float  # reading and parsing the model file
    static_loaded: float  # the static pass on the loaded model (issue 11's figure)
    per_sample: float  # one more sample in the sampling stage
    sampling_setup: float  # the sampling stage's fixed cost
    memory_static: int  # peak bytes the static pass adds
    memory_sampled: int  # peak bytes the default run (static + DEFAULT_SAMPLES samples) adds
    summary: dict


def measure_model(
    name: str, directory: Path, target: str, repeat: int, sample_counts=(2, 6), builder=None
) -> ModelResult:
    from nanlint.graph.model import load_model

    progress(f"graph: exporting {name}")
    path, ranges = export(name, directory, builder)
    created, infer = inference_session(path)
    _, infer_one_thread = inference_session(path, threads=1)
    _, summary = analysis_run(path, ranges, target)  # warm-up (kernel sessions are cached)
    progress(f"graph: {name}: static pass vs one inference, best of {repeat}")
    static, inference, one_thread = static_vs_inference(
        repeat, lambda: analysis_run(path, ranges, target), infer, infer_one_thread
    )
    progress(f"graph: {name}: static pass after loading vs one same-thread inference, best of {repeat}")
    load = best_of(repeat, functools.partial(load_model, str(path)))
    model = load_model(str(path))
    static_loaded, inference, one_thread = static_vs_inference(
        repeat,
        lambda model=model: static_after_load(model, ranges, target),
        infer,
        infer_one_thread,
        best=(inference, one_thread),
    )
    progress(f"graph: {name}: sampling at {sample_counts[0]} and {sample_counts[1]} samples, best of {repeat}")
    few, many = (best_of(repeat, functools.partial(sampling_run, model, ranges, n)) for n in sample_counts)
    per_sample = max(0.0, (many - few) / (sample_counts[1] - sample_counts[0]))
    del model
    progress(f"graph: {name}: peak memory in fresh processes")
    memory_static = analysis_memory(path, ranges, target)
    memory_sampled = analysis_memory(path, ranges, target, DEFAULT_SAMPLES)
    size = path.stat().st_size
    path.unlink()
    setup = few - sample_counts[0] * per_sample
    return ModelResult(
        name,
        size,
        created,
        inference,
        one_thread,
        static,
        load,
        static_loaded,
        per_sample,
        setup,
        memory_static,
        memory_sampled,
        summary,
    )


@dataclasses.dataclass
class GrowthPoint:
    name: str
    size: int
    inference: float
    static: float


@dataclasses.dataclass
class Growth:
    family: str
    points: list[GrowthPoint]

    @property
    def exponent(self) -> float:
        return fit_exponent([p.size for p in self.points], [p.static for p in self.points])

    @property
    def inference_exponent(self) -> float:
        return fit_exponent([p.size for p in self.points], [p.inference for p in self.points])


def measure_growth(family: str, members: dict, directory: Path, target: str, repeat: int) -> Growth:
    points = []
    for name, builder in members.items():
        progress(f"graph growth: {family}: {name}, best of {repeat}")
        path, ranges = export(name, directory, builder)
        _, infer = inference_session(path)
        analysis_run(path, ranges, target)  # warm-up
        static, inference = static_vs_inference(
            repeat, lambda path=path, ranges=ranges: analysis_run(path, ranges, target), infer
        )
        points.append(GrowthPoint(name, path.stat().st_size, inference, static))
        path.unlink()
    return Growth(family, points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,bert-base", help="comma-separated; '' for none")
    parser.add_argument("--target", default="cuda-fp16")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--growth", default="", help=f"comma-separated families: {', '.join(FAMILIES)}")
    parser.add_argument("--static-only", action="store_true", help="only the static pass after loading")
    args = parser.parse_args()
    import onnxruntime

    print(
        f"target {args.target}; onnxruntime {onnxruntime.__version__}, CPU, {os.cpu_count()} cores; "
        f"best of {args.repeat}"
    )
    if args.static_only:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.models.split(","):
                measure_static(name, Path(tmp), args.target, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure_model(name, Path(tmp), args.target, args.repeat) for name in args.models.split(",") if name]
        growths = [
            measure_growth(f, FAMILIES[f], Path(tmp), args.target, args.repeat) for f in args.growth.split(",") if f
        ]
    if rows:
        header = (
            "model",
            "size MB",
            "ort session s",
            "ort inference s (1 thread)",
            "static pass s",
            "static ratio (1 thread)",
            "per sample s",
            "sample ratio",
            "sampling setup s",
            "peak extra MB static/sampled",
            "memory ratio static/sampled",
            "tensors",
            "findings",
        )
        print(" | ".join(header))
    for r in rows:
        print(
            " | ".join(
                [
                    r.name,
                    f"{r.size / 2**20:.0f}",
                    f"{r.session:.2f}",
                    f"{r.inference:.3f} ({r.inference_one_thread:.3f})",
                    f"{r.static:.2f}",
                    f"{r.static / r.inference:.1f}x ({r.static / r.inference_one_thread:.1f}x)",
                    f"{r.per_sample:.3f}",
                    f"{r.per_sample / r.inference:.1f}x",
                    f"{r.sampling_setup:.2f}",
                    f"{r.memory_static / 2**20:.0f}/{r.memory_sampled / 2**20:.0f}",
                    f"{r.memory_static / r.size:.2f}x/{r.memory_sampled / r.size:.2f}x",
                    str(r.summary.get("tensors_analysed")),
                    json.dumps(r.summary.get("by_code")),
                ]
            )
        )
    for growth in growths:
        print(f"{growth.family}: static k = {growth.exponent:.2f}, inference k = {growth.inference_exponent:.2f}")
        for p in growth.points:
            print(
                f"    {p.name:<22} {p.size / 2**20:>8.1f} MB  static {p.static:>7.3f} s  inference "
                f"{p.inference:>7.4f} s  ratio {p.static / p.inference:>5.1f}x"
            )


if __name__ == "__main__":
    main()
