"""Start-up cost of one command, as ratios to a baseline measured in the same run.

    python bench/startup.py [--repeat 10]

A pre-commit hook runs nanlint on a handful of files many times a day, so what a command imports
before its first useful instruction matters as much as its throughput. Each figure is the best wall
time of `--repeat` fresh processes, baseline and nanlint taking turns:

- `nanlint check small.py --no-cache` against `python -c` importing libcst and parsing the same file
  (target <= 1.5x);
- `nanlint graph tiny.onnx --samples 0` against `python -c` importing onnx and onnxruntime, loading the
  model and running it once (target <= 1.5x);
- `nanlint --version` (target <= 0.1 s).

nanlint's modules are byte-compiled first, as a pip install does (a checkout run with
PYTHONDONTWRITEBYTECODE would otherwise compile them in every process).
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.measure import ROOT, best_of, best_of_alternating

SMALL = ROOT / "fixtures" / "example" / "train.py"
TINY = ROOT / "fixtures" / "models" / "activation_overflow.onnx"

PARSE = "import sys, libcst; libcst.parse_module(open(sys.argv[1], 'rb').read())"
INFER = (
    "import sys, numpy, onnx, onnxruntime as ort\n"
    "model = onnx.load(sys.argv[1])\n"
    "session = ort.InferenceSession(model.SerializeToString(), providers=['CPUExecutionProvider'])\n"
    "feeds = {i.name: numpy.zeros([d if isinstance(d, int) and d > 0 else 1 for d in i.shape], numpy.float32)"
    " for i in session.get_inputs()}\n"
    "session.run(None, feeds)\n"
)


@dataclass
class Figure:
    name: str
    seconds: float
    baseline: str
    baseline_seconds: float | None
    target: str
    met: bool

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else None


def nanlint_command() -> list[str]:
    """The console script next to this interpreter (what a user runs), else `python -m nanlint`."""
    script = Path(sys.executable).with_name("nanlint")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nanlint"]


def run(command: list[str]):
    return lambda: subprocess.run(command, capture_output=True, check=False, cwd=ROOT)


def measure(repeat: int) -> list[Figure]:
    compileall.compile_dir(ROOT / "nanlint", quiet=1)
    nanlint = nanlint_command()
    parse, check = best_of_alternating(
        repeat,
        run([sys.executable, "-c", PARSE, str(SMALL)]),
        run([*nanlint, "check", str(SMALL), "--no-cache", "--exit-zero"]),
    )
    infer, graph = best_of_alternating(
        repeat,
        run([sys.executable, "-c", INFER, str(TINY)]),
        run([*nanlint, "graph", str(TINY), "--samples", "0", "--exit-zero"]),
    )
    version = best_of(repeat, run([*nanlint, "--version"]))
    return [
        Figure("check small.py --no-cache", check, "import libcst + parse", parse, "<= 1.5x", check <= 1.5 * parse),
        Figure(
            "graph tiny.onnx --samples 0",
            graph,
            "import onnx + onnxruntime, load, one inference",
            infer,
            "<= 1.5x",
            graph <= 1.5 * infer,
        ),
        Figure("--version", version, "", None, "<= 0.1 s", version <= 0.1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print(f"{'command':<30} {'seconds':>8} {'baseline':>9} {'ratio':>6}  target")
    for figure in measure(args.repeat):
        baseline = f"{figure.baseline_seconds:>9.3f}" if figure.baseline_seconds else f"{'':>9}"
        ratio = f"{figure.ratio:>6.2f}" if figure.ratio else f"{'':>6}"
        verdict = "met" if figure.met else "MISSED"
        print(f"{figure.name:<30} {figure.seconds:>8.3f} {baseline} {ratio}  {figure.target} ({verdict})")


if __name__ == "__main__":
    main()
