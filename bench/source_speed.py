"""Source pass speed on a large real codebase, as ratios to a baseline measured in the same run.

    python bench/source_speed.py [--package transformers==4.46.3] [--repeat 3]

Baseline: a bare, single-process `libcst.parse_module` of every file (the design's floor).
Figures: nanlint cold on one core / baseline (target <= 1.5), cold with 2 workers / baseline
(target < 1), warm (cached) / cold (target <= 0.1). Cold runs start from an empty cache; every
run goes through the same `check_paths` the CLI uses, with all rules selected.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import libcst

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import count_lines, python_files, unpacked  # noqa: E402
from nanlint.config import Settings  # noqa: E402
from nanlint.source.engine import CheckOptions, check_paths  # noqa: E402


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bare_parse(files: list[Path]) -> None:
    for path in files:
        try:
            libcst.parse_module(path.read_bytes())
        except Exception:  # noqa: BLE001 - the baseline parses what it can
            pass


def nanlint_run(root: Path, cache: Path, jobs: int, fresh: bool) -> int:
    if fresh and cache.exists():
        shutil.rmtree(cache)
    settings = dataclasses.replace(Settings(root=cache.parent), select=("ALL",), cache_dir=cache.name)
    result = check_paths([root / "src"], settings, CheckOptions(jobs=jobs, use_cache=True))
    return len(result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="transformers==4.46.3")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    root = unpacked(args.package)
    files = python_files(root)
    lines = count_lines(files)
    work = Path(tempfile.mkdtemp(prefix="nanlint-bench-"))
    cache = work / ".nanlint_cache"

    parse = best_of(args.repeat, lambda: bare_parse(files))
    cold1 = best_of(args.repeat, lambda: nanlint_run(root, cache, 1, fresh=True))
    cold2 = best_of(args.repeat, lambda: nanlint_run(root, cache, 2, fresh=True))
    nanlint_run(root, cache, 1, fresh=True)
    warm = best_of(args.repeat, lambda: nanlint_run(root, cache, 1, fresh=False))
    findings = nanlint_run(root, cache, 1, fresh=False)
    shutil.rmtree(work)

    print(f"corpus: {args.package}: {len(files)} files, {lines} lines; {findings} findings (all rules)")
    print(f"{'measure':<34} {'seconds':>8} {'ratio':>7}  target")
    print(f"{'bare libcst.parse_module, 1 core':<34} {parse:>8.2f} {1:>7.2f}  baseline "
          f"({lines / parse:,.0f} lines/s)")
    print(f"{'nanlint cold, 1 worker':<34} {cold1:>8.2f} {cold1 / parse:>7.2f}  <= 1.5x parse")
    print(f"{'nanlint cold, 2 workers':<34} {cold2:>8.2f} {cold2 / parse:>7.2f}  < 1.0x parse")
    print(f"{'nanlint warm (cached), 1 worker':<34} {warm:>8.2f} {warm / cold1:>7.3f}  <= 0.1x cold")


if __name__ == "__main__":
    main()
