"""NAN201 fp16-mask-overflow, NAN202 eps-underflow, NAN203 absorbed-eps: positives in every framework,
the safe look-alikes as negatives, and NAN201's fix (parses, stops firing, same values)."""

from __future__ import annotations

import dataclasses
import textwrap

import libcst as cst
import numpy as np
import pytest

from nanlint.config import Settings
from nanlint.source.engine import fix_source
from tests.helpers import codes, lint


def fill(
    text: str, advice: str = "use finfo(dtype).min of the tensor's own dtype", what: str = "fill value", sign: str = "-"
) -> str:
    return (
        f"{what} {text} is beyond the float16 range (max 65504): it overflows to {sign}inf in half precision; {advice}"
    )


def where(source: str, select: str) -> list[tuple[str, int, int]]:
    return [(code, line, column) for code, line, column, _ in lint(source, select)]


# --- NAN201 ---------------------------------------------------------------------------------


def test_masked_fill_with_minus_1e9_has_a_finfo_fix():
    source = """\
        import torch

        def attend(scores, mask):
            scores = scores.masked_fill(mask == 0, -1e9)
            return torch.softmax(scores, dim=-1)
        """
    assert lint(source, "NAN201") == [
        ("NAN201", 4, 44, fill("-1e9", "use torch.finfo(scores.dtype).min", "mask fill value"))
    ]


def test_fill_constants_in_every_framework():
    source = """\
        import jax.numpy as jnp
        import numpy as np
        import tensorflow as tf
        import torch
        from torch.nn.utils.rnn import pad_sequence

        INF = 1e12
        NEG = -1e10

        def masks(scores, mask, x, w, n, seqs, dtype):
            a = torch.where(mask, scores, -INF)
            b = torch.masked_fill(scores, mask, -3.4e38)
            c = jnp.where(mask, x, -1e9)
            d = tf.where(mask, x, -1e9)
            e = jnp.full(x.shape, -1e10).astype(dtype)
            f = torch.full((n, n), -1e9, dtype=x.dtype)
            g = torch.full_like(x, NEG)
            h = tf.cast(1e10, w.dtype)
            i = x.new_full((n, n), -1e9)
            j = torch.tensor(-1e9, dtype=x.dtype)
            k = pad_sequence(seqs, padding_value=-1e9)
            m = np.float16(-1e9)
            o = scores.masked_fill(mask, np.finfo(np.float32).min)
            p = tf.where(mask, x, tf.float32.min)
            return a, b, c, d, e, f, g, h, i, j, k, m, o, p
        """
    assert where(source, "NAN201") == [
        ("NAN201", 11, 35),
        ("NAN201", 12, 41),
        ("NAN201", 13, 28),
        ("NAN201", 14, 27),
        ("NAN201", 15, 27),
        ("NAN201", 16, 28),
        ("NAN201", 17, 28),
        ("NAN201", 18, 17),
        ("NAN201", 19, 28),
        ("NAN201", 20, 22),
        ("NAN201", 21, 42),
        ("NAN201", 22, 20),
        ("NAN201", 23, 34),
        ("NAN201", 24, 27),
    ]
    messages = [message for *_, message in lint(source, "NAN201")]
    assert messages[0] == fill("-INF (-1e+12)", "use torch.finfo(scores.dtype).min")
    assert messages[2] == fill("-1e9", "use jnp.finfo(x.dtype).min")
    assert messages[3] == fill("-1e9", "use x.dtype.min")  # TensorFlow has no finfo; its dtypes carry limits
    assert messages[7] == fill("1e10", sign="")
    assert messages[12] == fill(
        "np.finfo(np.float32).min (-3.40282e+38)", "use torch.finfo(scores.dtype).min", "mask fill value"
    )


