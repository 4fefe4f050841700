"""What each install brings (run with --slow: it builds scratch venvs and installs from the index).

- `pip install nanlint` is the source linter alone: no onnx, onnxruntime or numpy; `nanlint graph`
  says how to install the extra and exits 2;
- the graph pass works with either onnxruntime package (`nanlint[graph]`, or onnx + numpy +
  onnxruntime-gpu, which provides the same module and the CPU provider).
"""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "fixtures" / "models" / "activation_overflow.onnx"


@pytest.fixture
def slow(request):
    if not request.config.getoption("--slow"):
        pytest.skip("installs packages into scratch venvs: run with --slow")


def scratch(tmp_path: Path, *requirements: str) -> Path:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
    subprocess.run(install, check=True, timeout=1200)
    return python


def nanlint(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "nanlint", *args], capture_output=True, text=True, timeout=300)


def installed(python: Path, module: str) -> bool:
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(python), "-c", probe], check=False).returncode == 0


def test_source_only_install(slow, tmp_path):
    python = scratch(tmp_path, str(ROOT))
    assert not any(installed(python, m) for m in ("onnx", "onnxruntime", "numpy"))
    assert nanlint(python, "check", str(ROOT / "fixtures" / "example"), "--no-cache").returncode == 1
    done = nanlint(python, "graph", str(MODEL))
    assert done.returncode == 2 and "pip install 'nanlint[graph]'" in done.stderr


@pytest.mark.parametrize("runtime", ["onnxruntime", "onnxruntime-gpu"])
def test_graph_pass_with_either_onnxruntime(slow, tmp_path, runtime):
    python = scratch(tmp_path, str(ROOT), "onnx>=1.14", "numpy>=1.23", runtime)
    done = nanlint(python, "graph", str(MODEL), "--target", "cuda-fp16", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert '"code": "NAN601"' in done.stdout
