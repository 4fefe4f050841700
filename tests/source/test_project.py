"""The project index: value facts through helpers of other checked files, project-wide float16 evidence,
and a result cache that notices when the other file changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanlint.config import Settings
from nanlint.source.engine import CheckOptions, check_paths
from nanlint.source.project import Project

NORMS = """\
import torch


def length(v):
    return v.pow(2).sum(dim=-1, keepdim=True).sqrt()


def clamped_length(v):
    return v.pow(2).sum(dim=-1, keepdim=True).clamp(min=1e-6).sqrt()
"""

DIVISION = (
    "division by a norm, which is 0 for a zero vector: inf or NaN there; clamp the norm (norm.clamp(min=eps)) or "
    "use a normalize function, which has its own eps"
)


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def findings(root: Path, *codes: str, cache: bool = False, jobs: int = 1):
    settings = Settings(root=root, select=codes or ("ALL",))
    result = check_paths([root], settings, CheckOptions(jobs=jobs, use_cache=cache))
    return [
        (Path(f.location.path).relative_to(root).as_posix(), f.location.line, f.location.column, f.code, f.message)
        for f in result.findings
    ]


@pytest.mark.parametrize(
    "imports, call",
    [
        ("from geometry.norms import length", "length(v)"),
        ("from .norms import length", "length(v)"),
        ("from . import norms", "norms.length(v)"),
        ("import geometry.norms as n", "n.length(v)"),
        ("import geometry.norms", "geometry.norms.length(v)"),
        ("from geometry.norms import length as size", "size(v)"),
    ],
)
def test_a_norm_returned_by_a_helper_of_another_module_is_a_denominator_that_can_be_0(tmp_path, imports, call):
    caller = f"{imports}\n\n\ndef direction(v):\n    return v / {call}\n"
    project(tmp_path, {"geometry/__init__.py": "", "geometry/norms.py": NORMS, "geometry/use.py": caller})
    assert findings(tmp_path, "NAN105") == [("geometry/use.py", 5, 12, "NAN105", DIVISION)]


def test_the_callers_arguments_decide_the_helpers_fact(tmp_path):
    helpers = "def ratio(a, b):\n    return a / b\n\n\ndef spread(x):\n    return x.max() - x.min()\n"
    caller = (
        "from stats import spread\n\n\ndef scaled(x, y):\n    return (x - x.min()) / spread(x)\n\n\n"
        "def safe(x):\n    return x / (spread(x) + 1e-6)\n"
    )
    project(tmp_path, {"stats.py": helpers, "use.py": caller})
    [(path, line, _, code, message)] = findings(tmp_path, "NAN105")
    assert (path, line, code) == ("use.py", 5, "NAN105") and "max - min" in message


def test_a_helper_that_clamps_and_a_function_of_an_unchecked_module_are_quiet(tmp_path):
    caller = (
        "from geometry.norms import clamped_length\nfrom elsewhere import length\n\n\n"
        "def direction(v):\n    return v / clamped_length(v)\n\n\ndef other(v):\n    return v / length(v)\n"
    )
    project(tmp_path, {"geometry/__init__.py": "", "geometry/norms.py": NORMS, "geometry/use.py": caller})
    assert findings(tmp_path, "NAN105") == []


def test_a_checked_file_alone_has_no_project(tmp_path):
    caller = "from geometry.norms import length\n\n\ndef direction(v):\n    return v / length(v)\n"
    project(tmp_path, {"geometry/__init__.py": "", "geometry/norms.py": NORMS, "geometry/use.py": caller})
    result = check_paths([tmp_path / "geometry" / "use.py"], Settings(root=tmp_path), CheckOptions(use_cache=False))
    assert result.findings == []


def test_workers_see_the_project_too(tmp_path):
    files = {"geometry/__init__.py": "", "geometry/norms.py": NORMS}
    for i in range(6):
        files[f"geometry/use{i}.py"] = "from .norms import length\n\n\ndef direction(v):\n    return v / length(v)\n"
    project(tmp_path, files)
    assert findings(tmp_path, "NAN105", jobs=2) == findings(tmp_path, "NAN105", jobs=1)
    assert len(findings(tmp_path, "NAN105", jobs=2)) == 6


def test_the_cache_recomputes_a_file_when_the_helper_it_read_changes(tmp_path):
    caller = "from geometry.norms import length\n\n\ndef direction(v):\n    return v / length(v)\n"
    project(tmp_path, {"geometry/__init__.py": "", "geometry/norms.py": NORMS, "geometry/use.py": caller})
    assert len(findings(tmp_path, "NAN105", cache=True)) == 1
    assert len(findings(tmp_path, "NAN105", cache=True)) == 1  # warm
    guarded = NORMS.replace("keepdim=True).sqrt()\n\n\ndef clamped", "keepdim=True).clamp(min=1e-6).sqrt()\n\n\ndef c")
    (tmp_path / "geometry" / "norms.py").write_text(guarded)
    assert findings(tmp_path, "NAN105", cache=True) == []
    (tmp_path / "geometry" / "norms.py").write_text(NORMS)
    assert len(findings(tmp_path, "NAN105", cache=True)) == 1


def test_the_cache_notices_a_module_that_appears_later(tmp_path):
    caller = "from geometry.norms import length\n\n\ndef direction(v):\n    return v / length(v)\n"
    project(tmp_path, {"geometry/__init__.py": "", "geometry/use.py": caller})
    assert findings(tmp_path, "NAN105", cache=True) == []
    project(tmp_path, {"geometry/norms.py": NORMS})
    assert len(findings(tmp_path, "NAN105", cache=True)) == 1


# --- float16 evidence of the project ---------------------------------------------------------------------

COSINE = """\
import torch