def test_additive_masks():
    source = """\
        import torch

        NEG_INF = -1e10

        def bias(scores, mask, attn_mask, n):
            a = scores + (1.0 - mask) * -1e9
            b = scores - 1e30 * attn_mask
            c = (1 - mask) * torch.finfo(torch.float32).min
            d = scores + NEG_INF * (1 - mask)
            e = torch.triu(torch.ones(n, n), diagonal=1) * -1e9
            f = (scores > 0).to(scores.dtype) * -1e9
            g = (~mask) * 1e9
            return a, b, c, d, e, f, g

        def infer(model, x):
            with torch.autocast("cuda", dtype=torch.float16):
                return model(x)
        """
    assert where(source, "NAN201") == [
        ("NAN201", 6, 33),
        ("NAN201", 7, 18),
        ("NAN201", 8, 22),
        ("NAN201", 9, 18),
        ("NAN201", 10, 52),
        ("NAN201", 11, 41),
        ("NAN201", 12, 19),
    ]
    assert lint(source, "NAN201")[0][3] == fill("-1e9", what="additive mask constant")
    # Without float16 in the module or in the program that runs it, an additive mask is not reported (a fill is).
    dtype_generic = (
        source.split("        def infer")[0] + "\n        def fill(x, m):\n            return x.masked_fill(m, -1e9)\n"
    )
    assert where(dtype_generic, "NAN201") == [("NAN201", 17, 29)]


def test_fills_written_through_a_boolean_index():
    source = """\
        import jax.numpy as jnp
        import numpy as np
        import torch

        NEG = -1e10

        def fill(scores, mask, x, pad, logits):
            scores[mask] = -1e9
            scores[~mask] = NEG
            x[:, pad == 0] = -3.4e38
            y = x.at[mask].set(-1e9)
            logits[..., ~(np.arange(4) < 2)] = -1e30
            z = jnp.where(mask, x, 0.0)
            return scores, y, z, torch.softmax(scores, -1)
        """
    assert lint(source, "NAN201") == [
        ("NAN201", 8, 20, fill("-1e9", what="mask fill value")),
        ("NAN201", 9, 21, fill("NEG (-1e+10)", what="mask fill value")),
        ("NAN201", 10, 22, fill("-3.4e38", what="mask fill value")),
        ("NAN201", 11, 24, fill("-1e9", what="mask fill value")),
        ("NAN201", 12, 40, fill("-1e30", what="mask fill value")),
    ]


def test_indexed_writes_that_are_not_masks_are_clean():
    source = """\
        import torch

        def setup(config, table, x, i, mask, ids):
            config["max_positions"] = 1e9          # a dict entry
            table[0] = 1e10                        # an integer position
            x[i] = -1e9                            # a plain index, not a mask
            x[mask] = float("-inf")                # -inf is what a mask fill should be
            x[mask] = torch.finfo(x.dtype).min
            y = x.at[i].set(-1e9)
            ids[ids == -200] = 151646               # a token id into an integer tensor
            return config, table, x, y, torch.softmax(x, -1)
        """
    assert codes(source, "NAN201") == []


def test_a_full_mask_converted_to_the_data_dtype_later():
    source = """\
        import torch

        def causal(x, n):
            mask = torch.full((n, n), -1e9).triu(1)
            bias = mask.to(x.dtype)
            return x + bias
        """
    assert where(source, "NAN201") == [("NAN201", 4, 31)]


@pytest.mark.parametrize(
    "value",
    [
        'float("-inf")',
        '-float("inf")',
        "-torch.inf",
        "torch.finfo(scores.dtype).min",
        "-1e4",
        "-65504.0",
        "torch.finfo(torch.float16).min",
        "min_value",
    ],
)
def test_fill_values_float16_can_hold_are_clean(value):
    source = f"""\
        import torch

        def attend(scores, mask, min_value):
            scores = scores.masked_fill(mask, {value})
            scores = torch.where(mask, scores, {value})
            return torch.softmax(scores, -1)
        """
    assert codes(source, "NAN201") == []


def test_look_alikes_are_clean():
    source = """\
        import time
        import numpy as np
        import torch

        def f(scores, mask, x, n, arr):
            a = scores + (1.0 - mask) * -10000.0       # HF's -1e4: in range
            b = time.time() * 1e9                        # not a mask
            c = np.full(n, 1e12)                         # no data dtype: float64 / float32 by default
            d = torch.full((n, n), -1e9)                 # float32 by default; promotes fp16 scores on addition
            e = torch.clamp(x, -1e9, 1e9)                # a clamp, not a fill
            g = arr.filled(fill_value=1e8)               # a NumPy masked array method, not a tensor op
            h = x * 1e9                                  # scaling, not a mask
            return a, b, c, d, e, g, h
        """
    assert codes(source, "NAN201") == []


