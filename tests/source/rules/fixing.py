"""Helpers for testing fixes: apply them, re-lint, and run the code before and after with NumPy."""

from __future__ import annotations

import sys
import textwrap
import types

import numpy as np

from nanlint.config import Settings
from nanlint.source.engine import fix_source


def fixed(source: str, code: str, unsafe: bool = True) -> tuple[str, list[str]]:
    """The source after fixing `code`'s findings, and the codes still reported on it (all rules)."""
    settings = Settings(select=(code,))
    outcome = fix_source(textwrap.dedent(source), "example.py", settings, unsafe=unsafe)
    remaining = [f.code for f in fix_source(outcome.text, "example.py", Settings(select=("ALL",))).remaining]
    return outcome.text, remaining


def run(source: str, function: str, *args):
    """Execute a module's source and call one of its functions."""
    namespace: dict = {}
    exec(compile(source, "<fixed>", "exec"), namespace)
    return namespace[function](*args)


def install_scipy_special_stub(monkeypatch) -> None:
    """scipy.special's softmax and expit in NumPy, for samples that import them (scipy is not a test dependency)."""
    special = types.ModuleType("scipy.special")

    def softmax(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    special.softmax = softmax
    special.expit = lambda x: 1 / (1 + np.exp(-x))
    scipy = types.ModuleType("scipy")
    scipy.special = special
    monkeypatch.setitem(sys.modules, "scipy", scipy)
    monkeypatch.setitem(sys.modules, "scipy.special", special)
