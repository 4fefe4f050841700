"""NAN103 naive-logsumexp and NAN113 log1p-expm1: positives in every framework, and the safe look-alikes."""

from __future__ import annotations

import pytest

from nanlint.source.rules.logsumexp import (
    EXP_MINUS_ONE,
    LOG_ONE_PLUS,
    NAIVE_LOGADDEXP,
    NAIVE_LOGSUMEXP,
    NAIVE_SOFTPLUS,
)
from tests.helpers import codes, lint

FAMILY = ("NAN101", "NAN102", "NAN103", "NAN113")


def messages(source: str, select=FAMILY) -> list[tuple[str, str]]:
    return [(code, message) for code, _, _, message in lint(source, select)]


# --- NAN103 --------------------------------------------------------------------------------------------------


def test_naive_logsumexp_message_and_position():
    source = """
    import numpy as np

    def lse(x):
        return np.log(np.sum(np.exp(x), axis=-1))
    """
    assert lint(source, FAMILY) == [("NAN103", 5, 12, NAIVE_LOGSUMEXP)]


@pytest.mark.parametrize(
    "imports,expression,message",
    [
        ("import numpy as np", "np.log(np.exp(x).sum())", NAIVE_LOGSUMEXP),
        ("import numpy as np", "np.log(np.sum(np.exp(x), axis=1, keepdims=True) + 1e-12)", NAIVE_LOGSUMEXP),
        ("import numpy as np", "np.log(np.mean(np.exp(x), axis=0))", NAIVE_LOGSUMEXP),
        ("import numpy as np", "np.log(np.sum(np.exp(x) * mask, axis=1))", NAIVE_LOGSUMEXP),
        ("import torch", "torch.log(torch.sum(torch.exp(x), dim=-1))", NAIVE_LOGSUMEXP),
        ("import torch", "x.exp().sum(-1).log()", NAIVE_LOGSUMEXP),
        ("import torch", "torch.log(x.exp().sum(dim=1, keepdim=True))", NAIVE_LOGSUMEXP),
        ("import torch", "torch.log2(x.exp().sum())", NAIVE_LOGSUMEXP),
        ("import tensorflow as tf", "tf.math.log(tf.reduce_sum(tf.exp(x), axis=-1))", NAIVE_LOGSUMEXP),
        ("import tensorflow.compat.v1 as tf", "tf.log(tf.reduce_sum(tf.exp(x), 1))", NAIVE_LOGSUMEXP),
        ("from keras import backend as K", "K.log(K.sum(K.exp(x), axis=-1))", NAIVE_LOGSUMEXP),
        ("import jax.numpy as jnp", "jnp.log(jnp.sum(jnp.exp(x), axis=-1))", NAIVE_LOGSUMEXP),
        ("import math", "math.log(sum(math.exp(v) for v in xs))", NAIVE_LOGSUMEXP),
        ("import numpy as np", "np.log(1 + np.exp(x))", NAIVE_SOFTPLUS),
        ("import numpy as np", "np.log(np.exp(-x) + 1.0)", NAIVE_SOFTPLUS),
        ("import numpy as np", "np.log1p(np.exp(x))", NAIVE_SOFTPLUS),
        ("import torch", "torch.log(1 + torch.exp(x))", NAIVE_SOFTPLUS),
        ("import torch", "(1 + x.exp()).log()", NAIVE_SOFTPLUS),
        ("import torch", "torch.log1p(torch.exp(-y * x))", NAIVE_SOFTPLUS),
        ("import torch", "x.neg().exp().log1p()", NAIVE_SOFTPLUS),  # -x is no cap: neg() of a value of any sign
        ("import tensorflow as tf", "tf.math.log(1. + tf.exp(x))", NAIVE_SOFTPLUS),
        ("from keras import backend as K", "K.log(1 + K.exp(x))", NAIVE_SOFTPLUS),
        ("import jax.numpy as jnp", "jnp.log(1 + jnp.exp(x))", NAIVE_SOFTPLUS),
        ("import math", "math.log(1 + math.exp(x))", NAIVE_SOFTPLUS),
        ("import numpy as np", "np.log(np.exp(a) + np.exp(b))", NAIVE_LOGADDEXP),
        ("import torch", "torch.log(a.exp() + b.exp())", NAIVE_LOGADDEXP),
        ("import torch", "torch.log(torch.exp(a) + torch.exp(b) + torch.exp(x))", NAIVE_LOGSUMEXP),
        ("import torch", "torch.log(torch.exp(x) + 1e-6)", NAIVE_LOGSUMEXP),
    ],
)
def test_naive_logsumexp_spellings(imports, expression, message):
    source = f"{imports}\n\ndef f(x, a=0, b=0, y=1, xs=(), mask=1):\n    return {expression}\n"
    assert messages(source) == [("NAN103", message)]