def test_float64_only_module_is_clean():
    source = """\
        import numpy as np

        def masked(scores, mask):
            return np.where(mask, scores, -1e9)
        """
    assert codes(source, "NAN201") == []
    float32 = textwrap.dedent(source).replace("def masked", "DTYPE = np.float32\n\n\ndef masked")
    assert codes(float32, "NAN201") == ["NAN201"]


# --- NAN201 fix --------------------------------------------------------------------------------

NUMPY_ATTENTION = """\
import numpy as np


def attend(scores, mask, dtype=np.float32):
    scores = scores.astype(dtype)
    scores = np.where(mask, scores, -1e9)
    shifted = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=-1, keepdims=True)
"""


def _fixed(source: str) -> str:
    outcome = fix_source(source, "example.py", dataclasses.replace(Settings(), select=("NAN201",)))
    return outcome.text


def test_fix_rewrites_the_constant_only():
    fixed = _fixed(NUMPY_ATTENTION)
    assert fixed == NUMPY_ATTENTION.replace("-1e9)", "np.finfo(scores.dtype).min)")
    cst.parse_module(fixed)
    assert codes(fixed, "NAN201") == []


def test_fixed_code_computes_the_same_values():
    fixed = _fixed(NUMPY_ATTENTION)
    before, after = {}, {}
    exec(compile(NUMPY_ATTENTION, "before.py", "exec"), before)
    exec(compile(fixed, "after.py", "exec"), after)
    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.normal(0, 5, size=(4, 7))
        mask = rng.random((4, 7)) < 0.7
        mask[0] = False  # a fully masked row: uniform weights either way
        np.testing.assert_allclose(after["attend"](scores, mask), before["attend"](scores, mask), rtol=1e-6)


def test_fixed_torch_masked_fill_computes_the_same_values():
    torch = pytest.importorskip("torch")
    source = textwrap.dedent("""\
        import torch

        def attend(scores, mask):
            return torch.softmax(scores.masked_fill(mask, -1e9), dim=-1)
        """)
    fixed = _fixed(source)
    assert "scores.masked_fill(mask, torch.finfo(scores.dtype).min)" in fixed
    before, after = {}, {}
    exec(compile(source, "before.py", "exec"), before)
    exec(compile(fixed, "after.py", "exec"), after)
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 5, generator=generator)
    mask = torch.rand(3, 5, generator=generator) < 0.5
    assert torch.allclose(after["attend"](scores, mask), before["attend"](scores, mask))
    half = after["attend"](scores.half(), mask)  # the fixed version runs in float16; the original raises
    assert torch.isfinite(half).all()
    with pytest.raises(RuntimeError):
        before["attend"](scores.half(), mask)


def test_tensorflow_fix_uses_the_dtype_limits():
    source = textwrap.dedent("""\
        import tensorflow as tf

        def attend(scores, mask):
            scores = tf.where(mask, scores, -1e9)
            return tf.nn.softmax(scores, axis=-1)
        """)
    fixed = _fixed(source)
    assert fixed == source.replace("-1e9)", "scores.dtype.min)")
    cst.parse_module(fixed)
    assert codes(fixed, "NAN201") == []


def test_no_fix_where_the_dtype_source_is_not_a_plain_name():
    source = """\
        import torch

        def attend(scores, mask):
            return torch.where(mask, scores * 2, -1e9)
        """
    assert lint(source, "NAN201") == [("NAN201", 4, 42, fill("-1e9"))]


# --- NAN202 ---------------------------------------------------------------------------------


def zero(value: str, where: str = "in this half-precision code", what: str = "eps", advice: str = "1e-6") -> str:
    return (
        f"{what} {value} underflows to 0 in float16 (smallest subnormal 6e-08), so it guards nothing {where}; "
        f"use eps >= {advice} or compute this in float32"
    )


def subnormal(value: str, where: str = "in this half-precision code", what: str = "eps") -> str:
    return (
        f"{what} {value} is subnormal in float16 (below 6.1e-05): dividing by it overflows to inf {where}; "
        "use eps >= 1e-4 or compute this in float32"
    )


