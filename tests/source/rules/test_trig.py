"""NAN108 unclamped-acos: acos/asin of a cosine, sqrt(1 - c**2), without clamping strictly inside [-1, 1]."""

from __future__ import annotations

import pytest

from tests.helpers import lint

STRICT = "clamp it strictly inside (-1 + eps, 1 - eps) first"


def unclamped(name: str, kind: str) -> str:
    return (
        f"{name} of {kind} without clamping: rounding pushes it past ±1 (NaN) and the gradient is infinite at "
        f"±1; {STRICT}"
    )


def closed(name: str) -> str:
    return f"{name} of a value clamped to [-1, 1]: its gradient is infinite at ±1 (NaN in training); {STRICT}"


def sine(kind: str) -> str:
    return (
        f"sqrt(1 - c²) of {kind}: NaN when rounding makes |c| > 1 and an infinite gradient at |c| = 1; clamp c "
        "strictly inside (-1, 1) or 1 - c² to a positive minimum first"
    )


def nan108(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN108")]


@pytest.mark.parametrize(
    "source,expected",
    [
        (
            "import torch\nimport torch.nn.functional as F\ny = torch.acos(F.cosine_similarity(a, b))\n",
            unclamped("acos", "a cosine similarity"),
        ),
        (
            "import torch\ny = torch.arccos(torch.cosine_similarity(a, b, dim=-1))\n",
            unclamped("acos", "a cosine similarity"),
        ),
        (
            "import torch\nimport torch.nn.functional as F\ncos = F.cosine_similarity(a, b)\ny = cos.acos()\n",
            unclamped("acos", "a cosine similarity"),
        ),
        (
            "import torch\ny = torch.asin((a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)))\n",
            unclamped("asin", "a normalised dot product"),
        ),
        (
            "import torch\ny = torch.acos(torch.dot(a, b) / torch.norm(a) / torch.norm(b))\n",
            unclamped("acos", "a normalised dot product"),
        ),
        (
            "import torch\nimport torch.nn.functional as F\nu = F.normalize(a, dim=-1)\nv = F.normalize(b, dim=-1)\n"
            "y = torch.acos((u * v).sum(-1))\n",
            unclamped("acos", "a normalised dot product"),
        ),
        (
            "import torch\nimport torch.nn.functional as F\ny = torch.acos(F.linear(F.normalize(x), F.normalize(w)))\n",
            unclamped("acos", "a normalised dot product"),
        ),
        (
            "import torch\nimport torch.nn.functional as F\ny = torch.acos(F.normalize(x) @ F.normalize(w).T)\n",
            unclamped("acos", "a normalised dot product"),
        ),
        (
            "import numpy as np\ny = np.arccos(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))\n",
            unclamped("acos", "a normalised dot product"),
        ),
        ("import math\ny = math.acos(math.cos(t))\n", unclamped("acos", "a cosine")),
        (
            "import tensorflow as tf\ny = tf.math.acos(tf.reduce_sum(tf.math.l2_normalize(a, -1) * "
            "tf.math.l2_normalize(b, -1), -1))\n",
            unclamped("acos", "a normalised dot product"),
        ),
        (
            "import jax.numpy as jnp\ndef angle(cos_theta):\n    return jnp.arccos(cos_theta)\n",
            unclamped("acos", "a cosine"),
        ),
        ("import torch\ny = torch.acos(torch.clamp(F.cosine_similarity(a, b), -1, 1))\n", closed("acos")),
        ("import torch\ny = torch.acos(cos.clamp(-1.0, 1.0))\n", closed("acos")),
        ("import tensorflow as tf\ny = tf.math.asin(tf.clip_by_value(x, -1.0, 1.0))\n", closed("asin")),
        ("import torch\ny = torch.sqrt(1.0 - torch.pow(cosine, 2))\n", sine("a cosine")),
        (
            "import torch\nimport torch.nn.functional as F\ncosine = F.linear(F.normalize(x), F.normalize(w))\n"
            "sine = torch.sqrt((1.0 - torch.pow(cosine, 2)).clamp(0, 1))\n",
            sine("a normalised dot product"),
        ),
        ("import torch\ny = (1 - cos_theta ** 2) ** 0.5\n", sine("a cosine")),
        ("import torch\ny = torch.sqrt(1 - c.clamp(-1, 1) ** 2)\n", sine("a value clamped to [-1, 1]")),
    ],
)
def test_unclamped(source, expected):
    found = nan108(source)
    assert [m for _, _, m in found] == [expected]
    assert found[0][0] == source.count("\n")


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = torch.acos(F.cosine_similarity(a, b).clamp(-1 + 1e-7, 1 - 1e-7))\n",
        "import torch\ny = torch.acos(torch.clamp(cos, -0.9999999, 0.9999999))\n",
        "import torch\ny = torch.acos(cos.clamp(-1 + eps, 1 - eps))\n",
        "import torch\ny = torch.acos(cos.clamp(-(1 - eps), 1 - eps))\n",
        "import torch\ny = torch.acos(cos.clamp(eps - 1, 1 - eps))\n",
        "import torch\ncos = F.cosine_similarity(a, b)\ncos = cos.clamp(-1 + 1e-6, 1 - 1e-6)\ny = torch.acos(cos)\n",
        "import numpy as np\ny = np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))\n",
        "import math\ny = math.acos(max(-1.0, min(1.0, c)))\n",
        "import torch\ny = torch.acos(x)\n",
        "import torch\ny = torch.acos(torch.tanh(x))\n",
        "import torch\ny = torch.sqrt(1 - x ** 2)\n",
        "import torch\ny = torch.sqrt((1 - cosine ** 2).clamp(min=1e-7))\n",
        "import torch\ny = torch.sqrt(1 - cosine ** 2 + 1e-7)\n",
        "import torch\ny = torch.sqrt(1 - cosine.clamp(-1 + 1e-7, 1 - 1e-7) ** 2)\n",
        "import numpy as np\ny = np.sqrt(np.clip(1 - cosine ** 2, 0, 1))\n",
        "import torch\ny = torch.sqrt(1 - alpha ** 2)\n",
        "import torch\nwith torch.no_grad():\n    y = torch.acos(cos.clamp(-1, 1))\n",
        "import torch\ny = torch.where(cos.abs() < 1, torch.acos(cos), 0.0)\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan108(source) == []


ANGLE_FOR_INFERENCE = """\
import torch


@torch.no_grad()
def evaluate(a, b):
    return angle(a, b).mean()


def angle(a, b):
    return torch.acos(torch.clamp((a * b).sum(-1), -1.0, 1.0))
"""


def test_an_acos_gradient_in_a_function_called_only_without_gradients_is_quiet():
    assert lint(ANGLE_FOR_INFERENCE, "NAN108") == []


def test_the_acos_called_where_gradients_flow_keeps_its_finding():
    source = ANGLE_FOR_INFERENCE.replace("@torch.no_grad()\n", "")
    assert [(code, line) for code, line, *_ in lint(source, "NAN108")] == [("NAN108", 9)]


# --- the cosine of a rotation's angle, (trace(R) - 1) / 2, whatever spells the trace -------------------------------

ROTATION = unclamped("acos", "the rotation cosine (trace - 1) / 2")


@pytest.mark.parametrize(
    "body, column",
    [
        ("return torch.acos((torch.einsum('...ii', R) - 1) / 2)", 12),
        ("trace = R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2]\n    return torch.acos((trace - 1.0) / 2.0)", 12),
        ("t = R.diagonal(dim1=-2, dim2=-1).sum(-1)\n    return torch.arccos(0.5 * (t - 1))", 12),
        ("cos = (np.trace(R) - 1) * 0.5\n    return np.arccos(cos)", 12),
        ("return jnp.arccos((jnp.trace(R, axis1=-2, axis2=-1) - 1) / 2)", 12),
        ("return torch.acos((torch.einsum('bii->b', R) - 1) / 2)", 12),
    ],
)
def test_acos_of_a_rotation_cosine_built_from_its_trace(body, column):
    """At the identity (trace 3) and a half turn (trace -1) the cosine is exactly ±1: rounding in R passes it."""
    source = f"import jax.numpy as jnp\nimport numpy as np\nimport torch\n\ndef angle(R):\n    {body}\n"
    line = 6 + body.count("\n")
    assert nan108(source) == [(line, column, ROTATION)]


@pytest.mark.parametrize(
    "body",
    [
        "return torch.acos(((torch.einsum('...ii', R) - 1) / 2).clamp(-1 + 1e-6, 1 - 1e-6))",
        "return torch.acos((torch.einsum('...ij', R, R) - 1) / 2)",  # no trace: a contraction
        "return torch.acos((torch.einsum('...ii->...i', R) - 1) / 2)",  # the diagonal itself, kept
        "return torch.acos((R[..., 0, 0] + R[..., 0, 1] - 1) / 2)",  # an off-diagonal entry: no trace
        "return torch.acos((R[..., 0, 0] + Q[..., 1, 1] - 1) / 2)",  # two matrices
        "return torch.acos((torch.trace(R) - 1) / 3)",  # not the rotation formula
        "return torch.acos((torch.trace(R) - 2) / 2)",
    ],
)
def test_rotation_cosine_look_alikes(body):
    assert nan108(f"import torch\n\ndef angle(R, Q):\n    {body}\n") == []


def test_sqrt_of_one_minus_a_squared_rotation_cosine():
    source = (
        "import torch\n\ndef sine(R):\n    c = (torch.einsum('...ii', R) - 1) / 2\n    return torch.sqrt(1 - c**2)\n"
    )
    assert nan108(source) == [(5, 12, sine("the rotation cosine (trace - 1) / 2"))]
