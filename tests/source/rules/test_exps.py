"""NAN109 unbounded-exp: exp of a log-scale value without clamping first; clamp after exp."""

from __future__ import annotations

import pytest

from tests.helpers import lint


def unclamped(name: str) -> str:
    return (
        f"exp of the log-scale value {name} without clamping it first: it overflows to inf for large values; "
        f"clamp {name} before exp (e.g. to [-20, 20])"
    )


def too_late(name: str) -> str:
    return (
        f"clamping exp({name}) afterwards is too late: exp has already overflowed to inf and its gradient is "
        f"NaN; clamp {name} before exp"
    )


def nan109(source: str, **options):
    settings = {"rule_options": {"NAN109": options}} if options else {}
    return [(line, column, text) for _, line, column, text in lint(source, "NAN109", **settings)]


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import torch\ndef f(mu, logvar):\n    return mu + torch.exp(0.5 * logvar)\n", unclamped("logvar")),
        ("import torch\ndef f(logvar):\n    return logvar.mul(0.5).exp_()\n", unclamped("logvar")),
        ("import torch\ndef f(log_var):\n    return torch.exp(log_var / 2)\n", unclamped("log_var")),
        ("import torch\ndef f(log_std):\n    return (-log_std).exp()\n", unclamped("log_std")),
        (
            "import torch\ndef f(out):\n    mu, log_sigma = out.chunk(2, -1)\n    return torch.exp(log_sigma)\n",
            unclamped("log_sigma"),
        ),
        (
            "import torch\nclass Flow(torch.nn.Module):\n    def forward(self, x):\n"
            "        return torch.exp(self.log_scale) * x\n",
            unclamped("log_scale"),
        ),
        (
            "import torch\nclass SAC:\n    def alpha(self):\n        return self.log_alpha.exp()\n",
            unclamped("log_alpha"),
        ),
        ("import torch\ndef f(h):\n    LOG_STD = h[:, 1]\n    return torch.exp(LOG_STD)\n", unclamped("LOG_STD")),
        ("import torch\ndef f(logvar):\n    return torch.exp(logvar).clamp(max=1e4)\n", too_late("logvar")),
        ("import torch\ndef f(logvar):\n    return torch.clamp(torch.exp(logvar), 1e-6, 1e4)\n", too_late("logvar")),
        ("import tensorflow as tf\ndef f(z_log_var):\n    return tf.exp(0.5 * z_log_var)\n", unclamped("z_log_var")),
        ("from keras import backend as K\ndef f(log_var):\n    return K.exp(log_var)\n", unclamped("log_var")),
        ("import jax.numpy as jnp\ndef f(log_std):\n    return jnp.exp(log_std)\n", unclamped("log_std")),
        ("import keras\ndef f(logvar):\n    return keras.ops.exp(logvar)\n", unclamped("logvar")),
    ],
)
def test_unbounded(source, expected):
    found = nan109(source)
    assert [m for _, _, m in found] == [expected]
    assert found[0][0] == source.count("\n")


def test_name_patterns_are_an_option():
    source = "import torch\ndef f(log_rate, logvar):\n    return torch.exp(log_rate), torch.exp(logvar)\n"
    assert nan109(source) == [(3, 33, unclamped("logvar"))]
    assert nan109(source, **{"log-scale-names": ["log_rate"]}) == [(3, 12, unclamped("log_rate"))]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(logvar):\n    return torch.exp(logvar.clamp(-30, 20))\n",
        "import torch\ndef f(logvar):\n    logvar = torch.clamp(logvar, min=-20, max=2)\n    return logvar.exp()\n",
        "import torch\ndef f(logvar):\n    return torch.exp(0.5 * logvar.clamp(max=10))\n",
        "import torch\ndef f(log_std):\n    log_std = torch.tanh(log_std)\n"
        "    log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)\n    return log_std.exp()\n",
        "import torch\ndef f(h):\n    log_std = torch.tanh(h)\n    return log_std.exp()\n",
        "import torch\ndef f(log_std):\n    return torch.exp(torch.minimum(log_std, torch.tensor(2.0)))\n",
        "import tensorflow as tf\ndef f(log_var):\n    log_var = tf.clip_by_value(log_var, -10.0, 10.0)\n"
        "    return tf.exp(log_var)\n",
        "import torch\nLOG_STD_MAX = 2\ny = torch.exp(LOG_STD_MAX)\n",
        "import torch\ndef f(logits):\n    return torch.exp(logits)\n",
        "import torch\ndef f(log_probs):\n    return log_probs.exp()\n",
        "import torch\ndef f(catalog_scale):\n    return torch.exp(catalog_scale)\n",
        "import numpy as np\ndef f(log_scale):\n    return np.exp(log_scale)\n",
        "import math\ndef f(log_std):\n    return math.exp(log_std)\n",
        "import torch\nimport torch.nn.functional as F\ndef f(logvar):\n    return F.softplus(logvar)\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan109(source) == []