class Cosine(torch.nn.Module):
    def forward(self, a, b):
        a = a / (a.norm(dim=-1, keepdim=True) + 1e-13)
        b = b / (b.norm(dim=-1, keepdim=True) + 1e-4)
        return a @ b.transpose(-1, -2)


def cosine(a, b):
    return Cosine()(a, b)
"""


def entry_point(setting: str) -> str:
    return (
        "import torch\n\nfrom layers.attention import cosine\n\n\ndef main(args):\n"
        f"    model = torch.nn.Linear(4, 4)\n    {setting}\n    return model, cosine\n\n\n"
        'if __name__ == "__main__":\n    main(None)\n'
    )


UNDERFLOW = (
    "eps 1e-13 underflows to 0 in float16 (smallest subnormal 6e-08), so it guards nothing in a project that "
    "computes in float16 (scripts/train.py:8: {what}); use eps >= 1e-4 or compute this in float32"
)


@pytest.mark.parametrize(
    "setting, what",
    [
        ("model = model.half()", ".half()"),
        ("scaler = torch.cuda.amp.GradScaler()", "a GradScaler (float16 loss scaling)"),
        ("ctx = torch.autocast('cuda', dtype=torch.float16)", "dtype=torch.float16"),
        ("pipe = load('x', torch_dtype=torch.float16)", "torch_dtype=torch.float16"),
        ("trainer = Trainer(model, fp16=args.fp16)", "fp16=args.fp16"),
        ("accelerator = Accelerator(mixed_precision='fp16')", "mixed_precision='fp16'"),
        ("keras.mixed_precision.set_global_policy('mixed_float16')", "the mixed_float16 policy"),
    ],
)
def test_an_entry_point_that_runs_in_float16_makes_a_generic_eps_of_another_module_underflow(tmp_path, setting, what):
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE, "scripts/train.py": entry_point(setting)}
    project(tmp_path, files)
    assert findings(tmp_path, "NAN202") == [
        ("layers/attention.py", 6, 49, "NAN202", UNDERFLOW.format(what=what)),
    ]


@pytest.mark.parametrize(
    "setting",
    [
        "model = model.float()",  # no float16 anywhere
        "scaler = torch.cuda.amp.GradScaler(enabled=False)",
        "trainer = Trainer(model, fp16=False)",
        "ctx = torch.autocast('cuda', dtype=torch.bfloat16)",
    ],
)
def test_no_float16_evidence_no_finding(tmp_path, setting):
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE, "scripts/train.py": entry_point(setting)}
    project(tmp_path, files)
    assert findings(tmp_path, "NAN202") == []


def test_code_outside_model_classes_keeps_its_own_precision(tmp_path):
    """The program's float16 is its model's: preprocessing (a log-mel spectrogram) computes in float32."""
    features = "import torch\n\n\ndef log_mel(spec):\n    return torch.clamp(spec, min=1e-10).log10()\n"
    program = entry_point("model = model.half()").replace(
        "layers.attention import cosine", "layers.audio import log_mel"
    )
    project(tmp_path, {"layers/__init__.py": "", "layers/audio.py": features, "scripts/train.py": program})
    assert findings(tmp_path, "NAN202") == []


def test_a_library_that_only_offers_float16_is_no_evidence(tmp_path):
    offering = (
        "import torch\n\n\nclass Trainer:\n    def __init__(self, model, use_amp=False):\n"
        "        self.scaler = torch.cuda.amp.GradScaler() if use_amp else None\n        self.model = model\n"
    )
    project(tmp_path, {"layers/__init__.py": "", "layers/attention.py": COSINE, "layers/trainer.py": offering})
    assert findings(tmp_path, "NAN202") == []


def test_an_eps_pinned_to_float32_or_large_enough_for_float16_is_quiet(tmp_path):
    pinned = "def cosine(a):\n    a = a.float()\n    return a / (a.float().norm() + 1e-13)\n"
    large = "def cosine(a):\n    return a / (a.norm() + 1e-6)\n"
    numpy = "import numpy as np\n\n\ndef cosine(a):\n    return a / (np.linalg.norm(a) + 1e-13)\n"
    files = {
        "layers/pinned.py": "import torch\n\n\n" + pinned,
        "layers/large.py": "import torch\n\n\n" + large,
        "layers/numeric.py": numpy,
        "scripts/train.py": entry_point("model = model.half()"),
    }
    project(tmp_path, files)
    assert findings(tmp_path, "NAN202") == []


def test_the_cache_recomputes_when_the_projects_precision_changes(tmp_path):
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE, "scripts/train.py": entry_point("pass")}
    project(tmp_path, files)
    assert findings(tmp_path, "NAN202", cache=True) == []
    project(tmp_path, {"scripts/train.py": entry_point("model = model.half()")})
    assert [f[0] for f in findings(tmp_path, "NAN202", cache=True)] == ["layers/attention.py"]


# --- the index itself ---------------------------------------------------------------------------------


def test_module_paths_resolve_absolute_relative_and_ambiguous_names(tmp_path):
    project(tmp_path, {"a/__init__.py": "", "a/utils.py": "", "b/utils.py": "", "a/sub/m.py": "", "c.py": ""})
    index = Project(sorted(tmp_path.rglob("*.py")))
    root = tmp_path.resolve()
    assert index.module_file("a.utils", root / "b" / "utils.py") == root / "a" / "utils.py"
    assert index.module_file("utils", root / "a" / "sub" / "m.py") == root / "a" / "utils.py"  # the nearer one
    assert index.module_file("utils", root / "c.py") is None  # two at the same distance: ambiguous
    assert index.module_file("utils", root / "a" / "sub" / "m.py", level=2) == root / "a" / "utils.py"
    assert index.module_file("", root / "a" / "sub" / "m.py", level=2) == root / "a" / "__init__.py"
    assert index.module_file("torch.nn", root / "c.py") is None


def test_a_helper_of_the_run_is_judged_by_its_body_not_its_name(tmp_path):
    caller = (
        "import torch\n\nfrom norm import whitening\n\n\ndef forward(z):\n"
        "    covs = whitening.batch_cov(z)\n    return whitening.inv_sqrt(covs) @ z\n"
    )
    whitening = "import torch\n\n\ndef inv_sqrt(c):\n    return torch.linalg.inv(c + 1e-5)\n"
    project(tmp_path, {"norm/__init__.py": "", "norm/use.py": caller, "other.py": "x = 1\n"})
    assert [(f[0], f[1], f[3]) for f in findings(tmp_path, "NAN106")] == [("norm/use.py", 8, "NAN106")]
    project(tmp_path, {"norm/whitening.py": whitening})
    assert findings(tmp_path, "NAN106") == []


def test_float16_reaches_the_modules_a_program_imports_through_others(tmp_path):
    model = "from .attention import cosine\n\n\ndef build():\n    return cosine\n"
    program = entry_point("model = model.half()").replace(
        "from layers.attention import cosine", "from layers import model"
    )
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE, "layers/model.py": model}
    project(tmp_path, {**files, "scripts/train.py": program.replace("return model, cosine", "return model")})
    assert [f[0] for f in findings(tmp_path, "NAN202")] == ["layers/attention.py"]


def test_float16_does_not_reach_a_module_no_program_imports(tmp_path):
    program = entry_point("model = model.half()").replace("from layers.attention import cosine\n", "")
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE}
    project(tmp_path, {**files, "scripts/train.py": program.replace("return model, cosine", "return model")})
    assert findings(tmp_path, "NAN202") == []


def test_a_test_that_runs_in_float16_is_no_program(tmp_path):
    test = entry_point("model = model.half()").replace("import torch\n", "import torch\nimport unittest\n")
    files = {"layers/__init__.py": "", "layers/attention.py": COSINE, "check_half.py": test}
    project(tmp_path, {**files, "layers/attention_test.py": entry_point("model = model.half()")})
    assert findings(tmp_path, "NAN202") == []


# --- module constants of other checked files -----------------------------------------------------------------

HALF_UNIT = (
    "import torch\n\nfrom .constants import TINY\nfrom model import constants\n\n\n"
    "def unit(x):\n    x = x.half()\n    return x / (x.norm() + TINY), x / (x.norm() + constants.TINY)\n"
)


def test_an_eps_imported_from_another_module_is_judged_by_its_value(tmp_path):
    project(tmp_path, {"model/__init__.py": "", "model/constants.py": "TINY = 1e-13\n", "model/unit.py": HALF_UNIT})
    assert [(f[1], f[2], f[3]) for f in findings(tmp_path, "NAN202", cache=True)] == [
        (9, 28, "NAN202"),
        (9, 51, "NAN202"),
    ]
    project(tmp_path, {"model/constants.py": "TINY: float = 1e-4  # large enough\n"})
    assert findings(tmp_path, "NAN202", cache=True) == []


@pytest.mark.parametrize("definition", ["TINY = compute()\n", "def TINY():\n    return 1e-13\n", "tiny = 1e-13\n"])
def test_names_that_hold_no_constant_are_not_guessed(tmp_path, definition):
    unit = HALF_UNIT.replace("TINY", "tiny") if definition.startswith("tiny") else HALF_UNIT
    project(tmp_path, {"model/__init__.py": "", "model/constants.py": definition, "model/unit.py": unit})
    assert findings(tmp_path, "NAN202") == []


def test_fix_sees_the_project_as_check_does(tmp_path):
    project(tmp_path, {"model/__init__.py": "", "model/constants.py": "TINY = 1e-13\n", "model/unit.py": HALF_UNIT})
    result = check_paths(
        [tmp_path], Settings(root=tmp_path, select=("NAN202",)), CheckOptions(fix=True, use_cache=False)
    )
    assert [(f.code, f.location.line) for f in result.findings] == [("NAN202", 9), ("NAN202", 9)]


HELPERS = """\
import torch