def test_a_models_constructor_computes_in_float32():
    """Buffers computed in __init__ (a diffusion schedule's log-variance) exist before autocast or .half(); a
    lambda __init__ stores and forward's own eps run in half precision."""
    source = """\
        import torch
        from torch import nn


        class Diffusion(nn.Module):
            def __init__(self, betas):
                super().__init__()
                variance = betas * 0.5
                self.register_buffer("log_variance", torch.log(variance.clamp(min=1e-20)))
                self.scale = lambda x: x / (x.sum() + 1e-10)

            def forward(self, x):
                with torch.autocast("cuda", dtype=torch.float16):
                    return torch.log(x.clamp(min=1e-20))
        """
    assert lint(textwrap.dedent(source), "NAN202") == [
        ("NAN202", 10, 47, zero("1e-10", advice="1e-4")),
        ("NAN202", 14, 42, zero("1e-20")),
    ]


def test_adam_default_eps_with_half_parameters_is_reported_at_the_optimizer():
    source = """\
        import torch

        model = torch.nn.Linear(4, 4).half()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        """
    assert lint(source, "NAN202") == [
        ("NAN202", 4, 13, zero("1e-08", "with float16 parameters", "Adam's default eps", "1e-4"))
    ]


def test_explicit_optimizer_eps_is_reported_at_the_eps():
    source = """\
        import torch

        model = torch.nn.Linear(4, 4).to(torch.float16)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-8)
        safe = torch.optim.AdamW(model.parameters(), lr=1e-3, eps=1e-4)
        """
    assert lint(source, "NAN202") == [("NAN202", 4, 64, zero("1e-08", "with float16 parameters", "AdamW eps", "1e-4"))]


def test_optimizer_with_fp32_master_weights_is_clean():
    source = """\
        import torch

        scaler = torch.cuda.amp.GradScaler()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
        with torch.autocast("cuda"):
            loss = model(x)
        """
    assert codes(source, "NAN202") == []


def test_guards_under_autocast():
    source = """\
        import torch

        EPS = 1e-8

        def step(x, n, v, p):
            with torch.autocast("cuda"):
                a = x / (n + 1e-6)
                b = torch.sqrt(v + 1e-10)
                c = torch.log(p + EPS)
                d = x / n.clamp(min=1e-8)
                e = x / (n + torch.finfo(torch.float32).eps)
                ok = x / (n + 1e-4), torch.log(p + 1e-7), torch.sqrt(v + 1e-6)
            return a, b, c, d, e, ok
        """
    assert lint(source, "NAN202") == [
        ("NAN202", 7, 22, subnormal("1e-06")),
        ("NAN202", 8, 28, zero("1e-10")),
        ("NAN202", 9, 27, zero("1e-08")),
        ("NAN202", 10, 29, zero("1e-08", advice="1e-4")),
        ("NAN202", 11, 22, subnormal("1.19209e-07")),
    ]


def test_fp32_only_code_with_small_eps_is_clean():
    source = """\
        import torch

        def step(x, n, p, model):
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
            norm = torch.nn.LayerNorm(8, eps=1e-12)
            return x / (n + 1e-8), torch.log(p + 1e-10)
        """
    assert codes(source, "NAN202") == []


def test_norm_layers_in_a_float16_model():
    source = """\
        import torch.nn as nn

        class Block(nn.Module):
            def __init__(self, d, eps=1e-12):
                super().__init__()
                self.ln = nn.LayerNorm(d, eps=1e-12)
                self.ln2 = nn.LayerNorm(d, eps=eps)
                self.bn = nn.BatchNorm1d(d)
                self.ok = nn.LayerNorm(d, eps=1e-5)

        block = Block(8).half()
        """
    message = zero("1e-12", "with float16 parameters")
    assert lint(source, "NAN202") == [("NAN202", 6, 39, message), ("NAN202", 7, 40, message)]
    assert codes(source, "NAN202", rule_options={"NAN202": {"norm-layers": False}}) == []
    assert codes(source.replace(".half()", ""), "NAN202") == []


