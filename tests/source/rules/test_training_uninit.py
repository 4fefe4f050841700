"""NAN304 (formerly NAN306, uninitialised-parameter): parameters and buffers allocated without initialising, never filled."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nanlint.cli import main
from tests.helpers import codes, lint


def never_filled(name: str, spelled: str) -> str:
    return (
        f"parameter `{name}` is allocated with {spelled}(), which leaves whatever was in memory (possibly huge, "
        "inf or NaN), and is never filled; initialise it (nn.init.*_ on it, or allocate with randn/zeros)"
    )


def test_parameters_from_uninitialised_memory():
    source = """\
        import numpy as np
        import tensorflow as tf
        import torch
        import torch.nn as nn

        class CRF(nn.Module):
            def __init__(self, num_tags: int, in_size, out_size):
                super().__init__()
                self.start = nn.Parameter(torch.Tensor(num_tags))
                self.U = nn.Parameter(torch.Tensor(in_size + 1, out_size, in_size + 1))
                self.bg = nn.Parameter(
                    torch.empty(1, 512)
                )
                self.w = nn.Parameter(torch.from_numpy(np.empty((4, 4))).float())
                self.register_buffer("table", torch.empty(num_tags, num_tags))
                self.register_parameter("bias", nn.Parameter(torch.FloatTensor(out_size)))

        v = tf.Variable(np.empty((3, 3), dtype=np.float32))
        """
    assert lint(source, "NAN304") == [
        ("NAN304", 9, 35, never_filled("start", "torch.Tensor")),
        ("NAN304", 10, 31, never_filled("U", "torch.Tensor")),
        ("NAN304", 12, 13, never_filled("bg", "torch.empty")),
        ("NAN304", 14, 48, never_filled("w", "np.empty")),
        ("NAN304", 15, 39, never_filled("table", "torch.empty")),
        ("NAN304", 16, 54, never_filled("bias", "torch.FloatTensor")),
        ("NAN304", 18, 17, never_filled("v", "np.empty")),
    ]


@pytest.mark.parametrize(
    "fill",
    [
        "nn.init.xavier_uniform_(self.U)",
        "self.U.data.normal_(0, 0.02)",
        "torch.nn.init.zeros_(self.U)",
        "with torch.no_grad():\n                    self.U.copy_(torch.randn(4, 4))",
        "self.U.data.fill_(0.0)",
        "self.U[...] = 0.0",
        "glorot(self.U)",
        "self.reset_parameters()",
        "self.post_init()",
        "self.U.data = torch.randn(4, 4)",
    ],
)
def test_filled_parameters_are_quiet(fill):
    source = f"""\
        import torch
        import torch.nn as nn

        class Layer(nn.Module):
            def __init__(self):
                super().__init__()
                self.U = nn.Parameter(torch.empty(4, 4))
                {fill}
        """
    assert codes(source, "NAN304") == []


def test_fills_elsewhere_in_the_module_and_in_place_allocations():
    source = """\
        import numpy as np
        import torch
        import torch.nn as nn

        class Attention(nn.Module):
            def __init__(self, n):
                super().__init__()
                self.rel = nn.Parameter(torch.empty(n, n))
                self.pos = nn.Parameter(torch.empty(1, n).normal_(std=0.02))
                self.data = nn.Parameter(torch.Tensor([1.0, 2.0]))
                self.copy = nn.Parameter(torch.Tensor(weights))

        class Model(nn.Module):
            def _init_weights(self, module):
                if isinstance(module, Attention):
                    module.rel.data.zero_()

        def scores(n):
            out = np.empty(n)
            for i in range(n):
                out[i] = i
            return out
        """
    assert codes(source, "NAN304") == []


def test_a_loop_over_every_parameter_initialises_them_all():
    source = """\
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.empty(8, 8))

        net = Net()
        for p in net.parameters():
            nn.init.uniform_(p, -0.1, 0.1)
        """
    assert codes(source, "NAN304") == []
    assert codes(source.replace("nn.init.uniform_(p, -0.1, 0.1)", "print(p.shape)"), "NAN304") == ["NAN304"]


def test_a_read_is_not_a_fill():
    source = """\
        import torch
        import torch.nn as nn

        class Prompt(nn.Module):
            def __init__(self):
                super().__init__()
                self.bg = nn.Parameter(torch.empty(1, 512))

            def forward(self, text):
                return torch.cat([text, self.bg], dim=0) @ self.bg.t()
        """
    assert lint(source, "NAN304") == [("NAN304", 7, 32, never_filled("bg", "torch.empty"))]


def test_storage_that_is_loaded_rather_than_trained():
    source = """\
        import torch
        import torch.nn as nn

        class QuantLinear(nn.Module):
            def __init__(self, n, m, device=None, dtype=None, **factory):
                super().__init__()
                self.qweight = nn.Parameter(torch.empty(n, m, dtype=torch.int8), requires_grad=False)
                self.scales = nn.Parameter(torch.empty(n, dtype=torch.float16), requires_grad=False)
                self.codes = nn.Parameter(torch.empty(n, m, dtype=torch.int32))
                self.anchor = nn.Parameter(torch.empty(0, dtype=torch.float32))
                self.norm = nn.Parameter(torch.empty(n, device=device, dtype=dtype))
                self.bias = nn.Parameter(torch.empty(m, **factory))
                self.gain = nn.Parameter(torch.empty(m, dtype=torch.float32))
        """
    assert lint(source, "NAN304") == [("NAN304", 13, 34, never_filled("gain", "torch.empty"))]


RETIRED = """\
import torch
import torch.nn as nn


