"""NAN101 naive-softmax and NAN102 log-of-probability: positives in every framework, and the safe look-alikes."""

from __future__ import annotations

import pytest

from nanlint.source.rules.logprob import LOG_ONE_MINUS_SIGMOID, LOG_SIGMOID, LOG_SOFTMAX
from nanlint.source.rules.softmax import NAIVE_SOFTMAX
from tests.helpers import codes, lint

FAMILY = ("NAN101", "NAN102", "NAN103", "NAN113")


def found(source: str, select=FAMILY) -> list[tuple[str, int, int]]:
    return [(code, line, column) for code, line, column, _ in lint(source, select)]


# --- NAN101 --------------------------------------------------------------------------------------------------


def test_naive_softmax_message_and_position():
    source = """
    import numpy as np

    def softmax(x):
        return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)
    """
    assert lint(source, FAMILY) == [("NAN101", 5, 12, NAIVE_SOFTMAX)]


@pytest.mark.parametrize(
    "imports,expression",
    [
        ("import numpy as np", "np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)"),
        ("import numpy as np", "np.exp(x) / np.sum(np.exp(x))"),
        ("import numpy", "numpy.exp(x) / numpy.sum(numpy.exp(x), axis=0)"),
        ("import torch", "torch.exp(x) / torch.sum(torch.exp(x), dim=1, keepdim=True)"),
        ("import torch", "x.exp() / x.exp().sum(-1, keepdim=True)"),
        ("import torch", "torch.exp(x) / torch.exp(x).sum(1).unsqueeze(1)"),
        ("import torch", "torch.div(torch.exp(x), torch.exp(x).sum(dim=-1, keepdim=True))"),
        ("import torch", "torch.exp(x).div(torch.exp(x).sum())"),
        ("import tensorflow as tf", "tf.exp(x) / tf.reduce_sum(tf.exp(x), axis=-1, keepdims=True)"),
        ("import tensorflow as tf", "tf.math.exp(x) / tf.math.reduce_sum(tf.math.exp(x), 1, keepdims=True)"),
        ("import tensorflow.compat.v1 as tf", "tf.exp(x) / tf.reduce_sum(tf.exp(x), axis=1, keep_dims=True)"),
        ("import tensorflow as tf", "tf.math.divide_no_nan(tf.exp(x), tf.reduce_sum(tf.exp(x)))"),
        ("from keras import backend as K", "K.exp(x) / K.sum(K.exp(x), axis=-1, keepdims=True)"),
        ("from tensorflow.keras import backend as K", "K.exp(x) / K.sum(K.exp(x), axis=1)"),
        ("import jax.numpy as jnp", "jnp.exp(x) / jnp.sum(jnp.exp(x), axis=-1, keepdims=True)"),
        ("from jax import numpy as jnp", "jnp.exp(x) / jnp.exp(x).sum(-1)[..., None]"),
        ("import numpy as np", "np.exp(x) / sum(np.exp(v) for v in xs)"),
        ("import numpy as np", "np.exp(a) / (np.exp(a) + np.exp(b))"),
        ("import numpy as np", "np.exp(x) / (np.exp(x).sum(1, keepdims=True) + 1e-8)"),
        ("import torch", "torch.exp(x) / torch.clamp(torch.exp(x).sum(-1, keepdim=True), min=1e-8)"),
        ("import torch", "torch.exp(x) * mask / (torch.exp(x) * mask).sum(-1, keepdim=True)"),
        ("import torch", "torch.exp(x) / torch.exp(x).float().sum(-1, keepdim=True)"),
    ],
)
def test_naive_softmax_spellings(imports, expression):
    source = f"{imports}\n\ndef f(x, a=None, b=None, xs=(), mask=None):\n    return {expression}\n"
    assert codes(source, FAMILY) == ["NAN101"]


def test_across_statements_through_names():
    source = """
    import numpy as np

    def softmax(y):
        e = np.exp(y)
        s = e.sum()
        return e / s
    """
    assert found(source) == [("NAN101", 7, 12)]