def test_eps_parameter_default_reaches_its_guard_through_self():
    source = """\
        import torch

        class Normalize(torch.nn.Module):
            def __init__(self, eps=1e-12):
                super().__init__()
                self.eps = eps

            def forward(self, x):
                return x / (x.norm(dim=-1, keepdim=True) + self.eps)

        scaler = torch.cuda.amp.GradScaler()
        """
    assert lint(source, "NAN202") == [
        (
            "NAN202",
            9,
            52,
            subnormal("1e-12").replace(
                "is subnormal in float16 (below 6.1e-05): dividing by it overflows to inf",
                "underflows to 0 in float16 (smallest subnormal 6e-08), so it guards nothing",
            ),
        )
    ]


@pytest.mark.parametrize(
    "evidence",
    [
        "model = model.half()",
        "tf.keras.mixed_precision.set_global_policy('mixed_float16')",
        "x = x.astype(jnp.float16)",
        "parser.add_argument('--fp16', action='store_true')",
        "if args.fp16:\n    x = x",
        "trainer = Trainer(precision='16-mixed')",
        "with torch.cuda.amp.autocast():\n    pass",
        "config = {'fp16': {'enabled': True}}",
        "def train(model, fp16=False):\n    pass",
        "args = TrainingArguments(output_dir='out', fp16=True)",
        "fp16 = True",
        "from torch import float16",
    ],
)
def test_half_precision_evidence(evidence):
    source = (
        "import torch\nimport jax.numpy as jnp\nimport tensorflow as tf\n"
        + evidence
        + "\n\ndef f(x, n):\n    return x / (n + 1e-8)\n"
    )
    assert codes(source, "NAN202") == ["NAN202"]


@pytest.mark.parametrize(
    "evidence",
    [
        "if x.dtype == torch.float16:\n    x = x.float()",
        "if p.dtype in {torch.float16, torch.bfloat16}:\n    p = p.float()",
        "with torch.cuda.amp.autocast(enabled=False):\n    pass",
        "with torch.autocast('cuda', dtype=torch.bfloat16):\n    pass",
        "with torch.autocast('cpu'):\n    pass",
        "half = len(x) // 2",
        "model = model.to(torch.bfloat16)",
        "args = TrainingArguments(output_dir='out', fp16=False)",
        "sample_rate = 16000",
    ],
)
def test_not_half_precision(evidence):
    source = "import torch\n" + evidence + "\n\ndef f(x, n):\n    return x / (n + 1e-8)\n"
    assert codes(source, "NAN202") == []


def test_keras_and_jax_spellings():
    source = """\
        import keras
        import optax
        import flax.linen as nn
        import jax.numpy as jnp

        keras.backend.set_floatx("float16")
        opt = keras.optimizers.Adam(learning_rate=1e-3)
        tx = optax.adam(1e-3)
        dense = nn.Dense(4, param_dtype=jnp.float16)
        """
    assert lint(source, "NAN202") == [
        ("NAN202", 7, 7, subnormal("1e-07", "with float16 parameters", "Adam's default eps")),
        ("NAN202", 8, 6, zero("1e-08", "with float16 parameters", "adam's default eps", "1e-4")),
    ]


# --- NAN203 ---------------------------------------------------------------------------------


def absorbed(eps: str, code: str, value: str, dtype: str, spacing: str, what: str = "log's argument") -> str:
    return (
        f"eps {eps} is absorbed: {code} rounds to {value} in {dtype} (spacing {spacing} there), so the {what} "
        f"it guards can still be 0; apply the eps where the value is small (1 - x + eps) or use an eps >= {spacing}"
    )


def test_eps_added_to_one_before_the_subtraction():
    source = """\
        import torch
        import torch.nn.functional as F

        def loss(p, x, y):
            a = torch.log(1 + 1e-10 - p)
            b = x / (1e-10 + 1 - p)
            c = p.clamp(1e-8, 1 - 1e-8)
            d = torch.sqrt(1 - 1e-9 - x)
            return a + b - torch.log(1 - c) + F.binary_cross_entropy(x.clamp(1e-9, 1 - 1e-9), y) + d
        """
    assert lint(source, "NAN203") == [
        ("NAN203", 5, 19, absorbed("1e-10", "1 + 1e-10", "1", "float32", "1.2e-07")),
        ("NAN203", 6, 14, absorbed("1e-10", "1e-10 + 1", "1", "float32", "1.2e-07", "denominator")),
        ("NAN203", 7, 23, absorbed("1e-08", "1 - 1e-8", "1", "float32", "1.2e-07")),
        ("NAN203", 8, 20, absorbed("1e-09", "1 - 1e-9", "1", "float32", "1.2e-07", "sqrt's argument")),
        ("NAN203", 9, 76, absorbed("1e-09", "1 - 1e-9", "1", "float32", "1.2e-07")),
    ]


