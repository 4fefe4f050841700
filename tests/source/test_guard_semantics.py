"""What guards a value and what only looks like a guard: a test whose `if` only warns, a masked clamp."""

from __future__ import annotations

import pytest

from tests.helpers import lint

SUM = "division by a sum that can be 0: inf or NaN there; add an eps (x / (d + eps)) or clamp it (d.clamp(min=eps))"


def nan105(source: str):
    return [(line, column, message) for _, line, column, message in lint(source, "NAN105")]


@pytest.mark.parametrize(
    "report",
    ['warnings.warn("zero cost")', 'logger.warning("zero cost")', 'print("zero cost")', "pass"],
)
def test_an_if_that_only_reports_guards_nothing(report):
    source = f"""\
        import warnings
        import torch
        def utility(deltas, cost, logger):
            cost = cost.clamp_min(0.0).sum(dim=-1)
            if torch.any(cost <= 1e-7):
                {report}
            return deltas / cost
        """
    assert nan105(source) == [(7, 12, SUM)]


@pytest.mark.parametrize(
    "handling",
    [
        'raise ValueError("zero cost")',
        "return deltas",
        "cost = cost + 1e-7",
        'warnings.warn("zero cost")\n                return deltas',
        "cost.clamp_(min=1e-7)",
    ],
)
def test_an_if_that_handles_the_value_guards_it(handling):
    source = f"""\
        import warnings
        import torch
        def utility(deltas, cost):
            cost = cost.clamp_min(0.0).sum(dim=-1)
            if torch.any(cost <= 1e-7):
                {handling}
            return deltas / cost
        """
    assert nan105(source) == []


def test_an_if_with_an_else_still_chooses_a_branch():
    source = """\
        import warnings
        import torch
        def utility(deltas, cost):
            cost = cost.clamp_min(0.0).sum(dim=-1)
            if (cost == 0).any():
                warnings.warn("zero cost")
            else:
                return deltas / cost
            return deltas
        """
    assert nan105(source) == []
