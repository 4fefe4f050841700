"""Discovery: only regular files are read, what git ignores is skipped (all of git's sources), and
files are reported relative to the working directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nanlint.config import Settings
from nanlint.source.discovery import GitIgnore, discover, display_path, global_excludes_file

ROOT = Path(__file__).resolve().parents[2]
BAD = "import numpy as np\ny = x == np.nan\n"


def tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def found(root: Path, *paths: Path) -> list[str]:
    files, errors = discover(list(paths) or [root], Settings(root=root), force_exclude=False)
    assert errors == []
    return sorted(f.path.relative_to(root).as_posix() for f in files)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty home: no global git configuration leaks in from the machine running the tests."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return home


@pytest.fixture
def repo(tmp_path, home):
    root = tmp_path / "repo"
    (root / ".git" / "info").mkdir(parents=True)
    tree(root, {"a.py": BAD, "scratch.py": BAD, "local/b.py": BAD, "keep/c.py": BAD})
    return root


# --- what is not a regular file -----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_with_a_python_name_is_skipped_not_opened(tmp_path, home):
    tree(tmp_path, {"a.py": BAD})
    os.mkfifo(tmp_path / "pipe.py")
    assert found(tmp_path) == ["a.py"]
    # Opening the FIFO would wait for a writer forever: a real run must end, with the one finding.
    done = subprocess.run(
        [sys.executable, "-m", "nanlint", "check", ".", "--no-cache", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "a.py:2:5: NAN112 error [*] comparison with NaN is always False; use isnan() to test for NaN\n",
        "",
    )


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets are POSIX")
def test_a_socket_with_a_python_name_is_skipped(tmp_path, home, monkeypatch):
    tree(tmp_path, {"a.py": BAD})
    monkeypatch.chdir(tmp_path)  # a short relative name: socket paths are limited to ~100 bytes
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind("sock.py")
        assert found(tmp_path) == ["a.py"]
    finally:
        server.close()


def test_a_given_path_that_is_not_a_file_or_directory_is_an_error(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    os.mkfifo(tmp_path / "pipe.py")
    files, errors = discover([tmp_path / "pipe.py"], Settings(root=tmp_path), force_exclude=False)
    assert (files, errors) == ([], [f"{tmp_path / 'pipe.py'}: not a regular file or directory"])


def test_a_symlink_to_a_regular_file_is_read(tmp_path, home):
    tree(tmp_path, {"elsewhere/a.py": BAD, "project/b.py": BAD})
    (tmp_path / "project" / "link.py").symlink_to(tmp_path / "elsewhere" / "a.py")
    assert found(tmp_path / "project") == ["b.py", "link.py"]


# --- what git ignores -----------------------------------------------------------------------------------


def test_git_info_exclude_is_honoured(repo):
    (repo / ".git" / "info" / "exclude").write_text("scratch.py\nlocal/\n")
    assert found(repo) == ["a.py", "keep/c.py"]


def test_the_global_excludes_file_at_its_default_place_is_honoured(repo, home):
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("scratch.py\n")
    assert found(repo) == ["a.py", "keep/c.py", "local/b.py"]


def test_xdg_config_home_moves_the_default_global_excludes_file(repo, tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    (xdg / "git").mkdir(parents=True)
    (xdg / "git" / "ignore").write_text("local/\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert found(repo) == ["a.py", "keep/c.py", "scratch.py"]


def test_core_excludes_file_in_the_global_or_the_repository_configuration(repo, home, tmp_path):
    (tmp_path / "mine.ignore").write_text("scratch.py\n")
    (home / ".gitconfig").write_text('[user]\n\tname = x\n[core]\n\texcludesFile = "~/../mine.ignore"  # mine\n')
    assert global_excludes_file(repo / ".git") == home / ".." / "mine.ignore"
    assert found(repo) == ["a.py", "keep/c.py", "local/b.py"]
    # the repository's own configuration comes later and wins
    (tmp_path / "repo.ignore").write_text("keep/\n")
    (repo / ".git" / "config").write_text(f"[core]\n    excludesfile = {tmp_path / 'repo.ignore'}\n")
    assert found(repo) == ["a.py", "local/b.py", "scratch.py"]


def test_a_worktree_reads_the_exclude_file_of_the_main_repository(tmp_path, home):
    main = tmp_path / "main"
    (main / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (main / ".git" / "info").mkdir()
    (main / ".git" / "info" / "exclude").write_text("scratch.py\n")
    (main / ".git" / "worktrees" / "wt" / "commondir").write_text("../..\n")
    work = tmp_path / "wt"
    tree(work, {"a.py": BAD, "scratch.py": BAD})
    (work / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'wt'}\n")
    assert found(work) == ["a.py"]


def test_a_deeper_gitignore_re_includes_what_a_shallower_source_ignored(repo):
    (repo / ".git" / "info" / "exclude").write_text("*.py\n")
    (repo / ".gitignore").write_text("!a.py\n")
    (repo / "keep" / ".gitignore").write_text("!c.py\n")
    assert found(repo) == ["a.py", "keep/c.py"]


def test_outside_a_repository_the_global_excludes_do_not_apply(tmp_path, home):
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("*.py\n")
    tree(tmp_path / "plain", {"a.py": BAD})
    assert found(tmp_path / "plain") == ["a.py"]
    assert GitIgnore().ignored(tmp_path / "plain" / "a.py", is_dir=False) is False


def test_respect_gitignore_false_ignores_every_git_source(repo):
    (repo / ".git" / "info" / "exclude").write_text("scratch.py\n")
    files, _ = discover([repo], Settings(root=repo, respect_gitignore=False), force_exclude=False)
    assert len(files) == 4


# --- how paths are reported --------------------------------------------------------------------------


def test_display_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(Path("./src/a.py")) == os.path.join("src", "a.py")
    assert display_path(Path("src/../b.py")) == "b.py"
    assert display_path(tmp_path / "c.py") == "c.py"
    outside = tmp_path.parent / "other" / "d.py"
    assert display_path(outside) == str(outside)
    assert display_path(Path("../other/./d.py")) == os.path.join("..", "other", "d.py")
    assert display_path(Path("..foo.py")) == "..foo.py"
