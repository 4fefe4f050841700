"""NAN105 unguarded-division: by a norm, std/var, count of a possibly empty selection, masked or segment sum."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from tests.helpers import lint
from tests.source.rules.fixing import fixed, run

DEFAULT = "add an eps (x / (d + eps)) or clamp it (d.clamp(min=eps))"
NORM = (
    "division by a norm, which is 0 for a zero vector: inf or NaN there; clamp the norm (norm.clamp(min=eps)) "
    "or use a normalize function, which has its own eps"
)
STD = f"division by a standard deviation, which is 0 for constant input: inf or NaN there; {DEFAULT}"
VAR = f"division by a variance, which is 0 for constant input: inf or NaN there; {DEFAULT}"
COUNT = (
    "division by a count of a possibly empty selection: inf or NaN there; divide by the count clamped to at "
    "least 1 (max(n, 1))"
)
NONZERO = (
    "division by a count of nonzeros, which can be 0: inf or NaN there; divide by the count clamped to at "
    "least 1 (max(n, 1))"
)
MASKED_SUM = f"division by a masked sum, which is 0 when everything is masked out: inf or NaN there; {DEFAULT}"
SEGMENT = f"division by a segment sum, which is 0 for an empty segment: inf or NaN there; {DEFAULT}"
SUM = f"division by a sum that can be 0: inf or NaN there; {DEFAULT}"
INSIDE = "add the eps inside the sqrt (sqrt(v + eps))"
GRADIENT = "and the sqrt's gradient is infinite at 0 (NaN in training)"
ROOT_NORM = f"division by a norm, which is 0 for a zero vector: inf or NaN there, {GRADIENT}; {INSIDE}"


def nan105(source: str, **options):
    settings = {"rule_options": {"NAN105": options}} if options else {}
    return [(line, column, message) for _, line, column, message in lint(source, "NAN105", **settings)]


NAN_NORM = (
    "division by a norm, which is 0 for a zero vector: inf or NaN there; this norm's own gradient is NaN at 0, so an "
    "eps added after it comes too late: compute sqrt(sum(x**2) + eps) or use a normalize function, which has its own "
    "eps"
)


@pytest.mark.parametrize(
    "source,message",
    [
        # norms
        ("import torch\ny = x / x.norm(dim=-1, keepdim=True)\n", NORM),
        ("import torch\ny = x / torch.linalg.norm(x, dim=-1, keepdim=True)\n", NORM),
        ("import torch\ny = x / torch.linalg.vector_norm(x)\n", NORM),
        ("import numpy as np\ny = x / np.linalg.norm(x)\n", NORM),
        (
            "import numpy as np\ny = x / np.sqrt(np.sum(x ** 2))\n",  # no gradient in NumPy; the eps inside all the same
            f"division by a norm, which is 0 for a zero vector: inf or NaN there; {INSIDE}",
        ),
        ("import tensorflow as tf\ny = x / tf.norm(x, axis=-1, keepdims=True)\n", NAN_NORM),
        ("import jax.numpy as jnp\ny = x / jnp.linalg.norm(x, axis=-1, keepdims=True)\n", NAN_NORM),
        ("import numpy as np\ny = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))\n", NORM),
        ("import torch\nn = x.norm(p=2, dim=1, keepdim=True)\ny = x / n\n", NORM),
        ("import torch\ny = x / x.norm() + 1e-8\n", NORM),  # still divides by the bare norm
        # standard deviations and variances
        ("import torch\ny = (x - x.mean()) / x.std()\n", STD),
        ("import numpy as np\ny = (x - x.mean(0)) / np.std(x, axis=0)\n", STD),
        ("import numpy as np\nstd = x.std(axis=0)\ny = np.divide(x, std)\n", STD),
        ("import tensorflow as tf\ny = x / tf.math.reduce_std(x)\n", STD),
        ("from keras import backend as K\ny = x / K.std(x)\n", STD),
        (
            "import torch\ny = x / torch.sqrt(x.var(0))\n",
            f"division by a standard deviation, which is 0 for constant input: inf or NaN there, {GRADIENT}; {INSIDE}",
        ),
        ("import torch\ny = x / x.var()\n", VAR),
        # counts and masked sums
        ("import torch\ny = (loss * mask).sum() / mask.sum()\n", COUNT),
        ("import torch\ny = loss.sum() / (labels != -100).sum()\n", COUNT),
        ("import torch\ny = h.sum(1) / attention_mask.float().sum(1, keepdim=True)\n", COUNT),
        ("import tensorflow as tf\ny = tf.reduce_sum(loss * mask) / tf.reduce_sum(tf.cast(mask, tf.float32))\n", COUNT),
        ("import jax.numpy as jnp\ny = jnp.sum(loss * mask) / jnp.sum(mask)\n", COUNT),
        ("import numpy as np\ny = total / np.count_nonzero(x)\n", NONZERO),
        ("import torch\ny = total / torch.count_nonzero(x)\n", NONZERO),
        ("kept = [v for v in values if v > 0]\ny = sum(kept) / len(kept)\n", COUNT),
        ("y = total / len(list(filter(None, values)))\n", None),
        ("import torch\ny = w / (w * mask).sum()\n", MASKED_SUM),
        ("import torch\ny = x / x[x > 0].sum()\n", MASKED_SUM),
        ("import torch\nimport torch.nn.functional as F\ny = x / F.relu(x).sum()\n", SUM),
        ("import torch_scatter\ny = s / torch_scatter.scatter_add(ones, index)\n", SEGMENT),
        ("import tensorflow as tf\ny = s / tf.math.unsorted_segment_sum(ones, ids, n)\n", SEGMENT),
        # spellings of the division itself
        ("import torch\ny = torch.div(x, x.norm())\n", NORM),
        ("import torch\ny = x.div(x.std())\n", STD),
        ("import numpy as np\ny = np.true_divide(x, np.linalg.norm(x))\n", NORM),
        ("import tensorflow as tf\ny = tf.math.truediv(x, tf.norm(x))\n", NAN_NORM),
        ("import torch\ny = torch.reciprocal((x * mask).sum())\n", MASKED_SUM),
    ],
)
def test_zero_denominators(source, message):
    found = nan105(source)
    if message is None:  # len(list(filter(...))): the list() hides the filter
        assert found == []
    else:
        assert [m for _, _, m in found] == [message]


def test_positions_and_augmented_division():
    source = """\
        import torch

        def pool(h, mask):
            n = mask.sum(1, keepdim=True)
            pooled = h.sum(1) / n
            h /= h.norm(dim=-1, keepdim=True)
            return pooled, torch.div(h, n)
        """
    assert nan105(source) == [(5, 14, COUNT), (6, 10, NORM), (7, 20, COUNT)]


def test_through_self_attributes():
    source = """\
        import torch

        class Standardize:
            def fit(self, x):
                self.std = x.std(0)

            def transform(self, x):
                return x / self.std
        """
    assert nan105(source) == [(8, 16, STD)]


WEIGHTS = f"division by a sum of sample weights, which is 0 when every weight in it is 0: inf or NaN there; {DEFAULT}"


def test_sample_weights_normalised_by_their_own_mean_or_sum():
    """Per-example weights are >= 0 and 0 for an example left out: a batch of them can sum to 0."""
    source = """\
        import torch

        def rescale(losses, sample_weight):
            sample_weight = sample_weight / sample_weight.mean()
            return (losses * sample_weight).mean()

        def share(example_weights):
            return example_weights / torch.sum(example_weights)
        """
    assert nan105(source) == [(4, 21, WEIGHTS), (8, 12, WEIGHTS)]


def test_values_read_by_a_string_key_are_named_by_it():
    source = """\
        import torch

        def pool(batch, hidden):
            valid = batch["attention_mask"].float()
            weight = batch["sample_weight"]
            return (hidden * valid).sum(1) / valid.sum(1), weight / weight.sum()
        """
    assert nan105(source) == [(6, 12, COUNT), (6, 52, WEIGHTS)]


def test_weights_masked_by_a_comparison_keep_the_mask_through_products():
    """`w * (a * m + b * (1 - m))` is 0 wherever the mask zeroes it, however many factors follow."""
    source = """\
        import torch

        def task_weights(labels, base, inside_weight, outside_weight):
            inside = (labels > 0).float()
            w = base * (inside_weight * inside + outside_weight * (1 - inside))
            return w / torch.mean(w)
        """
    assert nan105(source) == [(6, 12, MASKED_SUM)]


def test_standardised_by_the_std_a_statistics_object_keeps():
    """`stats.std` of a running-statistics object is 0 until the data it has seen varies."""
    source = """\
        import numpy as np

        def standardize(obs, stats):
            return (obs - stats.mean) / stats.std

        class Agent:
            def scale(self, ret):
                return (ret - self.ret_rms.mean) / np.sqrt(self.ret_rms.var)
        """
    assert nan105(source) == [(4, 12, STD), (8, 16, STD)]


def test_standardised_by_running_statistics_in_a_dict_or_the_module_itself():
    source = """\
        import torch

        def standardize(x, stats):
            return (x - stats["mean"]) / stats["std"]

        class Whitening(torch.nn.Module):
            def forward(self, x):
                return (x - self.running_mean) / torch.sqrt(self.running_var)

            def observe(self, obs):
                center, scale = self.obs_stats.mean, self.obs_stats.std
                return torch.clamp((obs - center) / scale, -5.0, 5.0)
        """
    assert nan105(source) == [(4, 12, STD), (8, 16, STD), (12, 28, STD)]


@pytest.mark.parametrize(
    "source",
    [
        # normalised probabilities and exps are positive by construction
        "import torch\np = torch.softmax(s, -1)\ny = p / p.sum(-1, keepdim=True)\n",
        "import torch\ne = torch.exp(s - s.max())\ny = e / e.mean()\n",
        # guarded sums of weights
        "import torch\ny = sample_weight / sample_weight.sum().clamp_min(1e-12)\n",
        "import torch\ny = sample_weight / (sample_weight.mean() + 1e-8)\n",
        "import torch\ny = sample_weight / torch.clamp(sample_weight.mean(), min=eps)\n",
        "import tensorflow as tf\ny = tf.math.divide_no_nan(sample_weight, tf.reduce_mean(sample_weight))\n",
        "import torch\ns = sample_weight.sum()\nif s > 0:\n    sample_weight = sample_weight / s\n",
        "import torch\ns = sample_weight.sum()\ny = torch.where(s > 0, sample_weight / s, 0.0)\n",
        "import torch\ny = sample_weight / sample_weight.sum() if sample_weight.sum() > 0 else sample_weight\n",
        "import torch\nif sample_weight.sum() > 0:\n    sample_weight = sample_weight / sample_weight.sum()\n",
        "import torch\ndef f(sample_weight):\n    if torch.all(sample_weight == 0):\n        return sample_weight\n"
        "    return sample_weight / sample_weight.mean()\n",
        # a weight known positive, or a weight nothing says is per-example
        "import torch\nsample_weight = torch.rand(n) + 0.5\ny = sample_weight / sample_weight.sum()\n",
        "import torch\ny = weights / weights.sum()\n",
        "y = loss_weights / sum(loss_weights)\n",  # a Python sum: of a list of settings
        "import torch\ny = losses / sample_weight.sum()\n",  # not the weights' own normalisation
        # standardisation by configured constants, parameters or a guarded std
        "import torch\nclass N:\n    def __init__(self):\n        self.register_buffer('std', torch.tensor([0.229, 0.224]))\n"
        "    def f(self, x):\n        return (x - self.mean) / self.std\n",
        "import torch\nstd = torch.tensor([0.229, 0.224, 0.225])\ny = (x - mean) / std\n",
        "def normalize(x, mean, std):\n    return (x - mean) / std\n",
        "import torch\ny = (x - self.vae.config.latents_mean) / torch.tensor(self.vae.config.latents_std)\n",
        "y = (x - cfg.mean) / cfg.std\n",
        'y = (x - config["mean"]) / config["std"]\n',
        "import torch\ny = (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)\n",
        "y = (obs - stats.mean) / (stats.std + 1e-8)\n",
        "import numpy as np\ny = (obs - stats.mean) / np.maximum(stats.std, 1e-6)\n",
        "y = obs / stats.std\n",  # a rescaling, not a standardisation: the name alone is not enough
    ],
)
def test_safe_weight_and_statistic_look_alikes(source):
    assert nan105(source) == []


def test_plain_sums_only_when_asked():
    source = "import torch\ny = w / w.sum(-1, keepdim=True)\nz = e / torch.exp(x - m).sum()\nt = a / sum(ratios)\n"
    assert nan105(source) == []
    assert nan105(source, **{"plain-sums": True}) == [(2, 5, SUM)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = x / (x.norm(dim=-1, keepdim=True) + 1e-8)\n",
        "import torch\ny = x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)\n",
        "import torch\ny = x / x.norm(dim=-1, keepdim=True).clamp_min(eps)\n",
        "import torch\ny = x / torch.clamp(torch.linalg.norm(x), min=self.eps)\n",
        "import torch\nimport torch.nn.functional as F\ny = F.normalize(x, dim=-1)\n",
        "import tensorflow as tf\ny = tf.math.l2_normalize(x, axis=-1)\n",
        "import tensorflow as tf\ny = tf.math.divide_no_nan(x, tf.norm(x))\n",
        "import numpy as np\ny = np.divide(x, np.linalg.norm(x), where=np.linalg.norm(x) != 0)\n",
        "import torch\ny = (x - x.mean()) / (x.std() + 1e-5)\n",
        "import torch\ny = (x - mu) / torch.sqrt(x.var(0) + 1e-5)\n",
        "import numpy as np\ny = (x - x.mean()) / np.maximum(x.std(), 1e-8)\n",
        "import torch\ny = (loss * mask).sum() / mask.sum().clamp(min=1)\n",
        "import torch\ny = (loss * mask).sum() / torch.clamp(mask.sum(), min=1.0)\n",
        "import torch\ny = (loss * mask).sum() / max(mask.sum(), 1)\n",
        "import torch\ny = (loss * mask).sum() / (mask.sum() + 1e-6)\n",
        "import torch\nn = mask.sum()\nn = n.clamp(min=1)\ny = loss.sum() / n\n",
        "import torch\ny = loss.sum() / batch_size\n",
        "import torch\ny = loss / 32\n",
        "import math\ny = scores / math.sqrt(d_k)\n",
        "import torch\ny = x / x.size(0)\n",
        "y = total / len([1, 2, 3])\n",
        "y = total / len(dataset)\n",
        "y = total / len(values)\n",
        "import torch\ny = x / torch.tensor(self.std)\n",
        "import torch\nn = mask.sum()\ny = loss.sum() / n if n > 0 else loss.sum()\n",
        "import torch\ndef f(loss, mask):\n    n = mask.sum()\n    if n == 0:\n        return loss.sum()\n    return loss.sum() / n\n",
        "import torch\ndef f(a, b):\n    ok = a.norm() > 0 and b.norm() > 0\n    if ok:\n        return a / a.norm()\n",
        "import torch\ny = torch.where(mask.sum() > 0, loss.sum() / mask.sum(), 0.0)\n",
        "import torch\ny = torch.nan_to_num(x / x.norm())\n",
        "import torch\ny = torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)\n",
        "import torch\ne = torch.exp(x - x.max())\ny = e / e.sum()\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan105(source) == []


# --- the fix -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import torch\ny = x / x.norm()\n", "import torch\ny = x / (x.norm() + 1e-8)\n"),
        (
            "import torch\ny = a @ b / (a.norm() * b.norm())\n",
            "import torch\ny = a @ b / (a.norm() * b.norm() + 1e-8)\n",
        ),
        ("import torch\ny = torch.div(x, x.std())\n", "import torch\ny = torch.div(x, x.std() + 1e-8)\n"),
        ("import torch\nx /= x.norm()\n", "import torch\nx /= x.norm() + 1e-8\n"),
        ("import torch\ny = torch.reciprocal(mask.sum())\n", "import torch\ny = torch.reciprocal(mask.sum() + 1e-8)\n"),
    ],
)
def test_fix_adds_an_eps_to_the_denominator(source, expected):
    text, remaining = fixed(source, "NAN105")
    assert text == expected
    assert "NAN105" not in remaining


def test_fixed_numpy_code_computes_the_same_values():
    source = """\
        import numpy as np

        def statistics(x, loss, mask):
            unit = x / np.linalg.norm(x, axis=-1, keepdims=True)
            z = (x - x.mean(0)) / x.std(0)
            masked_mean = (loss * mask).sum() / mask.sum()
            kept = [v for v in loss.ravel() if v > 0]
            mean_kept = sum(kept) / len(kept)
            cosine = np.dot(x[0], x[1]) / (np.linalg.norm(x[0]) * np.linalg.norm(x[1]))
            return unit, z, masked_mean, mean_kept, cosine
        """
    text, remaining = fixed(source, "NAN105")
    assert text.count("1e-8") == 5 and remaining == []
    rng = np.random.default_rng(1)
    x, loss = rng.normal(size=(5, 3)), rng.random((5, 3))
    mask = (rng.random((5, 3)) > 0.5).astype(float)
    before = run(textwrap.dedent(source), "statistics", x, loss, mask)
    after = run(text, "statistics", x, loss, mask)
    for old, new in zip(before, after):
        np.testing.assert_allclose(new, old, rtol=1e-5)


def test_a_chain_of_divisions_is_one_finding():
    """`(x - m) / s / r`: the outer division is reported; the inner one is the same expression's hazard."""
    source = "import torch\ny = (x - x.mean()) / x.std() / (x.max() - x.min())\n"
    assert [(line, column) for line, column, _ in nan105(source)] == [(2, 5)]
    assert [(line, column) for line, column, _ in nan105("import torch\ny = (x - x.mean()) / x.std()\n")] == [(2, 5)]