def test_only_where_gradients_flow():
    """Sampling code under no_grad/inference_mode and a logged `.item()` do not train the log-scale value."""
    source = """import torch

class Diffusion(torch.nn.Module):
    @torch.inference_mode()
    def sample(self, mean, log_variance, noise):
        return mean + (0.5 * log_variance).exp() * noise

    def log_std(self, logger):
        logger.record("std", torch.exp(self.log_std).mean().item())

    def forward(self, mean, log_variance, noise):
        return mean + (0.5 * log_variance).exp() * noise
"""
    assert nan109(source) == [(12, 23, unclamped("log_variance"))]


# --- exp of data rescaled by its own statistics ------------------------------------------------------------


def rescaled(name: str) -> str:
    return (
        f"exp of {name} rescaled by its own mean or standard deviation: its range is the data's, so exp overflows "
        "to inf for large values (float32: beyond ~88) and the weights become inf / inf = NaN; subtract the max "
        "before exp (exp(z - z.max())) or use softmax"
    )


@pytest.mark.parametrize(
    "source,line,column,name",
    [
        # sampling weights from standardised scores, with a temperature
        (
            "import torch\ndef weights(scores, temperature):\n    spread = scores.std()\n"
            "    if spread > 0:\n        return torch.exp(temperature * (scores - scores.mean()) / spread)\n",
            5,
            16,
            "scores",
        ),
        # a centring slip (y - y.mean() / s) keeps the data's raw range, through two names
        (
            "import numpy as np\ndef weights(rewards, beta):\n    s = rewards.std()\n"
            "    z = rewards - rewards.mean() / s\n    w = np.exp(beta * z)\n    return w / w.sum()\n",
            5,
            9,
            "rewards",
        ),
        ("import jax.numpy as jnp\ndef f(y):\n    return jnp.exp((y - jnp.mean(y)) / jnp.std(y))\n", 3, 12, "y"),
    ],
)
def test_exp_of_data_rescaled_by_its_statistics(source, line, column, name):
    assert nan109(source) == [(line, column, rescaled(name))]


@pytest.mark.parametrize(
    "source",
    [
        # a Gaussian kernel: its exponent is at most 0
        "import torch\ndef f(x):\n    return torch.exp(-((x - x.mean()) ** 2) / (2 * x.var()))\n",
        "import torch\ndef f(x):\n    z = (x - x.mean()) / x.std()\n    return torch.exp(-0.5 * z ** 2)\n",
        # the result is tested for overflow and the temperature lowered
        "import torch\ndef f(y, eta):\n    z = (y - y.mean()) / y.std()\n    w = torch.exp(eta * z)\n"
        "    while torch.isinf(w).any():\n        eta = eta / 2\n        w = torch.exp(eta * z)\n    return w\n",
        # divided by the max, not a spread; shifted by another tensor's mean; clamped first
        "import torch\ndef f(y, eta):\n    return torch.exp(eta * (y / y.max() - 1))\n",
        "import torch\ndef f(y, ref):\n    return torch.exp(y - ref.mean())\n",
        "import torch\ndef f(y):\n    z = ((y - y.mean()) / y.std()).clamp(max=10)\n    return torch.exp(z)\n",
    ],
)
def test_rescaled_data_look_alikes(source):
    assert nan109(source) == []


