"""NAN104 unguarded-log: log of a probability through a name, of 1 - p, of a masked product or sum, of a count."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from tests.helpers import lint
from tests.source.rules.fixing import fixed, install_scipy_special_stub, run

PROBABILITY = (
    "log of a probability that can be 0: -inf there, and NaN gradients; clamp it first "
    "(log(p.clamp(min=eps))) or compute log-probabilities directly (log_softmax, log_sigmoid)"
)
ONE_MINUS = (
    "log of 1 - p, which is 0 when the probability p reaches 1: -inf there, and NaN gradients; clamp it "
    "away from 0 or use a log-space form (log1p(-p), log_sigmoid(-x))"
)
DEFAULT_ADVICE = "add an eps or clamp it first (log(x + eps))"
MASKED = (
    "log of a product with a mask or one-hot, which is 0 where it is masked out: -inf there, and NaN "
    f"gradients; {DEFAULT_ADVICE}"
)
MASKED_SUM = (
    f"log of a masked sum, which is 0 when everything is masked out: -inf there, and NaN gradients; {DEFAULT_ADVICE}"
)
COUNT = "log of a count of a possibly empty selection: -inf there, and NaN gradients; clamp the count to at least 1"
NONZERO = "log of a count of nonzeros, which can be 0: -inf there, and NaN gradients; clamp the count to at least 1"
RELU = f"log of a relu output, which is 0 for negative inputs: -inf there, and NaN gradients; {DEFAULT_ADVICE}"


def nan104(source: str, **options):
    settings = {"rule_options": {"NAN104": options}} if options else {}
    return [(line, column, message) for _, line, column, message in lint(source, "NAN104", **settings)]


# --- probabilities through names, in every framework ------------------------------------------------------


@pytest.mark.parametrize(
    "source,line,column",
    [
        ("import torch\nimport torch.nn.functional as F\np = F.softmax(z, dim=-1)\ny = torch.log(p)\n", 4, 5),
        ("import torch\np = torch.softmax(z, -1)\ny = p.log()\n", 3, 5),
        ("import torch\np = z.softmax(-1)\ny = torch.log2(p)\n", 3, 5),
        ("import torch\np = torch.special.expit(z)\ny = torch.log(p)\n", 3, 5),
        ("import numpy as np\nfrom scipy.special import softmax\np = softmax(z)\ny = np.log(p)\n", 4, 5),
        ("import tensorflow as tf\np = tf.nn.softmax(z)\ny = tf.math.log(p)\n", 3, 5),
        ("import tensorflow.compat.v1 as tf\np = tf.nn.sigmoid(z)\ny = tf.log(p)\n", 3, 5),
        ("from tensorflow.keras import backend as K\np = K.softmax(z)\ny = K.log(p)\n", 3, 5),
        ("import jax\nimport jax.numpy as jnp\np = jax.nn.softmax(z)\ny = jnp.log(p)\n", 4, 5),
        ("import flax.linen as nn\nimport jax.numpy as jnp\np = nn.sigmoid(z)\ny = jnp.log10(p)\n", 4, 5),
        ("import keras\np = keras.ops.softmax(z)\ny = keras.ops.log(p)\n", 3, 5),
    ],
)
def test_probability_through_a_name(source, line, column):
    assert nan104(source) == [(line, column, PROBABILITY)]


def test_probability_through_self_attributes_and_module_instances():
    source = """\
        import torch
        import torch.nn as nn

        class Policy(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = nn.Softmax(dim=-1)

            def forward(self, h):
                self.probs = self.act(h)
                return self.probs.log()
        """
    assert nan104(source) == [(11, 16, PROBABILITY)]


def test_names_of_probabilities_in_differentiable_code():
    source = """\
        import torch
        import numpy as np

        def nll(action_probs, probs, q):
            a = torch.log(action_probs)
            b = probs.log()
            c = np.log(probs)
            d = torch.log(q)
            return a, b, c, d
        """
    assert nan104(source) == [(5, 9, PROBABILITY), (6, 9, PROBABILITY)]
    assert nan104(source, **{"probability-names": []}) == []
    assert nan104(source, **{"probability-names": ["q"]}) == [(8, 9, PROBABILITY)]


def test_one_minus_probability():
    source = """\
        import torch
        import numpy as np
        from scipy.special import expit

        def bce(logits, y, probs):
            p = torch.sigmoid(logits)
            a = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
            q = expit(logits)
            b = np.log(1.0 - q)
            c = torch.log(1 - probs)
            r = 1 - torch.sigmoid(logits)
            d = torch.log(r)
            return a, b, c, d
        """
    assert nan104(source) == [
        (7, 15, PROBABILITY),
        (7, 40, ONE_MINUS),
        (9, 9, ONE_MINUS),
        (10, 9, ONE_MINUS),
        (12, 9, ONE_MINUS),
    ]


# --- masks, selections, counts, relu --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,message",
    [
        ("import torch\ny = torch.log(p * mask)\n", MASKED),
        ("import torch\nimport torch.nn.functional as F\ny = torch.log(p * F.one_hot(t, 10))\n", MASKED),
        ("import torch\ny = torch.log((p * target_onehot).sum(-1))\n", MASKED_SUM),
        ("import torch\ny = torch.log((p * (labels == k)).sum(-1))\n", MASKED_SUM),
        ("import torch\ny = torch.log(p.mul(attention_mask).sum(-1))\n", MASKED_SUM),
        ("import numpy as np\ny = np.log(x[x > 0.5].sum())\n", MASKED_SUM),
        ("import tensorflow as tf\ny = tf.math.log(tf.reduce_sum(p * tf.one_hot(t, 10), axis=-1))\n", MASKED_SUM),
        ("import torch\ny = torch.log(mask.sum())\n", COUNT),
        ("import torch\ny = torch.log(valid_mask.float().sum(-1))\n", COUNT),
        ("import numpy as np\ny = np.log(np.count_nonzero(x))\n", NONZERO),
        ("import torch\nimport torch.nn.functional as F\ny = torch.log(F.relu(x))\n", RELU),
        ("import jax\nimport jax.numpy as jnp\nh = jax.nn.relu(x)\ny = jnp.log(h)\n", RELU),
    ],
)
def test_masks_selections_counts_and_relu(source, message):
    found = nan104(source)
    assert [m for _, _, m in found] == [message]
    assert found[0][0] == source.count("\n")  # reported on the log's own line


def test_a_guard_overwritten_by_a_mask_no_longer_guards():
    source = "import torch\np = torch.softmax(z, -1).clamp(min=1e-8)\np = p * mask\ny = torch.log(p)\n"
    assert nan104(source) == [(4, 5, MASKED)]


# --- the safe look-alikes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "guarded",
    [
        "torch.log(p + 1e-8)",
        "torch.log(1e-8 + p)",
        "torch.log(p + eps)",
        "torch.log(p + self.eps)",
        "torch.log(p + torch.finfo(p.dtype).eps)",
        "torch.log(p.clamp(min=1e-8))",
        "torch.log(p.clamp_min(1e-12))",
        "torch.log(torch.clamp(p, min=eps))",
        "torch.log(torch.clamp(p, 1e-6, 1.0))",
        "torch.log(p.clip(1e-7))",
        "torch.log(torch.maximum(p, torch.tensor(1e-8)))",
        "torch.log(torch.where(p > 0, p, 1))",
        "torch.log(torch.where(p > 0, p, torch.ones_like(p)))",
        "torch.log(torch.nan_to_num(p))",
        "torch.nan_to_num(torch.log(p))",
        "torch.where(p > 0, torch.log(p), 0.0)",
        "p.masked_fill(p == 0, 1).log()",
        "torch.log(1 - p + 1e-8)",
        "torch.log((1 - p).clamp(min=1e-6))",
        "torch.log(F.softmax(z, -1))",
        "torch.log(1 - torch.sigmoid(z))",
        "torch.log(F.log_softmax(z, -1).exp() + 1e-9)",
        "torch.log(x)",
        "torch.log(z.exp())",
    ],
)
def test_guarded_logs_are_quiet(guarded):
    source = f"import torch\nimport torch.nn.functional as F\np = F.softmax(z, -1)\ny = {guarded}\n"
    assert nan104(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\np = np.clip(softmax(z), 1e-12, 1.0)\ny = np.log(p)\n",
        "import tensorflow as tf\np = tf.clip_by_value(tf.nn.softmax(z), 1e-7, 1.0)\ny = tf.math.log(p)\n",
        "from keras import backend as K\np = K.clip(K.softmax(z), K.epsilon(), 1 - K.epsilon())\ny = K.log(p)\n",
        "import jax\nimport jax.numpy as jnp\np = jnp.maximum(jax.nn.softmax(z), 1e-8)\ny = jnp.log(p)\n",
        "import jax\nimport jax.lax as lax\nimport jax.numpy as jnp\np = lax.clamp(1e-8, jax.nn.softmax(z), 1.0)\ny = jnp.log(p)\n",
        "import torch\np = torch.softmax(z, -1)\np = p.clamp(min=1e-8)\ny = torch.log(p)\n",
        "import torch\np = torch.softmax(z, -1)\np += 1e-8\ny = torch.log(p)\n",
        "import torch\nEPS = 1e-6\np = torch.sigmoid(z)\ny = torch.log(1 - p + EPS)\n",
        "import torch\ndef f(p):\n    p = p.clamp(min=1e-8)\n    return torch.log(p)\n",
        "import torch\ndef f(probs):\n    if (probs > 0).all():\n        return torch.log(probs)\n",
        "import math\ndef f(values):\n    n = len([v for v in values if v > 0])\n    return math.log(n) if n else 0.0\n",
        "import math\nprior_prob = 0.01\nbias = -math.log((1 - prior_prob) / prior_prob)\n",
        "import numpy as np\ny = np.log(1.0 - alphas_cumprod)\n",
        "import torch\ny = torch.log(mask.sum() + 1)\n",
        "import torch\ny = torch.log(mask.sum().clamp(min=1))\n",
        "import math\ny = math.log(len([1, 2, 3]))\n",
        "import math\ny = math.log(len([v for v in values if v > 0]))\n",  # math.log(0) raises, it does not return -inf
        "import math\ny = math.log(len(values))\n",
        "import torch\nlog_probs = torch.log_softmax(z, -1)\ny = torch.log(-log_probs)\n",
        "import torch\ndef f(self):\n    probs = clamp_probs(self.probs)\n    return probs.log()\n",
        "import torch\ndef f(self):\n    cut_probs = self._cut_probs()\n    return torch.log(cut_probs)\n",
        "import torch\ndef f(model, x):\n    probs = model(x)\n    return torch.log(probs)\n",
    ],
)
def test_safe_look_alikes_in_every_framework(source):
    assert nan104(source) == []


# --- the fix -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,expected",
    [
        (
            "import torch\np = torch.softmax(z, -1)\ny = torch.log(p)\n",
            "import torch\np = torch.softmax(z, -1)\ny = torch.log(p + 1e-8)\n",
        ),
        (
            "import torch\np = torch.softmax(z, -1)\ny = p.log()\n",
            "import torch\np = torch.softmax(z, -1)\ny = (p + 1e-8).log()\n",
        ),
        (
            "import torch\np = torch.sigmoid(z)\ny = (1 - p).log()\n",
            "import torch\np = torch.sigmoid(z)\ny = (1 - p + 1e-8).log()\n",
        ),
        ("import torch\ny = torch.log((mask.sum()))\n", "import torch\ny = torch.log((mask.sum() + 1e-8))\n"),
    ],
)
def test_fix_inserts_an_eps(source, expected):
    text, remaining = fixed(source, "NAN104")
    assert text == expected
    assert "NAN104" not in remaining


def test_fix_is_unsafe_and_configurable():
    source = "import torch\np = torch.softmax(z, -1)\ny = torch.log(p)\n"
    assert fixed(source, "NAN104", unsafe=False)[0] == source
    from nanlint.config import Settings
    from nanlint.source.engine import fix_source

    settings = Settings(select=("NAN104",), rule_options={"NAN104": {"fix-eps": 1e-6}})
    assert fix_source(source, "a.py", settings, unsafe=True).text.endswith("torch.log(p + 1e-6)\n")


def test_fixed_numpy_code_computes_the_same_values(monkeypatch):
    install_scipy_special_stub(monkeypatch)
    source = """\
        import numpy as np
        from scipy.special import expit, softmax

        def losses(z, mask, values):
            p = softmax(z, axis=-1)
            q = expit(z)
            entropy = -(p * np.log(p)).sum(-1)
            bce = np.log(1 - q).sum(-1)
            masked = np.log((p * mask).sum(-1))
            count = np.log(mask.sum(-1))
            kept = np.log(len([v for v in values if v > 0]))
            return entropy, bce, masked, count, kept
        """
    text, remaining = fixed(source, "NAN104")
    assert text.count("+ 1e-8") == 5 and remaining == []
    rng = np.random.default_rng(0)
    z, mask = rng.normal(size=(4, 6)), (rng.random((4, 6)) > 0.3).astype(float)
    mask[:, 0] = 1.0
    values = [1.0, -2.0, 3.0]
    before = run(textwrap.dedent(source), "losses", z, mask, values)
    after = run(text, "losses", z, mask, values)
    for old, new in zip(before, after):
        np.testing.assert_allclose(new, old, rtol=1e-5, atol=1e-6)


# --- logits that can be -inf, probabilities stored under another name, what sample() draws ------------------------

INFINITE_LOGITS = (
    "logits that can be -inf (an infinite constant): the log-probabilities computed from them are -inf there, so "
    "entropy, KL and soft-target cross-entropy compute 0 * -inf = NaN (and a row that is -inf everywhere is NaN "
    "outright); mask with the dtype's lowest finite value (finfo(dtype).min) instead"
)


@pytest.mark.parametrize(
    "source,line,column",
    [
        (
            """\
            import torch
            def policy(scores, legal):
                masked = scores.masked_fill(~legal, float("-inf"))
                return torch.distributions.Categorical(logits=masked)
            """,
            4,
            51,
        ),
        (
            """\
            import numpy as np
            import tensorflow as tf
            import tensorflow_probability as tfp
            def head(q, valid):
                blocked = tf.constant(-np.inf, dtype=q.dtype)
                q = tf.where(valid, q, blocked)
                return tfp.distributions.Categorical(logits=q)
            """,
            7,
            49,
        ),
        (
            """\
            import distrax
            import jax.numpy as jnp
            def pi(z, allowed):
                bias = jnp.where(allowed, 0.0, -jnp.inf)
                return distrax.Categorical(logits=z + bias)
            """,
            5,
            39,
        ),
        (
            """\
            import torch
            import torch.nn.functional as F
            def policy(scores, legal):
                log_p = F.log_softmax(scores.masked_fill(~legal, -torch.inf), dim=-1)
                return make_distribution(logits=log_p)
            """,
            5,
            37,
        ),
    ],
)
def test_logits_that_can_be_minus_inf(source, line, column):
    assert nan104(textwrap.dedent(source)) == [(line, column, INFINITE_LOGITS)]


@pytest.mark.parametrize(
    "source",
    [
        # a causal mask: -inf into a softmax over rows that keep their diagonal
        """\
        import torch
        import torch.nn.functional as F
        def attend(att, causal, v):
            att = att.masked_fill(causal == 0, float("-inf"))
            return F.softmax(att, dim=-1) @ v
        """,
        # the dtype's lowest finite value, or a large negative constant
        """\
        import torch
        def policy(scores, legal):
            masked = scores.masked_fill(~legal, torch.finfo(scores.dtype).min)
            return torch.distributions.Categorical(logits=masked)
        """,
        """\
        import tensorflow as tf
        import tensorflow_probability as tfp
        def head(q, valid):
            q = tf.where(valid, q, q.dtype.min)
            return tfp.distributions.Categorical(logits=q)
        """,
        """\
        import torch
        def policy(scores, legal):
            return torch.distributions.Categorical(logits=scores.masked_fill(~legal, -1e9))
        """,
        # probabilities from the masked logits, not the logits themselves
        """\
        import torch
        def policy(scores, legal):
            masked = scores.masked_fill(~legal, float("-inf"))
            return torch.distributions.Categorical(probs=torch.softmax(masked, -1))
        """,
    ],
)
def test_finite_masks_and_softmax_over_minus_inf_are_quiet(source):
    assert nan104(textwrap.dedent(source)) == []


ALIAS_SUM = (
    "log of a sum of probabilities, which is 0 where every one of them underflows: -inf there, and NaN "
    f"gradients; {DEFAULT_ADVICE}"
)


def test_a_value_kept_as_a_probability_is_one():
    source = """\
    import torch
    import torch.nn as nn
    class CountingLoss(nn.Module):
        def forward(self, scores, targets):
            frames = scores.shape[1]
            scores = scores.reshape(scores.shape[0], frames, -1)
            self.softmax = scores
            frequency = scores.sum(1) / frames
            return -(torch.log(frequency) * targets).sum()
    """
    assert nan104(source) == [(9, 18, ALIAS_SUM)]
    direct = """\
    import torch
    def loss(out, targets, cache):
        cache.probs = out
        return -(targets * torch.log(out.mean(0))).sum()
    """
    assert nan104(direct) == [(4, 24, ALIAS_SUM)]


@pytest.mark.parametrize(
    "source",
    [
        # guarded before it is kept, or in the log
        """\
        import torch
        def loss(out, targets, cache):
            out = out + 1e-10
            cache.probs = out
            return -(targets * torch.log(out.mean(0))).sum()
        """,
        """\
        import torch
        def loss(out, targets, cache):
            cache.probs = out
            return -(targets * torch.log(out.mean(0).clamp_min(1e-12))).sum()
        """,
        # a model's output: what it was assigned decides, as for `probs = model(x)`
        """\
        import torch
        def loss(model, x, targets, cache):
            out = model(x)
            cache.probs = out
            return -(targets * torch.log(out.mean(0))).sum()
        """,
        # kept under a name that is no probability's
        """\
        import torch
        def loss(out, targets, cache):
            cache.logits = out
            return -(targets * torch.log(out.mean(0))).sum()
        """,
        # NumPy bookkeeping, not differentiable code
        """\
        import numpy as np
        def report(out, cache):
            cache.probs = out
            return np.log(out.mean(0))
        """,
        # log_softmax: log-space from the start
        """\
        import torch
        def loss(out, targets, cache):
            cache.probs = out
            return -(targets * torch.log_softmax(out, -1)).sum()
        """,
    ],
)
def test_kept_probabilities_guarded_or_not_probabilities_are_quiet(source):
    assert nan104(textwrap.dedent(source)) == []


SAMPLED = (
    "log of a value sample() draws (a normalised distribution, whose entries can be 0): -inf there, and NaN "
    "gradients; clamp the samples to the dtype's tiny where they are drawn (clip(x, finfo(dtype).tiny, None))"
)


def test_log_prob_of_what_sample_draws():
    source = """\
    import jax.numpy as jnp
    from jax import random
    class Simplex:
        def sample(self, key, shape=()):
            weights = random.exponential(key, shape + self.event_shape)
            return weights / jnp.sum(weights, axis=-1, keepdims=True)
        def log_prob(self, value):
            return jnp.sum((self.alpha - 1) * jnp.log(value), axis=-1)
    """
    assert nan104(source) == [(8, 43, SAMPLED)]
    assert fixed(textwrap.dedent(source), "NAN104")[0] == textwrap.dedent(source)  # the clamp belongs in sample()


@pytest.mark.parametrize(
    "sample",
    [
        "jnp.clip(weights / jnp.sum(weights, -1, keepdims=True), jnp.finfo(weights.dtype).tiny, 1.0)",
        "random.exponential(key, shape)",  # nothing says it reaches 0
        "jnp.exp(self.loc + self.scale * random.normal(key, shape))",  # exp underflow: only for degenerate draws
    ],
)
def test_log_prob_of_samples_that_stay_positive_is_quiet(sample):
    source = f"""\
    import jax.numpy as jnp
    from jax import random
    class Positive:
        def sample(self, key, shape=()):
            weights = random.exponential(key, shape)
            return {sample}
        def log_prob(self, value):
            return jnp.sum(jnp.log(value), axis=-1)
    """
    assert nan104(source) == []


INFINITE_PRODUCT = (
    "log-probabilities that can be -inf (an infinite constant in the logits) in a product: where the other factor "
    "is 0 (a probability, a target weight) 0 * -inf = NaN; mask with the dtype's lowest finite value "
    "(finfo(dtype).min) instead"
)


def test_minus_inf_log_probabilities_times_probabilities():
    source = """\
    import torch
    import torch.nn.functional as F
    def masked_entropy(scores, legal):
        scores = scores.masked_fill(~legal, float("-inf"))
        p, log_p = F.softmax(scores, -1), F.log_softmax(scores, -1)
        return -(p * log_p).sum(-1)
    def smoothed_loss(scores, legal, targets):
        scores[~legal] = -float("inf")
        return -(targets * scores.log_softmax(-1)).sum(-1).mean()
    """
    assert nan104(source) == [(6, 14, INFINITE_PRODUCT), (9, 14, INFINITE_PRODUCT)]


@pytest.mark.parametrize(
    "body",
    [
        "scores = scores.masked_fill(~legal, torch.finfo(scores.dtype).min)\n"
        "    return -(targets * F.log_softmax(scores, -1)).sum(-1)",
        # one log-probability per row, picked at the target: no product with a zero
        'scores = scores.masked_fill(~legal, float("-inf"))\n'
        "    return -F.log_softmax(scores, -1).gather(-1, targets).mean()",
        "return -(targets * F.log_softmax(scores, -1)).sum(-1)",
    ],
)
def test_finite_log_probabilities_in_products_are_quiet(body):
    source = f"import torch\nimport torch.nn.functional as F\ndef loss(scores, legal, targets):\n    {body}\n"
    assert nan104(source) == []


@pytest.mark.parametrize(
    "body",
    [
        "return torch.distributions.Categorical(logits=kept).sample()",
        "dist = torch.distributions.Categorical(logits=kept)\n    token = dist.sample()\n    return token",
    ],
)
def test_minus_inf_logits_only_sampled_from_are_quiet(body):
    """Top-k filtering: every row keeps k entries, and drawing from it never forms 0 * -inf."""
    source = (
        "import torch\ndef draw(logits, k):\n    floor = torch.topk(logits, k).values[..., -1:]\n"
        f'    kept = logits.masked_fill(logits < floor, float("-inf"))\n    {body}\n'
    )
    assert nan104(source) == []


def test_minus_inf_logits_whose_distribution_is_scored_are_not():
    source = """\
    import torch
    def step(logits, legal):
        dist = torch.distributions.Categorical(logits=logits.masked_fill(~legal, float("-inf")))
        action = dist.sample()
        return action, dist.entropy()
    """
    assert nan104(source) == [(3, 51, INFINITE_LOGITS)]


def test_log_prob_of_samples_normalised_in_place():
    source = """\
    import torch
    class Mixture:
        def rsample(self, shape=torch.Size()):
            w = torch.distributions.Gamma(self.alpha, 1.0).rsample(shape)
            w /= w.sum(-1, keepdim=True)
            return w
        def log_prob(self, value):
            return (value.log() * (self.alpha - 1)).sum(-1)
    """
    message = SAMPLED.replace("sample()", "rsample()")
    assert nan104(source) == [(8, 17, message)]


def test_a_test_of_the_value_a_tensor_was_made_from_checks_the_tensor():
    """`alpha == 0` handled first, then `torch.tensor(alpha)`: the same value in a tensor, its 0 already excluded."""
    checked = """import torch


def mix(student, teacher, alpha: float):
    if alpha == 0.0:
        return student
    alpha_t = torch.tensor(alpha, dtype=student.dtype)
    return torch.logaddexp(student + torch.log(1 - alpha_t), teacher + torch.log(alpha_t))
"""
    assert nan104(checked) == []
    unchecked = checked.replace("    if alpha == 0.0:\n        return student\n", "")
    complemented = PROBABILITY.replace("can be 0", "can be 0 (its complement 1 - p is taken too)", 1)
    assert nan104(unchecked) == [(6, 72, complemented)]


def test_the_log_of_an_indicator_is_an_additive_mask_by_design():
    """log((x == v).float()) is 0 or -inf on purpose (a point mass's log-density, an additive attention mask) and a
    comparison has no gradient; a probability multiplied by the indicator is still a hazard."""
    source = """import torch


def log_prob(x, v, p):
    hit = (x == v).type(x.dtype)
    return hit.log(), torch.log((x > 0).float()), torch.log(p * hit)
"""
    assert nan104(source) == [(6, 51, MASKED)]


# --- sums of squares and saturated tanh ------------------------------------------------------------------

SQUARE_SUM = f"log of a sum of squares, which is 0 for a zero vector: -inf there, and NaN gradients; {DEFAULT_ADVICE}"
TANH_ADVICE = "use its log-space form, log(1 - tanh(x)²) = 2 * (log(2) - x - softplus(-2x))"


@pytest.mark.parametrize(
    "source,line,column",
    [
        # a power spectrum: silence (a zero frame) is ordinary input
        (
            "import torch\ndef spectrum(frames, power=1):\n    p = frames.pow(2).sum(-1).pow(power)\n"
            "    return torch.log(p)\n",
            4,
            12,
        ),
        ("import numpy as np\ndef energy(x):\n    return np.log(np.sum(x ** 2, axis=-1))\n", 3, 12),
    ],
)
def test_log_of_a_sum_of_squares(source, line, column):
    assert nan104(source) == [(line, column, SQUARE_SUM)]


@pytest.mark.parametrize(
    "source,line,column,message",
    [
        (
            "import tensorflow as tf\ndef log_det_jacobian(x):\n    return tf.math.log1p(-tf.square(tf.tanh(x)))\n",
            3,
            12,
            "log1p of a value that reaches -1 (a tanh, which saturates to ±1 for |x| > ~9): -inf there, and NaN "
            f"gradients; {TANH_ADVICE}",
        ),
        (
            "import torch\ndef log_det_jacobian(u):\n    return torch.log(1 - torch.tanh(u) ** 2).sum(-1)\n",
            3,
            12,
            "log of 1 - x, which is 0 where x reaches 1: -inf there, and NaN gradients; clamp it away from 0 or use "
            "a log-space form (log1p(-p), log_sigmoid(-x))",
        ),
    ],
)
def test_log_of_one_minus_a_saturated_tanh(source, line, column, message):
    assert nan104(source) == [(line, column, message)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x):\n    return torch.log((x ** 2).sum(-1) + 1e-10)\n",
        "import torch\ndef f(x):\n    return torch.log((x ** 2).sum(-1).clamp(min=1e-10))\n",
        "import torch\ndef f(x):\n    return torch.log(x.var(-1))\n",  # 0 only for constant input
        # a PSNR: the mse is 0 only for a perfect match, where +inf is the intended answer
        "import numpy as np\ndef psnr(a, b):\n    mse = np.mean((a - b) ** 2)\n    return -10 * np.log10(mse)\n",
        "import torch\ndef f(u):\n    return torch.log(1 - torch.tanh(u) ** 2 + 1e-6)\n",
        "import torch\ndef f(u):\n    return torch.log1p(-torch.tanh(u.clamp(-5, 5)) ** 2)\n",
        "import torch\ndef f(u):\n    return torch.log(2 - torch.tanh(u) ** 2)\n",
    ],
)
def test_sum_of_squares_and_tanh_look_alikes(source):
    assert nan104(source) == []


# --- (a - 1) * log(x): 0 * -inf at a support's edge ------------------------------------------------------------


def weighted(log: str, xlogy: str) -> str:
    return (
        f"(a - 1) * {log}(x): at a = 1 and x on the edge of its support the product is 0 * -inf = NaN, where its "
        f"true value is 0 (a density's x^(a-1) term); use {xlogy}(a - 1, x), which is 0 there"
    )


@pytest.mark.parametrize(
    "source,expected",
    [
        (
            "import torch\ndef beta_log_density(x, a, b):\n    return (a - 1) * torch.log(x) + (b - 1) * torch.log1p(-x)\n",
            [(3, 22, weighted("log", "xlogy")), (3, 47, weighted("log1p", "xlog1py"))],
        ),
        (
            "import tensorflow as tf\nclass Bijector:\n    def fldj(self, x):\n"
            "        return (self.k - 1) * tf.math.log(x) - self.k * x\n",
            [(4, 31, weighted("log", "xlogy"))],
        ),
        (
            "import numpy as np\ndef f(y, k):\n    power = 1 / k - 1\n    return np.log(-np.log1p(-y)) * power\n",
            [(4, 12, weighted("log", "xlogy"))],
        ),
    ],
)
def test_a_coefficient_that_vanishes_times_a_log(source, expected):
    assert nan104(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x, a):\n    return torch.xlogy(a - 1, x)\n",
        "import torch\ndef f(x, a):\n    return (a - 1) * torch.log(x.clamp(min=1e-6))\n",
        "import torch\ndef f(x, a):\n    return (a - 2) * torch.log(x)\n",  # 0 only at a = 2, not a default
        "import torch\ndef f(x):\n    return (2.0 - 1) * torch.log(x)\n",
        "import torch\ndef f(x, a):\n    return (a - 1) * torch.log(torch.exp(x) + 1)\n",
        "import torch\ndef f(x, a):\n    return (a - 1) * torch.log1p(x.abs())\n",
        # log_prob scores what sample() draws, and the draws are clipped at the dtype's tiny
        "import numpy as np\nclass Dirichlet:\n    def sample(self, draws):\n        s = draws / draws.sum(-1)\n"
        "        return np.clip(s, np.finfo(s.dtype).tiny, 1.0)\n\n    def log_prob(self, value):\n"
        "        return (np.log(value) * (self.concentration - 1.0)).sum(-1)\n",
    ],
)
def test_vanishing_coefficient_look_alikes(source):
    assert nan104(source) == []


OVERFLOWED = f"log of 1 / (1 + e), which is 0 once e overflows: -inf there, and NaN gradients; {DEFAULT_ADVICE}"


def test_log_of_a_sigmoid_written_out_but_not_of_a_polynomial_scaling():
    """1 / (1 + exp(-x)) is 0 once exp(-x) overflows (x < -88 in float32); 1 / sqrt(sigma**2 + 1) never is."""
    source = textwrap.dedent(
        """\
        import torch

        def f(x, sigma):
            p = 1 / (1 + torch.exp(-x))
            c = 1 / torch.sqrt(sigma**2 + 1)
            return torch.log(p), torch.log(c), torch.log(1 / (1 + x**2))
        """
    )
    assert nan104(source) == [(6, 12, OVERFLOWED)]


# --- p * log(p): usage evidence only where the coefficient is p itself or names p a probability --------------------

ENTROPY = (
    "log of a probability that can be 0 in p * log(p): 0 * -inf = NaN there; use xlogy(p, p) (0 where p is 0) or "
    "clamp p first"
)


@pytest.mark.parametrize(
    "expression, column",
    [
        ("-(p * torch.log(p)).sum(-1)", 18),
        ("(ratio * torch.log(ratio / q)).sum()", 21),
        ("p[0] * torch.log(p[0])", 19),
        ("-1 * (1 - p) ** gamma * torch.log(p)", 36),  # a focal loss: the complement makes p a probability
        ("torch.log(p) * torch.pow(1 - p, gamma) * weights", 12),
    ],
)
def test_log_weighted_by_its_own_argument_or_its_complement(expression, column):
    source = f"import torch\n\ndef f(p, ratio, q, gamma, weights):\n    return {expression}\n"
    assert nan104(source) == [(4, column, ENTROPY)]


@pytest.mark.parametrize(
    "expression",
    [
        "(x - 0.5) * x.log()",  # Stirling's series: at x = 0 the coefficient is -0.5, and x is large there anyway
        "-torch.sign(p - 0.5) * torch.log(1.0 - 2.0 * torch.abs(p - 0.5))",  # an inverse CDF: no p * log(p)
        "(x + 1) * torch.log(x)",
        "torch.exp(x) * torch.log(x)",
    ],
)
def test_a_log_weighted_by_a_transformed_value_is_no_entropy(expression):
    assert nan104(f"import torch\n\ndef f(x, p):\n    return {expression}\n") == []


def test_a_named_probability_in_gradient_free_code_is_quiet():
    """A sampler draws tokens from log-probabilities: log(0) = -inf is a token never drawn, and no gradient is
    taken there (nor in no_grad code); the same log in a layer is reported."""
    source = """\
        import keras
        import torch
        from keras import ops

        class TopPSampler(Sampler):
            def get_next_token(self, probabilities):
                return keras.random.categorical(ops.log(probabilities), 1)

        @torch.no_grad()
        def draw(probs):
            return torch.multinomial(probs, 1), torch.log(probs)

        class Head(keras.layers.Layer):
            def call(self, probabilities):
                return ops.log(probabilities)
        """
    assert nan104(source) == [(15, 16, PROBABILITY)]


def test_a_piecewise_value_selected_by_complementary_indicators_is_no_masked_product():
    """A spline's branch-free select: one of the two terms survives everywhere (as in where()); a lone masked
    product still reaches 0."""
    source = """\
        import torch

        def log_derivative(a, b, x, t, w):
            piecewise = a * (x <= t).float() + b * (x > t).float()
            masked = a * (x <= t).float()
            return torch.log(piecewise * w), torch.log(masked * w)
        """
    assert nan104(source) == [(6, 38, MASKED)]


UNIFORM = (
    "log of a uniform sample, which is exactly 0 now and then: -inf there, and NaN gradients; add an eps or clamp it "
    "first (log(x + eps))"
)


def test_logs_that_only_pick_an_index_are_quiet():
    """The Gumbel-max trick: at u = 0 the noise is +inf and the logit -inf, an ordering argmax takes as it is (and
    an index carries no gradient); the same noise added to logits that are returned is reported."""
    source = """\
        import jax
        import jax.numpy as jnp
        import torch

        def act(key, logits):
            u = jax.random.uniform(key, shape=logits.shape)
            return jnp.argmax(logits - jnp.log(-jnp.log(u)), axis=1)

        def act_torch(logits):
            u = torch.rand_like(logits)
            return (logits - torch.log(-torch.log(u))).argmax(-1)

        def perturbed(logits):
            u = torch.rand_like(logits)
            return logits - torch.log(-torch.log(u))
        """
    assert nan104(source) == [(15, 32, UNIFORM)]


# --- a log weighted by a target: a cross-entropy, whose argument is a predicted probability ------------------------

CROSS_ENTROPY = (
    "log of a probability that can be 0 (a cross-entropy's prediction, weighted by a target): -inf there, and NaN "
    "gradients; clamp it first (log(p.clamp(min=eps))) or compute log-probabilities directly (log_softmax, "
    "log_sigmoid)"
)


@pytest.mark.parametrize(
    "expression, column",
    [
        ("-K.sum(y_true * K.log(y_pred), axis=-1)", 28),
        ("-(target * torch.log(pred)).sum(-1).mean()", 23),
        ("-torch.sum(torch.log(pred) * one_hot_labels, -1)", 23),
        ("-(soft_targets[:, 1:] * pred.log()).sum()", 36),
    ],
)
def test_log_weighted_by_a_target_is_a_cross_entropy(expression, column):
    source = f"import torch\nfrom keras import backend as K\n\ndef loss(y_true, y_pred, target, pred, probs, one_hot_labels, soft_targets):\n    return {expression}\n"
    assert nan104(source) == [(5, column, CROSS_ENTROPY)]


@pytest.mark.parametrize(
    "expression",
    [
        "-K.sum(y_true * K.log(K.clip(y_pred, 1e-7, 1.0)), axis=-1)",
        "-(target * torch.log(pred + 1e-7)).sum(-1)",
        "-(target * torch.log_softmax(logits, -1)).sum(-1)",
        "-(weights * torch.log(pred)).sum(-1)",  # a weight is no target: nothing says pred is a probability
        "labels * math.log(2.0)",
        "-(target * torch.log(torch.exp(logits))).sum()",  # exp of logits is positive: the log is bounded
    ],
)
def test_cross_entropy_look_alikes(expression):
    source = f"import math\nimport torch\nfrom keras import backend as K\n\ndef loss(y_true, y_pred, target, pred, logits, weights, labels):\n    return {expression}\n"
    assert nan104(source) == []


def test_a_target_weighted_log_without_gradients_is_quiet():
    """Evaluation code: -inf in a logged metric is a value, not a NaN gradient."""
    source = (
        "import torch\n\n@torch.no_grad()\ndef evaluate(target, pred):\n    return -(target * torch.log(pred)).sum()\n"
    )
    assert nan104(source) == []


def test_an_eps_added_upstream_guards_the_cross_entropy():
    """The prediction got its eps before it was summed and scaled: the log is guarded; without it, reported."""
    guarded = """\
        import torch

        def loss(scores, target, n):
            scores = scores + 1e-10
            frequency = torch.sum(scores, 1) / n
            return -torch.sum(torch.log(frequency) * target)
        """
    assert nan104(guarded) == []
    bare = """\
        import torch

        def loss(frequency, target):
            return -torch.sum(torch.log(frequency) * target)
        """
    assert nan104(bare) == [(4, 23, CROSS_ENTROPY)]


def test_the_log_fix_eps_survives_float16():
    source = "import torch\n\ndef loss(p):\n    return torch.log(torch.relu(p))\n\ndef run(x):\n    with torch.autocast('cuda', dtype=torch.float16):\n        return loss(x)\n"
    text, remaining = fixed(source, "NAN104")
    assert "torch.log(torch.relu(p) + 0.0001)" in text and remaining == []
