"""Which files a run checks: .py, .pyi and .ipynb under the given paths, minus excludes and .gitignore.

Exclude patterns (and per-file-ignores globs) without a slash match any path
component's name; with a slash they match the path relative to the config root.
Paths given explicitly are always checked unless --force-exclude (pre-commit passes
every staged file explicitly, excluded or not).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nanlint.config import Settings

if TYPE_CHECKING:
    import pathspec

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class SourceFile:
    path: Path  # on disk
    display: str  # as reported: as given, or joined onto the directory that was given


@functools.lru_cache(maxsize=512)
def _path_regex(pattern: str) -> re.Pattern:
    """A path glob: `*` and `?` stay inside one component, `**` crosses them; a match also covers what is below."""
    parts = []
    for token in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/").removeprefix("./")):
        if token.startswith("**"):
            parts.append("(?:.*/)?" if token.endswith("/") else ".*")
        elif token == "*":
            parts.append("[^/]*")
        elif token == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts) + "(?:/.*)?")


def matches_glob(path: Path, root: Path, patterns, name_only: bool = False) -> bool:
    """Slash patterns against the root-relative path; others against names (only the last with name_only)."""
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        relative = path.as_posix()
    for pattern in patterns:
        if "/" in pattern.rstrip("/"):
            if _path_regex(pattern).fullmatch(relative):
                return True
        elif any(
            fnmatch.fnmatchcase(part, pattern.rstrip("/"))
            for part in ([path.name] if name_only else relative.split("/"))
        ):
            return True
    return False


class GitIgnore:
    """The .gitignore files from the repository root down to each walked directory."""

    def __init__(self) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            spec = None
            ignore_file = directory / ".gitignore"
            if ignore_file.is_file():
                import pathspec  # only where a .gitignore exists: it costs more to import than most runs lint

                try:
                    lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except (OSError, ValueError):
                    spec = None
            self._specs[directory] = spec
        return self._specs[directory]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        path = path.resolve()
        for directory in path.parents:
            spec = self._spec(directory)
            if spec is not None:
                relative = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
            if (directory / ".git").exists():
                break
        return False


def discover(paths: list[Path], settings: Settings, force_exclude: bool) -> tuple[list[SourceFile], list[str]]:
    """The files to check, in a stable order, and errors for paths that do not exist."""
    excludes = (*settings.exclude, *settings.extend_exclude)
    gitignore = GitIgnore() if settings.respect_gitignore else None
    files: list[SourceFile] = []
    errors: list[str] = []
    for given in paths:
        if not given.exists():
            errors.append(f"{given}: no such file or directory")
        elif given.is_file():
            if force_exclude and _excluded(given, settings.root, excludes, gitignore, is_dir=False):
                continue
            files.append(SourceFile(given, str(given)))
        else:
            if (
                force_exclude
                and given.resolve() != settings.root
                and _excluded(given, settings.root, excludes, gitignore, is_dir=True)
            ):
                continue
            files.extend(_walk(given, settings.root, excludes, gitignore))
    seen: set[Path] = set()
    unique = []
    for source in files:
        key = source.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(source)
    return unique, errors


def _excluded(
    path: Path, root: Path, excludes, gitignore: GitIgnore | None, is_dir: bool, walking: bool = False
) -> bool:
    # While walking, parents were already checked on the way down: only the name is new.
    return matches_glob(path, root, excludes, name_only=walking) or (
        gitignore is not None and gitignore.ignored(path, is_dir)
    )


def _walk(top: Path, root: Path, excludes, gitignore: GitIgnore | None) -> list[SourceFile]:
    found = []
    for directory, dirnames, filenames in os.walk(top):
        base = Path(directory)
        dirnames[:] = sorted(
            d for d in dirnames if not _excluded(base / d, root, excludes, gitignore, is_dir=True, walking=True)
        )
        for name in sorted(filenames):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            path = base / name
            if not _excluded(path, root, excludes, gitignore, is_dir=False, walking=True):
                found.append(SourceFile(path, os.path.join(str(top), os.path.relpath(path, top))))
    return found