def test_through_names_and_attributes():
    source = """
    import torch

    class Energy:
        def free_energy(self, x):
            self.partition = torch.exp(x).sum(-1)
            return -torch.log(self.partition)

        def softplus(self, x):
            e = torch.exp(x)
            s = 1 + e
            return torch.log(s)
    """
    assert lint(source, FAMILY) == [("NAN103", 7, 17, NAIVE_LOGSUMEXP), ("NAN103", 12, 16, NAIVE_SOFTPLUS)]


@pytest.mark.parametrize(
    "imports,expression",
    [
        ("import numpy as np", "m + np.log(np.sum(np.exp(x - m), axis=-1))"),
        ("import numpy as np", "np.log(np.sum(np.exp(x - np.max(x, axis=-1, keepdims=True)), axis=-1))"),
        ("import torch", "torch.log(torch.exp(x - x.amax(-1, keepdim=True)).sum(-1))"),
        ("import torch", "torch.log(torch.exp(torch.clamp(x, max=30)).sum(-1))"),
        ("import torch", "torch.relu(x) + torch.log(1 + torch.exp(-torch.abs(x)))"),
        ("import torch", "torch.log1p(torch.exp(-x.abs()))"),
        ("import torch", "x.clamp(min=0) + x.abs().neg().exp().log1p()"),  # -|x| spelled with neg()
        ("import numpy as np", "np.maximum(x, 0) + np.log1p(np.exp(np.negative(np.abs(x))))"),
        ("import torch", "torch.log(torch.exp(-torch.relu(a)) + torch.exp(-torch.relu(b)))"),
        ("import torch", "torch.logsumexp(x, dim=-1)"),
        ("import torch", "torch.nn.functional.softplus(x)"),
        ("import torch", "torch.logaddexp(a, b)"),
        ("import torch", "torch.log(torch.exp(x))"),  # log of an exp is no sum (x itself)
        ("import torch", "torch.log(torch.sum(x))"),
        ("import torch", "torch.log(torch.exp(a) - torch.exp(b))"),
        ("import torch", "torch.log(torch.exp(a) + b)"),
        ("import numpy as np", "np.log(1 + np.exp(2.0))"),
        ("import tensorflow as tf", "tf.reduce_logsumexp(x, axis=-1) + tf.math.softplus(x)"),
        ("from scipy.special import logsumexp", "logsumexp(x, axis=0)"),
        ("import jax", "jax.nn.logsumexp(x) + jax.nn.softplus(x)"),
    ],
)
def test_stable_forms_are_quiet(imports, expression):
    source = f"{imports}\n\ndef f(x, a=0, b=0, m=0):\n    return {expression}\n"
    assert codes(source, ("NAN103",)) == []


def test_one_finding_for_the_hazard():
    """log(1 + exp(x)) is not also NAN113, log(sum(exp(logvar) * mask)) not also NAN104 or NAN109."""
    source = """
    import torch

    def f(x, logvar, mask):
        return torch.log(1 + torch.exp(x)), torch.log((torch.exp(logvar) * mask).sum(-1))
    """
    assert codes(source, "ALL") == ["NAN103", "NAN103"]


# --- NAN113 --------------------------------------------------------------------------------------------------


def test_log1p_expm1_messages_and_positions():
    source = """
    import numpy as np

    def f(x):
        return np.log(1 + x), np.exp(x) - 1
    """
    assert lint(source, FAMILY) == [("NAN113", 5, 12, LOG_ONE_PLUS), ("NAN113", 5, 27, EXP_MINUS_ONE)]