def test_bounds_through_module_constants():
    source = """\
        import tensorflow as tf

        EPS = 1e-9
        TOP = 1 - 1e-10

        def bce(y, p):
            p = tf.clip_by_value(p, clip_value_min=EPS, clip_value_max=1 - EPS)
            q = tf.clip_by_value(p, EPS, TOP)
            return y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p), tf.math.log(1.0 - q)
        """
    assert where(source, "NAN203") == [("NAN203", 4, 7), ("NAN203", 7, 64)]


def test_precision_of_the_module_decides():
    template = """\
        import numpy as np
        import torch
        {setup}

        def f(p):
            return np.log(1 - p.clip(1e-4, 1 - 1e-4)), np.log(1 + 1e-3 - p)
        """
    assert codes(template.format(setup="")) == []
    assert lint(template.format(setup="model = model.half()"), "NAN203") == [
        ("NAN203", 6, 36, absorbed("0.0001", "1 - 1e-4", "1", "float16", "0.00098"))
    ]
    assert lint(template.format(setup="dtype = torch.bfloat16"), "NAN203") == [
        ("NAN203", 6, 36, absorbed("0.0001", "1 - 1e-4", "1", "bfloat16", "0.0078")),
        ("NAN203", 6, 55, absorbed("0.001", "1 + 1e-3", "1", "bfloat16", "0.0078")),
    ]


def test_absorption_look_alikes_are_clean():
    source = """\
        import math
        import torch

        def f(p, x, it, warmup_iters=2000):
            a = torch.log(1 - p + 1e-10)       # eps added where the value is small
            b = torch.log(p + 1e-10)
            c = p.clamp(1e-7, 1 - 1e-7)         # 1 - 1e-7 is a float32 number below 1
            d = 1.0 + 1e-10                      # constant arithmetic, no tensor
            e = x.clamp(1e-9, 1 - 1e-9)         # only log(e) follows: the upper bound guards nothing
            g = 3e-4 * (it + 1) / (warmup_iters + 1)   # integers are exact
            h = math.log(1 + 1e-10 - 0.5 * it)  # Python floats are float64
            k = math.log((1.0 - 1e-10) / (1 - (1.0 - 1e-10)))  # a constant denominator guards no variable
            return a, b, torch.log(1 - c), d, torch.log(e), g, h, k
        """
    assert codes(source, "NAN203") == []


def test_float64_code_has_float64_resolution():
    source = """\
        import numpy as np

        def f(p):
            return np.log(1 - np.clip(p, 1e-10, 1 - 1e-10)), np.log(1 - np.clip(p, 1e-20, 1 - 1e-20))
        """
    assert where(source, "NAN203") == [("NAN203", 4, 83)]
    float32 = textwrap.dedent(source).replace("def f", "DTYPE = np.float32\n\n\ndef f")
    assert codes(float32, "NAN203") == ["NAN203", "NAN203"]


def test_rounding_matches_the_real_formats():
    torch = pytest.importorskip("torch")
    from nanlint.source.rules.precision import round_to

    values = np.random.default_rng(0).normal(0, 1, 2000) * 10.0 ** np.random.default_rng(1).integers(-8, 5, 2000)
    for value in [*values, 1 + 2.0**-8, 1 + 3 * 2.0**-9, 1 - 2.0**-9, 1e-10, 65519.0]:
        assert round_to(value, "float16") == float(torch.tensor(value, dtype=torch.float64).half())
        assert round_to(value, "bfloat16") == float(torch.tensor(value, dtype=torch.float32).bfloat16())
        assert round_to(value, "float32") == float(np.float32(value))
        assert round_to(value, "float64") == value


