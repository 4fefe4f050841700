"""Source pass speed on a large real codebase, as ratios to a baseline measured in the same run.

    python bench/source_speed.py [--package transformers==4.46.3] [--repeat 3] [--lines 10000,100000,all]

Baseline: a bare, single-process `libcst.parse_module` of every file (the design's floor).
Figures: nanlint cold on one core / baseline (target <= 1.5), cold with 2 workers / baseline
(target < 1), warm (cached) / cold (target <= 0.1), and warm after a selection change (`--select NAN1`
on the cache filled with all rules selected) / cold (target <= 0.1: the selection is applied after the
cache). Cold runs start from an empty cache; every run goes through the same `check_paths` the CLI
uses, with all rules selected unless said otherwise.

Growth: with --lines, the same is measured on seeded random subsets of the package's files of
about that many lines ("all": the whole package), and the fitted exponent k of time ~ lines^k
is printed (1: linear).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

import libcst

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import CACHE, count_lines, python_files, unpacked
from bench.measure import best_of, best_of_alternating, fit_exponent, progress
from nanlint.config import Settings
from nanlint.source.engine import CheckOptions, check_paths

PACKAGE = "transformers==4.46.3"


@dataclasses.dataclass(frozen=True)
class Corpus:
    name: str
    directory: Path  # everything below it is linted
    files: tuple[Path, ...]
    lines: int


@dataclasses.dataclass
class SizePoint:
    corpus: Corpus
    parse: float  # bare libcst.parse_module, one process
    cold1: float  # nanlint, empty cache, one worker


@dataclasses.dataclass
class SourceResult:
    package: str
    repeat: int
    points: list[SizePoint]  # growing sizes; the last one is the headline corpus
    cold2: float  # nanlint, empty cache, two workers (on the last corpus)
    warm: float  # nanlint, cache filled, one worker (on the last corpus)
    reselected: float  # nanlint, cache filled with all rules selected, run with another selection
    findings: int

    @property
    def headline(self) -> SizePoint:
        return self.points[-1]

    @property
    def exponent(self) -> float:
        return fit_exponent([p.corpus.lines for p in self.points], [p.cold1 for p in self.points])

    @property
    def parse_exponent(self) -> float:
        return fit_exponent([p.corpus.lines for p in self.points], [p.parse for p in self.points])


def whole_package(requirement: str) -> Corpus:
    root = unpacked(requirement)
    files = python_files(root)
    return Corpus(requirement, root / "src", tuple(files), count_lines(files))


def subset(package: Corpus, lines: int, seed: int = 0) -> Corpus:
    """About `lines` lines of the package: whole files drawn in a seeded random order, hard-linked into a
    directory of their own (so that nanlint, Fixit and the baseline all walk exactly these files)."""
    if lines >= package.lines:
        return package
    order = list(package.files)
    random.Random(seed).shuffle(order)
    chosen, total = [], 0
    for path in order:
        if total >= lines:
            break
        chosen.append(path)
        total += path.read_bytes().count(b"\n")
    slug = package.name.replace("=", "_").replace("<", "_").replace(">", "_")
    directory = CACHE / "subsets" / f"{slug}-{lines}-seed{seed}"
    if not (directory / ".complete").exists():
        shutil.rmtree(directory, ignore_errors=True)
        for path in chosen:
            target = directory / path.relative_to(package.directory)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
        (directory / ".complete").write_text("")
    files = tuple(directory / path.relative_to(package.directory) for path in chosen)
    return Corpus(f"{package.name} (seeded subset)", directory, files, total)


def bare_parse(files) -> None:
    for path in files:
        try:
            libcst.parse_module(path.read_bytes())
        except Exception:
            pass


def nanlint_run(directory: Path, cache: Path, jobs: int, fresh: bool, select: tuple[str, ...] = ("ALL",)) -> int:
    if fresh and cache.exists():
        shutil.rmtree(cache)
    settings = dataclasses.replace(Settings(root=cache.parent), select=select, cache_dir=cache.name)
    result = check_paths([directory], settings, CheckOptions(jobs=jobs, use_cache=True))
    return len(result.findings)


def measure(requirement: str = PACKAGE, lines: tuple[int | None, ...] = (None,), repeat: int = 3) -> SourceResult:
    """Parse vs cold (one worker) at each size (None: the whole package); cold with two workers and warm on
    the largest."""
    package = whole_package(requirement)
    corpora = sorted({package if n is None else subset(package, n) for n in lines}, key=lambda c: c.lines)
    work = Path(tempfile.mkdtemp(prefix="nanlint-bench-"))
    cache = work / ".nanlint_cache"
    try:
        points = []
        for corpus in corpora:
            progress(f"source: {corpus.lines:,} lines: bare parse vs nanlint cold, best of {repeat}")
            parse, cold1 = best_of_alternating(
                repeat,
                lambda corpus=corpus: bare_parse(corpus.files),
                lambda corpus=corpus: nanlint_run(corpus.directory, cache, 1, fresh=True),
            )
            points.append(SizePoint(corpus, parse, cold1))
        largest = corpora[-1]
        progress(f"source: {largest.lines:,} lines: 2 workers cold, then warm")
        cold2 = best_of(repeat, lambda: nanlint_run(largest.directory, cache, 2, fresh=True))
        nanlint_run(largest.directory, cache, 1, fresh=True)
        warm = best_of(repeat, lambda: nanlint_run(largest.directory, cache, 1, fresh=False))
        reselected = best_of(repeat, lambda: nanlint_run(largest.directory, cache, 1, fresh=False, select=("NAN1",)))
        findings = nanlint_run(largest.directory, cache, 1, fresh=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return SourceResult(requirement, repeat, points, cold2, warm, reselected, findings)


def parse_lines(text: str) -> tuple[int | None, ...]:
    return tuple(None if part.strip() == "all" else int(part) for part in text.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default=PACKAGE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--lines",
        type=parse_lines,
        default=(None,),
        help="comma-separated corpus sizes in lines ('all': the whole package), e.g. 10000,all",
    )
    args = parser.parse_args()

    result = measure(args.package, args.lines, args.repeat)
    top = result.headline
    print(
        f"corpus: {args.package}: {len(top.corpus.files)} files, {top.corpus.lines} lines; {result.findings} "
        f"findings (all rules); best of {args.repeat}"
    )
    print(f"{'measure':<34} {'seconds':>8} {'ratio':>7}  target")
    print(
        f"{'bare libcst.parse_module, 1 core':<34} {top.parse:>8.2f} {1:>7.2f}  baseline "
        f"({top.corpus.lines / top.parse:,.0f} lines/s)"
    )
    print(f"{'nanlint cold, 1 worker':<34} {top.cold1:>8.2f} {top.cold1 / top.parse:>7.2f}  <= 1.5x parse")
    print(f"{'nanlint cold, 2 workers':<34} {result.cold2:>8.2f} {result.cold2 / top.parse:>7.2f}  < 1.0x parse")
    print(f"{'nanlint warm (cached), 1 worker':<34} {result.warm:>8.2f} {result.warm / top.cold1:>7.3f}  <= 0.1x cold")
    print(
        f"{'warm, another --select':<34} {result.reselected:>8.2f} {result.reselected / top.cold1:>7.3f}  <= 0.1x cold"
    )
    if len(result.points) > 1:
        print(f"{'lines':>10} {'parse s':>8} {'cold s':>8} {'ratio':>6}")
        for point in result.points:
            print(
                f"{point.corpus.lines:>10,} {point.parse:>8.2f} {point.cold1:>8.2f} {point.cold1 / point.parse:>6.2f}"
            )
        print(
            f"growth exponent (time ~ lines^k): nanlint k = {result.exponent:.2f}, bare parse k = "
            f"{result.parse_exponent:.2f}"
        )


if __name__ == "__main__":
    main()