def test_python_numbers_inside_math_calls_raise_rather_than_make_nan():
    source = """\
        import math
        import torch


        def init_bias(prior_prob, x):
            bias = -math.log((1 - prior_prob) / prior_prob)
            return bias, torch.log(x / x.norm()), math.sqrt(x / x.norm())
        """
    assert [(line, column) for line, column, _ in nan105(source)] == [(7, 28)]


def test_a_graph_conditional_on_the_denominator_replaces_what_it_made():
    source = """\
        import tensorflow as tf


        def weights(classes):
            positive = tf.cast(classes > -1, tf.float32)
            normalizer = tf.reduce_sum(positive)
            box_weights = positive / normalizer
            cls_weights = tf.ones_like(classes)
            cls_weights /= normalizer
            return tf.cond({test}, lambda: tf.zeros_like(box_weights), lambda: box_weights + cls_weights)
        """
    assert nan105(source.format(test="normalizer == 0")) == []
    assert [(line, column) for line, column, _ in nan105(source.format(test="tf.reduce_any(classes > 0)"))] == [
        (7, 19),
        (9, 20),
    ]


def test_settings_and_dataset_constants_are_not_statistics_of_data():
    source = """\
        import torch
        from torch import nn


        class Rollouts(nn.Module):
            def __init__(self, rollout_loss_weights=(1.0, 1.0)):
                super().__init__()
                weights = torch.tensor(rollout_loss_weights)
                self.register_buffer("weights", weights / weights.sum())

            def forward(self, data):
                mean, std = self.model.pixel_mean, self.model.pixel_std
                return (data - mean) / std
        """
    assert nan105(source) == []
    running = source.replace("self.model.pixel_mean, self.model.pixel_std", "self.obs_rms.mean, self.obs_rms.std")
    assert [(line, column) for line, column, _ in nan105(running)] == [(13, 16)]


