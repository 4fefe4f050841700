"""The GitHub Action (action.yml) run as the runner would run it, on a sample repository with a pull request.

Each `run` step is executed with bash (`bash --noprofile --norc -eo pipefail`, the runner's `shell: bash`),
its `${{ }}` expressions substituted from the inputs, the event and the outputs of earlier steps, and
GITHUB_OUTPUT / GITHUB_ENV honoured between steps. `uses` steps (setup-python, the SARIF upload) are not
run; their `if:` conditions are evaluated. The install step really builds and installs nanlint from the
action's checkout into a virtual environment; the test has no package index, so that environment sees
the test's own packages (a .pth file) and pip builds with the installed hatchling.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nanlint import cli

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "fixtures" / "models"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 1048576\n"
)
LFS_MESSAGE = "the file is a Git LFS pointer, not the model: fetch it with git lfs pull (actions/checkout: lfs: true)"
NAIVE_SOFTMAX = "import numpy as np\n\n\ndef softmax(x):\n    return np.exp(x) / np.exp(x).sum()\n"
STABLE_SOFTMAX = "import numpy as np\n\n\ndef softmax(x):\n    return np.exp(x - x.max()) / np.exp(x - x.max()).sum()\n"

# The interpreter's `python -m venv` under test: the new environment sees this interpreter's packages.
PYTHON_SHIM = """#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  "{python}" -m venv --without-pip "${{@:3}}" || exit $?
  venv="${{@: -1}}"
  site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  printf '%s\\n' {site_paths} > "$site/test-parent-packages.pth"
  exit 0
