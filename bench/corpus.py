"""Real ML code to measure on: wheels of well-known pure-Python packages, downloaded and unpacked.

Downloads go through pip (the registries are the only network the project relies on);
unpacked trees are kept in a cache directory so repeated runs measure, not download.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("NANLINT_BENCH_CACHE", Path(tempfile.gettempdir()) / "nanlint-bench"))


def unpacked(requirement: str) -> Path:
    """The unpacked wheel of `requirement` (e.g. "transformers==4.46.3"), downloaded once."""
    target = CACHE / requirement.replace("=", "_").replace("<", "_").replace(">", "_")
    marker = target / ".complete"
    if marker.exists():
        return target
    wheels = target / "wheel"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary",
            ":all:",
            "--dest",
            str(wheels),
            requirement,
        ],
        check=True,
    )
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target / "src")
    marker.write_text("")
    return target


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "src").rglob("*.py") if p.is_file())


def count_lines(files: list[Path]) -> int:
    return sum(p.read_bytes().count(b"\n") for p in files)