def test_a_schedule_of_complemented_sigmoids_is_a_difference_not_a_sigmoid():
    """(-sigmoid(t) + v_end) / (v_end - v_start), normalised by its first entry: a difference, which a
    normalisation by its own first entry does not divide by as a 0 of ordinary input."""
    source = textwrap.dedent(
        """
        import torch

        def schedule(t, start, end):
            v_start, v_end = torch.sigmoid(start), torch.sigmoid(end)
            alphas = (-torch.sigmoid(t) + v_end) / (v_end - v_start)
            return alphas / alphas[0], q / torch.sigmoid(t)
        """
    )
    sigmoid = f"division by a sigmoid, which underflows to 0 for very negative input: inf or NaN there; {DEFAULT}"
    assert nan105(source) == [(7, 32, sigmoid)]  # p / q of a probability stays


# --- extents: differences of two entries of one tensor ---------------------------------------------------------

EXTENT = (
    "division by a box's extent (its far corner minus its near corner), which is 0 for a degenerate box: inf or "
    f"NaN there; {DEFAULT}"
)


@pytest.mark.parametrize(
    "source,line,column",
    [
        # an aspect ratio of boxes, the corners unpacked first
        (
            "import torch\ndef aspect(box):\n    x1, y1, x2, y2 = box[..., 0], box[..., 1], box[..., 2], box[..., 3]\n"
            "    w, h = x2 - x1, y2 - y1\n    return torch.atan(w / h)\n",
            5,
            23,
        ),
        # corners from centre and size in one branch, read off the tensor in the other
        (
            "import torch\ndef aspect(b, xyxy):\n    if xyxy:\n        top, bottom = b[1], b[3]\n    else:\n"
            "        top, bottom = b[1] - b[3] / 2, b[1] + b[3] / 2\n    return b[2] / (bottom - top)\n",
            7,
            12,
        ),
        ("import numpy as np\ndef scale(rois, size):\n    return size / (rois[:, 2] - rois[:, 0])\n", 3, 12),
    ],
)
def test_division_by_an_extent(source, line, column):
    assert nan105(source) == [(line, column, EXTENT)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(b, eps=1e-9):\n    h = b[..., 3] + eps - b[..., 1]\n    return b[..., 2] / h\n",
        "import torch\ndef f(b):\n    h = (b[..., 3] - b[..., 1]).clamp(min=1e-6)\n    return b[..., 2] / h\n",
        "import torch\ndef f(a, b):\n    return a[0] / (a[1] - b[1])\n",  # two tensors: no evidence they coincide
        "import torch\ndef f(x):\n    return x[0] / (x[1] - x.mean())\n",  # a statistic, not an entry
        "import torch\ndef f(x, y):\n    return y / (x[1] - 2)\n",
        # neighbouring entries of a schedule, a list of values, a finite difference: no box
        "import torch\ndef f(sigmas, t):\n    return sigmas[t] / (sigmas[1] - sigmas[0])\n",
        "from typing import List\ndef f(lam: List[float]):\n    return 1 / (lam[2] - lam[0])\n",
        "def f(a, b):\n    lam = [a, b, a * b]\n    return 1 / (lam[2] - lam[0])\n",
        "import numpy as np\ndef rate(t, x):\n    return (x[1:] - x[:-1]) / (t[1:] - t[:-1])\n",
    ],
)
def test_extent_look_alikes(source):
    assert nan105(source) == []


