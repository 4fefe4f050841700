"""Shared helpers of the benchmarks: best-of-N timing, growth exponents, the machine a run is on."""

from __future__ import annotations

import datetime
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Contention:
    """CPU that other processes took while runs were timed: the machine's busy time minus this process's
    and its finished children's (Linux /proc/stat; children count once waited for, as pools and
    subprocess.run do)."""

    wait_seconds = 0.0  # settle(): how long to wait for a quiet machine before each round of runs
    timed_seconds = 0.0
    others_seconds = 0.0

    @staticmethod
    def machine_busy() -> float:
        try:
            with open("/proc/stat") as fh:
                ticks = [int(v) for v in fh.readline().split()[1:]]
        except (OSError, ValueError):
            return math.nan
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # idle and iowait are not busy

    @staticmethod
    def own() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    @classmethod
    def record(cls, wall: float, busy: float, own: float) -> None:
        if not math.isnan(busy):
            cls.timed_seconds += wall
            cls.others_seconds += max(0.0, busy - own)

    @classmethod
    def snapshot(cls) -> tuple[float, float]:
        return cls.timed_seconds, cls.others_seconds

    @classmethod
    def average_cores(cls, since: tuple[float, float] = (0.0, 0.0)) -> float:
        """Cores' worth of CPU others took on average while runs were timed (since a snapshot)."""
        timed_seconds, others_seconds = cls.timed_seconds - since[0], cls.others_seconds - since[1]
        return others_seconds / timed_seconds if timed_seconds else math.nan


def timed(run) -> float:
    busy, own = Contention.machine_busy(), Contention.own()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    Contention.record(wall, Contention.machine_busy() - busy, Contention.own() - own)
    return wall


def settle() -> None:
    """Before a round of timed runs: wait (up to Contention.wait_seconds) for other processes to go quiet."""
    if Contention.wait_seconds > 0:
        wait_for_quiet(Contention.wait_seconds)


def best_of(repeat: int, run) -> float:
    """The fastest of `repeat` runs: other processes only ever add time, so the minimum is the least noisy."""
    best = math.inf
    for _ in range(repeat):
        settle()
        best = min(best, timed(run))
    return best


def best_of_alternating(repeat: int, *runs) -> list[float]:
    """Best of `repeat` for each run, taking turns, so that a burst of load from elsewhere hits all alike."""
    best = [math.inf] * len(runs)
    for _ in range(repeat):
        settle()
        for index, run in enumerate(runs):
            best[index] = min(best[index], timed(run))
    return best


def fit_exponent(sizes: list[float], times: list[float]) -> float:
    """k in time ~ size^k, by least squares on log-log (1: linear growth)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in times]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
        return f"{kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        return "RAM unknown"


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def nanlint_revision() -> str:
    """nanlint's version and the commit measured (with '+dirty' when files differ from it)."""
    from nanlint import __version__

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "nanlint"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return __version__
    return f"{__version__} ({commit}{'+dirty' if dirty else ''})"


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> dict[str, str]:
    return {
        "CPU": f"{cpu_model()}, {os.cpu_count()} cores, {memory_total()}",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": sys.version.split()[0],
        "packages": ", ".join(
            f"{name} {version(name)}" for name in ("onnxruntime", "libcst", "onnx", "numpy", "torch")
        ),
        "nanlint": nanlint_revision(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def others_cpu(window: float = 2.0) -> float:
    """Cores' worth of CPU that other processes use, over `window` seconds while this one sleeps (Linux)."""
    busy = Contention.machine_busy()
    time.sleep(window)
    return (Contention.machine_busy() - busy) / window


def wait_for_quiet(max_seconds: float, threshold: float = 0.3) -> float:
    """Wait (up to `max_seconds`) until other processes use less than `threshold` cores; what they use."""
    deadline = time.monotonic() + max_seconds
    used = others_cpu()
    while used >= threshold and time.monotonic() < deadline:
        progress(f"waiting for a quieter machine: other processes use {used:.1f} cores")
        time.sleep(10)
        used = others_cpu()
    return used


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