def test_python_lists():
    source = """
    import numpy as np

    def softmax(scores):
        exps = [np.exp(s) for s in scores]
        total = sum(exps)
        return [e / total for e in exps]
    """
    assert found(source) == [("NAN101", 7, 13)]
    stable = source.replace("np.exp(s)", "np.exp(s - max(scores))")
    assert found(stable) == []


@pytest.mark.parametrize(
    "expression",
    [
        "math.exp(x) / sum(math.exp(v) for v in xs)",  # math.exp raises OverflowError: no inf, no NaN
        "math.exp(x) / math.fsum([math.exp(v) for v in xs])",
        "[math.exp(s) / sum(math.exp(t) for t in xs) for s in xs]",
    ],
)
def test_python_floats_raise_rather_than_overflow(expression):
    assert codes(f"import math\n\ndef f(x, xs):\n    return {expression}\n", "ALL") == []


def test_a_sigmoid_written_with_exp_is_not_a_softmax():
    source = "import numpy as np\n\ndef f(x):\n    return np.exp(x) / (1 + np.exp(x))\n"
    assert codes(source, "ALL") == ["NAN109"]


def test_through_self_attributes():
    source = """
    import torch

    class Attention(torch.nn.Module):
        def forward(self, scores):
            self.weights = torch.exp(scores)
            self.total = self.weights.sum(dim=-1, keepdim=True)
            return self.weights / self.total
    """
    assert found(source) == [("NAN101", 8, 16)]


def test_keras_attention_layer_with_mask_and_augmented_assignments():
    source = """
    from keras import backend as K

    def call(x, mask=None):
        eij = K.tanh(K.dot(x, W))
        a = K.exp(eij)
        a *= K.cast(mask, K.floatx())
        a /= K.cast(K.sum(a, axis=1, keepdims=True) + K.epsilon(), K.floatx())
        return a
    """
    assert found(source) == []  # tanh bounds the exponent: exp(tanh(.)) cannot overflow
    unbounded = source.replace("K.tanh(K.dot(x, W))", "K.dot(x, W)")
    assert found(unbounded) == [("NAN101", 8, 5)]


def test_masked_where_and_index():
    source = """
    import torch

    def f(x, mask, index):
        e = torch.where(mask, torch.exp(x), torch.zeros_like(x))
        return e / e.sum(-1, keepdim=True), e[index] / e.sum()
    """
    assert found(source) == [("NAN101", 6, 12), ("NAN101", 6, 41)]


@pytest.mark.parametrize(
    "imports,lines",
    [
        (
            "from torch_scatter import scatter_add",
            ["e = x.exp()", "den = scatter_add(e, index, dim=0)", "return e / den[index]"],
        ),
        (
            "from torch_scatter import scatter",
            ["e = x.exp()", "return e / scatter(e, index, dim=0, reduce='sum')[index]"],
        ),
        ("import torch", ["e = torch.exp(x)", "den = torch.zeros(n).index_add_(0, index, e)", "return e / den[index]"]),
        (
            "import torch",
            ["e = torch.exp(x)", "den = torch.zeros(n)", "den.index_add_(0, index, e)", "return e / den[index]"],
        ),
        (
            "import torch",
            [
                "e = torch.exp(x)",
                "den = torch.zeros(n).scatter_add_(0, index, e)",
                "return e / den.index_select(0, index)",
            ],
        ),
        (
            "import tensorflow as tf",
            ["e = tf.exp(x)", "den = tf.math.unsorted_segment_sum(e, seg, n)", "return e / tf.gather(den, seg)"],
        ),
        ("import jax", ["e = jax.numpy.exp(x)", "return e / jax.ops.segment_sum(e, seg, n)[seg]"]),
    ],
)
def test_segment_sum_denominators(imports, lines):
    body = "\n".join(f"    {line}" for line in lines)
    source = f"{imports}\n\ndef f(x, index=None, seg=None, n=1):\n{body}\n"
    assert codes(source, FAMILY) == ["NAN101"]