ASSERTED_WIDTHS = """\
import torch


def offsets(src, dst):
    widths = src[:, 2] - src[:, 0]
    dx = (dst[:, 0] - src[:, 0]) / widths
    assert (widths > 0).all().item(), "degenerate boxes"
    return dx
"""


def test_an_assert_anywhere_in_the_function_declares_the_denominator_nonzero():
    assert lint(ASSERTED_WIDTHS, "NAN105") == []
    assert lint(ASSERTED_WIDTHS.replace("(widths > 0).all().item()", "torch.all(widths > 0)"), "NAN105") == []
    both = ASSERTED_WIDTHS.replace("(widths > 0).all().item()", "(widths > 0).all() and src.shape[1] == 4")
    assert lint(both, "NAN105") == []


@pytest.mark.parametrize(
    "assertion",
    [
        "src.shape[1] == 4",  # a shape test says nothing about values
        "(threshold > 0).all()",  # another value
        "(widths > 0).all() or src.numel() == 0",  # either may hold
    ],
)
def test_an_assert_about_something_else_keeps_the_finding(assertion):
    source = ASSERTED_WIDTHS.replace("(widths > 0).all().item()", assertion)
    assert [(code, line) for code, line, *_ in lint(source, "NAN105")] == [("NAN105", 6)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\n\ndef loss(losses, mask, num_valid_tokens):\n    return (losses * mask).sum() / num_valid_tokens\n",
        "import torch\n\ndef step(loss_func, out):\n    out, num_tokens, _ = loss_func(out)\n    out /= num_tokens\n"
        "    return out\n",
        "import torch\n\ndef loss(per_token, batch):\n    return per_token.sum() / batch['n_pos']\n",
    ],
)
def test_a_count_of_selected_items_by_its_name(source):
    assert [code for code, *_ in lint(source, "NAN105")] == ["NAN105"]


