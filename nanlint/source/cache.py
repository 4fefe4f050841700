"""Result cache: every rule's findings per file (raw.RawFindings), keyed by content hash and the rule
options; the selection is applied after a hit, so `--select` never makes the cache cold.

Layout: `.nanlint_cache/<version>-<code fingerprint>/<2 hex>/<key>.json`. Each entry is written to a
temporary file and renamed into place, so concurrent runs never read a half-written one; a corrupt or
unreadable entry is a miss. The cache does not grow without bound: a run removes the folders of other
nanlint builds, and at most once a day the entries no run has used for `MAX_AGE_DAYS` (a hit refreshes
an entry's mtime). `nanlint clean` removes the whole cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from nanlint import __version__

MAX_AGE_DAYS = 14
_PRUNE_MARK = ".last-prune"


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
    for part in (fingerprint.encode(), suffix.encode(), content):
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = root / f"{__version__}-{code_fingerprint()[:16]}"

    def _path(self, cache_key: str) -> Path:
        return self.directory / cache_key[:2] / f"{cache_key}.json"

    def get(self, cache_key: str) -> dict | None:
        path = self._path(cache_key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _touch(path)
        return data

    def put(self, cache_key: str, data: dict) -> None:
        path = self._path(cache_key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _ensure_gitignore(self.root)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, separators=(",", ":"))
            os.replace(temporary, path)
        except OSError:
            pass  # a cache that cannot be written is only a slower run

    def prune(self, now: float | None = None) -> int:
        """Remove other builds' folders and, once a day, entries unused for MAX_AGE_DAYS; how many went."""
        now = time.time() if now is None else now
        removed = 0
        try:
            for other in self.root.iterdir():
                if other.is_dir() and other != self.directory:
                    shutil.rmtree(other, ignore_errors=True)
                    removed += 1
            mark = self.directory / _PRUNE_MARK
            if not self.directory.is_dir() or (mark.exists() and now - mark.stat().st_mtime < 86400):
                return removed
            limit = now - MAX_AGE_DAYS * 86400
            for entry in self.directory.glob("*/*.json"):
                if entry.stat().st_mtime < limit:
                    entry.unlink(missing_ok=True)
                    removed += 1
            mark.touch()
            os.utime(mark, (now, now))
        except OSError:
            pass
        return removed


def clean(root: Path) -> bool:
    """Remove the whole cache folder (`nanlint clean`); False when there was none."""
    if not root.is_dir():
        return False
    shutil.rmtree(root)
    return True


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _ensure_gitignore(directory: Path) -> None:
    marker = directory / ".gitignore"
    if not marker.exists():
        marker.write_text("# Created by nanlint\n*\n", encoding="utf-8")