@pytest.mark.parametrize(
    "imports,lines",
    [
        (
            "import numpy as np",
            [
                "return np.exp(x - np.max(x, axis=-1, keepdims=True)) / "
                "np.sum(np.exp(x - np.max(x, axis=-1, keepdims=True)), axis=-1, keepdims=True)"
            ],
        ),
        (
            "import numpy as np",
            ["e = np.exp(x - x.max(axis=1, keepdims=True))", "return e / e.sum(axis=1, keepdims=True)"],
        ),
        (
            "import numpy as np",
            ["x_max = np.amax(x, axis=1, keepdims=True)", "e = np.exp(x - x_max)", "return e / e.sum()"],
        ),
        ("import numpy as np", ["x = x - x.max()", "e = np.exp(x)", "return e / e.sum()"]),
        ("import numpy as np", ["x -= np.max(x)", "return np.exp(x) / np.sum(np.exp(x))"]),
        ("import torch", ["z = x - x.max(-1, keepdim=True).values", "return z.exp() / z.exp().sum(-1, keepdim=True)"]),
        (
            "import torch",
            ["z = x - torch.max(x, dim=1, keepdim=True)[0]", "e = torch.exp(z)", "return e / e.sum(1, keepdim=True)"],
        ),
        ("import torch", ["e = (x - x.amax(-1, keepdim=True).detach()).exp()", "return e / e.sum(-1, keepdim=True)"]),
        (
            "import torch",
            ["e = torch.exp(x - torch.logsumexp(x, -1, keepdim=True))", "return e / e.sum(-1, keepdim=True)"],
        ),
        ("import torch", ["e = torch.exp(torch.log_softmax(x, -1))", "return e / e.sum(-1, keepdim=True)"]),
        ("import torch", ["e = torch.exp(torch.clamp(x, max=50))", "return e / e.sum(-1, keepdim=True)"]),
        ("import torch", ["e = torch.exp(x.clamp(-30, 30))", "return e / e.sum(-1, keepdim=True)"]),
        ("import torch", ["e = torch.exp(torch.tanh(x) * 10)", "return e / e.sum(-1, keepdim=True)"]),
        ("import torch", ["e = torch.exp(torch.sigmoid(x))", "return e / e.sum()"]),
        ("import torch", ["e = torch.exp(2 * (x - x.amax()) / t)", "return e / e.sum()"]),
        ("import torch", ["e = torch.exp((x.amin() - x) * 0.5)", "return e / e.sum()"]),
        ("import torch", ["e = torch.exp(-(x - x.amin()))", "return e / e.sum()"]),
        ("import torch", ["e = torch.exp(-torch.cdist(a, b) ** 2 / tau)", "return e / e.sum(-1, keepdim=True)"]),
        ("import torch", ["e = torch.exp(-(x - mu).pow(2) / (2 * s ** 2))", "return e / e.sum()"]),
        ("import torch", ["e = torch.exp(-x.abs())", "return e / e.sum()"]),
        ("import torch", ["pdf = torch.exp(-0.5 * (x / s).pow(2))", "return pdf / pdf.sum()"]),
        ("import torch", ["e = torch.exp(torch.minimum(x, c))", "return e / e.sum()"]),
        (
            "import torch.nn.functional as F",
            [
                "a = F.normalize(a, dim=1)",
                "b = F.normalize(b, dim=1)",
                "sim = a @ b.T / 0.07",
                "return sim.exp() / sim.exp().sum(1, keepdim=True)",
            ],
        ),
        (
            "import torch.nn.functional as F",
            [
                "sim = F.cosine_similarity(a[:, None], b[None], dim=-1) / t",
                "return torch.exp(sim) / torch.exp(sim).sum(1, keepdim=True)",
            ],
        ),
        (
            "import tensorflow as tf",
            [
                "e = tf.exp(x - tf.reduce_max(x, axis=-1, keepdims=True))",
                "return e / tf.reduce_sum(e, axis=-1, keepdims=True)",
            ],
        ),
        (
            "import tensorflow as tf",
            ["e = tf.exp(x - tf.stop_gradient(tf.reduce_max(x)))", "return e / tf.reduce_sum(e)"],
        ),
        (
            "import jax",
            [
                "m = jax.lax.stop_gradient(x.max(axis=-1, keepdims=True))",
                "e = jax.numpy.exp(x - m)",
                "return e / e.sum(axis=-1, keepdims=True)",
            ],
        ),
        (
            "import jax",
            [
                "e = jax.numpy.exp(x - jax.nn.logsumexp(x, axis=-1, keepdims=True))",
                "return e / e.sum(axis=-1, keepdims=True)",
            ],
        ),
        (
            "from keras import backend as K",
            ["e = K.exp(x - K.max(x, axis=-1, keepdims=True))", "return e / K.sum(e, axis=-1, keepdims=True)"],
        ),
        ("import math", ["m = max(xs)", "return math.exp(x - m) / sum(math.exp(v - m) for v in xs)"]),
        (
            "from torch_scatter import scatter_max, scatter_add",
            [
                "e = (x - scatter_max(x, index, dim=0)[0][index]).exp()",
                "return e / scatter_add(e, index, dim=0)[index]",
            ],
        ),
        (
            "from torch_scatter import scatter",
            [
                "e = (x - scatter(x, index, dim=0, reduce='max')[index]).exp()",
                "return e / scatter(e, index, dim=0, reduce='sum')[index]",
            ],
        ),
        (
            "import tensorflow as tf",
            [
                "m = tf.math.unsorted_segment_max(x, seg, n)",
                "e = tf.exp(x - tf.gather(m, seg))",
                "return e / tf.gather(tf.math.unsorted_segment_sum(e, seg, n), seg)",
            ],
        ),
        ("import numpy as np", ["return np.exp(x - shift) / np.exp(x - shift).sum()"]),  # a shift we cannot see
    ],
)
def test_stable_softmax_is_quiet(imports, lines):
    body = "\n".join(f"    {line}" for line in lines)
    source = (
        f"{imports}\nimport torch\n\ndef f(x, a=None, b=None, c=0, mu=0, s=1, t=1, tau=1, xs=(), index=None, "
        f"seg=None, n=1, shift=0):\n{body}\n"
    )
    assert codes(source, FAMILY) == []


