"""NAN112 nan-comparison: comparisons with NaN, and the isnan fix."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from tests.helpers import lint
from tests.source.rules.fixing import fixed, run


def message(verdict: str) -> str:
    return f"comparison with NaN is {verdict}; use isnan() to test for NaN"


FALSE, TRUE = message("always False"), message("always True")
IS, IS_NOT = message("only true for that very object"), message("only false for that very object")


def nan112(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN112")]


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import numpy as np\nbad = loss == np.nan\n", FALSE),
        ("import numpy as np\nbad = loss == np.NaN\n", FALSE),
        ("import numpy as np\nbad = loss == np.NAN\n", FALSE),
        ("import numpy as np\nbad = np.nan == loss\n", FALSE),
        ("import numpy as np\nbad = loss != np.nan\n", TRUE),
        ("import numpy as np\nbad = loss is np.nan\n", IS),
        ("import numpy as np\nbad = loss is not np.nan\n", IS_NOT),
        ("import numpy as np\nbad = loss < np.nan\n", FALSE),
        ("import numpy as np\nbad = loss >= np.nan\n", FALSE),
        ("import numpy as np\nbad = 0 < loss == np.nan\n", FALSE),
        ("import numpy as np\nbad = loss == np.float32('nan')\n", FALSE),
        ("from numpy import nan\nbad = loss == nan\n", FALSE),
        ("import math\nbad = loss == math.nan\n", FALSE),
        ("bad = loss == float('nan')\n", FALSE),
        ("bad = loss == float('NaN')\n", FALSE),
        ("NAN = float('nan')\nbad = loss == NAN\n", FALSE),
        ("import torch\nbad = loss == torch.nan\n", FALSE),
        ("import jax.numpy as jnp\nbad = loss == jnp.nan\n", FALSE),
        ("import tensorflow as tf\nbad = loss == tf.experimental.numpy.nan\n", FALSE),
    ],
)
def test_comparisons_with_nan(source, expected):
    assert nan112(source) == [(source.count("\n"), 7, expected)]


@pytest.mark.parametrize(
    "source",
    [
        "bad = loss != loss\n",
        "import math\nbad = math.isnan(loss)\n",
        "import numpy as np\nbad = np.isnan(loss).any()\n",
        "import torch\nbad = torch.isnan(loss).any()\n",
        "import tensorflow as tf\nbad = tf.math.is_nan(loss)\n",
        "bad = value == 'nan'\n",
        "bad = str(value).lower() == 'nan'\n",
        "import numpy as np\nbad = loss == np.inf\n",
        "import math\nbad = loss > math.inf\n",
        "bad = loss == float('inf')\n",
        "bad = loss is None\n",
        "nan = 0.5\nbad = loss == nan\n",
    ],
)
def test_safe_look_alikes(source):
    assert nan112(source) == []


# --- the fix -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,expected",
    [
        ("a = x == np.nan", "a = np.isnan(x)"),
        ("a = np.nan == x", "a = np.isnan(x)"),
        ("a = x != np.nan", "a = ~np.isnan(x)"),
        ("a = (x + 1) == np.nan", "a = np.isnan(x + 1)"),
        ("a = (x != np.nan)", "a = (~np.isnan(x))"),
        ("a = y and x != math.nan", "a = y and not math.isnan(x)"),
        ("a = x == math.nan", "a = math.isnan(x)"),
        ("a = x != float('nan')", "a = ~np.isnan(x)"),
        ("a = t == torch.nan", "a = torch.isnan(t)"),
        ("a = t != torch.nan", "a = ~torch.isnan(t)"),
        ("if x == NAN:\n    pass", "if np.isnan(x):\n    pass"),
    ],
)
def test_safe_fix(line, expected):
    header = "import math\nimport numpy as np\nimport torch\nNAN = float('nan')\n"
    text, remaining = fixed(header + line + "\n", "NAN112", unsafe=False)
    assert text == header + expected + "\n"
    assert "NAN112" not in remaining


@pytest.mark.parametrize(
    "source,expected",
    [
        ("import math\na = x != float('nan')\n", "import math\na = not math.isnan(x)\n"),
        (
            "from numpy import isnan\nimport numpy\na = x == numpy.nan\n",
            "from numpy import isnan\nimport numpy\na = isnan(x)\n",
        ),
        ("import jax.numpy as jnp\na = x == jnp.nan\n", "import jax.numpy as jnp\na = jnp.isnan(x)\n"),
    ],
)
def test_fix_spells_isnan_as_the_file_does(source, expected):
    assert fixed(source, "NAN112", unsafe=False)[0] == expected


@pytest.mark.parametrize(
    "source",
    [
        "a = x == float('nan')\n",  # nothing imported to test with
        "from numpy import nan\na = x == nan\n",  # no spelling of numpy.isnan in this file
        "import numpy as np\na = 0 < x == np.nan\n",  # a chain: what was meant is unclear
        "import numpy as np\na = x < np.nan\n",
    ],
)
def test_no_fix_without_a_spelling_or_a_clear_meaning(source):
    text, remaining = fixed(source, "NAN112", unsafe=True)
    assert text == source and remaining == ["NAN112"]


def test_identity_comparison_fix_is_unsafe():
    source = "import numpy as np\na = x is np.nan\nb = x is not np.nan\n"
    assert fixed(source, "NAN112", unsafe=False)[0] == source
    assert fixed(source, "NAN112", unsafe=True)[0] == "import numpy as np\na = np.isnan(x)\nb = ~np.isnan(x)\n"


def test_fixed_code_detects_nan():
    source = """\
        import math
        import numpy as np

        def checks(x, scalar):
            return x == np.nan, x != np.nan, scalar == math.nan, scalar != math.nan, x != float("nan")
        """
    text, remaining = fixed(source, "NAN112", unsafe=False)
    assert remaining == []
    x = np.array([1.0, np.nan, 3.0])
    before = run(textwrap.dedent(source), "checks", x, math.nan)
    after = run(text, "checks", x, math.nan)
    assert [np.asarray(v).tolist() for v in before] == [[False] * 3, [True] * 3, False, True, [True] * 3]
    assert [np.asarray(v).tolist() for v in after] == [
        [False, True, False],
        [True, False, True],
        True,
        False,
        [True, False, True],
    ]
    ordinary = np.array([0.5, 2.0])  # without NaN the fixed code agrees with what the original meant
    assert [np.asarray(v).tolist() for v in run(text, "checks", ordinary, 1.0)] == [
        [False, False],
        [True, True],
        False,
        True,
        [True, True],
    ]