def probabilities(logits):
    return torch.softmax(logits, dim=-1)


def selected(mask):
    return mask.float().sum()


def clamped_probabilities(logits):
    return torch.softmax(logits, dim=-1).clamp(min=1e-6)
"""


@pytest.mark.parametrize(
    "caller, expected",
    [
        ("-(mask * torch.log(probabilities(z))).sum()", [(7, 21, "NAN104", "log of a probability that can be 0")]),
        ("(z * mask).sum() / selected(mask)", [(7, 12, "NAN105", "division by a count of a possibly empty selection")]),
        ("-(mask * torch.log(clamped_probabilities(z))).sum()", []),
    ],
)
def test_rules_ask_the_facts_of_imported_helpers(tmp_path, caller, expected):
    use = "import torch\n\nfrom lib.helpers import clamped_probabilities, probabilities, selected\n\n\n"
    use += f"def loss(z, mask):\n    return {caller}\n"
    project(tmp_path, {"lib/__init__.py": "", "lib/helpers.py": HELPERS, "lib/use.py": use})
    found = findings(tmp_path, "NAN104", "NAN105")
    assert [(line, column, code) for _, line, column, code, _ in found] == [e[:3] for e in expected]
    assert all(message.startswith(e[3]) for (*_, message), e in zip(found, expected))


ADDITIVE_MASK = "import torch\n\n\ndef bias(scores, mask):\n    return scores + (1.0 - mask) * -1e9\n"


@pytest.mark.parametrize("setting, reported", [("model = model.half()", True), ("model = model.float()", False)])
def test_an_additive_mask_constant_is_reported_where_the_program_runs_in_float16(tmp_path, setting, reported):
    """An additive mask needs float16 in sight: in the module, or in the program that imports it."""
    program = entry_point(setting).replace("layers.attention import cosine", "layers.masks import bias")
    program = program.replace("return model, cosine", "return model, bias")
    project(tmp_path, {"layers/__init__.py": "", "layers/masks.py": ADDITIVE_MASK, "scripts/train.py": program})
    message = (
        "additive mask constant -1e9 is beyond the float16 range (max 65504): it overflows to -inf in half precision; "
        "use finfo(dtype).min of the tensor's own dtype"
    )
    assert findings(tmp_path, "NAN201") == ([("layers/masks.py", 5, 36, "NAN201", message)] if reported else [])