@pytest.mark.parametrize(
    "lines",
    [
        ["return np.exp(x - x.mean()) / np.exp(x - x.mean()).sum()"],  # the mean is no max
        ["return np.exp(x - 1) / np.exp(x - 1).sum()"],
        ["e = np.exp(np.clip(x, -50, None))", "return e / e.sum()"],  # a lower bound does not stop overflow
        ["return np.exp(x * 2) / np.exp(x * 2).sum()"],  # a constant factor is no cap
        ["return np.exp(1 - x) / np.exp(1 - x).sum()"],
        ["return np.exp(1 / x) / np.exp(1 / x).sum()"],
        ["e = np.exp(-2 * (x - x.max()))", "return e / e.sum()"],  # a negative scale flips the shift
        ["e = np.exp(-(x - x.max()))", "return e / e.sum()"],
    ],
)
def test_exponents_that_can_overflow(lines):
    body = "\n".join(f"    {line}" for line in lines)
    source = f"import numpy as np\n\ndef f(x):\n{body}\n"
    assert codes(source, FAMILY) == ["NAN101"]


def test_max_subtracted_after_the_exp_is_too_late():
    # dataflow snapshots x inside `e = np.exp(x)`: the later `x = x - x.max()` does not stabilise it
    source = "import numpy as np\n\ndef f(x):\n    e = np.exp(x)\n    x = x - x.max()\n    return e / e.sum()\n"
    assert codes(source, FAMILY) == ["NAN101"]