def test_constants_meeting_float32_by_construction_are_safe():
    source = """\
        import tensorflow as tf
        import torch

        def torch_scores(scores, mask, weights, attention_mask):
            scores = scores.float()
            a = scores - 1e6 * (1 - attention_mask[:, None].float())
            weights = weights.to(torch.float32)
            b = weights * mask + -1e9 * (1 - mask)
            c = scores.masked_fill(mask, -1e9)
            q, k = scores.double(), weights.double()
            d = torch.where(mask, q @ k, -1e30)
            return a, b, c, d

        def tf_scores(q, k, mask):
            q = tf.cast(q, dtype=tf.float32)
            k = tf.cast(k, dtype=q.dtype)
            scores = tf.matmul(q, k, transpose_b=True)
            mask = tf.cast(mask, dtype=scores.dtype)
            return scores - 1e30 * (1.0 - mask)

        def half_scores(scores, mask):
            mask = tf.cast(mask, dtype=scores.dtype)
            return scores - 1e30 * (1.0 - mask)

        tf.keras.mixed_precision.set_global_policy("mixed_float16")
        """
    assert where(source, "NAN201") == [("NAN201", 23, 21)]


def test_constants_a_dtype_test_keeps_away_from_float16():
    source = """\
        import numpy as np
        import torch

        def start_logits(self, x, p_mask, dtype):
            if self.dtype == torch.float16:
                x = x * (1 - p_mask) - 65500 * p_mask
            else:
                x = x * (1 - p_mask) - 1e30 * p_mask
            if dtype == "float16":
                val = 65500.0
            else:
                val = 3.38953e38
            big = 1e9 if dtype != torch.float16 else 6e4
            return x, np.asarray(val * -0.7, dtype=dtype), x.masked_fill(p_mask, -big)

        def plain(x, p_mask):
            return x * (1 - p_mask) - 1e30 * p_mask
        """
    assert where(source, "NAN201") == [("NAN201", 17, 31)]


def test_mask_helpers_given_a_fill_constant():
    source = """\
        import torch
        from allennlp.nn import util

        def spans(logits, mask):
            a = util.replace_masked_values(logits, mask, -1e7)
            b = util.replace_masked_values(logits, mask, -1e4)
            c = util.masked_max(logits, mask, dim=-1)
            d = mask_logits(logits.float(), mask, -1e30)
            return a, b, c, d
        """
    assert lint(source, "NAN201") == [
        ("NAN201", 5, 50, fill("-1e7", what="mask fill value")),
    ]


def test_eps_on_values_upcast_to_float32_in_half_precision_code():
    source = """\
        import torch

        def linear_attention(query, key, value, eps=1e-15):
            hidden = torch.matmul(torch.matmul(value, key), query)
            hidden = hidden.to(dtype=torch.float32)
            a = hidden[:, :-1] / (hidden[:, -1:] + eps)
            q, k = query.float(), key.float()
            b = q / (k.sum(dim=-1, keepdim=True) + 1e-15)
            c = query / (key.sum(dim=-1) + 1e-15)
            return a, b, c.half()
        """
    assert lint(source, "NAN202") == [("NAN202", 9, 36, zero("1e-15", advice="1e-4"))]


def test_eps_a_dtype_test_keeps_away_from_float16():
    source = """\
        import torch

        def normalise(x):
            if x.dtype == torch.float16:
                return x / (x.norm() + 1e-4)
            else:
                return x / (x.norm() + 1e-12)
        """
    assert codes(source, "NAN202") == []


def test_spectral_norm_eps_depends_on_the_parameters():
    source = """\
        import torch
        from torch.nn.utils.spectral_norm import SpectralNorm

        def build(layer):
            with torch.autocast("cuda"):
                SpectralNorm.apply(layer, name="weight", n_power_iterations=1, dim=0, eps=1e-12)
                torch.nn.utils.spectral_norm(layer, eps=1e-12)
            return layer
        """
    assert codes(source, "NAN202") == []
    assert len(lint(textwrap.dedent(source) + "\nmodel = model.half()\n", "NAN202")) == 2