fi
exec "{python}" "$@"
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@dataclass
class StepRun:
    name: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Runner:
    """Runs action.yml's steps the way a GitHub runner runs a composite action."""

    workspace: Path
    temp: Path
    inputs: dict[str, str]
    event_name: str
    event: dict
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # what steps appended to GITHUB_ENV
    runs: dict[str, StepRun] = field(default_factory=dict)
    skipped_uses: list[tuple[str, bool, dict]] = field(default_factory=list)  # (action, would run, with)

    def __post_init__(self) -> None:
        self.action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
        defaults = {name: str(spec.get("default", "")) for name, spec in self.action["inputs"].items()}
        assert set(self.inputs) <= set(defaults), f"unknown inputs {set(self.inputs) - set(defaults)}"
        self.inputs = {**defaults, **self.inputs}
        self.shims = self.temp / "shims"
        self.shims.mkdir()
        paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
        shim = PYTHON_SHIM.format(python=sys.executable, site_paths=" ".join(f"'{p}'" for p in paths))
        for name in ("python", "python3"):
            (self.shims / name).write_text(shim)
            (self.shims / name).chmod(0o755)

    # -- expressions ------------------------------------------------------------------------------

    def value(self, expression: str) -> str:
        """`a || b`: the first non-empty of the references."""
        for alternative in expression.split("||"):
            found = self.lookup(alternative.strip())
            if found:
                return found
        return ""

    def lookup(self, reference: str) -> str:
        head, _, rest = reference.partition(".")
        if head == "inputs":
            assert rest in self.inputs, f"action.yml reads an undeclared input: {reference}"
            return self.inputs[rest]
        if head == "github":
            context = {"action_path": str(ROOT), "event_name": self.event_name, "event": self.event}
            value = context
            for part in rest.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            return str(value or "")
        if head == "steps":
            step, kind, name = rest.split(".")
            assert kind == "outputs", reference
            return self.outputs.get(step, {}).get(name, "")
        raise AssertionError(f"an expression this test does not evaluate: {reference}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), text)

    def condition(self, expression: str) -> bool:
        """The `if:` conditions action.yml uses: always(), `x == 'literal'`, `x != 'literal'`, joined by &&."""
        for term in (t.strip() for t in expression.split("&&")):
            if term == "always()":
                continue
            match = re.fullmatch(r"([\w.-]+) (==|!=) '([^']*)'", term)
            assert match, f"a condition this test does not evaluate: {term}"
            equal = self.lookup(match.group(1)) == match.group(3)
            if equal != (match.group(2) == "=="):
                return False
        return True

    # -- steps ------------------------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "PYTHON", "PIP_"))}
        env.update(
            PATH=f"{self.shims}{os.pathsep}{os.environ['PATH']}",
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTION_PATH=str(ROOT),
            GITHUB_EVENT_NAME=self.event_name,
            RUNNER_TEMP=str(self.temp),
            # No package index here: pip builds nanlint with the hatchling installed for the tests.
            PIP_NO_INDEX="1",
            PIP_NO_BUILD_ISOLATION="0",
            PIP_REPORT=str(self.temp / "pip-report.json"),
        )
        return env

    def run(self, only: tuple[str, ...] | None = None) -> Runner:
        """Run the steps (or those with these ids), in order."""
        for number, step in enumerate(self.action["runs"]["steps"]):
            key = step.get("id", f"step{number}")
            if only is not None and key not in only:
                continue
            if "uses" in step:
                runs = self.condition(step["if"]) if "if" in step else True
                self.skipped_uses.append(
                    (step["uses"], runs, {k: self.substitute(str(v)) for k, v in step["with"].items()})
                )
                continue
            assert "if" not in step and step["shell"] == "bash"
            self.runs[key] = self.run_script(step)
        return self

    def run_script(self, step: dict) -> StepRun:
        output, env_file, script = (self.temp / f"{name}-{len(self.runs)}" for name in ("output", "env", "script"))
        for file in (output, env_file):
            file.write_text("")
        script.write_text(self.substitute(step["run"]))
        env = {**self.base_env(), **self.env, "GITHUB_OUTPUT": str(output), "GITHUB_ENV": str(env_file)}
        env.update({name: self.substitute(str(value)) for name, value in step.get("env", {}).items()})
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if "id" in step:
            self.outputs[step["id"]] = parse_commands_file(output.read_text())
        self.env.update(parse_commands_file(env_file.read_text()))
        return StepRun(step["name"], done.returncode, done.stdout, done.stderr)

    def requested_extras(self) -> list[str]:
        """The extras pip installed nanlint with (pip's installation report)."""
        report = json.loads((self.temp / "pip-report.json").read_text())
        (item,) = [i for i in report["install"] if i["metadata"]["name"] == "nanlint"]
        return item.get("requested_extras") or []


def parse_commands_file(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for item in lines:
                if item == delimiter:
                    break
                block.append(item)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


# --- the sample repository -----------------------------------------------------------------------


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, dict]:
    """A repository whose pull request adds a naive softmax, an fp16-unsafe model and an LFS pointer;
    the base already has a model with a hazard, which the pull request does not touch."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "models").mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "CI")
    (repo / "src" / "train.py").write_text(STABLE_SOFTMAX)
    shutil.copy(MODELS / "fp16_exp.onnx", repo / "models" / "old.onnx")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "-b", "feature")
    (repo / "src" / "train.py").write_text(NAIVE_SOFTMAX)
    (repo / "src" / "data.py").write_text("rows = []\n")
    shutil.copy(MODELS / "exp_overflow.onnx", repo / "models" / "new.onnx")
    (repo / "models" / "pointer.onnx").write_text(LFS_POINTER)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "feature")
    return repo, {"pull_request": {"base": {"sha": base}}}


def runner(tmp_path: Path, repo: Path, event: dict, event_name: str = "pull_request", **inputs: str) -> Runner:
    temp = Path(tempfile.mkdtemp(prefix="runner-temp-", dir=tmp_path))
    return Runner(repo, temp, {k.replace("_", "-"): v for k, v in inputs.items()}, event_name, event)


# --- the action end to end --------------------------------------------------------------------------


def test_pull_request_annotations_for_the_changed_sources_and_models(tmp_path, pull_request):
    repo, event = pull_request
    ran = runner(tmp_path, repo, event, targets="cuda-fp16", graph_args="--samples 0").run()

    models = ran.runs["models"]
    assert models.returncode == 0, models.stderr
    assert ran.outputs["models"] == {"count": "2", "models": "models/new.onnx\nmodels/pointer.onnx"}

    install = ran.runs["install"]
    assert install.returncode == 0, install.stderr
    assert install.stdout.strip() == "nanlint, version 0.1.0"
    python = Path(ran.env["NANLINT_PYTHON"])
    assert python.parent.parent == ran.temp / "nanlint-venv"
    assert ran.requested_extras() == ["graph"]  # models to analyse: the graph extra
    installed = subprocess.run(
        [python, "-c", "import nanlint; print(nanlint.__file__)"],
        cwd=repo,
        env=ran.base_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert installed.stdout.startswith(str(python.parent.parent))  # the built package, not this checkout

    check = ran.runs["check"]
    annotations = [line for line in check.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 1
    # G15b's relative-path fix makes it `src/train.py`; before it, `nanlint check .` wrote `./src/train.py`.
    assert re.fullmatch(
        r"::error file=(\./)?src/train\.py,line=5,col=12,endLine=5,endColumn=39,title=nanlint \(NAN101\)::naive softmax: .*",
        annotations[0],
    )
    assert ran.outputs["check"] == {"exit-code": "1"}

    graph = ran.runs["graph"]
    annotations = [line for line in graph.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::warning file=models/new.onnx,title=nanlint (NAN504)::models/new.onnx:exp (Exp): Exp input can reach 16, "
        "beyond ln(65504) = 11.09 for float16: the result overflows to inf; subtract the max or clamp the input "
        "first [static, cuda-fp16]",
        "::error file=models/pointer.onnx,title=nanlint (NAN900)::models/pointer.onnx:<graph>: cannot read model: "
        f"{LFS_MESSAGE} [static, cuda-fp16]",
    ]
    assert graph.stderr == ""  # an unreadable model is a NAN900 finding like the others (DESIGN.md)
    assert "old.onnx" not in graph.stdout + graph.stderr  # not changed by the pull request
    assert ran.outputs["graph"] == {"exit-code": "1"}  # NAN900 is an error finding: fails at the default fail-on

    verdict = ran.runs["verdict"]
    assert verdict.returncode == 1
    assert verdict.stdout.strip() == ("nanlint: check exited 1, graph 1 (1: findings at or above fail-on, 2: errors)")
    assert [(uses, runs) for uses, runs, _ in ran.skipped_uses] == [
        ("actions/setup-python@v5", True),
        ("github/codeql-action/upload-sarif@v3", False),
        ("github/codeql-action/upload-sarif@v3", False),
    ]


def test_sarif_for_code_scanning_without_models_installs_the_slim_package(tmp_path, pull_request):
    repo, event = pull_request
    ran = runner(tmp_path, repo, event, format="sarif", models="none", fail_on="never", python_version="").run()

    assert ran.outputs["models"] == {"count": "0", "models": ""}
    assert ran.requested_extras() == []  # no model: no onnx, onnxruntime, numpy
    assert ran.runs["check"].returncode == 0 and ran.outputs["check"] == {"exit-code": "0", "sarif": "nanlint.sarif"}
    sarif = json.loads((repo / "nanlint.sarif").read_text())
    (result,) = sarif["runs"][0]["results"]
    assert result["ruleId"] == "NAN101"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/train.py"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert ran.outputs["graph"] == {"exit-code": "0"} and ran.runs["graph"].stdout == ""
    assert ran.runs["verdict"].returncode == 0
    assert ran.skipped_uses == [
        ("actions/setup-python@v5", False, {"python-version": ""}),
        ("github/codeql-action/upload-sarif@v3", True, {"sarif_file": "nanlint.sarif", "category": "nanlint"}),
        ("github/codeql-action/upload-sarif@v3", False, {"sarif_file": "", "category": "nanlint-graph"}),
    ]


# --- which models: the models step alone --------------------------------------------------------------


def models_of(tmp_path: Path, repo: Path, event: dict, event_name: str = "pull_request", **inputs: str) -> str:
    ran = runner(tmp_path, repo, event, event_name, **inputs).run(only=("models",))
    assert ran.runs["models"].returncode == 0, ran.runs["models"].stderr
    return ran.outputs["models"]["models"]


def test_which_models_are_analysed(tmp_path, pull_request):
    repo, event = pull_request
    base = event["pull_request"]["base"]["sha"]
    everything = "models/new.onnx\nmodels/old.onnx\nmodels/pointer.onnx"
    assert models_of(tmp_path, repo, {"before": base}, "push") == "models/new.onnx\nmodels/pointer.onnx"
    assert models_of(tmp_path, repo, {"before": "0" * 40}, "push") == everything  # a new branch
    assert models_of(tmp_path, repo, {}, "workflow_dispatch") == everything
    assert models_of(tmp_path, repo, event, models="all") == everything
    assert models_of(tmp_path, repo, event, models="none") == ""
    assert models_of(tmp_path, repo, event, models="models/o*.onnx models/new.onnx") == (
        "models/old.onnx\nmodels/new.onnx"
    )
    # A pull request that deletes a model has nothing to analyse there.
    git(repo, "rm", "--quiet", "models/new.onnx")
    git(repo, "commit", "--quiet", "-m", "drop the new model")
    assert models_of(tmp_path, repo, event) == "models/pointer.onnx"


def test_a_base_that_cannot_be_fetched_falls_back_to_every_model(tmp_path, pull_request):
    repo, _ = pull_request
    ran = runner(tmp_path, repo, {"pull_request": {"base": {"sha": "f" * 40}}}).run(only=("models",))
    assert ran.outputs["models"]["count"] == "3"
    assert f"::warning title=nanlint::cannot fetch the base commit {'f' * 40}" in ran.runs["models"].stdout


def test_the_action_declares_what_it_reads():
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == set(action["inputs"])  # every input is used, none is undeclared
    for step in action["runs"]["steps"]:
        # Inputs reach scripts through env, never spliced into the script text (no script injection).
        assert "${{" not in step.get("run", "")


# --- the Git LFS pointer, from the command line ------------------------------------------------------


def test_an_lfs_pointer_is_recognised_and_explained(tmp_path):
    pointer = tmp_path / "model.onnx"
    pointer.write_text(LFS_POINTER)
    result = CliRunner().invoke(cli.main, ["graph", str(pointer), "--samples", "0", "--format", "json"])
    assert result.exit_code == 1 and result.stderr == ""
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["code"], finding["message"]) == ("NAN900", f"cannot read model: {LFS_MESSAGE}")
    # Text that merely mentions LFS is an ordinary unreadable file.
    other = tmp_path / "notes.onnx"
    other.write_text("see version https://git-lfs.github.com/spec/v1\n")
    result = CliRunner().invoke(cli.main, ["graph", str(other), "--samples", "0"])
    assert result.exit_code == 1 and "cannot read model: not an ONNX model" in result.stdout
    assert "LFS" not in result.stdout
