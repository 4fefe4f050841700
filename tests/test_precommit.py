""".pre-commit-hooks.yaml: valid for pre-commit's own schema, and the hooks work in a real `pre-commit try-repo`.

The try-repo test installs this checkout into a fresh pre-commit environment (pip, from the
package index or its cache); it takes about 12 s with a warm pip cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pre_commit import clientlib

ROOT = Path(__file__).resolve().parents[1]
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
BAD = "import numpy as np\nbad = 1.0 == np.nan\n"


def hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in clientlib.load_manifest(str(HOOKS_FILE))}


def test_manifest_is_valid_for_pre_commit():
    # load_manifest validates against pre-commit's MANIFEST_SCHEMA (types checked against identify's tags).
    assert sorted(hooks()) == ["nanlint", "nanlint-graph"]


def test_manifest_has_no_keys_pre_commit_ignores():
    known = {item.key for item in clientlib.MANIFEST_HOOK_DICT.items}
    for hook in clientlib.yaml_load(HOOKS_FILE.read_text(encoding="utf-8")):
        assert set(hook) <= known, set(hook) - known


def test_source_hook():
    hook = hooks()["nanlint"]
    assert hook["entry"] == "nanlint check --force-exclude"
    assert hook["language"] == "python"
    assert hook["types_or"] == ["python", "pyi", "jupyter"]
    assert hook["require_serial"] is True
    assert hook["minimum_pre_commit_version"] == "2.9.2"  # the first release with types_or


def test_graph_hook():
    hook = hooks()["nanlint-graph"]
    assert hook["entry"] == "nanlint graph"
    assert hook["language"] == "python"
    assert hook["files"] == r"\.onnx$"


def test_invalid_manifest_is_rejected(tmp_path):
    # The schema check above is not vacuous.
    broken = tmp_path / "hooks.yaml"
    broken.write_text(
        "- id: nanlint\n  name: nanlint\n  entry: nanlint check\n  language: python\n  types_or: [pythonn]\n"
    )
    with pytest.raises(clientlib.InvalidManifestError):
        clientlib.load_manifest(str(broken))


def _notebook(code: str) -> str:
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": code.splitlines(keepends=True),
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="try-repo needs this checkout to be a git repository")
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_try_repo(tmp_path):
    repo = tmp_path / "user-repo"
    (repo / "build").mkdir(parents=True)
    (repo / "t.py").write_text(BAD)
    (repo / "stub.pyi").write_text("import numpy as np\nFLAG: bool = np.nan == 0.0\n")
    (repo / "nb.ipynb").write_text(_notebook(BAD))
    (repo / "build" / "gen.py").write_text(BAD)  # excluded by default: --force-exclude keeps it out
    (repo / "notes.txt").write_text(BAD)  # not a Python file: never passed to the hook
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "NO_COLOR": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "."], cwd=repo, check=True, env=env)
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "--all-files", "--color=never"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "- hook id: nanlint\n- exit code: 1\n" in output
    assert "t.py:2:7: NAN112 error [*] comparison with NaN is always False" in output
    assert "stub.pyi:2:14: NAN112 error [*] comparison with NaN is always False" in output
    assert "nb.ipynb:cell 1:2:7: NAN112 error [*] comparison with NaN is always False" in output
    assert "Found 3 findings (3 errors)." in output
    assert "build/gen.py" not in output and "notes.txt" not in output
    graph_line = next(line for line in output.splitlines() if line.startswith("nanlint graph"))
    assert graph_line.endswith("(no files to check)Skipped"), graph_line
