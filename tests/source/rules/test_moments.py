"""NAN107 cancellation-variance: E[x^2] - E[x]^2."""

from __future__ import annotations

import pytest

from tests.helpers import lint

MESSAGE = (
    "variance as E[x²] - E[x]² cancels catastrophically when the mean is large against the spread and can "
    "come out negative (NaN under a sqrt); compute it as mean((x - mean(x))**2) or with var()"
)


def nan107(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN107")]


@pytest.mark.parametrize(
    "expression,column",
    [
        ("(x ** 2).mean() - x.mean() ** 2", 7),
        ("(x * x).mean(0) - x.mean(0) * x.mean(0)", 7),
        ("torch.mean(x ** 2, dim=-1) - torch.mean(x, dim=-1) ** 2", 7),
        ("torch.square(x).mean(-1) - torch.square(x.mean(-1))", 7),
        ("x.pow(2).mean(1) - x.mean(1).pow(2)", 7),
        ("torch.pow(x, 2).mean() - torch.pow(torch.mean(x), 2)", 7),
        ("(x ** 2).sum(0) / n - (x.sum(0) / n) ** 2", 7),
    ],
)
def test_spellings_in_torch(expression, column):
    assert nan107(f"import torch\nvar = {expression}\n") == [(2, column, MESSAGE)]


@pytest.mark.parametrize(
    "source,line,column",
    [
        ("import numpy as np\nv = np.mean(np.square(x), axis=0) - np.square(np.mean(x, axis=0))\n", 2, 5),
        ("import numpy as np\nv = np.average(x ** 2) - np.average(x) ** 2\n", 2, 5),
        ("import tensorflow as tf\nv = tf.reduce_mean(tf.square(x)) - tf.square(tf.reduce_mean(x))\n", 2, 5),
        ("from keras import backend as K\nv = K.mean(K.square(x)) - K.square(K.mean(x))\n", 2, 5),
        ("import jax.numpy as jnp\nv = jnp.mean(x * x, axis=-1) - jnp.mean(x, axis=-1) ** 2\n", 2, 5),
        ("import torch\nex2 = (x ** 2).mean(0)\nex = x.mean(0)\nvar = ex2 - ex ** 2\n", 4, 7),
        ("import torch\nex2 = (x ** 2).mean(0)\nex = x.mean(0)\nvar = ex2 - ex * ex\n", 4, 7),
        (
            "import jax.numpy as jnp\nmean = jnp.mean(x, 0)\nmean_of_squares = jnp.mean(jnp.square(x), 0)\n"
            "var = mean_of_squares - jnp.square(mean)\n",
            4,
            7,
        ),
    ],
)
def test_frameworks_and_names(source, line, column):
    assert nan107(source) == [(line, column, MESSAGE)]


def test_through_self_attributes():
    source = """\
        import torch

        class Stats:
            def update(self, x):
                self.m2 = (x ** 2).mean(0)
                self.m1 = x.mean(0)
                return self.m2 - self.m1 ** 2
        """
    assert nan107(source) == [(7, 16, MESSAGE)]


@pytest.mark.parametrize(
    "expression",
    [
        "x.var(0)",
        "((x - x.mean(0)) ** 2).mean(0)",
        "(x ** 2).mean() - y.mean() ** 2",
        "(x ** 2).mean() - x.mean()",
        "x.mean() ** 2 - (x ** 2).mean()",
        "(x ** 2).mean() - 2 * x.mean() ** 2",
        "x.mean() - x.mean() ** 2",
        "(x ** 3).mean() - x.mean() ** 3",
        "(x ** 2).sum() - x.sum() ** 2",
        "torch.pow(d, 2).mean() - lam * torch.pow(d.mean(), 2)",
        # clamped at 0 where it is computed: the lost digits stay lost, but it cannot go negative (no NaN)
        "((x ** 2).mean() - x.mean() ** 2).clamp(min=0)",
        "torch.clamp((x * x).mean(1) - x.mean(1) ** 2, min=0.0)",
        "torch.relu((x ** 2).mean() - x.mean() ** 2)",
    ],
)
def test_safe_look_alikes(expression):
    assert nan107(f"import torch\nv = {expression}\n") == []


def test_one_finding_for_the_cancellation_under_a_root():
    """The root of E[x²] - E[x]² is the same hazard: NAN107 where the difference is written, no NAN106 at the root."""
    source = """\
        import jax
        import jax.numpy as jnp


        def layer_norm(x, eps):
            mean = jnp.mean(x, -1)
            variance = jnp.mean(jnp.square(x), -1) - jnp.square(mean)
            return x * jax.lax.rsqrt(variance + eps)
        """
    assert [(code, line, column) for code, line, column, _ in lint(source, ("NAN106", "NAN107"))] == [("NAN107", 7, 16)]
    expanded = source.replace(
        "jnp.mean(jnp.square(x), -1) - jnp.square(mean)", "(x * x).sum() + (m * m).sum() - 2 * (x * m).sum()"
    )
    assert [code for code, *_ in lint(expanded, ("NAN106", "NAN107"))] == ["NAN106"]  # a squared distance: NAN106's
