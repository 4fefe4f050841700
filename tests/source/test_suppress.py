"""Suppression comments, and NAN901 for the ones that silence nothing."""

from __future__ import annotations

from tests.helpers import lint

NAN_CHECK = "import numpy as np\n"


def test_nanlint_ignore_with_code_silences_that_code_only():
    src = NAN_CHECK + "a = x == np.nan  # nanlint: ignore[NAN112]\nb = x == np.nan  # nanlint: ignore[NAN104]\n"
    assert lint(src, "NAN112") == [("NAN112", 3, 5, "comparison with NaN is always False; use isnan() to test for NaN")]


def test_noqa_with_code_and_bare_forms():
    src = NAN_CHECK + (
        "a = x == np.nan  # noqa: NAN112\n"
        "b = x == np.nan  # noqa\n"
        "c = x == np.nan  # nanlint: ignore\n"
        "d = x == np.nan  # noqa: E501, nan112\n"
        "e = x == np.nan  # noqa: E501\n"
    )
    assert [(c, line) for c, line, *_ in lint(src, "NAN112")] == [("NAN112", 6)]


def test_ignore_file_silences_everything():
    src = "# nanlint: ignore-file\n" + NAN_CHECK + "a = x == np.nan\n"
    assert lint(src) == []


def test_ignore_file_inside_code_does_not_count():
    src = NAN_CHECK + "a = x == np.nan; s = '# nanlint: ignore-file'\n"
    assert [c for c, *_ in lint(src, "NAN112")] == ["NAN112"]


def test_unused_suppressions_are_reported_when_selected():
    src = NAN_CHECK + (
        "a = 1  # nanlint: ignore[NAN112]\n"
        "b = x == np.nan  # nanlint: ignore[NAN112, NAN105]\n"
        "c = 2  # nanlint: ignore\n"
        "d = 3  # noqa\n"
        "e = 4  # noqa: E501\n"
    )
    assert lint(src, ("NAN112", "NAN901")) == [
        ("NAN901", 2, 8, "unused suppression of NAN112"),
        ("NAN901", 4, 8, "unused suppression: nothing on this line is reported"),
    ]


def test_unused_suppression_of_a_rule_that_did_not_run_is_not_reported():
    src = NAN_CHECK + "a = 1  # nanlint: ignore[NAN112]\n"
    assert lint(src, ("NAN901", "NAN104")) == []


def test_nan901_is_not_in_the_default_selection():
    from nanlint.config import Settings

    assert not Settings().is_selected("NAN901")
    assert Settings().is_selected("NAN112")
