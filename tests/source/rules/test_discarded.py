"""NAN111 discarded-guard: a clamp/clip/maximum/nan_to_num whose result is thrown away."""

from __future__ import annotations

import pytest

from tests.helpers import lint


def message(name: str) -> str:
    return f"the result of {name}() is discarded, so nothing is guarded; assign it (x = ...) or use the in-place form"


def nan111(source: str):
    return [(line, column, text) for _, line, column, text in lint(source, "NAN111")]


@pytest.mark.parametrize(
    "statement,name",
    [
        ("x.clamp(min=0)", "clamp"),
        ("x.clip(-1, 1)", "clip"),
        ("p.data.clamp(-0.01, 0.01)", "clamp"),
        ("x.clamp_min(1e-8)", "clamp_min"),
        ("torch.clamp(x, 0)", "clamp"),
        ("torch.clip(x, 0, 1)", "clip"),
        ("torch.nan_to_num(x)", "nan_to_num"),
        ("x.nan_to_num(0.0)", "nan_to_num"),
        ("torch.maximum(x, y)", "maximum"),
        ("np.clip(x, 0, 1)", "clip"),
        ("np.maximum(x, 0)", "maximum"),
        ("np.nan_to_num(x)", "nan_to_num"),
        ("tf.clip_by_value(x, 0.0, 1.0)", "clip_by_value"),
        ("tf.maximum(x, 1e-8)", "maximum"),
        ("K.clip(x, 0.0, 1.0)", "clip"),
        ("jnp.clip(x, 0, 1)", "clip"),
        ("jnp.maximum(x, 0)", "maximum"),
        ("torch.nn.init.normal_(w, std=0.02).clamp(min=-0.04, max=0.04)", "clamp"),
    ],
)
def test_discarded_guards(statement, name):
    source = (
        f"import torch\nimport numpy as np\nimport tensorflow as tf\nimport jax.numpy as jnp\n"
        f"from keras import backend as K\n{statement}\n"
    )
    assert nan111(source) == [(6, 1, message(name))]


def test_inside_a_loop():
    source = "import torch\nfor p in critic.parameters():\n    p.data.clamp(-0.01, 0.01)\n"
    assert nan111(source) == [(3, 5, message("clamp"))]


@pytest.mark.parametrize(
    "statement",
    [
        "x.clamp_(min=0)",
        "p.data.clamp_(-0.01, 0.01)",
        "x.clip_(-1, 1)",
        "x.nan_to_num_(0.0)",
        "torch.clamp(x, 0, out=x)",
        "np.clip(x, 0, 1, out=x)",
        "np.clip(x, 0, 1, x)",
        "np.maximum(x, 0, x)",
        "np.maximum(x, 0, out=x)",
        "df.clip(0, 1, inplace=True)",
        "x = x.clamp(min=0)",
        "y = torch.clamp(x, 0)",
        "return_value = np.clip(x, 0, 1)",
        "x.clamp(min=0).sum().backward()",
        "print(x.clamp(min=0))",
        "max(a, b)",
        "boxes.clip(image_size)",  # a geometry object clipping itself to an image, in place
        "boxes.clip(results.image_shape)",
        "boxes.clip((height, width))",
    ],
)
def test_used_or_in_place(statement):
    source = f"import torch\nimport numpy as np\n{statement}\n"
    expected = [(3, 1, message("max"))] if statement == "max(a, b)" else []
    assert nan111(source) == expected


@pytest.mark.parametrize("statement", ["x.clip(lo, hi)", "x.clamp(eps)", "x.clip(max_size, 1.0)"])
def test_a_tensor_bound_by_names_still_counts(statement):
    # Only a shape or size as the argument says "not a numeric bound"; other names stay bounds.
    name = statement[2:].split("(")[0]
    expected = [] if statement == "x.clip(max_size, 1.0)" else [(2, 1, message(name))]
    assert nan111(f"import torch\n{statement}\n") == expected


@pytest.mark.parametrize(
    "context", ["pytest.raises(ValueError)", "self.assertRaises(ValueError)", "self.assertRaisesRegex(ValueError, 'x')"]
)
def test_a_call_made_for_the_exception_it_raises(context):
    source = f"""\
        import pytest
        import numpy as np
        def test_shapes(self, x, y):
            with {context}:
                np.maximum(x, y)
            np.maximum(x, y)
        """
    assert nan111(source) == [(6, 5, message("maximum"))]