class Gate(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(torch.empty(n, n)){comment}
"""


@pytest.mark.parametrize("comment", ["  # noqa: NAN306", "  # nanlint: ignore[NAN306]", "  # noqa: NAN304"])
def test_the_retired_code_still_suppresses(comment):
    assert codes(RETIRED.format(comment=comment), "NAN304") == []
    assert codes(RETIRED.format(comment=""), "NAN304") == ["NAN304"]


def test_the_retired_code_still_selects_and_ignores(tmp_path, monkeypatch):
    (tmp_path / "gate.py").write_text(RETIRED.format(comment=""))
    monkeypatch.chdir(tmp_path)

    def found(*args: str) -> str:
        return CliRunner().invoke(main, ["check", "gate.py", "--no-cache", *args]).stdout

    assert "gate.py:8:31: NAN304" in found("--select", "NAN306")
    assert "NAN304" not in found("--select", "ALL", "--ignore", "NAN306")
    (tmp_path / "pyproject.toml").write_text('[tool.nanlint]\nextend-ignore = ["NAN306"]\n')
    assert "NAN304" not in found("--select", "NAN3")


_IMPORTED_HELPER = """\
    import torch
    import torch.nn as nn
    {imports}

    class Experts(nn.Module):
        def __init__(self, init_method):
            super().__init__()
            self.w1 = nn.Parameter(torch.empty(8, 4))
            {call}
    """


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from megatron.mpu.layers import _initialize_affine_weight_gpu", "_initialize_affine_weight_gpu(self.w1, 0)"),
        ("from .layers import init_weights", "init_weights(self.w1, init_method)"),
        ("import project.weights as pw", "pw.reset_(self.w1)"),
    ],
)
def test_a_filling_helper_imported_from_the_project_fills(imports, call):
    """The project's own initialiser, imported from another module, is judged by its name like a local one."""
    assert codes(_IMPORTED_HELPER.format(imports=imports, call=call), "NAN304") == []


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from megatron.mpu.layers import gather_from_region", "gather_from_region(self.w1)"),
        ("import numpy as np", "np.normalize = np.linalg.norm(self.w1)"),
        ("from torch.nn.functional import normalize", "normalize(self.w1)"),
    ],
)
def test_a_helper_that_does_not_say_it_fills_and_framework_reads_are_no_fill(imports, call):
    source = _IMPORTED_HELPER.format(imports=imports, call=call)
    assert lint(source, "NAN304") == [("NAN304", 8, 32, never_filled("w1", "torch.empty"))]