@pytest.mark.parametrize(
    "expression",
    [
        "np.exp(x) / np.exp(y)",  # a ratio of exps, not a normalisation
        "np.exp(x) / np.sum(y)",
        "x / np.sum(np.exp(y))",  # the numerator is no exp
        "np.exp(x) / np.exp(x).mean()",
        "np.exp(x) / n",
        "softmax(x, axis=-1)",
        "np.exp(x) / (np.exp(x) + y)",  # y is not known to be an exp or a constant
    ],
)
def test_not_a_softmax(expression):
    source = f"import numpy as np\nfrom scipy.special import softmax\n\ndef f(x, y, n):\n    return {expression}\n"
    assert codes(source, FAMILY) == []


def test_framework_softmax_calls_are_clean_under_all_rules():
    source = """
    import numpy as np
    import torch
    import torch.nn.functional as F
    import tensorflow as tf
    import jax
    from scipy.special import softmax

    def f(x):
        a = softmax(x, axis=-1)
        b = torch.softmax(torch.as_tensor(x), dim=-1) + F.softmax(torch.as_tensor(x), -1)
        c = tf.nn.softmax(x, axis=-1)
        d = jax.nn.softmax(x, axis=-1)
        e = np.exp(x - np.max(x, axis=-1, keepdims=True))
        return a, b, c, d, e / e.sum(axis=-1, keepdims=True)
    """
    assert codes(source) == []


def test_one_finding_for_the_hazard():
    """The division is not also NAN105, the exp of a log-scale name is not also NAN109."""
    source = """
    import torch

    def f(logvar):
        weights = torch.exp(logvar)
        return weights / weights.sum(-1, keepdim=True)
    """
    assert found(source, "ALL") == [("NAN101", 6, 12)]


def test_names_assigned_from_themselves_terminate():
    source = """
    import numpy as np

    def f(x, y, s):
        x = x[0]
        e = np.exp(-(x - x.min()))
        y = y + y
        s = s + np.exp(y)
        return e / e.sum(), np.exp(-y) / np.exp(-y).sum(), np.log(s)
    """
    assert found(source) == [("NAN101", 9, 25)]


def test_method_of_self_is_not_a_tensor_op():
    source = """
    import numpy as np

    class Model:
        def exp(self, x):
            return x

        def f(self, x):
            return self.exp(x) / np.sum(self.exp(x))
    """
    assert codes(source, FAMILY) == []


# --- NAN102 --------------------------------------------------------------------------------------------------


def test_log_of_softmax_message_and_position():
    source = """
    import torch
    import torch.nn.functional as F

    def loss(logits, target):
        return -torch.log(F.softmax(logits, dim=-1))[range(len(target)), target].mean()
    """
    assert lint(source, FAMILY) == [("NAN102", 6, 13, LOG_SOFTMAX)]


