"""Output formats, one module each. Every renderer takes a Run and returns the full text."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from nanlint.report.run import ReportOptions, Run, severity_counts

FORMAT_NAMES = ("text", "full", "json", "github", "sarif", "html")
CHECK_FORMATS = ("text", "full", "json", "github", "sarif")
GRAPH_FORMATS = ("text", "json", "github", "sarif", "html")


def renderer(name: str) -> Callable[[Run, ReportOptions], str]:
    """The renderer of one format (its module is imported on demand: a run uses one)."""
    if name not in FORMAT_NAMES:
        raise ValueError(f"unknown format {name!r}")
    return importlib.import_module(f"nanlint.report.{name}").render


__all__ = ["CHECK_FORMATS", "FORMAT_NAMES", "GRAPH_FORMATS", "ReportOptions", "Run", "renderer", "severity_counts"]
