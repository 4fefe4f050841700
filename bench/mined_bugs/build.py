#!/usr/bin/env python3
"""Extract the mined real-bug set: <OUT>/bugcases/<ID>/{before,after}/<path> for every case of cases.tsv.

The repositories are read from git snapshots under $MIRROR (default /work/.mirror, one `owner+name/repo`
git dir each, as the `fetch` tool leaves them). `before` is the fix's parent, `after` the fix.
Exit 3 naming the snapshots or commits that are missing. A benchmark, not a test: CI has no snapshots.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES_TSV = HERE / "cases.tsv"


def git_dir(mirror: Path, repo: str) -> Path:
    """The snapshot's git dir: <mirror>/owner+name/repo, or its .git when it has a work tree."""
    d = mirror / repo.replace("/", "+") / "repo"
    return d / ".git" if (d / ".git").is_dir() else d


def show(gd: Path, commit: str, path: str) -> bytes | None:
    proc = subprocess.run(["git", "--git-dir", str(gd), "show", f"{commit}:{path}"], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def read_cases() -> list[dict]:
    with open(CASES_TSV, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def extract(cases: list[dict], mirror: Path, out: Path) -> list[str]:
    """Write every case's files under out/bugcases; return what could not be read."""
    missing = []
    for case in cases:
        gd = git_dir(mirror, case["repo"])
        for side, commit in (("before", case["buggy_commit"]), ("after", case["fixed_commit"])):
            if commit.strip() in ("", "-"):
                continue
            for path in case["path"].split(";"):
                text = show(gd, commit, path)
                if text is None:
                    missing.append(f"{case['id']}: {case['repo']} {commit[:10]}:{path}")
                    continue
                target = out / "bugcases" / case["id"] / side / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(text)
    return missing


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", nargs="?", default=os.environ.get("NANLINT_MINED_DIR", "/tmp/mined"))
    ap.add_argument("--mirror", default=os.environ.get("MIRROR", "/work/.mirror"))
    args = ap.parse_args()
    out, cases = Path(args.out), read_cases()
    tmp = out.with_name(out.name + f".build.{os.getpid()}")
    try:
        missing = extract(cases, Path(args.mirror), tmp)
        if missing:
            print("missing snapshots or commits (fetch github:owner/name, then rerun):", file=sys.stderr)
            print("\n".join(f"  {m}" for m in missing), file=sys.stderr)
            return 3
        files = sum(1 for _ in (tmp / "bugcases").rglob("*.py"))
        (tmp / "MANIFEST").write_text(f"mined real-bug set: {len(cases)} cases, {files} files\n")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print((out / "MANIFEST").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
