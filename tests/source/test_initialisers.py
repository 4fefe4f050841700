"""Initialisers are not differentiated: a function passed as `kernel_init=` (and named nowhere else) runs once, when
the parameters are made, so a gradient hazard inside it (a norm's NaN gradient at 0) never meets a backward pass."""

from __future__ import annotations

from pathlib import Path

from nanlint.config import Settings
from nanlint.source.engine import CheckOptions, check_paths

_VIT = """\
import flax.linen as nn
import jax.numpy as jnp


def norm_kernel_init_fn(rng, shape, dtype):
    param = nn.linear.default_kernel_init(rng, shape, dtype)
    param /= jnp.linalg.norm(param, axis=0, keepdims=True) + 1e-10
    return param


class Head(nn.Module):
    def __call__(self, x):
        {use}
        return nn.Dense(8, kernel_init=norm_kernel_init_fn)(x)
"""
NORM = (
    "norm of a vector that can be 0: its gradient is NaN at 0 in this framework; guarding the norm afterwards "
    "comes too late; compute sqrt(sum(x**2) + eps) instead, or guard its input (the double where)"
)


def nan106(root: Path, use: str) -> list[tuple[int, int, str]]:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "vit.py").write_text(_VIT.format(use=use))
    settings = Settings(root=root, select=("NAN106",))
    result = check_paths([root], settings, CheckOptions(use_cache=False))
    return [(f.location.line, f.location.column, f.message) for f in result.findings]


def test_a_function_passed_only_as_an_initialiser_is_not_differentiated(tmp_path):
    assert nan106(tmp_path, "pass") == []


def test_an_initialiser_also_called_in_the_forward_pass_is_differentiated(tmp_path):
    assert nan106(tmp_path, "x = x + norm_kernel_init_fn(x, x.shape, x.dtype)") == [(7, 14, NORM)]
