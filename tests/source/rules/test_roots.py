"""NAN106 sqrt-at-zero: sqrt of a sum of squares, squared distance or variance with no eps inside."""

from __future__ import annotations

import pytest

from tests.helpers import lint


def message(kind: str) -> str:
    return (
        f"sqrt of {kind} with no eps inside: its gradient is infinite at 0 (NaN in training); add the eps "
        "inside the sqrt (sqrt(v + eps)) or use a norm function"
    )


SQUARES, DISTANCE, VARIANCE = message("a sum of squares"), message("a squared distance"), message("a variance")
RELU = message("a relu output")


def outside(kind: str) -> str:
    return (
        f"sqrt of {kind} with the eps outside: sqrt(v) + eps (or a clamp after it) keeps the value finite, but the "
        "gradient of sqrt is still infinite at 0 (NaN in training); add the eps inside the sqrt (sqrt(v + eps)) or "
        "use a norm function"
    )


EXPANDED = (
    "sqrt of a squared distance expanded as |a|² + |b|² - 2a·b, which rounding can make negative: NaN there, and "
    "an eps added to it does not help; clamp it at 0 first (maximum(v, 0)), or compute it as a sum of squared "
    "differences"
)
RSQRT = "rsqrt of a sum of squares with no eps inside is inf at 0; add the eps inside (rsqrt(v + eps))"


def nan106(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN106")]


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import torch\ny = torch.sqrt((x ** 2).sum(-1))\n", SQUARES),
        ("import torch\ny = x.pow(2).sum(-1).sqrt()\n", SQUARES),
        ("import torch\ny = torch.sqrt(torch.sum(x * x, dim=-1))\n", SQUARES),
        ("import torch\ny = torch.sqrt(torch.mean(torch.square(x), -1))\n", SQUARES),
        ("import torch\ny = x.pow(2).mean(-1) ** 0.5\n", SQUARES),
        ("import torch\ny = torch.pow((x ** 2).sum(-1), 0.5)\n", SQUARES),
        ("import torch\ny = torch.sqrt(dx ** 2 + dy ** 2)\n", SQUARES),
        ("import torch\ny = torch.sqrt(((a - b) ** 2).sum(-1))\n", DISTANCE),
        ("import torch\ny = torch.sqrt(torch.sum((a[:, None] - b[None]) ** 2, dim=-1))\n", DISTANCE),
        ("import torch\ny = torch.sqrt((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None] - 2 * a @ b.T)\n", EXPANDED),
        ("import torch\ny = torch.sqrt(x.var(0))\n", VARIANCE),
        ("import torch\ny = x.var(dim=-1, keepdim=True).sqrt() + 1e-6\n", outside("a variance")),
        ("import torch\ny = torch.sqrt(torch.clamp(x.var(0), min=0))\n", VARIANCE),
        ("import torch\ny = torch.sqrt(torch.relu((x ** 2).mean() - x.mean() ** 2))\n", RELU),
        ("import torch\ny = torch.sqrt((x ** 2).sum(-1)) + 1e-8\n", outside("a sum of squares")),
        ("import tensorflow as tf\ny = tf.sqrt(tf.reduce_sum(tf.square(x), axis=-1))\n", SQUARES),
        ("import tensorflow as tf\ny = tf.math.sqrt(tf.math.reduce_variance(x, axis=0))\n", VARIANCE),
        ("from keras import backend as K\ny = K.sqrt(K.sum(K.square(a - b), axis=-1))\n", DISTANCE),
        ("import jax.numpy as jnp\ny = jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1))\n", DISTANCE),
        ("import jax.numpy as jnp\ny = jnp.sqrt(jnp.var(x, axis=0))\n", VARIANCE),
        ("import keras\ny = keras.ops.sqrt(keras.ops.mean(keras.ops.square(x)))\n", SQUARES),
        ("import torch\nd2 = ((a - b) ** 2).sum(-1)\ny = torch.sqrt(d2)\n", DISTANCE),
        ("import torch\nv = x.var(0)\nstd = v ** 0.5\n", VARIANCE),
        ("import torch\ny = torch.rsqrt(x.pow(2).mean(-1, keepdim=True))\n", RSQRT),
    ],
)
def test_unguarded_roots(source, expected):
    found = nan106(source)
    assert [m for _, _, m in found] == [expected]
    assert found[0][0] == source.count("\n")


