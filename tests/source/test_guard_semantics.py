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


RANGE = (
    "division by max - min of one tensor, which is 0 when it is constant: inf or NaN there; add an eps "
    "(x / (d + eps)) or clamp it (d.clamp(min=eps))"
)


@pytest.mark.parametrize(
    "clamp",
    [
        "ranges[ranges <= 1e-8] = 1e-8",
        "ranges[torch.where(ranges <= 1e-8)] = 1e-8",
        "ranges[ranges < eps] = eps",
        "ranges[torch.where(ranges <= eps)] = eps",
        "ranges[ranges == 0] = 1.0",
    ],
)
def test_a_masked_assignment_clamps_what_it_masks(clamp):
    source = f"""\
        import torch
        def normalize(X, eps=1e-8):
            ranges = X.max(dim=0)[0] - X.min(dim=0)[0]
            {clamp}
            return X / ranges
        """
    assert nan105(source) == []


@pytest.mark.parametrize("assignment", ["other[other <= 1e-8] = 1e-8", "ranges[0] = 1e-8"])
def test_a_masked_assignment_of_something_else_does_not_clamp(assignment):
    source = f"""\
        import torch
        def normalize(X, other, eps=1e-8):
            ranges = X.max(dim=0)[0] - X.min(dim=0)[0]
            {assignment}
            return X / ranges
        """
    assert nan105(source) == [(5, 12, RANGE)]


COUNT = (
    "division by a count of nonzeros, which can be 0: inf or NaN there; divide by the count clamped to at "
    "least 1 (max(n, 1))"
)
SELECTION = (
    "division by a count of a possibly empty selection: inf or NaN there; divide by the count clamped to at "
    "least 1 (max(n, 1))"
)
_SCORES = """\
    import numpy as np
    def scores(pred, gold):
        tp = np.count_nonzero(pred & gold)
        fp = np.count_nonzero(pred & ~gold)
        precision = 0
        {test}
            precision = np.divide(tp, tp + fp)
        return precision
    """


@pytest.mark.parametrize("test", ["if tp + fp:", "if tp + fp != 0:", "if 0 not in (tp, fp):", "if (tp + fp) > 0:"])
def test_a_test_of_the_denominator_written_as_an_expression_guards_it(test):
    """`if tp + fp:` is the author's test of that very denominator, like `if n:` of a name."""
    assert nan105(_SCORES.format(test=test)) == []


@pytest.mark.parametrize("test", ["if 1 in (tp, fp):", "if pred.any():", "if gold.sum() > 0:"])
def test_a_test_of_something_else_guards_nothing(test):
    assert nan105(_SCORES.format(test=test)) == [(7, 21, COUNT)]


def test_zero_among_the_listed_values_is_an_early_return_guard():
    source = """\
        import torch
        def rate(hits, pred, target):
            pred_len, target_len = (pred > 0).sum(), (target > 0).sum()
            if 0 in (pred_len, target_len):
                return torch.tensor(0.0)
            return hits / pred_len + hits / target_len
        """
    assert nan105(source) == []
    unguarded = source.replace("if 0 in (pred_len, target_len):", "if 0 in (target_len,):")
    assert nan105(unguarded) == [(6, 12, SELECTION)]


_RATES = """\
    import torch
    def rates(hits{number}, pred_len{number}):
        return hits / pred_len
    def caller(x, mask):
        return rates(x.sum(), len(mask)), rates(x.sum(), (mask > 0).sum())
    """


@pytest.mark.parametrize("number", [": int", ": float", ": Optional[int]", ": float | None"])
def test_parameters_annotated_as_python_numbers_raise_rather_than_make_nan(number):
    """Python's `int / 0` raises ZeroDivisionError: no inf, no NaN to warn about."""
    assert nan105(_RATES.format(number=number)) == []


@pytest.mark.parametrize("number", ["", ": Tensor", ": torch.Tensor"])
def test_parameters_not_annotated_as_numbers_are_tensors_as_before(number):
    assert nan105(_RATES.format(number=number)) == [(3, 12, SELECTION)]