@pytest.mark.parametrize(
    "source",
    [
        # a setting, not a count of what a mask selects
        "import torch\n\ndef f(self, x):\n    return x / self.num_tokens\n",
        "import torch\n\ndef loss(losses, num_tokens):\n    return losses.sum() / num_tokens.clamp(min=1)\n",
        "import torch\n\ndef loss(losses, num_tokens):\n    return losses.sum() / max(num_tokens, 1)\n",
        "import torch\n\ndef loss(losses, num_heads):\n    return losses.sum() / num_heads\n",  # not a selection
        # torch.max's element-wise form against a tensor of 1: the count clamped at 1
        "import torch\n\ndef loss(l, mask):\n    return (l * mask).sum() / torch.max(mask.sum(), torch.tensor([1.0]))\n",
    ],
)
def test_counts_that_are_settings_or_clamped_stay_quiet(source):
    assert lint(source, "NAN105") == []


TRAINED_SCALE = """\
import torch
from torch import nn


class Denormalize(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x / self.weight
"""


def test_a_trainable_parameter_is_not_its_initial_value():
    assert lint(TRAINED_SCALE, "NAN105") == [
        (
            "NAN105",
            11,
            16,
            "division by a trainable parameter, which training can move to 0: inf or NaN there; keep it positive: "
            "train a raw value and divide by softplus(raw) + eps (or exp(raw)), or clamp it",
        )
    ]


