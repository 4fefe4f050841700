"""Fixes of NAN101, NAN102, NAN103 and NAN113: the exact code written, that it parses, no longer fires, and
computes the same values on ordinary inputs (NumPy versions executed here; PyTorch ones when torch is installed).

SciPy is no test dependency: when it is missing, `scipy.special` is a small reference implementation of the
five functions the fixes call, written from SciPy's documented signatures and semantics.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
import types

import numpy as np
import pytest

from nanlint.config import Settings
from nanlint.source.engine import fix_source

FAMILY = ("NAN101", "NAN102", "NAN103", "NAN113")
RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 6))


def _reference_special() -> types.ModuleType:
    special = types.ModuleType("scipy.special")

    def logsumexp(a, axis=None, b=None, keepdims=False):
        a = np.asarray(a, dtype=float)
        m = np.max(a, axis=axis, keepdims=True)
        s = np.sum(np.exp(a - m) * (1 if b is None else b), axis=axis, keepdims=True)
        out = np.log(s) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    special.logsumexp = logsumexp
    special.softmax = lambda x, axis=None: np.exp(x - logsumexp(x, axis=axis, keepdims=True))
    special.log_softmax = lambda x, axis=None: x - logsumexp(x, axis=axis, keepdims=True)
    special.expit = lambda x: 1 / (1 + np.exp(-x))
    special.log_expit = lambda x: -np.logaddexp(0, -x)
    return special


@pytest.fixture(autouse=True)
def scipy_special(monkeypatch):
    """Real SciPy when installed, else the reference `scipy.special` above."""
    try:
        import scipy.special  # noqa: F401
    except ImportError:
        special = _reference_special()
        package = types.ModuleType("scipy")
        package.special = special
        monkeypatch.setitem(sys.modules, "scipy", package)
        monkeypatch.setitem(sys.modules, "scipy.special", special)


def fix(source: str, unsafe: bool = False):
    settings = dataclasses.replace(Settings(), select=FAMILY)
    return fix_source(textwrap.dedent(source), "example.py", settings, unsafe)


def run(source: str, *args):
    namespace: dict = {}
    exec(compile(source, "example.py", "exec"), namespace)
    return namespace["f"](*args)


def assert_fixed(source: str, expected: str, unsafe: bool = False, args=(X,), applicability: str = "safe"):
    """The fix writes `expected`, which parses, is clean, and computes what the original computed."""
    result = fix(source, unsafe)
    assert result.text == textwrap.dedent(expected)
    assert [f.fix.applicability for f in result.fixed] == [applicability]
    assert result.remaining == []
    if args is not None:
        np.testing.assert_allclose(run(result.text, *args), run(textwrap.dedent(source), *args), rtol=1e-6)
    return result.text


def assert_not_fixed(source: str, unsafe: bool = True):
    result = fix(source, unsafe)
    assert result.text == textwrap.dedent(source) and result.fixed == [] and result.remaining


# --- NAN101 --------------------------------------------------------------------------------------------------


def test_numpy_softmax_subtracts_the_max_when_scipy_is_not_imported():
    fixed = assert_fixed(
        """
        import numpy as np

        def f(x):
            return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)
        """,
        """
        import numpy as np

        def f(x):
            return np.exp(x - np.max(x, axis=-1, keepdims=True)) / np.sum(np.exp(x - np.max(x, axis=-1, keepdims=True)), axis=-1, keepdims=True)
        """,
    )
    large = run(fixed, X * 1000)
    assert np.isfinite(large).all() and np.allclose(large.sum(-1), 1)


@pytest.mark.parametrize(
    "imports,call",
    [
        ("from scipy.special import softmax", "softmax(x, axis=1)"),
        ("import scipy.special", "scipy.special.softmax(x, axis=1)"),
        ("from scipy import special as sp", "sp.softmax(x, axis=1)"),
    ],
)
def test_numpy_softmax_uses_scipy_when_imported(imports, call):
    naive = "np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)"
    source = f"import numpy as np\n{imports}\n\ndef f(x):\n    return {naive}\n"
    assert_fixed(source, source.replace(naive, call))


def test_full_reduction_subtracts_the_global_max():
    assert_fixed(
        """
        import numpy as np

        def f(x):
            return np.exp(x * 2) / np.sum(np.exp(x * 2))
        """,
        """
        import numpy as np

        def f(x):
            return np.exp(x * 2 - np.max(x * 2)) / np.sum(np.exp(x * 2 - np.max(x * 2)))
        """,
    )


def test_across_statements_the_fix_is_unsafe():
    source = """
        import numpy as np

        def f(x):
            e = np.exp(x)
            return e / e.sum(axis=-1, keepdims=True)
        """
    assert fix(source).fixed == []  # not applied by --fix alone
    assert_fixed(
        source,
        """
        import numpy as np

        def f(x):
            e = np.exp(x - np.max(x, axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        """,
        unsafe=True,
        applicability="unsafe",
    )


def test_augmented_division_with_mask_and_eps():
    source = """
        import numpy as np

        def f(x, m):
            e = np.exp(x) * m
            e /= e.sum(axis=1, keepdims=True) + 1e-12
            return e
        """
    mask = (RNG.random(X.shape) > 0.3).astype(float)
    assert_fixed(
        source,
        """
        import numpy as np

        def f(x, m):
            e = np.exp(x - np.max(x, axis=1, keepdims=True)) * m
            e /= e.sum(axis=1, keepdims=True) + 1e-12
            return e
        """,
        unsafe=True,
        args=(X, mask),
        applicability="unsafe",
    )


@pytest.mark.parametrize(
    "expression",
    [
        "np.exp(x) / np.exp(x).sum(axis=1)",  # no keepdims: the division broadcasts some other way
        "np.exp(x) / (np.exp(x) + np.exp(y))",
        "np.exp(x) / np.exp(y).sum()",  # different exponents
    ],
)
def test_no_fix_where_the_rewrite_would_guess(expression):
    assert_not_fixed(f"import math\nimport numpy as np\n\ndef f(x, y):\n    return {expression}\n")


@pytest.mark.parametrize(
    "imports,before,after",
    [
        ("import torch", "x.exp() / x.exp().sum(-1, keepdim=True)", "x.softmax(dim=-1)"),
        ("import torch", "torch.exp(x) / torch.sum(torch.exp(x), dim=1, keepdim=True)", "torch.softmax(x, dim=1)"),
        ("import torch", "torch.div(torch.exp(x), torch.exp(x).sum(1, True))", "torch.softmax(x, dim=1)"),
        (
            "import torch",
            "(x + 1).exp() / (x + 1).exp().sum()",
            "((x + 1) - (x + 1).amax()).exp() / ((x + 1) - (x + 1).amax()).exp().sum()",
        ),
        (
            "import tensorflow as tf",
            "tf.exp(x) / tf.reduce_sum(tf.exp(x), axis=-1, keepdims=True)",
            "tf.nn.softmax(x, axis=-1)",
        ),
        (
            "import tensorflow.compat.v1 as tf",
            "tf.exp(x) / tf.reduce_sum(tf.exp(x), 1, keepdims=True)",
            "tf.nn.softmax(x, axis=1)",
        ),
        (
            "import tensorflow as tf",
            "tf.exp(x) / tf.reduce_sum(tf.exp(x))",
            "tf.exp(x - tf.math.reduce_max(x)) / tf.reduce_sum(tf.exp(x - tf.math.reduce_max(x)))",
        ),
        (
            "from keras import backend as K",
            "K.exp(x) / K.sum(K.exp(x), axis=-1, keepdims=True)",
            "K.softmax(x, axis=-1)",
        ),
        (
            "import jax\nimport jax.numpy as jnp",
            "jnp.exp(x) / jnp.exp(x).sum(axis=-1, keepdims=True)",
            "jax.nn.softmax(x, axis=-1)",
        ),
        (
            "import jax.numpy as jnp",
            "jnp.exp(x) / jnp.exp(x).sum(axis=-1, keepdims=True)",
            "jnp.exp(x - jnp.max(x, axis=-1, keepdims=True)) / jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))"
            ".sum(axis=-1, keepdims=True)",
        ),
    ],
)
def test_framework_spellings(imports, before, after):
    source = f"{imports}\n\ndef f(x):\n    return {before}\n"
    assert fix(source).text == source.replace(before, after)


def test_torch_fixes_compute_the_same_values():
    torch = pytest.importorskip("torch")
    cases = [
        ("x.exp() / x.exp().sum(-1, keepdim=True)", "x.softmax(dim=-1)"),
        ("torch.exp(x) / torch.sum(torch.exp(x), dim=0, keepdim=True)", "torch.softmax(x, dim=0)"),
        ("x.exp() / x.exp().sum()", "(x - x.amax()).exp() / (x - x.amax()).exp().sum()"),
        (
            "torch.exp(x) / torch.exp(x).sum(dim=(0, 1), keepdim=True)",
            "torch.exp(x - torch.amax(x, dim=(0, 1), keepdim=True)) / "
            "torch.exp(x - torch.amax(x, dim=(0, 1), keepdim=True)).sum(dim=(0, 1), keepdim=True)",
        ),
    ]
    x = torch.tensor(X)
    for before, after in cases:
        source = f"import torch\n\ndef f(x):\n    return {before}\n"
        result = fix(source)
        assert result.text == source.replace(before, after) and result.remaining == []
        torch.testing.assert_close(run(result.text, x), run(source, x))
        assert torch.isfinite(run(result.text, x * 1000)).all()


# --- NAN102 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "imports,before,after",
    [
        ("from scipy.special import softmax, log_softmax", "np.log(softmax(x, axis=1))", "log_softmax(x, axis=1)"),
        (
            "import scipy.special",
            "np.log(scipy.special.softmax(x, 1))[np.arange(4), [0, 1, 2, 3]]",
            "scipy.special.log_softmax(x, 1)[np.arange(4), [0, 1, 2, 3]]",
        ),
        ("import scipy.special as sp", "np.log(sp.expit(x))", "sp.log_expit(x)"),
        ("from scipy import special", "np.log(1 - special.expit(x * 2))", "special.log_expit(-(x * 2))"),
    ],
)
def test_log_of_probability_numpy(imports, before, after):
    assert_fixed(
        f"import numpy as np\n{imports}\n\ndef f(x):\n    return {before}\n",
        f"import numpy as np\n{imports}\n\ndef f(x):\n    return {after}\n",
    )


def test_log_of_probability_is_not_fixed_with_an_undefined_name():
    assert_not_fixed(
        "import numpy as np\nfrom scipy.special import softmax\n\ndef f(x):\n    return np.log(softmax(x, axis=1))\n"
    )
    assert_not_fixed("import torch\n\ndef f(x):\n    return torch.log2(torch.softmax(x, -1))\n")


@pytest.mark.parametrize(
    "imports,before,after",
    [
        ("import torch", "torch.log(torch.softmax(x, -1))", "torch.log_softmax(x, -1)"),
        ("import torch", "x.softmax(dim=1).log()", "x.log_softmax(dim=1)"),
        ("import torch", "torch.log(torch.sigmoid(x))", "torch.nn.functional.logsigmoid(x)"),
        ("import torch\nimport torch.nn.functional as F", "torch.log(x.sigmoid())", "F.logsigmoid(x)"),
        (
            "import torch\nimport torch.nn.functional as F",
            "torch.log(1 - torch.sigmoid(x + 1))",
            "F.logsigmoid(-(x + 1))",
        ),
        (
            "import torch\nimport torch.nn.functional as F",
            "(torch.log(F.softmax(x, dim=0)))",
            "(F.log_softmax(x, dim=0))",
        ),
        ("import tensorflow as tf", "tf.math.log(tf.nn.softmax(x, axis=-1))", "tf.nn.log_softmax(x, axis=-1)"),
        ("import tensorflow.compat.v1 as tf", "tf.log(tf.nn.sigmoid(x))", "tf.math.log_sigmoid(x)"),
        ("import tensorflow as tf\nfrom keras import backend as K", "K.log(K.softmax(x))", "tf.nn.log_softmax(x)"),
        ("import jax\nimport jax.numpy as jnp", "jnp.log(jax.nn.softmax(x, axis=0))", "jax.nn.log_softmax(x, axis=0)"),
        ("import jax.numpy as jnp\nimport flax.linen as nn", "jnp.log(1 - nn.sigmoid(x))", "nn.log_sigmoid(-x)"),
    ],
)
def test_log_of_probability_framework_spellings(imports, before, after):
    source = f"{imports}\n\ndef f(x):\n    return {before}\n"
    result = fix(source)
    assert result.text == source.replace(before, after) and result.remaining == []


def test_keras_layers_and_activations_use_tensorflow_when_imported():
    source = textwrap.dedent("""
        import tensorflow as tf

        class Head(tf.keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.softmax = tf.keras.layers.Softmax(axis=1)

            def call(self, x):
                return tf.math.log(self.softmax(x)), tf.math.log(tf.keras.activations.softmax(x))
        """)
    assert fix(source).text == source.replace(
        "tf.math.log(self.softmax(x)), tf.math.log(tf.keras.activations.softmax(x))",
        "tf.nn.log_softmax(x, axis=1), tf.nn.log_softmax(x)",
    )


def test_keras_backend_without_tensorflow_gets_no_fix():
    assert_not_fixed("from keras import backend as K\n\ndef f(x):\n    return K.log(K.softmax(x))\n")


def test_module_instances_take_the_axis_from_the_constructor():
    source = textwrap.dedent("""
        import torch
        from torch import nn

        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.softmax = nn.Softmax(dim=-1)
                self.act = nn.Sigmoid()

            def forward(self, x):
                return torch.log(self.softmax(x)), torch.log(self.act(x))
        """)
    result = fix(source)
    assert result.text == source.replace(
        "torch.log(self.softmax(x)), torch.log(self.act(x))",
        "nn.functional.log_softmax(x, dim=-1), nn.functional.logsigmoid(x)",
    )
    torch = pytest.importorskip("torch")
    namespace: dict = {}
    exec(result.text, namespace)
    x = torch.tensor(X)
    before, after = {}, namespace["Head"]()
    exec(source, before)
    for fixed, original in zip(after(x), before["Head"]()(x)):
        torch.testing.assert_close(fixed, original)


def test_torch_log_of_probability_values():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X)
    for before in [
        "torch.log(torch.softmax(x, -1))",
        "x.softmax(dim=1).log()",
        "torch.log(torch.sigmoid(x))",
        "torch.log(1 - torch.sigmoid(x + 1))",
        "torch.log(x.softmax(0)[:, 1:3])",
    ]:
        source = f"import torch\n\ndef f(x):\n    return {before}\n"
        result = fix(source)
        assert result.fixed and result.remaining == []
        torch.testing.assert_close(run(result.text, x), run(source, x))
        assert torch.isfinite(run(result.text, x * 100)).all()


# --- NAN103 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "imports,before,after,unsafe",
    [
        ("from scipy.special import logsumexp", "np.log(np.sum(np.exp(x), axis=1))", "logsumexp(x, axis=1)", False),
        (
            "import scipy.special",
            "np.log(np.exp(x).sum(1, keepdims=True))",
            "scipy.special.logsumexp(x, 1, keepdims=True)",
            False,
        ),
        ("import scipy.special", "np.log(np.sum(np.exp(x)))", "scipy.special.logsumexp(x)", False),
        ("", "np.log(1 + np.exp(x))", "np.logaddexp(0, x)", False),
        ("", "np.log(np.exp(-x) + 1.0)", "np.logaddexp(0, -x)", False),
        ("", "np.log1p(np.exp(x * 3))", "np.logaddexp(0, x * 3)", False),
        ("", "np.log(np.exp(x) + np.exp(2 * x))", "np.logaddexp(x, 2 * x)", False),
    ],
)
def test_logsumexp_numpy(imports, before, after, unsafe):
    assert_fixed(
        f"import numpy as np\n{imports}\n\ndef f(x):\n    return {before}\n",
        f"import numpy as np\n{imports}\n\ndef f(x):\n    return {after}\n",
    )


def test_logsumexp_through_a_name_is_unsafe():
    source = "import numpy as np\n\ndef f(x):\n    s = 1 + np.exp(x)\n    return np.log(s)\n"
    assert fix(source).fixed == []
    assert_fixed(source, source.replace("np.log(s)", "np.logaddexp(0, x)"), unsafe=True, applicability="unsafe")


@pytest.mark.parametrize(
    "expression",
    [
        "np.log(np.sum(np.exp(x), axis=1))",  # scipy not imported: no logsumexp to call
        "np.log(np.mean(np.exp(x)))",
        "np.log(np.sum(np.exp(x) * x, axis=1))",
        "np.log(np.sum(np.exp(x), axis=1) + 1e-9)",
        "np.log(np.sum(np.exp(x), 1, np.float64))",  # a dtype argument logsumexp does not take
        "math.log(1 + math.exp(x[0, 0]))",  # math has no softplus
        "np.log(np.exp(x) + np.exp(x) + np.exp(x))",
        "np.log2(1 + np.exp(x))",
    ],
)
def test_logsumexp_not_fixed(expression):
    assert_not_fixed(f"import math\nimport numpy as np\n\ndef f(x):\n    return {expression}\n")


@pytest.mark.parametrize(
    "imports,before,after",
    [
        ("import torch", "torch.log(torch.exp(x).sum(-1))", "torch.logsumexp(x, -1)"),
        ("import torch", "x.exp().sum(dim=-1, keepdim=True).log()", "x.logsumexp(dim=-1, keepdim=True)"),
        ("import torch", "torch.log(torch.sum(x.exp(), dim=0))", "torch.logsumexp(x, dim=0)"),
        ("import torch", "torch.log(1 + torch.exp(x))", "torch.nn.functional.softplus(x)"),
        ("import torch\nimport torch.nn.functional as F", "torch.log(torch.exp(-x) + 1)", "F.softplus(-x)"),
        ("import torch", "torch.log(x.exp() + (2 * x).exp())", "torch.logaddexp(x, 2 * x)"),
        (
            "import tensorflow as tf",
            "tf.math.log(tf.reduce_sum(tf.exp(x), axis=-1))",
            "tf.math.reduce_logsumexp(x, axis=-1)",
        ),
        ("import tensorflow.compat.v1 as tf", "tf.log(1 + tf.exp(x))", "tf.math.softplus(x)"),
        ("from keras import backend as K", "K.log(K.sum(K.exp(x), axis=-1))", "K.logsumexp(x, axis=-1)"),
        (
            "import jax\nimport jax.numpy as jnp",
            "jnp.log(jnp.sum(jnp.exp(x), axis=-1))",
            "jax.nn.logsumexp(x, axis=-1)",
        ),
        ("import jax.numpy as jnp", "jnp.log(1 + jnp.exp(x))", "jnp.logaddexp(0, x)"),
    ],
)
def test_logsumexp_framework_spellings(imports, before, after):
    source = f"{imports}\n\ndef f(x):\n    return {before}\n"
    result = fix(source)
    assert result.text == source.replace(before, after) and result.remaining == []


def test_torch_logsumexp_needs_a_dim():
    assert_not_fixed("import torch\n\ndef f(x):\n    return torch.log(torch.exp(x).sum())\n")


def test_torch_logsumexp_values():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X)
    for before in [
        "torch.log(torch.exp(x).sum(-1))",
        "x.exp().sum(dim=0, keepdim=True).log()",
        "torch.log(1 + torch.exp(x))",
        "torch.log(x.exp() + (2 * x).exp())",
    ]:
        source = f"import torch\n\ndef f(x):\n    return {before}\n"
        result = fix(source)
        assert result.fixed and result.remaining == []
        torch.testing.assert_close(run(result.text, x), run(source, x))
        assert torch.isfinite(run(result.text, x * 1000)).all()


# --- NAN113 --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before,after",
    [
        ("np.log(1 + x)", "np.log1p(x)"),
        ("np.log(x * x + 1.0)", "np.log1p(x * x)"),
        ("np.exp(x) - 1", "np.expm1(x)"),
        ("-1 + np.exp(2 * x)", "np.expm1(2 * x)"),
        ("math.log(1 + x[0, 0])", "math.log1p(x[0, 0])"),
        ("math.exp(x[0, 0]) - 1.0", "math.expm1(x[0, 0])"),
        ("np.log(1 + np.exp(-np.abs(x)))", "np.log1p(np.exp(-np.abs(x)))"),
    ],
)
def test_log1p_expm1_numpy(before, after):
    source = f"import math\nimport numpy as np\n\ndef f(x):\n    return {before}\n"
    assert_fixed(source, source.replace(before, after), args=(np.abs(X),))


def test_log1p_expm1_keep_the_digits_the_naive_forms_lose():
    tiny = np.array([1e-12])
    for before in ["np.log(1 + x)", "np.exp(x) - 1"]:
        source = f"import numpy as np\n\ndef f(x):\n    return {before}\n"
        fixed = fix(source).text
        assert abs(run(source, tiny)[0] / 1e-12 - 1) > 1e-5  # the naive form is wrong in the 5th digit
        assert run(fixed, tiny)[0] == pytest.approx(1e-12, rel=1e-12)


@pytest.mark.parametrize(
    "imports,before,after",
    [
        ("import torch", "torch.log(1 + x)", "torch.log1p(x)"),
        ("import torch", "(x + 1).log()", "x.log1p()"),
        ("import torch", "(a + b).exp() - 1", "(a + b).expm1()"),
        ("import torch", "torch.exp(a + b) - 1", "torch.expm1(a + b)"),
        ("import tensorflow as tf", "tf.math.log(1 + x)", "tf.math.log1p(x)"),
        ("import tensorflow.compat.v1 as tf", "tf.exp(x) - 1", "tf.math.expm1(x)"),
        ("import tensorflow as tf\nfrom keras import backend as K", "K.log(1 + x)", "tf.math.log1p(x)"),
        ("import jax.numpy as jnp", "jnp.exp(x) - 1", "jnp.expm1(x)"),
        ("import jax", "jax.lax.log(1 + x)", "jax.lax.log1p(x)"),
    ],
)
def test_log1p_expm1_framework_spellings(imports, before, after):
    source = f"{imports}\n\ndef f(x, a, b):\n    return {before}\n"
    result = fix(source)
    assert result.text == source.replace(before, after) and result.remaining == []


def test_log1p_not_fixed_without_a_spelling():
    assert_not_fixed("from keras import backend as K\n\ndef f(x):\n    return K.log(1 + x)\n")


def test_torch_log1p_expm1_values():
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.abs(X))
    for before in ["torch.log(1 + x)", "(x + 1).log()", "x.exp() - 1", "torch.exp(x) - 1"]:
        source = f"import torch\n\ndef f(x):\n    return {before}\n"
        result = fix(source)
        assert result.fixed and result.remaining == []
        torch.testing.assert_close(run(result.text, x), run(source, x))