def test_rms_norm_in_a_module():
    source = """\
        import torch
        import torch.nn as nn

        class RMSNorm(nn.Module):
            def forward(self, x):
                rms = x.pow(2).mean(-1, keepdim=True).sqrt()
                return x / rms
        """
    assert nan106(source) == [(6, 15, SQUARES)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = torch.sqrt((x ** 2).sum(-1) + 1e-8)\n",
        "import torch\ny = torch.sqrt((x ** 2).sum(-1) + eps)\n",
        "import torch\ny = torch.sqrt(x.var(0) + self.eps)\n",
        "import torch\ny = torch.sqrt(torch.clamp((x ** 2).sum(-1), min=1e-12))\n",
        "import torch\ny = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)\n",
        "import torch\ny = torch.linalg.norm(x, dim=-1)\n",
        "import torch\ny = x.norm(dim=-1)\n",
        "import torch\ny = torch.cdist(a, b)\n",
        "import torch\ny = torch.sqrt(torch.tensor(d_k))\n",
        "import math\ny = scores / math.sqrt(d_k)\n",
        "import torch\ny = (sigma ** 2 + sigma_data ** 2) ** 0.5\n",
        "import torch\ny = (sigma_hat ** 2 - sigma ** 2) ** 0.5\n",
        "import torch\ny = torch.sqrt(b ** 2 - 4 * a * c)\n",
        "import torch\ny = torch.sqrt(x ** 2 + 1)\n",
        "import numpy as np\ny = np.sqrt(((a - b) ** 2).sum(-1))\n",
        "import math\ny = math.sqrt(dx * dx + dy * dy)\n",
        "import torch\nimport numpy as np\ny = np.sqrt(np.sum(x ** 2)) ** 0.5\n",
        "import torch\nwith torch.no_grad():\n    y = torch.sqrt((x ** 2).sum(-1))\n",
        "import torch\n@torch.no_grad()\ndef f(x):\n    return torch.sqrt((x ** 2).sum(-1))\n",
        "import torch\n@torch.inference_mode()\ndef f(x):\n    return torch.sqrt((x ** 2).sum(-1))\n",
        "import torch\ny = torch.sqrt((x ** 2).mean()).item()\n",
        "import torch\ny = float(torch.sqrt((x ** 2).mean()))\n",
        "import torch\nclass Lamb(torch.optim.Optimizer):\n    def step(self):\n        n = torch.sqrt((g ** 2).sum())\n",
        "import keras\nclass MaxNorm(keras.constraints.Constraint):\n    def __call__(self, w):\n"
        "        return keras.ops.sqrt(keras.ops.sum(keras.ops.square(w)))\n",
        "import torch\ny = torch.where(d2 > 0, torch.sqrt(d2), 0.0)\n",
        "import torch\ndef f(d2):\n    if d2 > 0:\n        return torch.sqrt(d2)\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan106(source) == []


def test_where_is_reported_as_nan110_not_twice():
    source = "import torch\nd2 = ((a - b) ** 2).sum(-1)\ny = torch.where(d2 > 0, torch.sqrt(d2), 0.0)\n"
    assert [code for code, *_ in lint(source, ("NAN106", "NAN110"))] == ["NAN110"]


COMPLEMENT = message("c - x² (0 where x² reaches c)")


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef sample(w, v):\n    return (1 - w ** 2).sqrt() * v\n",
        "import torch\ny = torch.sqrt(1.0 - c * c)\n",
        "import jax.numpy as jnp\ny = jnp.sqrt(1 - jnp.square(c))\n",
    ],
)
def test_root_of_one_minus_a_square(source):
    """sqrt(1 - w²): the sine of a cosine, a unit vector's last component; at |w| = 1 its gradient is infinite."""
    assert [m for _, _, m in nan106(source)] == [COMPLEMENT]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = torch.sqrt(torch.clamp(1 - w ** 2, min=1e-10))\n",
        "import torch\ny = torch.sqrt(1 - w ** 2 + 1e-8)\n",
        "import numpy as np\ny = np.sqrt(1 - w ** 2)\n",
        "import torch\ny = torch.sqrt(1 - alpha)\n",
        "import torch\ny = torch.sqrt(1 + w ** 2)\n",
        "import torch\nwith torch.no_grad():\n    y = torch.sqrt(1 - w ** 2)\n",
    ],
)
def test_root_of_one_minus_a_square_look_alikes(source):
    assert nan106(source) == []


