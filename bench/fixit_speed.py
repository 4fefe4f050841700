"""nanlint's source pass vs Fixit running one comparable qualified-name rule on the same files.

    python bench/fixit_speed.py [--package transformers==4.46.3] [--lines 100000] [--repeat 3]

Fixit (https://github.com/Instagram/Fixit) is the closest existing tool: libcst rules run in one
batched visit. It is installed at bench time into a venv of its own under the bench cache (never a
nanlint dependency) and runs bench/fixit_rules/log_of_softmax.py, a rule like NAN102 that resolves
`torch.log(F.softmax(x))` through libcst's QualifiedNameProvider, the way Fixit rules resolve names.
nanlint runs all of its rules. Both sides are timed as whole commands (interpreter start-up included),
on a seeded subset of the package's files (bench/source_speed.py's `subset`):
- one process: `nanlint check -j 1` vs Fixit's `fixit_paths(..., parallel=False)`;
- the command lines as users run them: `nanlint check` (a worker per core) vs `fixit lint` (a process
  per core).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import CACHE
from bench.measure import ROOT, best_of_alternating, progress
from bench.source_speed import PACKAGE, Corpus, subset, whole_package

FIXIT = "fixit==2.2.1"
RULES = Path(__file__).resolve().parent / "fixit_rules"
RULE = ".log_of_softmax"  # a local rule, resolved from RULES (the working directory of every Fixit run)

_SINGLE_PROCESS = """
import sys
from pathlib import Path
from fixit.api import fixit_paths
from fixit.config import parse_rule
from fixit.ftypes import Options
options = Options(rules=[parse_rule({rule!r}, Path.cwd())])
results = list(fixit_paths([Path(sys.argv[1])], options=options, parallel=False))
print(len({{r.path for r in results}}), sum(1 for r in results if r.violation), sum(1 for r in results if r.error))
"""


@dataclasses.dataclass
class FixitResult:
    fixit_version: str
    corpus: Corpus
    repeat: int
    nanlint1: float  # nanlint check -j 1, all rules
    fixit1: float  # Fixit in one process, one rule
    nanlint_cli: float  # nanlint check (default: a worker per core)
    fixit_cli: float  # fixit lint (default: a process per core)
    fixit_files: int  # files Fixit checked
    fixit_findings: int
    fixit_errors: int  # files Fixit could not lint


def fixit_python(requirement: str = FIXIT) -> Path:
    """The Python of a venv with Fixit installed (created once under the bench cache); its rule's own
    valid/invalid examples are checked with `fixit test` so that the comparison runs a rule that works."""
    venv = CACHE / ("fixit-venv-" + requirement.replace("=", "_"))
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        progress(f"fixit: installing {requirement} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
        (venv / ".complete").write_text("")
    subprocess.run([str(python), "-m", "fixit", "test", RULE], cwd=RULES, check=True, capture_output=True)
    return python


def _run(command: list[str], cwd: Path, allowed=(0, 1), env=None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if done.returncode not in allowed:
        raise SystemExit(f"{' '.join(command[:4])} ... failed with exit code {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def measure(
    requirement: str = PACKAGE, lines: int | None = 100_000, repeat: int = 3, fixit: str = FIXIT
) -> FixitResult:
    package = whole_package(requirement)
    corpus = package if lines is None else subset(package, lines)
    python = fixit_python(fixit)
    directory = str(corpus.directory)
    # the nanlint next to these scripts, as in-process runs import it (not another checkout's install)
    nanlint = [
        sys.executable,
        "-m",
        "nanlint",
        "check",
        directory,
        "--no-cache",
        "--select",
        "ALL",
        "--exit-zero",
        "-q",
        "--statistics",
    ]
    own = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    fixit_one = [str(python), "-c", _SINGLE_PROCESS.format(rule=RULE), directory]
    fixit_cli = [str(python), "-m", "fixit", "--rules", RULE, "lint", directory]  # exit 1: violations, 2: errors
    files, found, errors = (int(n) for n in _run(fixit_one, RULES).split())
    if files != len(corpus.files):
        raise SystemExit(f"Fixit checked {files} files, not the corpus's {len(corpus.files)}")
    progress(f"fixit: {corpus.lines:,} lines, {len(corpus.files)} files: one process each, best of {repeat}")
    nanlint1, fixit1 = best_of_alternating(
        repeat, lambda: _run(nanlint + ["-j", "1"], RULES, env=own), lambda: _run(fixit_one, RULES)
    )
    progress(f"fixit: command lines as users run them, best of {repeat}")
    nanlint_cli, fixit_cli_time = best_of_alternating(
        repeat, lambda: _run(nanlint, RULES, env=own), lambda: _run(fixit_cli, RULES, allowed=(0, 1, 2, 3))
    )
    version = _run([str(python), "-m", "fixit", "--version"], RULES).split()[-1]
    return FixitResult(version, corpus, repeat, nanlint1, fixit1, nanlint_cli, fixit_cli_time, files, found, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default=PACKAGE)
    parser.add_argument("--lines", default="100000", help="corpus size in lines, or 'all' for the whole package")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fixit", default=FIXIT, help="the Fixit requirement to install")
    args = parser.parse_args()
    result = measure(args.package, None if args.lines == "all" else int(args.lines), args.repeat, args.fixit)
    print(
        f"corpus: {result.corpus.name}: {len(result.corpus.files)} files, {result.corpus.lines} lines; "
        f"Fixit {result.fixit_version}: {result.fixit_findings} findings, {result.fixit_errors} files it could not "
        f"lint; best of {args.repeat}"
    )
    print(
        f"one process:   nanlint {result.nanlint1:.2f} s, Fixit {result.fixit1:.2f} s, "
        f"ratio {result.nanlint1 / result.fixit1:.2f}"
    )
    print(
        f"command lines: nanlint {result.nanlint_cli:.2f} s, fixit lint {result.fixit_cli:.2f} s, "
        f"ratio {result.nanlint_cli / result.fixit_cli:.2f}"
    )


if __name__ == "__main__":
    main()
