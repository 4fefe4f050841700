"""Graph pass speed and memory, as ratios to a baseline measured in the same run.

    python bench/graph_speed.py [--models resnet50,bert-base] [--target cuda-fp16] [--repeat 3]

Models: a ResNet-50-sized CNN (bottleneck blocks 3-4-6-3, 25.6M parameters, 1x3x224x224) and a
BERT-base-sized encoder (12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 30522, sequence
128, 110M parameters), written here in torch with random weights and exported with
torch.onnx.export (opset 17) into a temporary directory; nothing big is committed. Needs torch
(`pip install torch==2.13.0`), which is never a runtime dependency.

Figures, per model:
- time ratio: the static pass (`nanlint graph MODEL --target T`: load, interval analysis, checks,
  in-process, after one warm-up run) / one onnxruntime CPU inference of the same model (warm
  session); the two are measured alternately, best of --repeat each. Target <= 3.
- memory ratio: the peak resident memory the static pass adds (in a fresh process, above the
  memory after imports) / the model file's size. Target <= 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- models ----------------------------------------------------------------------------------------

def resnet50():
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes, planes, stride):
            super().__init__()
            width, out = planes, planes * 4
            self.conv1, self.bn1 = nn.Conv2d(inplanes, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out)
            self.down = None
            if stride != 1 or inplanes != out:
                self.down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            identity = x if self.down is None else self.down(x)
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            return torch.relu(self.bn3(self.conv3(y)) + identity)

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            layers, inplanes = [], 64
            for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for index in range(blocks):
                    layers.append(Bottleneck(inplanes, planes, stride if index == 0 else 1))
                    inplanes = planes * 4
            self.layers = nn.Sequential(*layers)
            self.fc = nn.Linear(2048, 1000)

        def forward(self, x):
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))

    return ResNet50(), (torch.zeros(1, 3, 224, 224),), ["pixels"], {"pixels": (0.0, 1.0)}


def bert_base():
    import torch
    from torch import nn

    hidden, heads, ffn, layers, vocab, seq = 768, 12, 3072, 12, 30522, 128

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

    class Bert(nn.Module):
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
    return Bert(), (ids, mask), ["input_ids", "attention_mask"], {"input_ids": (0.0, vocab - 1.0),
                                                                 "attention_mask": (0.0, 1.0)}


MODELS = {"resnet50": resnet50, "bert-base": bert_base}


def export(name: str, directory: Path) -> tuple[Path, dict]:
    import torch

    torch.manual_seed(0)
    module, args, names, ranges = MODELS[name]()
    module.eval()
    path = directory / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17, input_names=names,
                          output_names=["y"])
    return path, ranges


# --- measurements ----------------------------------------------------------------------------------

def inference_session(path: Path):
    """(seconds to create the session, a function running one inference) with onnxruntime's CPU provider."""
    import numpy as np
    import onnxruntime

    start = time.perf_counter()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    created = time.perf_counter() - start
    feeds = {}
    for spec in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in spec.shape]
        dtype = np.int64 if "int64" in spec.type else np.float32
        feeds[spec.name] = np.ones(shape, dtype)
    session.run(None, feeds)  # warm-up
    return created, lambda: session.run(None, feeds)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def analysis_run(path: Path, ranges: dict, target: str) -> tuple[float, dict]:
    """Seconds for the whole static pass on one target, and its summary."""
    from nanlint.config import Settings
    from nanlint.graph import GraphOptions, analyze_models
    from nanlint.config import GraphSettings

    settings = dataclasses.replace(Settings(), select=("ALL",))
    options = GraphOptions.from_cli(GraphSettings(), (target,), [f"{k}={lo},{hi}" for k, (lo, hi) in ranges.items()],
                                    ())
    start = time.perf_counter()
    results, errors = analyze_models([str(path)], settings, options)
    seconds = time.perf_counter() - start
    if errors:
        raise SystemExit(f"analysis failed: {errors}")
    return seconds, results[0].summary


_MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import numpy, onnx, onnxruntime
from bench.graph_speed import analysis_run, peak_rss, rss_now
before = rss_now()
seconds, summary = analysis_run(__import__("pathlib").Path({path!r}), {ranges!r}, {target!r})
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


def analysis_memory(path: Path, ranges: dict, target: str) -> int:
    """Peak resident memory the static pass adds, measured in a fresh process (bytes)."""
    code = _MEMORY_CHILD.format(root=str(ROOT), path=str(path), ranges=ranges, target=target)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return max(0, data["peak"] - data["before"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,bert-base")
    parser.add_argument("--target", default="cuda-fp16")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path, ranges = export(name, Path(tmp))
            size = path.stat().st_size
            created, infer = inference_session(path)
            _, summary = analysis_run(path, ranges, args.target)  # warm-up (kernel sessions are cached)
            # Interleaved, so that load from other processes hits both sides alike; best of each.
            inference, analysis = math.inf, math.inf
            for _ in range(args.repeat):
                inference = min(inference, _timed(infer))
                analysis = min(analysis, analysis_run(path, ranges, args.target)[0])
            memory = analysis_memory(path, ranges, args.target)
            rows.append((name, size, created, inference, analysis, memory, summary))
    print(f"target {args.target}; onnxruntime {__import__('onnxruntime').__version__}, CPU, "
          f"{os.cpu_count()} cores; best of {args.repeat}")
    header = ("model", "size MB", "ort session s", "ort inference s", "static pass s", "time ratio",
              "peak extra MB", "memory ratio", "tensors", "findings")
    print(" | ".join(header))
    for name, size, created, inference, analysis, memory, summary in rows:
        print(" | ".join([name, f"{size / 2**20:.0f}", f"{created:.2f}", f"{inference:.3f}", f"{analysis:.2f}",
                          f"{analysis / inference:.1f}x", f"{memory / 2**20:.0f}", f"{memory / size:.2f}x",
                          str(summary.get("tensors_analysed")), json.dumps(summary.get("by_code"))]))


if __name__ == "__main__":
    main()