@pytest.mark.parametrize(
    "change",
    [
        ("x / self.weight", "x / (nn.functional.softplus(self.weight) + 1e-5)"),
        ("x / self.weight", "x / self.weight.exp()"),
        ("x / self.weight", "x / self.weight.clamp(min=1e-5)"),
        ("nn.Parameter(torch.ones(d))", "nn.Parameter(torch.ones(d), requires_grad=False)"),  # frozen: loaded
        ("nn.Parameter(torch.ones(d))", "torch.ones(d)"),  # a constant
    ],
)
def test_a_kept_positive_or_frozen_parameter_is_quiet(change):
    assert lint(TRAINED_SCALE.replace(*change), "NAN105") == []


# --- c / (1 + e): 0 only where e overflows for moderate input -------------------------------------------------

OVERFLOWED = f"division by 1 / (1 + e), which is 0 once e overflows: inf or NaN there; {DEFAULT}"


@pytest.mark.parametrize(
    "denominator",
    [
        "1 / (1 + torch.exp(-x))",  # a sigmoid written out
        "1.0 / (1.0 + torch.exp(-2 * x) * 3)",  # a product of an exp still overflows
        "1 / (1 + torch.exp(-x).sum(-1))",  # and so does a sum of them
        "1 / (1 + 2 ** x)",  # an exp in another base
        "1 / torch.sqrt(1 + torch.exp(x))",
    ],
)
def test_one_over_one_plus_an_exp_is_0_once_the_exp_overflows(denominator):
    source = f"import torch\n\ndef f(x, y):\n    d = {denominator}\n    return y / d\n"
    assert nan105(source) == [(5, 12, OVERFLOWED)]


@pytest.mark.parametrize(
    "denominator",
    [
        "1 / torch.sqrt(sigma**2 + 1)",  # a schedule's input scaling: a polynomial never reaches inf
        "1 / (1 + x**2)",
        "1 / (1 + x.abs())",
        "1 / (1 + torch.exp(-x.clamp(min=-20)))",  # the exp's argument is bounded above
        "1 / (1 + math.exp(-x))",  # math.exp raises OverflowError rather than returning inf
    ],
)
def test_one_over_an_unbounded_value_that_does_not_overflow_is_quiet(denominator):
    source = f"import math\nimport torch\n\ndef f(x, y, sigma):\n    d = {denominator}\n    return y / d\n"
    assert nan105(source) == []


def test_a_scaling_unpacked_from_a_helpers_tuple_is_read_element_by_element():
    """`c_skip, c_in = scalings(sigma)` reads each returned element: 1 / sqrt(sigma**2 + 1) never reaches 0, a
    sigmoid written out with exp does."""
    source = textwrap.dedent(
        """\
        import torch

        def scalings(sigma):
            c_skip = 1.0 / (sigma**2 + 1)
            c_in = 1 / torch.sqrt(sigma**2 + 1)
            return c_skip, c_in

        def denoise(sample, sigma):
            c_skip, c_in = scalings(sigma)
            return sample / c_in + sample / c_skip
        """
    )
    assert nan105(source) == []
    gated = source.replace("1 / torch.sqrt(sigma**2 + 1)", "1 / (1 + torch.exp(sigma))")
    assert nan105(gated) == [(10, 12, OVERFLOWED)]


# --- a norm written as a sqrt: one finding for the quotient and the sqrt's gradient ---------------------------------


@pytest.mark.parametrize(
    "body,positions",
    [
        ("return x / torch.sqrt((x**2).sum(-1, keepdim=True))", [(4, 12)]),
        ("n = torch.sqrt(torch.sum(x * x, dim=-1, keepdim=True))\n    return x / n", [(5, 12)]),
        ("n = x.pow(2).mean(-1, keepdim=True).sqrt()\n    return x / n.unsqueeze(-1)", [(5, 12)]),
        ("n = (x**2).sum(-1) ** 0.5\n    x /= n\n    return x", [(5, 10)]),
        ("return (x * y).sum(-1) / (torch.sqrt((x**2).sum(-1)) * torch.sqrt((y**2).sum(-1)))", [(4, 12)]),
        ("n = torch.sqrt((x**2).sum(-1))\n    return x / n, (x * 2) / n", [(5, 12), (5, 19)]),  # two divisions
    ],
)
def test_a_norm_written_as_a_sqrt_is_one_finding_at_the_division(body, positions):
    """No NAN106 twin at the sqrt: the division's finding names its gradient and puts the eps inside it."""
    source = f"import torch\n\ndef unit(x, y):\n    {body}\n"
    assert lint(source) == [("NAN105", line, column, ROOT_NORM) for line, column in positions]
    assert lint(source, "NAN106") != []  # selected alone, NAN106 still reports the sqrt


