"""NAN201 and sentinels: a fill constant that is only compared (min, argmin, sort, `>`) orders the same as the
±inf float16 makes of it, so it is quiet; one that reaches arithmetic (softmax, a sum, an added bias) is not."""

from __future__ import annotations

import pytest

from tests.helpers import lint


def fill(text: str, advice: str, what: str = "fill value", sign: str = "-") -> str:
    return (
        f"{what} {text} is beyond the float16 range (max 65504): it overflows to {sign}inf in half precision; {advice}"
    )


@pytest.mark.parametrize(
    "use",
    [
        "x = scores.masked_fill(~mask, 1e8).flatten(1).min(-1)[0]",
        "x = torch.argmin(torch.where(mask, scores, torch.full_like(scores, 1e8)), dim=-1)",
        "best = torch.where(mask, scores, -1e8)\n    x = best > scores",
        "best = torch.where(mask, scores, -1e8)\n    x = best.max(-1).values, torch.topk(best, 2), best.sort()",
        "best = torch.where(mask, scores, -1e8)\n    worst = -best\n    x = worst.argmax()",
    ],
)
def test_a_fill_constant_only_compared_is_a_sentinel(use):
    source = f"""\
import torch
def pick(scores, mask):
    {use}
    return x
"""
    assert lint(source, "NAN201") == []


@pytest.mark.parametrize(
    ("use", "line", "column"),
    [
        ("x = torch.softmax(scores.masked_fill(~mask, -1e8), -1)", 3, 49),
        ("best = torch.where(mask, scores, -1e8)\n    x = best.max(-1).values + best.sum()", 3, 38),
        ("best = torch.where(mask, scores, -1e8)\n    x = best > 0\n    y = best * 2", 3, 38),
        ("x = torch.full_like(scores, -1e8).min() + scores.masked_fill(~mask, -1e8)", 3, 73),
    ],
)
def test_a_fill_constant_that_reaches_arithmetic_is_reported(use, line, column):
    source = f"""\
import torch
def pick(scores, mask):
    {use}
    return x
"""
    found = lint(source, "NAN201")
    assert [(code, at, col) for code, at, col, _ in found] == [("NAN201", line, column)]
    assert found[0][3].startswith("mask fill value -1e8" if "masked_fill" in use else "fill value -1e8")


def test_a_beam_search_sentinel_is_quiet_and_its_attention_bias_is_not():
    source = """\
import jax.numpy as jnp
NEG_INF = -1.0e7
def done(finished_scores, finished_flags, live, mask, logits):
    worst = jnp.min(finished_scores, axis=1, keepdims=True)
    worst = jnp.where(finished_flags, worst, NEG_INF)
    stop = jnp.all(worst > live)
    bias = jnp.where(mask, 0.0, NEG_INF)
    return stop, logits + bias
"""
    assert lint(source, "NAN201") == [
        ("NAN201", 7, 33, fill("NEG_INF (-1e+07)", "use finfo(dtype).min of the tensor's own dtype"))
    ]
