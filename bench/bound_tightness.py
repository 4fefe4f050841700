"""How loose are the static bounds on real models, and which op makes them loose?

    python bench/bound_tightness.py SET_DIR [MODEL ...] [--top 15] [--json OUT]

SET_DIR is a model set with `models.json` and `truth/<model>.json` (the graph-fp16 development set in
the shared folder, or bench/real_models of the real-model bench): `nanlint_args` give the input shapes
and ranges, the truth's `tensors` table the largest |value| observed per tensor on realistic inputs.

For every float activation of the truth, the ratio static bound / observed (|bound| max over |value|
max; the bound of the static analysis without any target clamping) says how loose the bound is. For
every node, the growth is its output's ratio over the largest ratio among its varying inputs: the
nodes with the largest growth are where a transfer function loses the most against what the model
really computes (an input ratio of 1 is used for graph inputs, whose bound is the declared range).
Prints per model the distribution of the ratio (median, 90th percentile, max, how many tensors are
above 100x) and the top nodes by growth among those whose output ends loose.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOSE = 100.0  # a ratio above this counts as loose in the summary
FLOOR = 1e-6  # observed maxima below this are too small to compare against


def cli_ranges(args: list[str]) -> tuple[dict, dict]:
    """(--input-shape dict, --input-range dict) from a models.json `nanlint_args` list."""
    from nanlint.graph.driver import parse_range, parse_shape

    shapes, ranges = {}, {}
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--input-shape":
            name, dims = parse_shape(value)
            shapes[name] = dims
        elif flag == "--input-range":
            name, span = parse_range(value)
            ranges[name] = span
    return shapes, ranges


def static_bounds(path: str, shapes: dict, ranges: dict, target: str | None):
    """The model and its analysis, clamped to `target`'s ranges as `nanlint graph` does (None: raw)."""
    from nanlint.graph.analysis import analyze
    from nanlint.graph.model import load_model
    from nanlint.graph.patterns import find_patterns
    from nanlint.graph.targets import load_profile
    from nanlint.graph.targets.precision import Precision, complete_dtypes

    model = load_model(path, shapes)
    ranges = {k: v for k, v in ranges.items() if k in model.inputs}
    limit = None
    if target:
        dtypes = complete_dtypes(model)
        precision = Precision(model, load_profile(target), find_patterns(model, 1e-3), dtypes)
        limits = {name: precision.limit(name) for name in dtypes}
        limit = limits.get
    return model, analyze(model, ranges, limit)


def ratios(model, analysis, observed: dict) -> dict[str, float]:
    out = {}
    for name, row in observed.items():
        seen, kind = row[0], row[1]
        bound = analysis.bounds.get(name)
        if kind != "act" or bound is None or not seen or seen < FLOOR or not math.isfinite(seen):
            continue
        out[name] = bound.abs_max() / seen
    return out


def growth(model, analysis, ratio: dict[str, float]) -> list[tuple[float, float, str, str, str]]:
    """(growth, output ratio, op, node, tensor) for every node whose output has a ratio."""
    rows = []
    for node in model.nodes:
        for out in node.output:
            if out not in ratio:
                continue
            inputs = []
            for name in node.input:
                iv = analysis.bounds.get(name)
                if not name or iv is None or iv.is_point:
                    continue
                inputs.append(ratio.get(name, 1.0 if name in model.inputs else None))
            known = [r for r in inputs if r is not None]
            base = max(known) if known else 1.0
            rows.append((ratio[out] / max(base, 1e-30), ratio[out], node.op_type, node.name, out))
    return rows


def quantiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]
    return {
        "n": len(values),
        "median": pick(0.5),
        "p90": pick(0.9),
        "max": values[-1],
        "loose": sum(v > LOOSE for v in values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set_dir")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", help="write the per-model figures here")
    parser.add_argument("--target", default="cuda-fp16", help="clamp as for this target ('' for raw bounds)")
    args = parser.parse_args()
    from nanlint.graph.model import ModelError

    spec = json.loads((Path(args.set_dir) / "models.json").read_text())
    root = os.environ.get("NANLINT_EVAL_MODELS", spec["models_dir"])
    report = {}
    for entry in spec["models"]:
        if args.models and entry["name"] not in args.models:
            continue
        truth = json.loads((Path(args.set_dir) / "truth" / f"{entry['name']}.json").read_text())
        shapes, ranges = cli_ranges(entry["nanlint_args"])
        try:
            model, analysis = static_bounds(os.path.join(root, entry["file"]), shapes, ranges, args.target)
        except ModelError as exc:
            print(f"== {entry['name']}: {exc}")
            continue
        ratio = ratios(model, analysis, truth["tensors"])
        stats = quantiles(list(ratio.values()))
        report[entry["name"]] = stats
        print(
            f"== {entry['name']}: {stats['n']} tensors, ratio median {stats.get('median', 0):.3g} "
            f"p90 {stats.get('p90', 0):.3g} max {stats.get('max', 0):.3g}, >{LOOSE:g}x: {stats.get('loose', 0)}"
        )
        rows = sorted(growth(model, analysis, ratio), reverse=True)
        for g, r, op, node, out in [row for row in rows if row[1] > 2][: args.top]:
            print(f"    growth {g:9.3g}  ratio {r:9.3g}  {op:<18} {node[:40]:<40} {out[:60]}")
    all_ratios = [v for v in report.values() if v.get("n")]
    print("models:", len(all_ratios))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