def test_a_sqrt_used_beyond_the_denominator_keeps_its_own_finding():
    source = "import torch\n\ndef unit(x):\n    n = torch.sqrt((x**2).sum(-1))\n    return x / n, n.log()\n"
    assert [(code, line, column) for code, line, column, _ in lint(source, ("NAN105", "NAN106"))] == [
        ("NAN106", 4, 9),
        ("NAN105", 5, 12),
    ]


ENTRY = (
    "division by an entry of the tensor it divides (a homogeneous coordinate, a count packed beside its sum), which "
    f"real data can make 0: inf or NaN there; {DEFAULT}"
)
COMPLEMENT = f"division by 1 - p, which is 0 when the probability p reaches 1: inf or NaN there; {DEFAULT}"


def test_a_tensor_divided_by_its_own_entry_along_the_last_axis():
    source = """\
        import torch

        def project(points):
            points = points / points[..., 2:]
            return points

        def per_token(totals):
            totals = torch.vstack(totals)
            depth = totals[:, 1]
            return totals[:, 0] / depth
        """
    assert nan105(source) == [(4, 14, ENTRY), (10, 12, ENTRY)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ny = x / torch.sqrt((x**2).sum(-1) + 1e-8)\n",  # the eps inside: neither finding
        "import torch\ny = x / x.norm(dim=-1).clamp(min=1e-6)\n",
        "import torch\ny = x * torch.rsqrt((x**2).mean(-1) + 1e-6)\n",
    ],
)
def test_a_norm_with_its_eps_inside_is_quiet(source):
    assert lint(source, ("NAN105", "NAN106")) == []


def test_a_numpy_norm_written_as_a_sqrt_names_no_gradient_in_a_file_that_also_uses_torch():
    source = "import numpy as np\nimport torch\n\ndef unit(z):\n    z /= np.sqrt(np.sum(z**2))\n    return z\n"
    message = f"division by a norm, which is 0 for a zero vector: inf or NaN there; {INSIDE}"
    assert lint(source) == [("NAN105", 5, 10, message)]


def test_a_sqrt_beside_a_count_in_the_denominator_is_named_by_the_counts_finding():
    """The count's 0 is the division's reason; the sqrt inside it (whose NAN106 the division's finding subsumes) is
    named in the advice; bound to a name outside, it keeps its own finding."""
    inline = "import torch\n\ndef f(x, mask):\n    return x / (torch.sqrt((x**2).sum()) * mask.sum())\n"
    count = (
        "division by a count of a possibly empty selection: inf or NaN there; divide by the count clamped to at least 1 "
        f"(max(n, 1)); the sqrt in it has an infinite gradient at 0 too: {INSIDE}"
    )
    assert lint(inline) == [("NAN105", 4, 12, count)]
    named = "import torch\n\ndef f(x, mask):\n    n = torch.sqrt((x**2).sum())\n    return x / (n * mask.sum())\n"
    assert [(code, line) for code, line, _, _ in lint(named)] == [("NAN106", 4), ("NAN105", 5)]


@pytest.mark.parametrize("uses", ["x / n", "x / n, (x * 2) / n"])
def test_the_fix_puts_the_eps_inside_the_sqrt_once_and_leaves_no_finding(uses):
    source = f"import torch\n\ndef unit(x):\n    n = torch.sqrt((x**2).sum(-1))\n    return {uses}\n"
    text, remaining = fixed(source, "NAN105")
    assert text == source.replace("(x**2).sum(-1))", "(x**2).sum(-1) + 1e-8)")
    assert remaining == []


@pytest.mark.parametrize(
    "source",
    [
        "def aspect(size):\n    return size[0] / size[1]\n",  # a Python pair: no leading axes
        "import torch\ny = x / x[0]\n",  # the first row, a schedule's reference value
        "import torch\ny = x[1:] / x[:-1]\n",  # consecutive entries, not a coordinate
        "import torch\ny = a / b[..., 2]\n",  # another tensor's entry: no evidence it is 0
        "import torch\ny = p / (p[..., 2:] + 1e-6)\n",
        "import torch\ny = p / p[..., 2:].clamp(min=1e-6)\n",
        "import torch\ny = 1.0 / p[..., 2]\n",
        "def f(boxes: list):\n    return boxes[:, 0] / boxes[:, 1]\n",
    ],
)
def test_safe_entry_look_alikes(source):
    assert nan105(source) == []


def test_divided_by_the_complement_of_a_probability():
    source = """\
        import torch

        def sample_counts(probs, consumed_prob, drop_prob, x):
            keep_prob = 1 - drop_prob
            return probs / (1.0 - consumed_prob), x / keep_prob
        """
    assert nan105(source) == [(5, 12, COMPLEMENT), (5, 43, COMPLEMENT)]


@pytest.mark.parametrize(
    "source",
    [
        "def f(x, drop_prob):\n    keep_prob = 1 - drop_prob\n    return 1.0 / keep_prob\n",  # a setting's inverse
        "def f(x, drop_prob):\n    keep_prob = 1 - drop_prob\n    if keep_prob > 0:\n        x = x / keep_prob\n"
        "    return x\n",
        "import torch\ndef f(x, t):\n    std = torch.sqrt(1.0 - torch.exp(-t))\n    return x / std\n",  # exp(0) = 1 only
        "def f(x, p):\n    return x / (1 - p + 1e-6)\n",
    ],
)
def test_safe_complement_look_alikes(source):
    assert nan105(source) == []