@pytest.mark.parametrize(
    "imports,expression,message",
    [
        ("import torch", "torch.log(torch.softmax(x, -1))", LOG_SOFTMAX),
        ("import torch", "torch.softmax(x, -1).log()", LOG_SOFTMAX),
        ("import torch", "x.softmax(dim=1).log()", LOG_SOFTMAX),
        ("import torch", "torch.log(x.softmax(-1))", LOG_SOFTMAX),
        ("import torch", "torch.log(torch.special.softmax(x, 1))", LOG_SOFTMAX),
        ("import torch", "torch.log(torch.softmax(x, -1)[:, 0])", LOG_SOFTMAX),
        ("import torch", "torch.log(torch.sigmoid(x))", LOG_SIGMOID),
        ("import torch", "x.sigmoid().log()", LOG_SIGMOID),
        ("import torch", "torch.log(1 - torch.sigmoid(x))", LOG_ONE_MINUS_SIGMOID),
        ("import torch", "(1. - x.sigmoid()).log()", LOG_ONE_MINUS_SIGMOID),
        ("import torch", "torch.log2(torch.softmax(x, -1))", LOG_SOFTMAX),
        ("import numpy as np\nfrom scipy.special import softmax, expit", "np.log(softmax(x, axis=1))", LOG_SOFTMAX),
        ("import numpy as np\nimport scipy.special", "np.log(scipy.special.expit(x))", LOG_SIGMOID),
        ("import tensorflow as tf", "tf.math.log(tf.nn.softmax(x, axis=-1))", LOG_SOFTMAX),
        ("import tensorflow as tf", "tf.math.log(tf.sigmoid(x))", LOG_SIGMOID),
        ("import tensorflow.compat.v1 as tf", "tf.log(1 - tf.nn.sigmoid(x))", LOG_ONE_MINUS_SIGMOID),
        ("from keras import backend as K", "K.log(K.softmax(x))", LOG_SOFTMAX),
        ("import keras", "keras.ops.log(keras.ops.sigmoid(x))", LOG_SIGMOID),
        ("import jax\nimport jax.numpy as jnp", "jnp.log(jax.nn.softmax(x))", LOG_SOFTMAX),
        ("import jax.numpy as jnp\nimport flax.linen as nn", "jnp.log(nn.sigmoid(x))", LOG_SIGMOID),
    ],
)
def test_log_of_probability_spellings(imports, expression, message):
    source = f"{imports}\n\ndef f(x):\n    return {expression}\n"
    assert [(code, text) for code, _, _, text in lint(source, FAMILY)] == [("NAN102", message)]


def test_module_instances():
    source = """
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.softmax = nn.Softmax(dim=-1)
            self.act = nn.Sigmoid()

        def forward(self, x):
            return torch.log(self.softmax(x)), torch.log(1 - self.act(x))
    """
    assert lint(source, FAMILY) == [("NAN102", 12, 16, LOG_SOFTMAX), ("NAN102", 12, 44, LOG_ONE_MINUS_SIGMOID)]


def test_probability_through_a_name_is_nan104_not_nan102():
    source = """
    import torch

    def f(x):
        p = torch.softmax(x, -1)
        return torch.log(p)
    """
    assert codes(source, ("NAN102", "NAN104")) == ["NAN104"]


def test_inline_log_of_softmax_is_not_also_nan104():
    source = """
    import torch

    def f(x):
        return torch.log(1 - torch.sigmoid(x)), torch.log(torch.softmax(x, -1))
    """
    assert codes(source, "ALL") == ["NAN102", "NAN102"]


@pytest.mark.parametrize(
    "expression",
    [
        "F.log_softmax(x, -1)",
        "torch.log_softmax(x, dim=1)",
        "F.logsigmoid(x)",
        "torch.log(torch.softmax(x, -1) + 1e-8)",  # guarded: no -inf (an eps floor, not NaN)
        "torch.log(torch.softmax(x, -1).clamp(min=1e-8))",
        "torch.log(torch.softmax(x, -1).clamp_min(1e-8))",
        "torch.log(1 + torch.sigmoid(x))",
        "torch.log(2 - torch.sigmoid(x))",
        "torch.log(1 - x)",
        "torch.exp(torch.softmax(x, -1))",
        "torch.log(self.softmax(x))",  # a method of the class, unknown
    ],
)
def test_log_of_probability_look_alikes(expression):
    source = f"import torch\nimport torch.nn.functional as F\n\ndef f(self, x):\n    return {expression}\n"
    assert codes(source, ("NAN102",)) == []


def test_triggers_keep_nan102_off_files_without_softmax_or_sigmoid():
    assert codes("import torch\n\ndef f(p):\n    return torch.log(p)\n", ("NAN102",)) == []


@pytest.mark.parametrize("framework", ["import pytest", "import unittest", "from numpy.testing import assert_allclose"])
def test_quiet_in_test_modules(framework):
    """A test's reference formula runs on the fixed values of its cases: overflow is not the data's to bring."""
    body = "y = torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)\n"
    assert found(f"import torch\n{body}") != []
    assert found(f"{framework}\nimport torch\n{body}") == []
