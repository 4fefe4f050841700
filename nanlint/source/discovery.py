"""Which files a run checks: .py, .pyi and .ipynb under the given paths, minus excludes and what git ignores.

Every directory is walked with its own settings (its nearest configuration file's), so a
package's excludes apply inside it. Exclude patterns (and per-file-ignores globs) without a
slash match any path component's name; with a slash they match the path relative to the
config root. Paths given explicitly are always checked unless --force-exclude (pre-commit
passes every staged file explicitly, excluded or not). Only regular files are read: a FIFO,
socket or device with a Python name is skipped (opening a FIFO would wait for a writer).
Files are reported relative to the working directory (`src/a.py`, never `./src/a.py`).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nanlint.config import Configuration, Settings

if TYPE_CHECKING:
    import pathspec

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass(frozen=True)
class SourceFile:
    path: Path  # on disk
    display: str  # as reported: relative to the working directory when under it, else as given
    settings: Settings | None = None  # the file's own (nearest configuration's); None: the run's


def display_path(path: Path) -> str:
    """How a path is reported: relative to the working directory when it lies under it (no `./`, as
    ruff and GitHub's annotations want), else as given, normalised."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, os.getcwd())
    except ValueError:  # another drive (Windows)
        return os.path.normpath(path)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return os.path.normpath(path)
    return relative


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
    """Slash patterns against the root-relative path; others against names (only the last with name_only).
    An absolute path is taken as resolved already (discovery resolves each directory once)."""
    try:
        relative = (path if path.is_absolute() else path.resolve()).relative_to(root).as_posix()
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
    """What git ignores, with git's precedence (lowest first): the global excludes file
    (core.excludesFile, else $XDG_CONFIG_HOME/git/ignore), .git/info/exclude, then the .gitignore
    files from the repository root down; the last pattern that matches decides, so a deeper
    `!keep.py` re-includes what a shallower file ignored. Outside a repository nothing is ignored."""

    def __init__(self) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        self._chains: dict[Path, tuple[Path | None, tuple[Path, ...]]] = {}
        self._repository_specs: dict[Path, tuple[pathspec.GitIgnoreSpec, ...]] = {}

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Is a path ignored (an absolute path is taken as resolved already)?"""
        path = path if path.is_absolute() else path.resolve()
        root, directories = self._chain(path.parent)
        if root is None:
            return False
        specs: list[tuple[Path, pathspec.GitIgnoreSpec | None]] = [(root, spec) for spec in self._repository(root)]
        specs += [(directory, self._spec(directory / ".gitignore")) for directory in directories]
        verdict = False
        for base, spec in specs:
            if spec is not None:
                decided = _verdict(spec, path.relative_to(base).as_posix() + ("/" if is_dir else ""))
                verdict = verdict if decided is None else decided
        return verdict

    def _chain(self, directory: Path) -> tuple[Path | None, tuple[Path, ...]]:
        """The repository root above a directory, and the directories from that root down to it."""
        if directory not in self._chains:
            if (directory / ".git").exists():
                self._chains[directory] = (directory, (directory,))
            elif directory.parent == directory:
                self._chains[directory] = (None, ())
            else:
                root, above = self._chain(directory.parent)
                self._chains[directory] = (root, (*above, directory) if root else ())
        return self._chains[directory]

    def _spec(self, ignore_file: Path) -> pathspec.GitIgnoreSpec | None:
        if ignore_file not in self._specs:
            spec = None
            if ignore_file.is_file():
                import pathspec  # only where a .gitignore exists: it costs more to import than most runs lint

                try:
                    lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except (OSError, ValueError):
                    spec = None
            self._specs[ignore_file] = spec
        return self._specs[ignore_file]

    def _repository(self, root: Path) -> tuple[pathspec.GitIgnoreSpec, ...]:
        """The global excludes file and .git/info/exclude of a repository, lowest precedence first."""
        if root not in self._repository_specs:
            common = git_common_dir(root)
            files = [global_excludes_file(common), common / "info" / "exclude" if common else None]
            specs = (self._spec(f) for f in files if f is not None)
            self._repository_specs[root] = tuple(spec for spec in specs if spec is not None)
        return self._repository_specs[root]


def _verdict(spec: pathspec.GitIgnoreSpec, relative: str) -> bool | None:
    """True (ignored), False (re-included by a `!` pattern) or None (no pattern matches)."""
    check = getattr(spec, "check_file", None)
    if check is None:  # pathspec < 0.12: negations count inside one file only
        return True if spec.match_file(relative) else None
    return check(relative).include


def git_common_dir(root: Path) -> Path | None:
    """The repository's git directory shared by its worktrees (`.git`, or where a `.git` file points)."""
    dotgit = root / ".git"
    if dotgit.is_dir():
        return dotgit
    try:
        text = dotgit.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = root / text.removeprefix("gitdir:").strip()
    try:
        return (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except (OSError, UnicodeDecodeError):
        return gitdir


def global_excludes_file(common: Path | None) -> Path | None:
    """core.excludesFile from git's global or repository configuration, else git's default location."""
    home = Path(os.path.expanduser("~"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "git"
    configured = None
    for config in (xdg / "config", home / ".gitconfig", common / "config" if common else None):
        value = _core_excludes_file(config) if config is not None else None
        configured = value if value is not None else configured
    return Path(os.path.expanduser(configured)) if configured else xdg / "ignore"


def _core_excludes_file(config: Path) -> str | None:
    """The last `excludesFile` of the [core] section of one git config file (includes are not followed)."""
    try:
        lines = config.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    section, value = "", None
    for line in (raw.strip() for raw in lines):
        if line.startswith("["):
            section = line[1 : line.find("]")].strip().lower()
        elif section == "core" and not line.startswith(("#", ";")):
            key, equals, rest = line.partition("=")
            if equals and key.strip().lower() == "excludesfile":
                rest = re.split(r"\s[#;]", " " + rest.strip(), maxsplit=1)[0].strip()
                value = rest[1:-1] if len(rest) >= 2 and rest[0] == rest[-1] == '"' else rest
    return value


def discover(
    paths: list[Path], settings: Settings | Configuration, force_exclude: bool
) -> tuple[list[SourceFile], list[str]]:
    """The files to check, each with its settings, in a stable order; and errors for paths that do not exist."""
    config = Configuration.of(settings)
    gitignore = GitIgnore()
    files: list[SourceFile] = []
    errors: list[str] = []
    for given in paths:
        if not given.exists():
            errors.append(f"{given}: no such file or directory")
        elif given.is_dir():
            own, resolved = config.for_path(given), given.resolve()
            if not (force_exclude and resolved != own.root and _excluded(resolved, own, gitignore, is_dir=True)):
                files.extend(_walk(given, config, gitignore))
        elif given.is_file():
            own = config.for_path(given)
            if not (force_exclude and _excluded(given.resolve(), own, gitignore, is_dir=False)):
                files.append(SourceFile(given, display_path(given), own))
        else:
            errors.append(f"{given}: not a regular file or directory")
    seen: set[tuple[int, int]] = set()
    unique = []
    for source in files:
        info = source.path.stat()  # the same file through two paths (a symlink) is checked once
        key = (info.st_dev, info.st_ino)
        if key not in seen:
            seen.add(key)
            unique.append(source)
    return unique, errors


def _excluded(path: Path, settings: Settings, gitignore: GitIgnore, is_dir: bool, walking: bool = False) -> bool:
    # While walking, parents were already checked on the way down: only the name is new.
    excludes = (*settings.exclude, *settings.extend_exclude)
    return matches_glob(path, settings.root, excludes, name_only=walking) or (
        settings.respect_gitignore and gitignore.ignored(path, is_dir)
    )


def _walk(top: Path, config: Configuration, gitignore: GitIgnore) -> list[SourceFile]:
    """The source files under a directory; each directory's settings decide what is skipped in it."""
    found = []
    for directory, dirnames, filenames in os.walk(top):
        base = Path(directory)
        resolved = base.resolve()  # once per directory: its entries are matched as resolved/name
        settings = config.for_directory(resolved)
        dirnames[:] = sorted(
            d for d in dirnames if not _excluded(resolved / d, settings, gitignore, True, walking=True)
        )
        for name in sorted(filenames):
            path = base / name
            if (
                name.endswith(SOURCE_SUFFIXES)
                and path.is_file()  # a regular file (through symlinks): not a FIFO, socket or device
                and not _excluded(resolved / name, settings, gitignore, is_dir=False, walking=True)
            ):
                found.append(SourceFile(path, display_path(path), settings))
    return found
