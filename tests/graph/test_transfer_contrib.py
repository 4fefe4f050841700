"""Soundness of the onnxruntime contrib ops (domain com.microsoft)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.graph._soundness import Box, Case, check

MS = "com.microsoft"
rng = np.random.default_rng(11)
HID = 8
GAMMA = rng.standard_normal(HID).astype(np.float32)
BETA = rng.standard_normal(HID).astype(np.float32)
SEQ = Box((2, 3, HID))
NORM = dict(rtol=1e-4, scale_tol=1e-4)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


BIAS4 = f32(4)

CASES = [
    Case("Gelu", [SEQ], domain=MS, name="Gelu-contrib"),
    Case("FastGelu", [SEQ, f32(HID)], domain=MS),
    Case("FastGelu", [SEQ], domain=MS, name="FastGelu-nobias"),
    Case("BiasGelu", [SEQ, f32(HID)], domain=MS),
    Case("QuickGelu", [SEQ], domain=MS),
    Case("QuickGelu", [SEQ], attrs={"alpha": -1.5}, domain=MS, name="QuickGelu-negative-alpha"),
    # No CPU kernel: checked against its definition.
    Case(
        "BiasAdd",
        [Box((2, 3, 4)), BIAS4, Box((2, 3, 4))],
        domain=MS,
        reference=lambda feeds: [feeds["in0"] + BIAS4 + feeds["in2"]],
    ),
    Case(
        "SkipLayerNormalization",
        [SEQ, Box((2, 3, HID)), GAMMA, BETA, f32(HID)],
        outputs=4,
        domain=MS,
        check_outputs=(0, 3),
        **NORM,
    ),
    Case(
        "SkipSimplifiedLayerNormalization",
        [SEQ, Box((2, 3, HID)), GAMMA],
        outputs=4,
        domain=MS,
        check_outputs=(0, 3),
        **NORM,
    ),
    Case(
        "EmbedLayerNormalization",
        [
            Box((2, 3), dtype=6, integer=True, low=0, high=9, scale=4),
            Box((2, 3), dtype=6, integer=True, low=0, high=1),
            f32(10, HID),
            f32(5, HID),
            f32(2, HID),
            GAMMA,
            BETA,
        ],
        outputs=3,
        domain=MS,
        check_outputs=(0, 2),
        **NORM,
    ),
    Case("FusedMatMul", [Box((2, 4, 3)), f32(5, 3)], attrs={"transB": 1, "alpha": 0.5}, domain=MS),
    Case(
        "FusedConv",
        [Box((1, 2, 5, 5)), f32(3, 2, 3, 3), f32(3)],
        attrs={"activation": "Relu", "pads": [1, 1, 1, 1]},
        domain=MS,
    ),
    Case(
        "FusedConv",
        [Box((1, 2, 5, 5)), f32(3, 2, 3, 3)],
        attrs={"activation": "LeakyRelu", "activation_params": [0.2]},
        domain=MS,
        name="FusedConv-leaky",
    ),
    Case("FusedGemm", [Box((3, 4)), f32(4, 5), f32(5)], attrs={"activation": "Tanh"}, domain=MS),
    Case("Attention", [Box((2, 3, HID)), f32(HID, 3 * HID), f32(3 * HID)], attrs={"num_heads": 2}, domain=MS, **NORM),
    Case(
        "MultiHeadAttention",
        [Box((2, 3, HID)), Box((2, 4, HID)), Box((2, 4, HID))],
        attrs={"num_heads": 2},
        domain=MS,
        **NORM,
    ),
    Case(
        "GroupQueryAttention",
        [
            Box((1, 3, 4 * 8)),
            Box((1, 3, 2 * 8)),
            Box((1, 3, 2 * 8)),
            None,
            None,
            np.array([2], np.int32),
            np.array(3, np.int32),
        ],
        attrs={"num_heads": 4, "kv_num_heads": 2},
        outputs=3,
        domain=MS,
        check_outputs=(0,),
        **NORM,
    ),
    Case(
        "RotaryEmbedding",
        [
            Box((1, 3, HID)),
            np.array([[0, 1, 2]], np.int64),
            np.cos(np.arange(12, dtype=np.float32)).reshape(3, 4),
            np.sin(np.arange(12, dtype=np.float32)).reshape(3, 4),
        ],
        attrs={"num_heads": 1},
        domain=MS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_skip_layer_norm_is_bounded_whatever_the_input():
    out = check(CASES[7], seeds=(0,), points=2)
    y = out["bounds"][0]
    cap = np.sqrt(HID - 1) * np.abs(GAMMA) + np.abs(BETA)
    assert np.all(np.broadcast_to(y.hi, (2, 3, HID)) <= cap + 1e-5)
    assert out["analysis"].depth["out0"] == 0


def test_attention_output_lies_in_the_value_hull():
    out = check(CASES[15], seeds=(0,), points=2)
    y, v = out["bounds"][0], out["inputs"]["in2"]
    np.testing.assert_array_equal(np.broadcast_to(y.lo, (2, 3, HID))[:, 0], v.lo.min(axis=1))
    np.testing.assert_array_equal(np.broadcast_to(y.hi, (2, 3, HID))[:, 0], v.hi.max(axis=1))