def test_an_elementwise_maximum_with_a_tensor_of_one_guards_a_count():
    source = """\
        import torch

        def masked_mean(loss, mask, device):
            n = torch.max(mask.sum(), torch.tensor([1], device=device).float())
            kept = torch.max(mask.sum(1), 1)[0]
            return (loss * mask).sum() / n, loss.sum() / kept
        """
    assert nan105(source) == [(6, 37, COUNT)]  # torch.max(x, 1) is a reduction over dim 1: no guard


FRACTION = (
    "division by the bound its numerator is clipped to (clip(x, 0, d) / d), 0 / 0 when that setting is 0: inf or NaN "
    "there; divide by max(d, 1), or handle d == 0 (a schedule of no steps) before dividing"
)


def test_a_fraction_of_the_bound_it_is_clipped_to():
    source = """\
        import jax.numpy as jnp
        import torch

        def schedule(step_count, transition_steps, transition_begin=0):
            count = jnp.clip(step_count - transition_begin, 0, transition_steps)
            return 1 - count / transition_steps

        def warmup_factor(step, warmup):
            return torch.clamp(step, 0, warmup) / warmup
        """
    assert nan105(source) == [(6, 16, FRACTION), (9, 12, FRACTION)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x, s):\n    return torch.clamp(x, -s, s) / s\n",  # not a fraction of s
        "import torch\ndef f(x, s):\n    return torch.clamp(x, 1, s) / s\n",
        "import torch\ndef f(x, s):\n    return torch.clamp(x, 0, s) / (s + 1e-8)\n",
        "import torch\ndef f(x, s, t):\n    return torch.clamp(x, 0, s) / t\n",
        "def f(step, warmup):\n    return min(step, warmup) / warmup\n",  # Python numbers raise ZeroDivisionError
        "import torch\ndef f(x, s):\n    if s == 0:\n        return x\n    return torch.clamp(x, 0, s) / s\n",
    ],
)
def test_safe_fraction_look_alikes(source):
    assert nan105(source) == []


def test_a_closure_keeps_the_tests_its_enclosing_function_made_before_it():
    source = """\
        import jax.numpy as jnp

        def polynomial_schedule(init_value, transition_steps, transition_begin=0):
            if transition_steps <= 0:
                return lambda count: init_value

            def schedule(count):
                count = jnp.clip(count - transition_begin, 0, transition_steps)
                return 1 - count / transition_steps

            return schedule

        def shadowed(steps):
            if steps <= 0:
                return None

            def schedule(count, steps):
                return jnp.clip(count, 0, steps) / steps

            return schedule
        """
    assert nan105(source) == [(18, 16, FRACTION)]  # the closure's own `steps` is another variable


@pytest.mark.parametrize(
    "header, call",
    [
        ("import tensorflow as tf", "tf.norm(x, axis=-1, keepdims=True)"),
        ("import jax.numpy as jnp", "jnp.linalg.norm(x, axis=-1, keepdims=True)"),
    ],
)
def test_a_norm_with_a_nan_gradient_gets_advice_and_no_eps_fix(header, call):
    """tf.norm and jnp.linalg.norm have a NaN gradient at 0 whatever guards the quotient: `norm + eps` would trade
    this finding for NAN106's, so no fix is offered; torch's norm (gradient 0 there) keeps the eps fix."""
    source = f"{header}\n\ndef unit(x):\n    return x / {call}\n"
    assert lint(source, "NAN105") == [("NAN105", 4, 12, NAN_NORM)]
    text, remaining = fixed(source, "NAN105")
    assert text == source and remaining == ["NAN105"]
    torch_source = "import torch\n\ndef unit(x):\n    return x / x.norm(dim=-1, keepdim=True)\n"
    text, remaining = fixed(torch_source, "NAN105")
    assert text == torch_source.replace("x.norm(dim=-1, keepdim=True)", "(x.norm(dim=-1, keepdim=True) + 1e-8)")
    assert remaining == []


def test_a_nan_gradient_norm_outside_gradients_keeps_the_eps_fix():
    source = "import numpy as np\n\ndef unit(x):\n    return x / np.linalg.norm(x, axis=-1, keepdims=True)\n"
    text, remaining = fixed(source, "NAN105")
    assert "+ 1e-8" in text and remaining == []


def test_the_fix_eps_survives_float16_where_the_module_computes_in_it():
    """1e-8 rounds to 0 in float16: in a module that switches float16 on -- even below the division, as a script's
    main() does -- the fix adds 1e-4 (a normal float16 number), and the fixed file raises no NAN202."""
    source = textwrap.dedent(
        """\
        import torch

        def masked_mean(x, mask):
            return (x * mask).sum() / mask.sum()

        def main(model):
            model.half()
        """
    )
    text, remaining = fixed(source, "NAN105")
    assert "/ (mask.sum() + 0.0001)" in text and remaining == []
    float32 = source.replace("model.half()", "model.float()")
    text, remaining = fixed(float32, "NAN105")
    assert "/ (mask.sum() + 1e-8)" in text and remaining == []