@pytest.mark.parametrize(
    "imports,expression,message",
    [
        ("import numpy as np", "np.log(x + 1)", LOG_ONE_PLUS),
        ("import numpy as np", "np.log(1. + x)", LOG_ONE_PLUS),
        ("import numpy as np", "np.log((1.0 + x))", LOG_ONE_PLUS),
        ("import numpy as np", "np.exp(x) - 1.0", EXP_MINUS_ONE),
        ("import numpy as np", "-1 + np.exp(x)", EXP_MINUS_ONE),
        ("import math", "math.log(1 + x)", LOG_ONE_PLUS),
        ("import math", "math.exp(x) - 1", EXP_MINUS_ONE),
        ("import torch", "torch.log(1 + x)", LOG_ONE_PLUS),
        ("import torch", "(x + 1).log()", LOG_ONE_PLUS),
        ("import torch", "x.exp() - 1", EXP_MINUS_ONE),
        ("import torch", "torch.special.exp(x) - 1", EXP_MINUS_ONE),
        ("import tensorflow as tf", "tf.math.log(1 + x)", LOG_ONE_PLUS),
        ("import tensorflow.compat.v1 as tf", "tf.exp(x) - 1", EXP_MINUS_ONE),
        ("from keras import backend as K", "K.log(1 + x)", LOG_ONE_PLUS),
        ("import jax.numpy as jnp", "jnp.log(1 + x)", LOG_ONE_PLUS),
        ("import jax", "jax.lax.exp(x) - 1", EXP_MINUS_ONE),
        ("import torch", "torch.log(1 + torch.exp(-torch.abs(x)))", LOG_ONE_PLUS),  # capped: the stable softplus tail
    ],
)
def test_log1p_expm1_spellings(imports, expression, message):
    source = f"{imports}\n\ndef f(x):\n    return {expression}\n"
    assert messages(source) == [("NAN113", message)]


@pytest.mark.parametrize(
    "expression",
    [
        "np.log(x + 1e-8)",  # an eps, not 1 + x
        "np.log(2 + x)",
        "np.log(1 - x)",
        "np.log(1 + x + y)",
        "np.log2(1 + x)",
        "np.log10(x + 1)",
        "math.log(1 + x, 2)",
        "np.log(1 + 2)",  # constants
        "np.log(1 + EPS)",
        "np.exp(2) - 1",
        "np.exp(x) - 2",
        "1 - np.exp(x)",
        "np.exp(x) + 1",
        "np.log1p(x)",
        "np.expm1(x)",
        "np.log(1 + np.exp(x))",  # NAN103's (one finding for one hazard, under any selection)
        "e - 1",  # an exp through a name is left alone
    ],
)
def test_log1p_expm1_look_alikes(expression):
    source = (
        f"import math\nimport numpy as np\n\nEPS = 1e-6\n\n\ndef f(x, y):\n    e = np.exp(x)\n    return {expression}\n"
    )
    assert codes(source, ("NAN113",)) == []


def test_an_online_logsumexp_with_a_running_max_is_stable():
    """Chunks shifted by maximum(previous max, this chunk's max), the old sum rescaled: no exp can overflow."""
    stable = """
    import torch

    def lse(chunks):
        m, s = torch.full((4,), float("-inf")), torch.zeros(4)
        for c in chunks:
            m_new = torch.maximum(m, c.amax(dim=-1))
            s = s * torch.exp(m - m_new) + torch.exp(c - m_new.unsqueeze(-1)).sum(dim=-1)
            m = m_new
        return m + torch.log(s)
    """
    assert codes(stable, ("NAN103",)) == []
    naive = stable.replace("c - m_new.unsqueeze(-1)", "c")
    assert messages(naive, ("NAN103",)) == [("NAN103", NAIVE_LOGSUMEXP)]


@pytest.mark.parametrize(
    "expression",
    [
        "torch.log(1 + torch.exp(rejected - chosen))",  # a pairwise logistic loss: nobody subtracts a max here
        "torch.log1p(torch.exp(rejected - chosen))",
        "torch.log(1 + torch.exp(rejected - helper(chosen)))",
    ],
)
def test_a_softplus_of_a_difference_is_naive(expression):
    source = f"import torch\n\ndef loss(chosen, rejected):\n    return {expression}.mean()\n"
    assert codes(source) == ["NAN103"]


@pytest.mark.parametrize(
    "expression",
    [
        "torch.log(1 + torch.exp(-torch.abs(rejected - chosen)))",  # the stable softplus' own tail
        "torch.log(1 + torch.exp((rejected - chosen).clamp(max=20)))",
        "torch.log(torch.exp(x - m).sum(-1)) + m",  # a logsumexp still trusts a subtracted value it cannot see
        "torch.log1p(torch.exp(chosen - maxval)) + maxval",  # a softplus of a difference with a max, by its name
    ],
)
def test_capped_softplus_and_trusted_logsumexp_are_quiet(expression):
    source = f"import torch\n\ndef loss(chosen, rejected, x, m):\n    return {expression}.mean()\n"
    assert [c for c in codes(source) if c == "NAN103"] == []
