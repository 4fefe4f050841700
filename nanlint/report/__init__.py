"""Output formats, one module each. Every renderer takes a Run and returns the full text."""

from __future__ import annotations

from collections.abc import Callable

from nanlint.report.run import ReportOptions, Run, severity_counts

FORMAT_NAMES = ("text", "json", "github", "sarif", "html")


def formats() -> dict[str, Callable[[Run, ReportOptions], str]]:
    """Renderers by format name (imported on demand: a run uses one)."""
    from nanlint.report import github, html, json, sarif, text

    return {
        "text": text.render,
        "json": json.render,
        "github": github.render,
        "sarif": sarif.render,
        "html": html.render,
    }


__all__ = ["FORMAT_NAMES", "ReportOptions", "Run", "formats", "severity_counts"]
