"""Precision on clean, widely used ML code: findings per 1,000 lines, per package and per code.

    python bench/quiet_on_clean_code.py [--packages timm==1.0.11 optax==0.2.4 ...] [--show CODE]

These packages are maintained by people who know their numerics; what nanlint reports on
them must be a true hazard or a rule bug. `--show NAN104` prints every finding of a code
with its source line, for triage.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import count_lines, python_files, unpacked
from nanlint.config import Settings
from nanlint.source.engine import CheckOptions, check_paths

PACKAGES = [
    "timm==1.0.11",
    "transformers==4.46.3",
    "diffusers==0.31.0",
    "keras==3.6.0",
    "flax==0.10.2",
    "optax==0.2.4",
    "lightning==2.4.0",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", nargs="*", default=PACKAGES)
    parser.add_argument("--show", action="append", default=[], help="print the findings of this code")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    settings = dataclasses.replace(Settings(), select=("NAN1", "NAN2", "NAN3"))
    total_lines, total = 0, Counter()
    print(f"{'package':<24} {'lines':>9} {'findings':>8} {'per kLOC':>8}  by code")
    for requirement in args.packages:
        root = unpacked(requirement)
        lines = count_lines(python_files(root))
        result = check_paths([root / "src"], settings, CheckOptions(jobs=args.jobs, use_cache=False))
        findings = [f for f in result.findings if f.code != "NAN900"]
        by_code = Counter(f.code for f in findings)
        total_lines += lines
        total += by_code
        codes = ", ".join(f"{c}:{n}" for c, n in sorted(by_code.items()))
        print(f"{requirement:<24} {lines:>9} {len(findings):>8} {1000 * len(findings) / lines:>8.3f}  {codes}")
        for finding in findings:
            if finding.code in args.show:
                loc = finding.location
                text = Path(loc.path).read_text(errors="replace").splitlines()[loc.line - 1].strip()
                print(
                    f"    {Path(loc.path).relative_to(root / 'src')}:{loc.line}:{loc.column} {finding.code} "
                    f"{finding.message}\n        {text}"
                )
    count = sum(total.values())
    print(
        f"{'all':<24} {total_lines:>9} {count:>8} {1000 * count / max(total_lines, 1):>8.3f}  "
        + ", ".join(f"{c}:{n}" for c, n in sorted(total.items()))
    )


if __name__ == "__main__":
    main()
