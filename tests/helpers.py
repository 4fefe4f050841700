"""Shared test helpers."""

from __future__ import annotations

import dataclasses
import textwrap

from nanlint.config import Settings
from nanlint.source.engine import lint_text


def lint(source: str, select: str | tuple[str, ...] = "ALL", path: str = "example.py", **settings):
    """Findings of `source` (dedented) with the given selection, as (code, line, column, message) tuples."""
    codes = (select,) if isinstance(select, str) else tuple(select)
    config = dataclasses.replace(Settings(), select=codes, **settings)
    return [
        (f.code, f.location.line, f.location.column, f.message)
        for f in lint_text(textwrap.dedent(source), path, config)
    ]


def codes(source: str, select: str | tuple[str, ...] = "ALL", **kwargs) -> list[str]:
    """Just the codes, in order."""
    return [code for code, *_ in lint(source, select, **kwargs)]
