"""SARIF 2.1.0 report (placeholder until the SARIF work lands)."""

from __future__ import annotations

from nanlint.report import ReportOptions, Run


def render(run: Run, options: ReportOptions) -> str:
    raise NotImplementedError("SARIF output is not implemented yet")
