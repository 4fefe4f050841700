"""Settings: a class-level field annotated as a Python number (`hidden_dim: int` of a dataclass or a flax module)
is configured, not computed from data, so its name (`num_*`, `*_prob`) is no evidence that it reaches 0."""

from __future__ import annotations

import pytest

from tests.helpers import lint

_EMBED = """\
import flax.linen as nn
import jax.numpy as jnp
from typing import Optional

class Embed(nn.Module):
  hidden_dim: {dim}
  bias_init_prob: {prob} = None

  def __call__(self, x):
    num_pos_feats = self.hidden_dim // 2
    dim_t = jnp.arange(num_pos_feats, dtype=jnp.float32)
    dim_t = 10000.0 ** (2 * (dim_t // 2) / num_pos_feats)
    bias = -jnp.log((1 - self.bias_init_prob) / self.bias_init_prob)
    return x / dim_t + bias
"""
COUNT = (
    "division by a count of selected items (by its name), which is 0 when none is selected: inf or NaN there; "
    "divide by the count clamped to at least 1 (max(n, 1))"
)
LOG = (
    "log of 1 - p, which is 0 when the probability p reaches 1: -inf there, and NaN gradients; clamp it away "
    "from 0 or use a log-space form (log1p(-p), log_sigmoid(-x))"
)
PROBABILITY = (
    "division by a probability that can be 0: inf or NaN there; add an eps (x / (d + eps)) or clamp it "
    "(d.clamp(min=eps))"
)


def found(source: str) -> list[tuple[str, int, int, str]]:
    return lint(source, ("NAN104", "NAN105"))


@pytest.mark.parametrize(("dim", "prob"), [("int", "Optional[float]"), ("int", "float | None"), ("float", "float")])
def test_fields_annotated_as_numbers_are_settings(dim, prob):
    assert found(_EMBED.format(dim=dim, prob=prob)) == []


def test_fields_that_are_arrays_keep_the_evidence_of_their_names():
    assert found(_EMBED.format(dim="jnp.ndarray", prob="jnp.ndarray")) == [
        ("NAN105", 12, 25, COUNT),
        ("NAN104", 13, 13, LOG),
        ("NAN105", 13, 21, PROBABILITY),
    ]


def test_a_field_declared_a_number_in_one_class_and_an_array_in_another_is_no_setting():
    source = _EMBED.format(dim="int", prob="Optional[float]") + "\nclass Other:\n  hidden_dim: jnp.ndarray\n"
    assert [(code, line) for code, line, _, _ in found(source)] == [("NAN105", 12)]


def test_a_setting_does_not_hide_a_count_computed_from_data():
    source = """\
import flax.linen as nn
import jax.numpy as jnp

class Loss(nn.Module):
  num_classes: int

  def __call__(self, loss, mask):
    num_valid = mask.sum()
    return jnp.sum(loss * mask) / num_valid + loss.sum() / self.num_classes
"""
    assert [(code, line, column) for code, line, column, _ in found(source)] == [("NAN105", 9, 12)]


def test_an_eps_setting_still_guards():
    source = """\
import flax.linen as nn
import jax.numpy as jnp

class Head(nn.Module):
  sigmoid_eps: float = 1e-4

  def __call__(self, heatmaps, gt):
    pred = jnp.clip(nn.sigmoid(heatmaps), self.sigmoid_eps, 1. - self.sigmoid_eps)
    return jnp.log(pred) * gt + jnp.log(1. - pred) * (1 - gt)
"""
    assert found(source) == []