# --- cosh, sinh and tanh written with exp --------------------------------------------------------------------

HAND_HYPERBOLIC = (
    "exp(x) and exp(-x) of the same x (a cosh, sinh or tanh written with exp): one of them overflows to inf for "
    "|x| > ~88 (float32), and inf - inf or inf / inf is NaN; use cosh/sinh/tanh, or a log-space form "
    "(log(cosh(x)) = x + softplus(-2x) - log(2))"
)


@pytest.mark.parametrize(
    "source,line,column",
    [
        (
            "from keras import backend as K\ndef logcosh(y_true, y_pred):\n    def cosh(x):\n"
            "        return (K.exp(x) + K.exp(-x)) / 2\n    return K.mean(K.log(cosh(y_pred - y_true)), axis=-1)\n",
            4,
            17,
        ),
        ("import numpy as np\ndef sinh(x):\n    return (np.exp(x) - np.exp(-x)) / 2\n", 3, 13),
        ("import torch\ndef f(h):\n    a = torch.exp(h)\n    b = torch.exp(-h)\n    return (a - b) / (a + b)\n", 5, 13),
    ],
)
def test_hyperbolic_functions_written_with_exp(source, line, column):
    assert nan109(source) == [(line, column, HAND_HYPERBOLIC)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x):\n    x = torch.clamp(x, -10, 10)\n    return torch.exp(x) - torch.exp(-x)\n",
        "import torch\ndef f(x, y):\n    return torch.exp(x) + torch.exp(-y)\n",
        "import torch\ndef f(x):\n    return torch.exp(x) + torch.exp(x)\n",
        "import math\ndef f(x):\n    return (math.exp(x) + math.exp(-x)) / 2\n",
        "import torch\ndef f(x):\n    return torch.cosh(x)\n",
    ],
)
def test_hyperbolic_look_alikes(source):
    assert nan109(source) == []


def test_data_rescaled_by_its_own_statistics_overflows_without_gradients_too():
    """The log-scale findings wait for training; the data's own range does not."""
    source = """import torch

@torch.no_grad()
def weights(scores, eta):
    return torch.exp(eta * (scores - scores.mean()) / scores.std())
"""
    assert [line for line, _, _ in nan109(source)] == [5]


STATE_INDEPENDENT_STD = """\
import torch
from torch import nn


class Policy(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.mean = nn.Linear(8, n)
        self.log_std = nn.Parameter(torch.zeros(1, n))
        self.head = nn.Linear(8, n)

    def forward(self, x):
        mean = self.mean(x)
        return mean, torch.exp(self.log_std.expand_as(mean))
"""


def test_a_log_scale_parameter_is_moved_by_steps_not_by_inputs():
    assert nan109(STATE_INDEPENDENT_STD) == []


def test_a_log_scale_computed_from_the_input_is_reported():
    source = STATE_INDEPENDENT_STD.replace("torch.exp(self.log_std.expand_as(mean))", "torch.exp(self.head(x))")
    source = source.replace(
        "return mean, torch.exp(self.head(x))", "log_std = self.head(x)\n        return mean, torch.exp(log_std)"
    )
    assert [line for line, _, _ in nan109(source)] == [15]


def test_a_log_std_bounded_in_forward_and_unpacked_from_self_call_is_quiet():
    """`mean, log_std = self(x)` runs forward; its returned tuple is read element by element."""
    source = """\
import torch
import torch.nn as nn


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc_mean = nn.Linear(8, 2)
        self.fc_logstd = nn.Linear(8, 2)

    def forward(self, x):
        log_std = -5 + 3.5 * (torch.tanh(self.fc_logstd(x)) + 1)
        return self.fc_mean(x), log_std

    def sample(self, x):
        mean, log_std = self(x)
        return mean + log_std.exp() * torch.randn_like(mean)
"""
    assert nan109(source) == []
    unbounded = source.replace("-5 + 3.5 * (torch.tanh(self.fc_logstd(x)) + 1)", "self.fc_logstd(x)")
    assert [line for line, _, _ in nan109(unbounded)] == [17]
