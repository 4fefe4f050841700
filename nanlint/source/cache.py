"""Result cache: findings per file, keyed by content hash + nanlint version + effective config.

One small JSON file per key under `.nanlint_cache/<version>/`, written to a temporary
file and renamed into place, so concurrent runs never read a half-written entry; a
corrupt or unreadable entry is a miss.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

from nanlint import __version__
from nanlint.findings import Edit, Finding, Fix, Severity, SourceLocation


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """nanlint's own files (name, size, mtime): an edited rule invalidates the cache even without a new
    version number, as in an editable install."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted((*package.rglob("*.py"), *catalog_files())):
        info = path.stat()
        digest.update(f"{path.name}:{info.st_size}:{info.st_mtime_ns};".encode())
    return digest.hexdigest()


def catalog_files() -> list[Path]:
    from nanlint.catalog import rules_dir

    return sorted(rules_dir().glob("*.md"))


def key(content: bytes, suffix: str, fingerprint: str) -> str:
    digest = hashlib.sha256()
    for part in (__version__.encode(), code_fingerprint().encode(), fingerprint.encode(), suffix.encode(), content):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


class Cache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory / __version__

    def _path(self, cache_key: str) -> Path:
        return self.directory / cache_key[:2] / f"{cache_key}.json"

    def get(self, cache_key: str, display: str) -> list[Finding] | None:
        try:
            data = json.loads(self._path(cache_key).read_text(encoding="utf-8"))
            return [_decode(item, display) for item in data]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, cache_key: str, findings: list[Finding]) -> None:
        path = self._path(cache_key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _ensure_gitignore(self.directory.parent)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump([_encode(f) for f in findings], fh)
            os.replace(temporary, path)
        except OSError:
            pass  # a cache that cannot be written is only a slower run


def _ensure_gitignore(directory: Path) -> None:
    marker = directory / ".gitignore"
    if not marker.exists():
        marker.write_text("# Created by nanlint\n*\n", encoding="utf-8")


def _encode(finding: Finding) -> dict:
    data = dataclasses.asdict(finding)
    data["severity"] = finding.severity.name
    del data["location"]["path"]
    return data


def _decode(data: dict, display: str) -> Finding:
    fix = data["fix"]
    if fix is not None:
        fix = Fix(fix["applicability"], fix["message"], tuple(Edit(**e) for e in fix["edits"]))
    return Finding(
        code=data["code"],
        name=data["name"],
        message=data["message"],
        severity=Severity[data["severity"]],
        location=SourceLocation(path=display, **data["location"]),
        fix=fix,
    )
