"""Baselines: adopt nanlint on legacy code and still block new hazards.

A baseline records each finding as (path, code, normalised text of its line), with a
count, so it survives code moving up and down the file; only findings beyond what the
baseline holds are reported.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from nanlint.findings import Finding
from nanlint.source.fixes import lines_by_cell, write_atomic

FORMAT_VERSION = 1
Key = tuple[str, str, str]


class BaselineError(ValueError):
    pass


def _relative(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


class LineTexts:
    """Reads each file once to give a finding's normalised line text."""

    def __init__(self) -> None:
        self._files: dict[str, dict] = {}

    def of(self, finding: Finding) -> str:
        path = finding.source_location.path
        if path not in self._files:
            try:
                self._files[path] = lines_by_cell(path, Path(path).read_bytes())
            except (OSError, ValueError, KeyError, TypeError):
                self._files[path] = {}
        lines = self._files[path].get(finding.source_location.cell, [])
        line = finding.source_location.line
        return " ".join(lines[line - 1].split()) if 0 < line <= len(lines) else ""


def keys(findings: list[Finding], root: Path) -> list[Key]:
    texts = LineTexts()
    return [(_relative(f.source_location.path, root), f.code, texts.of(f)) for f in findings]


def write(target: Path, findings: list[Finding], root: Path) -> int:
    counts = Counter(keys(findings, root))
    entries = [{"path": p, "code": c, "line": t, "count": n} for (p, c, t), n in sorted(counts.items())]
    data = json.dumps({"version": FORMAT_VERSION, "findings": entries}, indent=2) + "\n"
    if target.exists():
        write_atomic(target, data.encode("utf-8"))
    else:
        target.write_text(data, encoding="utf-8")
    return len(findings)


def load(source: Path) -> Counter:
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        if data.get("version") != FORMAT_VERSION:
            raise BaselineError(f"{source}: unsupported baseline version {data.get('version')!r}")
        return Counter({(e["path"], e["code"], e["line"]): int(e["count"]) for e in data["findings"]})
    except OSError as exc:
        raise BaselineError(f"{source}: cannot read baseline: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BaselineError(f"{source}: not a nanlint baseline ({type(exc).__name__}: {exc})") from None


def new_findings(findings: list[Finding], baseline: Counter, root: Path) -> list[Finding]:
    """The findings the baseline does not account for."""
    remaining = Counter(baseline)
    fresh = []
    for finding, key in zip(findings, keys(findings, root)):
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            fresh.append(finding)
    return fresh