def test_schedulers_are_not_differentiated():
    """A noise or learning-rate scheduler's coefficients are constants to the model's gradient."""
    body = """\
        import torch

        class CosineNoise(SchedulerMixin, ConfigMixin):
            def set_betas(self, steps):
                self.alphas = (1.0 - self.betas ** 2) ** 0.5
                return torch.sqrt(1 - self.alphas ** 2)

        class Warmup(LRScheduler):
            def get_lr(self):
                return torch.sqrt(1 - self.progress ** 2)

        class Layer(torch.nn.Module):
            def forward(self, w):
                return torch.sqrt(1 - w ** 2)
        """
    assert [(line, message) for line, _, message in nan106(body)] == [(14, COMPLEMENT)]


# --- a helper nanlint cannot see, named as an inverse square root -------------------------------------------

NAMED_ROOT = (
    "inv_sqrt_2x2() of a covariance, with no eps inside: by its name an inverse square root, inf at 0 (a degenerate "
    "batch, constant input); add the eps inside (inv_sqrt_2x2(v + eps))"
)


def test_an_inverse_root_helper_of_a_covariance_is_named_evidence():
    source = """\
        import torch
        import whitening as bn

        def forward(z):
            covs = bn.batch_cov(z - z.mean(0))
            return bn.inv_sqrt_2x2(covs) @ z
        """
    assert nan106(source) == [(6, 12, NAMED_ROOT)]


def test_an_rsqrt_named_helper_of_a_variance_argument():
    source = "import torch\nfrom ext import rsqrt_fast\n\ndef scale(x, running_var):\n    return x * rsqrt_fast(running_var)\n"
    [(line, _, message)] = nan106(source)
    assert line == 5 and message.startswith("rsqrt_fast() of a variance, with no eps inside")


@pytest.mark.parametrize(
    "source",
    [
        # the eps is inside, here or where the value was built
        "import torch\nimport bn\ny = bn.inv_sqrt_2x2(covs + 1e-5)\n",
        "import torch\nimport bn\ncovs = bn.batch_cov(z) + eps\ny = bn.inv_sqrt_2x2(covs)\n",
        # nothing says the argument is a variance
        "import torch\nimport bn\ny = bn.inv_sqrt_2x2(matrix)\n",
        # the name says something else: a square root, not its inverse; an inverse of something else
        "import torch\nimport bn\ny = bn.sqrtm(covs)\ny = bn.inverse(covs)\ny = bn.inv_sqrtm_stable(covs)\n",
        # no gradients: NumPy code
        "import numpy as np\nimport bn\ny = bn.inv_sqrt_2x2(covs)\n",
        # the file's own helper: its body decides
        "import torch\n\ndef inv_sqrt(c):\n    return torch.linalg.inv(c)\n\ny = inv_sqrt(covs)\n",
        # its 0 is handled
        "import torch\nimport bn\n\ndef f(covs):\n    if (covs == 0).any():\n        return covs\n    return bn.inv_sqrt(covs)\n",
    ],
)
def test_inverse_root_helpers_left_alone(source):
    assert nan106(source) == []


def test_sqrt_of_a_sigmoid_is_quiet_but_not_of_a_softmax():
    """A sigmoid is 0 only where exp underflows (a score's geometric mean, a diffusion schedule's alpha); a
    softmax is 0 wherever a logit is masked out."""
    source = "import torch\ndef f(z, x):\n    return torch.sqrt(torch.sigmoid(z)), torch.sqrt(torch.softmax(x, -1))\n"
    assert nan106(source) == [(3, 42, message("a softmax"))]


CALLED_FROM_INFERENCE = """\
import torch


class Pipeline:
    @torch.no_grad()
    def __call__(self, a, b):
        return self.angle(a, b)

    def angle(self, a, b):
        return torch.sqrt(((a - b) ** 2).sum(-1))
"""


def test_a_function_called_only_from_gradient_free_code_takes_no_gradient():
    assert lint(CALLED_FROM_INFERENCE, "NAN106") == []


@pytest.mark.parametrize(
    "change",
    [
        ("    @torch.no_grad()\n", ""),  # the caller takes gradients
        (
            "        return self.angle(a, b)\n",
            "        return self.angle(a, b)\n\n    def train(self, a, b):\n        return self.angle(a, b).sum().backward()\n",
        ),
        ("        return self.angle(a, b)\n", "        return self.angle(a, b), self.angle\n"),  # passed on as a value
        ("angle", "forward"),  # frameworks call forward themselves, wherever the file calls it
    ],
)
def test_a_caller_that_may_take_gradients_keeps_the_finding(change):
    source = CALLED_FROM_INFERENCE.replace(*change)
    assert [code for code, *_ in lint(source, "NAN106")] == ["NAN106"]