def test_eps_that_float32_cannot_hold():
    source = """\
        import tensorflow as tf

        def k_r2(r2):
            return tf.sqrt(tf.maximum(r2, 1e-40))

        def safe(r2):
            return tf.sqrt(tf.maximum(r2, 1e-36)), tf.math.log(r2 + 1e-30)
        """
    assert lint(source, "NAN202") == [
        (
            "NAN202",
            4,
            35,
            "eps 1e-40 is subnormal in float32 (below 1.2e-38) and flushed to 0 by TensorFlow and XLA, so it guards "
            "nothing in float32 code; use eps >= 1e-30",
        )
    ]
    torch_source = """\
        import torch

        def f(x, y):
            return torch.log(x + 1e-50), y / (y.norm() + 1e-40), torch.log(x.double() + 1e-50)
        """
    assert lint(torch_source, "NAN202") == [
        (
            "NAN202",
            4,
            26,
            "eps 1e-50 rounds to 0 in float32 (smallest subnormal 1.4e-45), so it guards nothing in float32 code; "
            "use eps >= 1e-30",
        )
    ]
    numpy_source = """\
        import numpy as np

        def f(x):
            return np.log(x + 1e-50)
        """
    assert codes(numpy_source, "NAN202") == []


def test_division_thresholds_below_the_rounding_error_of_a_difference():
    source = """\
        import torch

        def newton_step(fx, fy, jxx, jxy, jyx, jyy, eps: float = 1e-9):
            det = jyx * jxy - jxx * jyy
            step = torch.where(torch.abs(det) > eps, (fx * jyy - fy * jxy) / det, torch.zeros_like(det))
            safe = torch.where(det.abs() > 1e-3, fx / det, torch.zeros_like(det))
            norm = torch.linalg.norm(fx)
            unit = torch.where(torch.abs(norm) > 1e-9, fx / norm, fx)
            return step, safe, unit
        """
    assert lint(source, "NAN203") == [
        (
            "NAN203",
            5,
            41,
            "threshold 1e-09 is below the resolution of float32 (1.2e-07): `det` is a difference whose rounding "
            "error exceeds it, so values that are 0 up to rounding pass the test and the division by them explodes; "
            "use a threshold above the rounding error (>= 1.2e-07 times the size of the terms)",
        )
    ]
    float64 = """\
        import numpy as np

        def step(a, b, c, d, r):
            det = a * d - b * c
            return np.where(np.abs(det) > 1e-9, r / det, 0.0)
        """
    assert codes(float64, "NAN203") == []


def test_masked_fill_helpers_of_other_packages():
    """A project's `replace_masked_values(x, mask, value)` fills like masked_fill: its value must fit float16."""
    source = """\
        import torch
        from mylib.nn import util

        def attend(scores, mask, logits):
            a = util.replace_masked_values(scores, mask, -1e7)
            b = util.replace_masked_values(scores, mask, 0.0)
            c = util.replace_masked_values(scores, mask, -1e4)
            d = util.masked_fill(logits, mask, -1e9)
            return a, b, c, d
        """
    assert where(source, "NAN201") == [("NAN201", 5, 50), ("NAN201", 8, 40)]


SCALED_SCORES = """\
import torch


def attend(q, k, mask):
    scores = torch.bmm(q, k.transpose(1, 2))
    scale = torch.sqrt(torch.tensor(k.shape[-1]).to(torch.float32))
    scores = scores / scale
    return scores.masked_fill(mask, -1e9).softmax(-1)
"""


def test_a_zero_dim_float32_tensor_does_not_make_the_scores_float32():
    """float16 scores / a float32 0-dim tensor stay float16 in PyTorch: the fill still overflows."""
    assert where(SCALED_SCORES, "NAN201") == [("NAN201", 8, 37)]


@pytest.mark.parametrize(
    "change",
    [
        ("torch.bmm(q, k.transpose(1, 2))", "torch.bmm(q, k.transpose(1, 2)).float()"),  # float32 scores
        ("torch.tensor(k.shape[-1]).to(torch.float32)", "torch.ones(k.shape[-1], dtype=torch.float32)"),  # a vector
    ],
)
def test_scores_that_are_float32_by_construction_stay_quiet(change):
    assert where(SCALED_SCORES.replace(*change), "NAN201") == []
