"""NAN110 where-gradient-nan: where(cond, f(x), y) with f unsafe at some x, guarded only by cond."""

from __future__ import annotations

import pytest

from tests.helpers import lint


def message(what: str, select: str = "where") -> str:
    return (
        f"{what} in a {select}() branch guarded only by the condition: it is still computed where the condition "
        "fails, and its infinite gradient there becomes NaN (0 * inf); guard its input too (the double where: "
        "f(where(cond, x, safe_x)))"
    )


def nan110(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN110")]


@pytest.mark.parametrize(
    "source,at,what",
    [
        ("import torch\ny = torch.where(x > 0, torch.log(x), 0.0)\n", "torch.log(x)", "log"),
        ("import torch\ny = torch.where(x > 0, x.log(), torch.zeros_like(x))\n", "x.log()", "log"),
        ("import torch\ny = torch.where(x > 0, x * torch.log(x), 0.0)\n", "torch.log(x)", "log"),
        ("import torch\ny = torch.where(d2 > 0, torch.sqrt(d2), 0.0)\n", "torch.sqrt(d2)", "sqrt"),
        ("import torch\ny = torch.where(n != 0, s / n, 0.0)\n", "s / n", "division"),
        ("import torch\ny = torch.where(n == 0, 0.0, s / n)\n", "s / n", "division"),
        ("import torch\ny = torch.where(x2 == 0, 0, torch.divide(x1, x2))\n", "torch.divide(x1, x2)", "division"),
        ("import torch\ny = torch.where(x > 0, x ** 0.5, 0.0)\n", "x ** 0.5", "power"),
        ("import torch\ny = torch.where(x > 0, torch.pow(x, -1), 0.0)\n", "torch.pow(x, -1)", "power"),
        ("import torch\ny = torch.where(norm > eps, v / norm, v)\n", "v / norm", "division"),
        ("import torch\ny = torch.where(c.abs() < 1, torch.acos(c), 0.0)\n", "torch.acos(c)", "acos"),
        ("import torch\ny = torch.where(x > 0, torch.rsqrt(x), 0.0)\n", "torch.rsqrt(x)", "rsqrt"),
        ("import tensorflow as tf\ny = tf.where(x > 0, tf.math.log(x), tf.zeros_like(x))\n", "tf.math.log(x)", "log"),
        ("import tensorflow as tf\ny = tf.where(y > 0, tf.sqrt(y), y)\n", "tf.sqrt(y)", "sqrt"),
        ("import jax.numpy as jnp\ny = jnp.where(targets == 0, 0, jnp.log(targets))\n", "jnp.log(targets)", "log"),
        ("import jax\ny = jax.lax.select(x > 0, jax.numpy.log(x), x)\n", "jax.numpy.log(x)", "log"),
        ("import keras\ny = keras.ops.where(x > 0, keras.ops.sqrt(x), 0.0)\n", "keras.ops.sqrt(x)", "sqrt"),
        ("from keras import backend as K\ny = K.switch(x > 0, K.log(x), x)\n", "K.log(x)", "log"),
        ("import jax.numpy as jnp\npositive = x > 0\ny = jnp.where(positive, jnp.log(x), 0.0)\n", "jnp.log(x)", "log"),
    ],
)
def test_single_where(source, at, what):
    last = source.splitlines()[-1]
    assert nan110(source) == [(source.count("\n"), last.index(at) + 1, message(what))]


def test_masked_fill_after_the_unsafe_op():
    source = "import torch\ny = torch.log(p).masked_fill(p == 0, 0.0)\n"
    assert nan110(source) == [(2, 5, message("log", "masked_fill"))]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = torch.where(x > 0, torch.log(torch.where(x > 0, x, 1.0)), 0.0)\n",
        "import torch\nsafe = torch.where(x > 0, x, torch.ones_like(x))\ny = torch.where(x > 0, torch.log(safe), 0.0)\n",
        "import jax.numpy as jnp\npositive = x > 0\ny = jnp.where(positive, jnp.log(jnp.where(positive, x, 1.0)), 0.0)\n",
        "import torch\ny = torch.where(x > 0, torch.log(x.clamp(min=1e-12)), 0.0)\n",
        "import torch\ny = torch.where(x > 0, torch.sqrt(x + 1e-12), 0.0)\n",
        "import torch\ny = torch.where(x > 0, torch.log(x + eps), 0.0)\n",
        "import torch\ny = torch.where(n > 0, s / n.clamp(min=1), 0.0)\n",
        "import torch\ny = torch.where(mask, torch.log(p), 0.0)\n",
        "import torch\ny = torch.where(x > 0, torch.log(torch.exp(x) + 1), 0.0)\n",
        "import tensorflow as tf\ny = tf.where(tf.math.is_nan(d), a + b, tf.maximum(a, b) + tf.math.log1p(tf.exp(-tf.abs(d))))\n",
        "import torch\ny = torch.where(u <= 0.04045, u / 12.92, ((u + 0.055) / 1.055) ** 2.4)\n",
        "import torch\ny = torch.where(g > max_norm, g / max_norm, one)\n",
        "import torch\ny = torch.where(x > 0, x ** 2, 0.0)\n",
        "import torch\ny = torch.where(x > 0, torch.exp(x), x)\n",
        "import numpy as np\ny = np.where(x > 0, np.log(x), 0.0)\n",
        "import torch\ny = torch.where(x > 0)\n",
        "import torch\nwith torch.no_grad():\n    y = torch.where(n > 0, s / n, s)\n",
        "import torch\nclass Lars(torch.optim.Optimizer):\n    def step(self):\n"
        "        return torch.where(g_norm > 0, w_norm / g_norm, one)\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan110(source) == []


def test_one_finding_for_the_log_in_the_branch():
    source = "import torch\np = torch.softmax(z, -1)\ny = torch.where(p > 0, p * torch.log(p), 0.0)\n"
    assert [code for code, *_ in lint(source, ("NAN104", "NAN110"))] == ["NAN110"]
    n = "import torch\nn = mask.sum()\ny = torch.where(n > 0, s / n, 0.0)\n"
    assert [code for code, *_ in lint(n, ("NAN105", "NAN110"))] == ["NAN110"]


def test_a_branch_whose_input_stays_away_from_0_where_it_is_not_taken():
    """log1mexp: log(-expm1(x)) is taken for x >= t and computed for x < t = -log 2 too, where -expm1(x) > 0.5:
    no infinite slope there. The other branch's exp still overflows for the large x it is computed at."""
    source = (
        "import torch\n"
        "def log1mexp(x):\n"
        "    t = -0.6931471805599453\n"
        "    return torch.where(x < t, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))\n"
    )
    assert nan110(source) == [(4, 44, message("exp"))]
    unsafe = source.replace("torch.log(-torch.expm1(x))", "torch.log(torch.expm1(x))")  # expm1(x) < 0 for x < t
    assert nan110(unsafe) == [(4, 44, message("exp")), (4, 59, message("log"))]


SINC_FOR_INFERENCE = """\
import torch


class Resampler:
    @torch.no_grad()
    def __call__(self, t):
        return self.sinc(t)

    def sinc(self, t):
        return torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
"""


def test_a_where_in_a_function_called_only_without_gradients_is_quiet():
    assert nan110(SINC_FOR_INFERENCE) == []


def test_the_same_function_called_where_gradients_flow_keeps_the_finding():
    source = SINC_FOR_INFERENCE.replace("    @torch.no_grad()\n", "")
    assert nan110(source) == [(9, 56, message("division"))]
