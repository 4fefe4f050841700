#!/usr/bin/env python3
"""Score `nanlint check` on the mined real-bug set that build.py extracts (see README.md).

Scores exactly like the development set's scorer (/work/shared/realworld/source/score.py, or
$NANLINT_DEV_SCORE): that module is loaded and only its data are swapped for this set's -- the
same CODES per category, the same 2-line window, the same "silent" definition. DOUBTFUL cases are
shown but left out of the headline, as the dev set does with its stretch cases.
The last line is `mined: key=value ...`. `--cases holdout.tsv` scores another table of the same columns
(built into its own directory, see build.py's default_out).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEV_SCORE = Path(os.environ.get("NANLINT_DEV_SCORE", "/work/shared/realworld/source/score.py"))
sys.path.insert(0, str(HERE))
import build  # noqa: E402  (the case table and output directory conventions)

# Real fixes whose hazard is a look-alike of a category (see README.md): shown, not counted.
DOUBTFUL = {
    "cases.tsv": {"M08", "M17", "M18", "M22", "M23", "M32", "M39"},
    "holdout.tsv": {"H03", "H09"},
    "holdout2.tsv": {"K18", "K19", "K29"},
    "holdout3.tsv": {"L02", "L30"},
}


def load_dev_scorer(tsv: Path, root: Path):
    spec = importlib.util.spec_from_file_location("dev_score", DEV_SCORE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"mined: cannot load the dev scorer {DEV_SCORE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ROOT, module.CASES_TSV = root, tsv
    module.STRETCH, module.UNPARSEABLE, module.FIX_ELSEWHERE = DOUBTFUL.get(tsv.name, set()), set(), set()
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", help="case table, default cases.tsv (e.g. holdout.tsv)")
    tsv = build.cases_path(ap.parse_args().cases)
    if not tsv.is_file():
        print(f"mined: no such case table: {tsv}")
        return 2
    root = Path(build.default_out(tsv)).resolve()
    dev = load_dev_scorer(tsv, root)
    prefix = shlex.split(os.environ.get("NANLINT", "")) or ["nanlint"]
    if not shutil.which(prefix[0]):
        print("mined: nanlint not installed")
        return 1
    if not (root / "MANIFEST").is_file():
        build_cmd = [sys.executable, str(HERE / "build.py"), str(root), "--cases", str(tsv)]
        built = subprocess.run(build_cmd, stdout=sys.stderr)
        if built.returncode:
            print(f"mined: no corpus (build.py exited {built.returncode})")
            return 1
    lint = dev.Nanlint(prefix)
    scores = {k: round(v, 2) for k, v in dev.part_recall(lint, tsv=tsv).items()}
    for failure in lint.failed:
        print("nanlint failed:", failure)
    print("mined: " + " ".join(f"{k}={v:.2f}" for k, v in scores.items()))
    return 0 if not lint.failed else 1


if __name__ == "__main__":
    sys.exit(main())
